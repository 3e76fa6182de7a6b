"""People's reviews as a labelled dataset: post relabels and cluster decisions, with a data card.

One row per post (its latest reviewed label) or, with ``history``, one per decision given. Sources of a
label, strongest first:

- ``post``: a person relabelled this post (problem, not_problem, or a category, which implies problem);
- ``cluster_confirmed``: a lead confirmed the cluster the post is in, so each member is a problem report;
- ``cluster_dismissed``: a lead muted the cluster (not worth anyone's attention), so its members are
  exported as ``not_problem``; an unmute withdraws that.

A post label beats a cluster decision for the same post (a person looked at that very post). Cluster
members are the cluster's members now, since a replay rebuilds clusters under the same key. Both the
``triage labels export`` command and ``GET /v1/labels/export`` call :func:`export_rows`.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from triage.actions.models import ClusterActionRow
from triage.actions.service import LabelRecord, as_utc, post_labels
from triage.errors import ConfigurationError
from triage.storage.models import AnalysisRow, ClusterMemberRow, ClusterRow, PostRow

EXPORT_COLUMNS: tuple[str, ...] = (
    "source",
    "external_id",
    "text",
    "label",
    "is_problem",
    "category",
    "actor",
    "labelled_at",
    "model_version",
    "model_problem_probability",
    "model_category",
    "model_sentiment",
    "created_at",
    "label_kind",
    "cluster_key",
    "note",
)
FORMATS = ("parquet", "csv", "json")
_CHUNK = 500


@dataclass(frozen=True)
class ExportFilter:
    """Which reviews to export: posts created in ``[since, until)``, from ``sources`` (all when empty)."""

    since: datetime | None = None
    until: datetime | None = None
    sources: tuple[str, ...] = ()
    history: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "sources": list(self.sources),
            "history": self.history,
        }


@dataclass(frozen=True)
class _Review:
    post_id: int
    label: str
    category: str | None
    actor: str
    at: datetime
    kind: str
    cluster_key: str | None
    note: str
    order: int


def _post_reviews(records: Iterable[LabelRecord]) -> list[_Review]:
    return [
        _Review(r.post_id, r.label, r.category, r.actor, r.created_at, "post", None, r.note, r.id)
        for r in records
    ]


def _cluster_reviews(session: Session, tenant: str, history: bool) -> list[_Review]:
    """Member rows of confirmed and muted clusters (the latest word on each cluster, or every one)."""
    decisions = session.scalars(
        select(ClusterActionRow)
        .where(ClusterActionRow.tenant == tenant, ClusterActionRow.action.in_(("confirm", "mute", "unmute")))
        .order_by(ClusterActionRow.created_at, ClusterActionRow.id)
    )
    latest: dict[str, ClusterActionRow | None] = {}
    every: list[ClusterActionRow] = []
    for row in decisions:
        latest[row.cluster_key] = None if row.action == "unmute" else row
        if row.action != "unmute":
            every.append(row)
    chosen = every if history else [row for row in latest.values() if row is not None]
    keys = sorted({row.cluster_key for row in chosen})
    members: dict[str, list[int]] = {}
    for start in range(0, len(keys), _CHUNK):
        statement = (
            select(ClusterRow.key, ClusterMemberRow.post_id)
            .join(ClusterMemberRow, ClusterMemberRow.cluster_id == ClusterRow.id)
            .where(ClusterRow.tenant == tenant, ClusterRow.key.in_(keys[start : start + _CHUNK]))
        )
        for key, post_id in session.execute(statement):
            members.setdefault(key, []).append(post_id)
    reviews = []
    for row in chosen:
        confirmed = row.action == "confirm"
        for post_id in sorted(members.get(row.cluster_key, [])):
            reviews.append(
                _Review(
                    post_id,
                    "problem" if confirmed else "not_problem",
                    None,
                    row.actor,
                    as_utc(row.created_at),
                    "cluster_confirmed" if confirmed else "cluster_dismissed",
                    row.cluster_key,
                    row.note,
                    row.id,
                )
            )
    return reviews


def _latest_per_post(reviews: list[_Review]) -> list[_Review]:
    """A post label beats any cluster decision; otherwise the latest decision wins."""
    chosen: dict[int, _Review] = {}
    for review in sorted(reviews, key=lambda r: (r.kind == "post", r.at, r.order)):
        chosen[review.post_id] = review
    return sorted(chosen.values(), key=lambda r: (r.at, r.order, r.post_id))


def _posts(session: Session, post_ids: Sequence[int]) -> dict[int, tuple[PostRow, AnalysisRow | None]]:
    found: dict[int, tuple[PostRow, AnalysisRow | None]] = {}
    for start in range(0, len(post_ids), _CHUNK):
        chunk = list(post_ids[start : start + _CHUNK])
        statement = (
            select(PostRow, AnalysisRow)
            .outerjoin(AnalysisRow, AnalysisRow.post_id == PostRow.id)
            .where(PostRow.id.in_(chunk))
        )
        for post, analysis in session.execute(statement):
            found[post.id] = (post, analysis)
    return found


def export_rows(session: Session, tenant: str, filters: ExportFilter | None = None) -> list[dict[str, Any]]:
    """Reviewed posts of ``tenant`` with text, source, time, who labelled and when, and the model's view
    beside the person's (for retraining and audit). Times are timezone-aware datetimes."""
    filters = filters or ExportFilter()
    reviews = _post_reviews(post_labels(session, tenant)) + _cluster_reviews(session, tenant, filters.history)
    if filters.history:
        reviews.sort(key=lambda r: (r.at, r.kind != "post", r.order, r.post_id))
    else:
        reviews = _latest_per_post(reviews)
    posts = _posts(session, sorted({review.post_id for review in reviews}))
    rows = []
    for review in reviews:
        if review.post_id not in posts:
            continue
        post, analysis = posts[review.post_id]
        created = as_utc(post.created_at)
        if filters.since and created < filters.since:
            continue
        if filters.until and created >= filters.until:
            continue
        if filters.sources and post.source not in filters.sources:
            continue
        rows.append(
            {
                "source": post.source,
                "external_id": post.external_id,
                "text": post.text,
                "label": review.label,
                "is_problem": review.label != "not_problem",
                "category": review.category,
                "actor": review.actor,
                "labelled_at": review.at,
                "model_version": analysis.model_version if analysis else None,
                "model_problem_probability": analysis.problem_probability if analysis else None,
                "model_category": analysis.category if analysis else None,
                "model_sentiment": analysis.sentiment if analysis else None,
                "created_at": created,
                "label_kind": review.kind,
                "cluster_key": review.cluster_key,
                "note": review.note,
            }
        )
    return rows


