"""The terminal summary a person reads after a replay or the demo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from triage.replay.flow import ReplayResult


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def print_summary(
    console: Console, result: ReplayResult, report_path: Path, *, max_clusters: int = 10
) -> None:
    report: dict[str, Any] = result.report
    engine = result.engine
    stats = report["stats"]
    console.print(
        f"\n[bold]Replayed {stats['posts']} posts[/] in {stats['seconds']:.1f} s: "
        f"{stats['problem_posts']} problem reports, {len(report['clusters'])} clusters, "
        f"{len(report['escalations'])} incident signal(s)."
    )
    if result.skipped:
        console.print(f"[yellow]{len(result.skipped)} invalid line(s) skipped[/], first: {result.skipped[0]}")

    escalated = {escalation["cluster_id"] for escalation in report["escalations"]}
    table = Table(title="Largest clusters", show_lines=False)
    for column in ("cluster", "what customers say", "authors", "posts", "state", "incident"):
        table.add_column(column, overflow="fold")
    clusters = sorted(report["clusters"], key=lambda c: (-c["distinct_authors"], c["cluster_id"]))
    for cluster in clusters[:max_clusters]:
        table.add_row(
            cluster["cluster_id"],
            _short(cluster["label"], 48),
            str(cluster["distinct_authors"]),
            str(len(cluster["posts"])),
            cluster["state"],
            "[bold red]yes[/]" if cluster["cluster_id"] in escalated else "no",
        )
    console.print(table)

    for escalation in report["escalations"]:
        cluster = engine.book.resolve_key(escalation["cluster_id"])
        console.print(
            f"\n[bold red]Incident[/] {escalation['cluster_id']} on [bold]{escalation['service']}[/] "
            f"({escalation['severity']}): “{_short(escalation['label'], 60)}”"
        )
        console.print(
            f"  first signal {escalation['first_triggered_at']} (onset {escalation['onset']}), "
            f"{escalation['distinct_authors']} distinct authors, {len(escalation['posts'])} posts; "
            f"{escalation['detection']}"
        )
        if escalation["lead_over_alert_minutes"] is not None:
            console.print(f"  {escalation['lead_over_alert_minutes']} min before monitoring alerted")
        console.print(f"  e.g. “{_short(cluster.members[0].text, 100)}”")
        for rank, cause in enumerate(escalation["causes"][:3], start=1):
            console.print(
                f"  likely cause #{rank}: {cause['change']} (score {cause['score']}): "
                + "; ".join(cause["reasons"])
            )
    console.print(f"\nFull report: [bold]{report_path}[/]")
    console.print(f"Database:    [bold]{result.database_url}[/] (tenant '{result.tenant}')")
