"""Held-out scenarios: the shared builder on rows the shared scenarios never use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.heldout_scenarios import build_heldout

DEV_SCENARIOS = ("smoke", "fintech_day", "appstore_day", "airline_week")


def _post_texts(replay: Path) -> set[str]:
    lines = (json.loads(line) for line in replay.read_text(encoding="utf-8").splitlines())
    return {line["text"].strip().lower() for line in lines if line["type"] == "post"}


def test_a_heldout_scenario_shares_no_post_with_the_tuned_ones(shared_dir: Path, tmp_path: Path) -> None:
    [replay] = build_heldout(tmp_path, ["heldout_smoke"], shared_dir)
    truth = json.loads(replay.with_suffix(".truth.json").read_text())
    assert [incident["service"] for incident in truth["incidents"]] == ["topup", "atm"]
    texts = _post_texts(replay)
    assert len(texts) > 1000
    tuned = set().union(*(_post_texts(shared_dir / "scenarios" / f"{name}.jsonl") for name in DEV_SCENARIOS))
    assert not texts & tuned


def test_heldout_scenarios_are_rebuilt_byte_for_byte(shared_dir: Path, tmp_path: Path) -> None:
    [first] = build_heldout(tmp_path / "a", ["heldout_smoke"], shared_dir)
    [second] = build_heldout(tmp_path / "b", ["heldout_smoke"], shared_dir)
    assert first.read_bytes() == second.read_bytes()


def test_an_unknown_heldout_scenario_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown held-out scenario"):
        build_heldout(tmp_path, ["heldout_mars"])
