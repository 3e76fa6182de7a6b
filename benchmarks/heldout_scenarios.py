"""Held-out replay scenarios: built the way ``../shared/scenarios`` are, from rows those never use.

The product is judged on scenarios the team has not seen, "built the same way from other rows, other
services and other wording". ``../shared/tools/make_scenarios.py`` splits every dataset into a *dev*
partition (what the shared scenarios use: banking77 and nlbse24 train splits, United Airlines tweets,
60 % of the sets without a split) and a *reserved* one (test splits, the other airlines, TweetEval, the
other 40 %, minus any text also in dev). This module drives that same builder on the reserved partition,
with other seeds, other days, other incident services, sizes and times, so the detection benchmark can
report figures on scenarios no setting was tuned on:

    python -m benchmarks.heldout_scenarios                  # writes var/heldout-scenarios/
    python -m benchmarks.detection --scenarios var/heldout-scenarios --db-dir var/bench-heldout

The files hold dataset rows, so they go to a git-ignored folder, never into the repository.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._shared import require_shared  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "var" / "heldout-scenarios"
GENERAL_TWEETS = [
    "tw:neutral",
    "tw:negative",
    "tw:positive",
    "sanders:irrelevant",
    "sanders:neutral",
    "sanders:negative",
]
POSITIVE_TWEETS = ["tw:positive", "sanders:positive"]


def load_scenario_builder(shared: Path) -> ModuleType:
    """``make_scenarios.py`` from the shared tools, imported by path (it is a script, not a package)."""
    path = shared / "tools" / "make_scenarios.py"
    if not path.exists():
        raise FileNotFoundError(f"scenario builder not found at {path}")
    spec = importlib.util.spec_from_file_location("make_scenarios", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fintech_smoke(ms: ModuleType, pools: Any, out: Path) -> None:
    ms.fintech(
        "heldout_smoke",
        1011,
        pools,
        out,
        days=1,
        start="2026-04-06T00:00:00",
        noise=900,
        baseline=220,
        questions=200,
        incidents=[("topup", 30, (0, "11:05"), 40, 16, 12), ("atm", 16, (0, "17:20"), 30, 9, None)],
        services=ms.FINTECH_SERVICES[:4],
        keys=ms.FINTECH_KEYS,
        wording=ms.FINTECH_WORDING,
        general=GENERAL_TWEETS,
        positive=POSITIVE_TWEETS,
        description="Held-out small day at a mobile bank (banking77 test split).",
    ).write(out, "")


def _fintech_day(ms: ModuleType, pools: Any, out: Path) -> None:
    ms.fintech(
        "heldout_fintech_day",
        1021,
        pools,
        out,
        days=1,
        start="2026-04-07T00:00:00",
        noise=10500,
        baseline=2600,
        questions=1500,
        incidents=[
            ("topup", 25, (0, "07:50"), 40, 30, 15),
            ("fx", 30, (0, "10:30"), 45, 14, None),
            ("identity", 20, (0, "14:10"), 30, 9, None),
            ("cards", 80, (0, "18:05"), 90, 22, 20),
        ],
        services=ms.FINTECH_SERVICES,
        keys=ms.FINTECH_KEYS,
        wording=ms.FINTECH_WORDING,
        general=GENERAL_TWEETS,
        positive=POSITIVE_TWEETS,
        description="Held-out day at a mobile bank (banking77 test split; other services than fintech_day)",
    ).write(out, "")


def _airline_week(ms: ModuleType, pools: Any, out: Path) -> None:
    builder = ms.Builder(
        "heldout_airline_week",
        1031,
        pools,
        "2026-05-04T00:00:00",
        7,
        -5,
        ms.AIR_SERVICES,
        "Held-out week at an airline (American and US Airways tweets of airline_sentiment_2015).",
    )
    builder.routine_changes(1.0, ms.AIR_WORDING)
    builder.background(["air:neutral", "air:positive"], 950, "noise", zendesk=0.1)
    builder.background(GENERAL_TWEETS, 7500, "noise")
    builder.background(
        [
            "air:Customer Service Issue",
            "air:Can't Tell",
            "air:Bad Flight",
            "air:Flight Attendant Complaints",
            "air:longlines",
        ],
        1400,
        "baseline",
        zendesk=0.25,
    )
    builder.background(["twcs_air"], 2200, "baseline", zendesk=0.2)
    builder.incident(
        "flight_ops", ms.AIR_KEYS["flight_ops"], 60, builder.at(1, "09:20"), 70, 20, alert_after=25
    )
    builder.incident("booking", ms.AIR_KEYS["booking"], 20, builder.at(2, "16:00"), 35, 12)
    builder.incident(
        "rebooking", ms.AIR_KEYS["rebooking"], 90, builder.at(4, "08:15"), 100, 30, alert_after=20
    )
    builder.incident("baggage", ms.AIR_KEYS["baggage"], 30, builder.at(6, "12:40"), 50, 8)
    builder.spam(["air:Bad Flight"], builder.at(2, "11:00"), 30, 1.0)
    builder.burst(
        "praise",
        ["air:positive"],
        builder.at(5, "15:30"),
        70,
        60,
        launch=("inflight", "launch: new seatback entertainment on all flights"),
    )
    builder.quiet_deploy(
        "baggage", builder.at(3, "10:00"), "bag-tracker v7.0.0: major rewrite of scan ingestion"
    )
    builder.write(out, "")


def _appstore_day(ms: ModuleType, pools: Any, out: Path) -> None:
    builder = ms.Builder(
        "heldout_appstore_day",
        1041,
        pools,
        "2026-05-12T00:00:00",
        1,
        -7,
        ms.DEV_SERVICES,
        "Held-out day at a developer-tools company (maalej2016 reserved reviews, nlbse24 test split).",
    )
    builder.routine_changes(1.5, ms.DEV_WORDING)
    builder.background(GENERAL_TWEETS, 3800, "noise")
    builder.background(["rev:Rating", "rev:UserExperience", "rev:Feature"], 700, "noise", zendesk=0.2)
    repos = [
        "microsoft/vscode",
        "facebook/react",
        "tensorflow/tensorflow",
        "opencv/opencv",
        "bitcoin/bitcoin",
    ]
    builder.background(
        [f"gh:{repo}:{kind}" for repo in repos for kind in ("question", "feature")], 500, "noise", zendesk=1.0
    )
    builder.background(["rev:bug"], 150, "baseline", zendesk=0.3)
    builder.background(["gh:microsoft/vscode:bug", "gh:bitcoin/bitcoin:bug"], 140, "baseline", zendesk=1.0)
    builder.incident(
        "ml_runtime",
        ms.DEV_KEYS["ml_runtime"],
        30,
        builder.at(0, "09:10"),
        60,
        18,
        zendesk=1.0,
        alert_after=30,
    )
    builder.incident("mobile_app", ms.DEV_KEYS["mobile_app"], 20, builder.at(0, "12:30"), 50, 10, zendesk=0.3)
    builder.incident("vision_sdk", ms.DEV_KEYS["vision_sdk"], 16, builder.at(0, "16:45"), 40, 25, zendesk=1.0)
    builder.incident("devtools", ms.DEV_KEYS["devtools"], 25, builder.at(0, "20:05"), 45, 7, zendesk=1.0)
    builder.spam(["rev:bug"], builder.at(0, "14:00"), 25, 1)
    builder.burst(
        "praise",
        ["rev:praise"],
        builder.at(0, "18:10"),
        80,
        60,
        launch=("mobile_app", "launch: offline mode for everyone"),
    )
    builder.burst(
        "feature_requests",
        ["gh:tensorflow/tensorflow:feature"],
        builder.at(0, "10:40"),
        30,
        50,
        zendesk=1.0,
        launch=("ml_runtime", "announce: roadmap for runtime v4"),
    )
    builder.quiet_deploy("wallet", builder.at(0, "11:20"), "wallet-node v30.0.0: major version upgrade")
    builder.write(out, "")


RECIPES: dict[str, Callable[[ModuleType, Any, Path], None]] = {
    "heldout_smoke": _fintech_smoke,
    "heldout_fintech_day": _fintech_day,
    "heldout_airline_week": _airline_week,
    "heldout_appstore_day": _appstore_day,
}


def build_heldout(out: Path, only: list[str] | None = None, shared: Path | None = None) -> list[Path]:
    """Write the held-out scenarios (``NAME.jsonl``, ``NAME.truth.json``) to ``out``; their replay files."""
    unknown = sorted(set(only or []) - set(RECIPES))
    if unknown:
        raise ValueError(f"unknown held-out scenario(s) {unknown}; known: {sorted(RECIPES)}")
    shared = shared or require_shared()
    builder = load_scenario_builder(shared)
    started = time.perf_counter()
    print("reading the reserved partition of ../shared/datasets ...", file=sys.stderr, flush=True)
    pools = builder.Pools(shared / "datasets").reserved
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, recipe in RECIPES.items():
        if only and name not in only:
            continue
        print(f"building {name} ...", file=sys.stderr, flush=True)
        recipe(builder, pools, out)
        written.append(out / f"{name}.jsonl")
    print(
        f"{len(written)} held-out scenario(s) in {out} ({time.perf_counter() - started:.0f} s)",
        file=sys.stderr,
    )
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="folder for the scenarios (git-ignored)"
    )
    parser.add_argument("--only", nargs="*", choices=sorted(RECIPES), help="scenario names (default: all)")
    args = parser.parse_args()
    build_heldout(args.out, args.only)


if __name__ == "__main__":
    main()