def plain_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with times as ISO 8601 strings (JSON and CSV)."""
    return [
        {key: value.isoformat() if isinstance(value, datetime) else value for key, value in row.items()}
        for row in rows
    ]


def _range(values: list[datetime]) -> list[str] | None:
    return [min(values).isoformat(), max(values).isoformat()] if values else None


def data_card(
    rows: list[dict[str, Any]], tenant: str, filters: ExportFilter, generated_at: datetime
) -> dict[str, Any]:
    """Counts and class balance of an export: what a data scientist checks before training on it."""
    problems = sum(1 for row in rows if row["is_problem"])
    return {
        "tenant": tenant,
        "generated_at": generated_at.isoformat(),
        "filters": filters.as_json(),
        "rows": len(rows),
        "posts": len({(row["source"], row["external_id"]) for row in rows}),
        "class_balance": {
            "problem": problems,
            "not_problem": len(rows) - problems,
            "problem_share": round(problems / len(rows), 4) if rows else None,
        },
        "categories": dict(sorted(Counter(row["category"] for row in rows if row["category"]).items())),
        "label_kinds": dict(sorted(Counter(row["label_kind"] for row in rows).items())),
        "sources": dict(sorted(Counter(row["source"] for row in rows).items())),
        "labelled_by": dict(sorted(Counter(row["actor"] for row in rows).items())),
        "post_time_range": _range([row["created_at"] for row in rows]),
        "labelled_time_range": _range([row["labelled_at"] for row in rows]),
        "columns": list(EXPORT_COLUMNS),
    }


def card_markdown(card: dict[str, Any]) -> str:
    """The data card as a short markdown page (written beside the export and printed)."""
    balance = card["class_balance"]
    share = "–" if balance["problem_share"] is None else f"{100 * balance['problem_share']:.1f} %"
    filters = card["filters"]

    def counts(values: dict[str, int]) -> str:
        return ", ".join(f"{name} {count}" for name, count in values.items()) or "none"

    lines = [
        f"# Reviewed labels — tenant {card['tenant']}",
        "",
        f"Exported {card['generated_at']}; posts created from {filters['since'] or 'the start'} "
        f"until {filters['until'] or 'now'}; sources: {', '.join(filters['sources']) or 'all'}; "
        + ("every decision given." if filters["history"] else "each post's latest label."),
        "",
        f"- rows: {card['rows']} ({card['posts']} posts)",
        f"- class balance: problem {balance['problem']}, not_problem {balance['not_problem']} "
        f"(problem share {share})",
        f"- categories: {counts(card['categories'])}",
        f"- label kinds: {counts(card['label_kinds'])}",
        f"- sources: {counts(card['sources'])}",
        f"- labelled by: {counts(card['labelled_by'])}",
    ]
    if card["post_time_range"]:
        lines.append(f"- post times: {card['post_time_range'][0]} – {card['post_time_range'][1]}")
    return "\n".join(lines) + "\n"


def _arrow_table(rows: list[dict[str, Any]]) -> Any:
    import pyarrow as pa

    timestamp = pa.timestamp("us", tz="UTC")
    schema = pa.schema(
        [
            ("source", pa.string()),
            ("external_id", pa.string()),
            ("text", pa.string()),
            ("label", pa.string()),
            ("is_problem", pa.bool_()),
            ("category", pa.string()),
            ("actor", pa.string()),
            ("labelled_at", timestamp),
            ("model_version", pa.string()),
            ("model_problem_probability", pa.float64()),
            ("model_category", pa.string()),
            ("model_sentiment", pa.string()),
            ("created_at", timestamp),
            ("label_kind", pa.string()),
            ("cluster_key", pa.string()),
            ("note", pa.string()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def export_bytes(rows: list[dict[str, Any]], format: str) -> bytes:
    """The export file's content in ``format`` (parquet, csv or json)."""
    if format == "parquet":
        import pyarrow.parquet as pq

        buffer = io.BytesIO()
        pq.write_table(_arrow_table(rows), buffer)
        return buffer.getvalue()
    if format == "csv":
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=EXPORT_COLUMNS)
        writer.writeheader()
        writer.writerows(plain_rows(rows))
        return text.getvalue().encode("utf-8")
    if format == "json":
        return json.dumps(plain_rows(rows), ensure_ascii=False).encode("utf-8")
    raise ConfigurationError(f"unknown export format {format!r}; use one of {', '.join(FORMATS)}")


def write_export(
    rows: list[dict[str, Any]], path: Path, format: str, card: dict[str, Any]
) -> tuple[Path, Path]:
    """Write the export and its data card beside it (``<name>.card.json`` and ``<name>.card.md``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(export_bytes(rows, format))
    stem = path.with_suffix("")
    card_json = stem.with_name(stem.name + ".card.json")
    card_md = stem.with_name(stem.name + ".card.md")
    card_json.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    card_md.write_text(card_markdown(card), encoding="utf-8")
    return card_json, card_md
