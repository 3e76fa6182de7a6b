"""Detection benchmark: every scenario in ../shared/scenarios, product beside the naive baseline.

For each ``*.jsonl`` with a ``*.truth.json`` beside it (scenarios added later
are picked up too), replay it through the whole product, score the report
with ``../shared/tools/score_replay.py`` and print its figures next to those of
``naive_baseline.py`` on the same scenario.

    python benchmarks/detection.py                      # every scenario, fresh databases
    python benchmarks/detection.py --only smoke fintech_day
    python benchmarks/detection.py --db-dir var/bench    # keep databases: reruns skip analysis
    python benchmarks/detection.py --backend torch-bf16 --db-dir var/bench-bf16  # the clustering figures
                                                         # with a faster encoder backend
    python benchmarks/detection.py --scenarios var/heldout-scenarios --db-dir var/bench-heldout
                                                         # scenarios no setting was tuned on
                                                         # (python -m benchmarks.heldout_scenarios)

With ``--db-dir`` the posts and their analyses are kept between runs (they are
keyed by model version), so a rerun after a triage change replays in seconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._cluster_recall import (  # noqa: E402
    FATES,
    IncidentPostFates,
    classifier_ceiling,
    flagged_external_ids,
    incident_post_fates,
)
from benchmarks._escalation_company import (  # noqa: E402
    PHASES,
    EscalationCompany,
    escalation_company,
    post_times,
)
from benchmarks._perfect_cluster import PerfectClusterTrigger, stored_triggers  # noqa: E402
from benchmarks._shared import naive_baseline_report, require_shared, score  # noqa: E402

if TYPE_CHECKING:
    from classifier.analysis import Analyzer

COLUMNS = [
    ("detected", lambda s: f"{s['incidents_detected']}/{s['incidents_total']}"),
    ("escal.", lambda s: str(s["escalations"])),
    ("false", lambda s: str(s["false_escalations"])),
    ("dup", lambda s: str(s["duplicate_escalations"])),
    ("precision", lambda s: f"{s['precision']:.2f}"),
    (
        "TTD med/max min",
        lambda s: f"{_num(s['time_to_detect_median_min'])}/{_num(s['time_to_detect_max_min'])}",
    ),
    ("authors@trigger", lambda s: _num(s.get("authors_by_trigger_median"))),
    ("cause top1/in", lambda s: f"{_num(s['cause_top1_accuracy'])}/{_num(s['cause_in_changes_recall'])}"),
    ("B3 F1", lambda s: f"{s['bcubed']['f1']:.2f}"),
    ("posts/s", lambda s: f"{s['throughput_posts_per_s']:.0f}"),
]


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class ProductRun:
    #: ids of the posts the classifier flagged as problem reports
    flagged: set[str]
    #: per incident, the author by whom a perfect cluster would page (benchmarks/_perfect_cluster.py)
    perfect: list[PerfectClusterTrigger]


def run_product(
    scenario: Path, report: Path, db_dir: Path, backend: str = "torch", model: Path | None = None
) -> ProductRun:
    """Replay ``scenario`` into ``report``, and when a perfect cluster of each incident would page."""
    from classifier.analysis import load_analyzer
    from triage.replay.flow import replay_file
    from triage.replay.report import write_report
    from triage.settings import Settings

    global _ANALYZER
    if _ANALYZER is None:
        _ANALYZER = load_analyzer(model, backend=backend)
    settings = Settings(data_dir=db_dir, database_url=f"sqlite:///{db_dir / (scenario.stem + '.db')}")
    result = replay_file(scenario, settings, _ANALYZER)
    write_report(result.report, report)
    threshold = settings.clustering.problem_threshold
    incidents = json.loads(scenario.with_suffix(".truth.json").read_text())["incidents"]
    return ProductRun(
        flagged_external_ids(result.database_url, result.tenant, threshold),
        stored_triggers(result.database_url, result.tenant, _ANALYZER.model_version, incidents, settings),
    )


_ANALYZER: Analyzer | None = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="scenario names (default: all)")
    parser.add_argument("--db-dir", type=Path, help="keep databases here between runs")
    parser.add_argument("--out", type=Path, help="folder for reports and a JSON summary")
    parser.add_argument("--backend", default="torch", help="encoder backend (classifier.analysis.BACKENDS)")
    parser.add_argument(
        "--model", type=Path, help="model version folder, e.g. classifier/artifacts/v3 (default: in use)"
    )
    parser.add_argument(
        "--scenarios",
        type=Path,
        help="folder of NAME.jsonl + NAME.truth.json (default ../shared/scenarios; held-out ones: "
        "python -m benchmarks.heldout_scenarios)",
    )
    args = parser.parse_args()

    scenarios_dir = args.scenarios or require_shared() / "scenarios"
    if not scenarios_dir.is_dir():
        sys.exit(f"no scenario folder at {scenarios_dir}")
    scenarios = sorted(
        path for path in scenarios_dir.glob("*.jsonl") if path.with_suffix(".truth.json").exists()
    )
    if args.only:
        scenarios = [path for path in scenarios if path.stem in set(args.only)]
    work = Path(tempfile.mkdtemp(prefix="detection-bench-"))
    out = args.out or work
    out.mkdir(parents=True, exist_ok=True)
    db_dir = args.db_dir or work
    db_dir.mkdir(parents=True, exist_ok=True)

    summary: dict[str, dict[str, Any]] = {}
    rows: list[list[str]] = []
    fates: dict[str, IncidentPostFates] = {}
    ceilings: dict[str, float | None] = {}
    company: dict[str, EscalationCompany] = {}
    earliness: dict[str, tuple[dict[str, Any], list[PerfectClusterTrigger]]] = {}
    for scenario in scenarios:
        truth = scenario.with_suffix(".truth.json")
        product_report = out / f"{scenario.stem}.product.json"
        naive_report = out / f"{scenario.stem}.naive.json"
        print(f"replaying {scenario.name} ...", file=sys.stderr, flush=True)
        run = run_product(scenario, product_report, db_dir, args.backend, args.model)
        naive_baseline_report(scenario, naive_report)
        product, naive = score(truth, product_report), score(truth, naive_report)
        truth_data, report_data = json.loads(truth.read_text()), json.loads(product_report.read_text())
        fates[scenario.stem] = incident_post_fates(truth_data, report_data, run.flagged)
        ceilings[scenario.stem] = classifier_ceiling(truth_data, run.flagged)
        company[scenario.stem] = escalation_company(truth_data, report_data, post_times(scenario))
        earliness[scenario.stem] = (product, run.perfect)
        summary[scenario.stem] = {
            "product": product,
            "naive": naive,
            "incident_posts": fates[scenario.stem].counts,
            "bcubed_ceiling_of_classifier": ceilings[scenario.stem],
            "escalated_posts": {
                "incident": company[scenario.stem].incident_posts,
                **company[scenario.stem].others,
            },
            "perfect_cluster_authors_by_trigger": {
                trigger.incident: trigger.authors_by_trigger for trigger in run.perfect
            },
        }
        rows.append([scenario.stem, "product"] + [render(product) for _, render in COLUMNS])
        rows.append(["", "naive"] + [render(naive) for _, render in COLUMNS])
        _print_table(rows)
    _print_fates(fates, ceilings)
    _print_company(company)
    _print_earliness(earliness)
    (out / "detection-summary.json").write_text(json.dumps(summary, indent=1))
    print(f"\nreports and summary in {out}")


def _print_fates(fates: dict[str, IncidentPostFates], ceilings: dict[str, float | None]) -> None:
    """Where B-cubed recall goes: incident posts by fate, and the B-cubed F1 a perfect clustering of
    the flagged posts would reach (see benchmarks/_cluster_recall.py)."""
    print("\nincident posts (product): share in their incident's main cluster, in another cluster,")
    print("flagged as problems but in no cluster, not flagged by the classifier; B3 F1 of a perfect")
    print("clustering of the flagged posts (the classifier's ceiling)")
    rows = [
        [name, str(fate.total)]
        + [f"{100 * fate.share(kind):.0f} %" for kind in FATES]
        + [_num(ceilings.get(name))]
        for name, fate in fates.items()
    ]
    _print_aligned(["scenario", "posts", *FATES, "B3 ceiling"], rows)


def _print_company(company: dict[str, EscalationCompany]) -> None:
    """What else escalations list (see benchmarks/_escalation_company.py): B-cubed does not see it."""
    print("\nposts listed with the product's escalations: the incidents' own, and everyday posts")
    print("posted before the onset, during the incident and after its end")
    rows = [
        [name, str(item.incident_posts)]
        + [str(item.others.get(phase, 0)) for phase in PHASES]
        + [f"{100 * item.incident_share:.0f} %"]
        for name, item in company.items()
    ]
    _print_aligned(["scenario", "incident", *PHASES, "incident share"], rows)


def _print_earliness(earliness: dict[str, tuple[dict[str, Any], list[PerfectClusterTrigger]]]) -> None:
    """Distinct incident authors by the trigger, per incident: the product's, and a perfect cluster's
    under the same page test (benchmarks/_perfect_cluster.py). The gap is what better clustering could
    still win; the perfect cluster's own figure is what the embedding and the false-alarm budget allow."""
    print("\nincident authors by the trigger: product / a perfect cluster under the same page test")
    print("('-': never); the target is the 5th author")
    rows = []
    for name, (product, perfect) in earliness.items():
        perfect_of = {trigger.incident: trigger.authors_by_trigger for trigger in perfect}
        cells = []
        for incident in product["per_incident"]:
            ideal = perfect_of.get(incident["id"])
            cells.append(f"{incident['id']} {_num(incident.get('authors_by_trigger'))}/{_num(ideal)}")
        found = [value for value in perfect_of.values() if value is not None]
        median = f"{statistics.median(found):g}" if found else "-"
        rows.append([name, _num(product.get("authors_by_trigger_median")), median, "  ".join(cells)])
    _print_aligned(["scenario", "product median", "perfect median", "per incident"], rows)


def _print_table(rows: list[list[str]]) -> None:
    print()
    _print_aligned(["scenario", "run"] + [name for name, _ in COLUMNS], rows)


def _print_aligned(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
