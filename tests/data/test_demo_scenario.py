"""The bundled demo day (data/demo) is what its generator writes, and a valid scenario replay file."""

from __future__ import annotations

import importlib.util
import json
from datetime import datetime, timedelta
from pathlib import Path

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
KEYS = {
    "service": ["type", "name", "description"],
    "twitter": ["type", "source", "id", "author", "text", "created_at", "lang"],
    "zendesk": ["type", "source", "id", "author", "text", "created_at", "meta"],
    "change": ["type", "id", "service", "kind", "summary", "created_at"],
}


def load_generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("demo_generate", DEMO / "generate.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def rows() -> list[dict]:
    return [json.loads(line) for line in (DEMO / "demo_day.jsonl").read_text(encoding="utf-8").splitlines()]


def at(stamp: str) -> datetime:
    assert len(stamp) == 20 and stamp.endswith("Z")
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")


def test_committed_files_equal_a_fresh_generation() -> None:
    replay, truth = load_generator().build()
    assert (DEMO / "demo_day.jsonl").read_bytes() == replay.encode("utf-8")
    assert (DEMO / "demo_day.truth.json").read_bytes() == truth.encode("utf-8")


def test_every_line_follows_the_contract() -> None:
    lines = rows()
    kinds = [r["type"] for r in lines]
    n_services = kinds.count("service")
    assert 4 <= n_services <= 6 and set(kinds[:n_services]) == {"service"}
    services = {r["name"] for r in lines[:n_services]}
    ids = [r["id"] for r in lines[n_services:]]
    assert len(ids) == len(set(ids))
    times = [at(r["created_at"]) for r in lines[n_services:]]
    assert times == sorted(times)
    counters = {"t": 0, "z": 0, "c": 0}
    for r in lines:
        assert list(r) == KEYS[r.get("source", r["type"])]
        if r["type"] == "service":
            continue
        counters[r["id"][0]] += 1
        assert r["id"] == f"{r['id'][0]}{counters[r['id'][0]]}"  # numbered in time order
        if r["type"] == "change":
            assert r["service"] in services and r["kind"] in {"deploy", "config", "flag", "alert"}
        elif r["source"] == "twitter":
            assert r["id"][0] == "t" and r["lang"] == "en"
            assert r["author"][0] == "u" and r["author"][1:].isdigit()
        else:
            org, user = r["author"].split(":")
            assert r["id"][0] == "z" and org.startswith("org") and user.startswith("u")
            assert "\n\n" in r["text"] and r["meta"]["priority"] in {"low", "normal", "high", "urgent"}
    assert 400 <= counters["t"] + counters["z"] <= 700


def test_truth_agrees_with_the_file() -> None:
    truth = json.loads((DEMO / "demo_day.truth.json").read_text(encoding="utf-8"))
    lines = rows()
    by_id = {r["id"]: r for r in lines if "id" in r}
    posts = [r for r in lines if r["type"] == "post"]
    changes = [r for r in lines if r["type"] == "change"]
    assert truth["posts_total"] == len(posts) and truth["changes_total"] == len(changes)
    assert truth["services"] == [r["name"] for r in lines if r["type"] == "service"]
    assert len(truth["incidents"]) == 2
    seen_authors = set()
    for inc in truth["incidents"]:
        onset, cause = at(inc["onset"]), by_id[inc["cause"]]
        assert [row[0] for row in inc["timeline"]] == inc["posts"]
        for post_id, author, stamp in inc["timeline"]:
            assert by_id[post_id]["author"] == author and by_id[post_id]["created_at"] == stamp
        assert inc["onset"] == inc["timeline"][0][2] and inc["end"] == inc["timeline"][-1][2]
        assert inc["distinct_authors"] == len({row[1] for row in inc["timeline"]}) >= 10
        assert len(set(by_id[p]["text"] for p in inc["posts"])) == len(inc["posts"])  # no copies
        assert cause["service"] == inc["service"] and cause["kind"] == inc["cause_kind"] != "alert"
        assert timedelta(minutes=5) <= onset - at(cause["created_at"]) <= timedelta(minutes=30)
        before = [
            c
            for c in changes
            if c["service"] == inc["service"] and c["kind"] != "alert" and at(c["created_at"]) <= onset
        ]
        assert before[-1]["id"] == cause["id"]  # the cause is the latest change on the service before onset
        assert all(onset - at(c["created_at"]) > timedelta(minutes=90) for c in before[:-1])
        herring = by_id[inc["nearer_wrong_service_change"]]
        assert herring["service"] != inc["service"]
        assert at(cause["created_at"]) < at(herring["created_at"]) < onset
        if inc["late_alert"]:
            alert = by_id[inc["late_alert"]]
            assert alert["kind"] == "alert" and alert["service"] == inc["service"]
            assert timedelta(minutes=10) <= at(alert["created_at"]) - onset <= timedelta(minutes=25)
        authors = {row[1] for row in inc["timeline"]}
        assert not authors & seen_authors
        assert not authors & {r["author"] for r in posts if r["id"] not in inc["posts"]}  # new authors
        seen_authors |= authors
    decoy_posts = {p for d in truth["decoys"] for p in d["posts"]}
    incident_posts = {p for i in truth["incidents"] for p in i["posts"]}
    assert not decoy_posts & incident_posts and (decoy_posts | incident_posts) <= set(by_id)
    assert truth["noise_posts"] == len(posts) - len(decoy_posts) - len(incident_posts)
    assert {d["kind"] for d in truth["decoys"]} >= {"spam", "praise", "deploy_no_incident"}
    for change_id in (c for d in truth["decoys"] for c in d["changes"]):
        assert by_id[change_id]["type"] == "change"
