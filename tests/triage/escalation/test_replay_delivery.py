"""A replay's escalations on the wire: nothing by default, everything with ``--deliver``, and the
shared smoke scenario and fintech day paging PagerDuty once per incident and resolving each.

The smoke scenario is analysed once per module (the slow part) and each test replays it again on a
copy of that database, so only triage and delivery run per test. The fintech day (15k posts, a
minute or two of analysis) is replayed once, by its own test.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from typer.testing import CliRunner

import triage.cli.replay as replay_commands
from tests.triage.escalation.support import WEBHOOK_SECRET, FakeClock, FakeEventsApi, Reply
from triage.cli.app import app
from triage.errors import ConfigurationError
from triage.escalation.delivery import DeliveryWorker
from triage.escalation.models import DELIVERED, OPEN_STATUSES, PENDING, SUPERSEDED, OutboxMessageRow
from triage.escalation.pagerduty import PagerDutyTarget
from triage.escalation.settings import EscalationSettings, TargetSettings
from triage.escalation.webhook import ID_HEADER, verify_signature
from triage.replay.flow import replay_file
from triage.settings import Settings
from triage.storage.database import create_db_engine, session_factory, transaction

ROUTING_KEY = "SmokeRoutingKey0123456789abcdef0"


class _Recorder(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (the handler's contract)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append((dict(self.headers), body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return None


@pytest.fixture
def webhook_receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A webhook receiver on 127.0.0.1 that keeps every request and answers 200."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/signal", server.received  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def analysed_smoke(tmp_path_factory: pytest.TempPathFactory, analyzer: Any, shared_dir: Path) -> Path:
    """A database holding the smoke scenario, stored and analysed, with nothing in the outbox."""
    folder = tmp_path_factory.mktemp("smoke")
    settings = Settings(data_dir=folder, database_url=f"sqlite:///{folder / 'smoke.db'}")
    replay_file(shared_dir / "scenarios" / "smoke.jsonl", settings, analyzer)
    return folder / "smoke.db"


def copy_of(database: Path, folder: Path) -> str:
    for part in database.parent.glob(database.name + "*"):
        shutil.copy(part, folder / part.name)
    return f"sqlite:///{folder / database.name}"


def outbox(database_url: str) -> list[OutboxMessageRow]:
    engine = create_db_engine(database_url)
    try:
        with transaction(session_factory(engine)) as session:
            return list(session.scalars(select(OutboxMessageRow).order_by(OutboxMessageRow.id)))
    finally:
        engine.dispose()


def test_deliver_without_targets_says_what_to_do_before_loading_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = tmp_path / "day.jsonl"
    scenario.write_text("")

    def no_model(settings: Settings) -> None:
        raise AssertionError("the model must not be loaded when the command cannot deliver")

    monkeypatch.setattr(replay_commands, "_load_analyzer", no_model)
    result = CliRunner().invoke(
        app,
        ["replay", str(scenario), "--report", str(tmp_path / "r.json"), "--deliver", "--quiet"],
        env={
            "SIGNAL_TRIAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}",
            "SIGNAL_TRIAGE_DATA_DIR": str(tmp_path),
        },
    )
    assert isinstance(result.exception, ConfigurationError), result.output
    assert "--deliver needs escalation targets" in str(result.exception)


@pytest.mark.slow
def test_a_replay_delivers_nothing_unless_asked(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    analyzer: Any,
    shared_dir: Path,
    analysed_smoke: Path,
    webhook_receiver: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    url, received = webhook_receiver
    database_url = copy_of(analysed_smoke, tmp_path)
    escalation = {"targets": [{"name": "hook", "kind": "webhook", "url": url, "secret": WEBHOOK_SECRET}]}
    env = {
        "SIGNAL_TRIAGE_DATABASE_URL": database_url,
        "SIGNAL_TRIAGE_DATA_DIR": str(tmp_path),
        "SIGNAL_TRIAGE_ESCALATION": json.dumps(escalation),
        "COLUMNS": "200",
    }
    monkeypatch.setattr(replay_commands, "_load_analyzer", lambda settings: analyzer)
    scenario = str(shared_dir / "scenarios" / "smoke.jsonl")
    runner = CliRunner()

    first = runner.invoke(
        app, ["replay", scenario, "-r", str(tmp_path / "1.json"), "--no-timing", "-q"], env=env
    )
    assert first.exit_code == 0, first.output
    assert received == [], "a replay without --deliver sends nothing"
    queued = outbox(database_url)
    assert queued and {row.status for row in queued} == {PENDING}, "but its decisions wait in the outbox"

    second = runner.invoke(
        app, ["replay", scenario, "-r", str(tmp_path / "2.json"), "--no-timing", "--deliver"], env=env
    )
    assert second.exit_code == 0, second.output
    assert "dead 0" in second.output and "delivered" in second.output
    assert (tmp_path / "1.json").read_bytes() == (tmp_path / "2.json").read_bytes(), (
        "--no-timing reports stay byte-identical with --deliver"
    )
    rows = outbox(database_url)
    assert len(rows) == len(queued), "the second replay enqueued nothing new"
    assert not [row for row in rows if row.status in OPEN_STATUSES], "delivered until the outbox is empty"
    delivered = {row.message_id for row in rows if row.status == DELIVERED}
    assert {headers[ID_HEADER] for headers, _ in received} == delivered and len(received) == len(delivered)
    now = datetime.now(UTC)
    assert all(verify_signature(WEBHOOK_SECRET, headers, body, now) for headers, body in received)


class PagerDutyAlerts:
    """What PagerDuty makes of a stream of Events API v2 events: alerts opened, updated, resolved."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.opened: Counter[str] = Counter()
        self.updated: Counter[str] = Counter()
        self.resolved: Counter[str] = Counter()
        self.stray_resolves: list[str] = []
        self.routing_keys: dict[str, set[str]] = {}
        self.component: dict[str, str] = {}
        #: events that reached an alert after it had been resolved (a trigger there reopens it)
        self.after_resolve: list[tuple[str, str]] = []
        is_open: dict[str, bool] = {}
        for event in events:
            key = event["dedup_key"]
            self.routing_keys.setdefault(key, set()).add(event["routing_key"])
            if self.resolved[key]:
                self.after_resolve.append((key, event["event_action"]))
            if event["event_action"] == "trigger":
                if is_open.get(key):
                    self.updated[key] += 1
                else:
                    self.opened[key] += 1
                    self.component[key] = event["payload"]["component"]
                is_open[key] = True
            elif event["event_action"] == "resolve":
                if is_open.get(key):
                    self.resolved[key] += 1
                else:
                    self.stray_resolves.append(key)
                is_open[key] = False
        self.still_open = sorted(key for key, value in is_open.items() if value)


@pytest.mark.slow
def test_the_smoke_day_pages_once_per_incident_and_resolves_each(
    tmp_path: Path, analyzer: Any, shared_dir: Path, analysed_smoke: Path
) -> None:
    scenario = shared_dir / "scenarios" / "smoke.jsonl"
    truth = json.loads(scenario.with_suffix("").with_suffix(".truth.json").read_text())
    config = TargetSettings(name="pd", kind="pagerduty", routing_key=SecretStr(ROUTING_KEY))
    escalation = EscalationSettings(targets=[config], public_base_url="https://triage.example.com")
    database_url = copy_of(analysed_smoke, tmp_path)
    settings = Settings(data_dir=tmp_path, database_url=database_url, escalation=escalation)
    result = replay_file(scenario, settings, analyzer)

    receiver = FakeEventsApi(Reply(202, {"status": "success", "message": "Event processed"}))
    engine = create_db_engine(database_url)
    clock = FakeClock()
    worker = DeliveryWorker(
        session_factory(engine),
        escalation,
        clock=clock,
        sleeper=clock.sleep,
        targets={"pd": PagerDutyTarget(config, transport=receiver.transport)},
    )
    report = worker.deliver_until_empty()
    engine.dispose()
    assert report.dead == 0, report.errors

    alerts = PagerDutyAlerts(receiver.events())
    escalated = {decision.dedup_key for decision in result.engine.decisions if decision.action == "trigger"}
    assert set(alerts.opened) == escalated and len(escalated) == len(truth["incidents"]), (
        "one alert per escalated incident, and every incident of the day escalated"
    )
    assert sorted(alerts.component.values()) == sorted(incident["service"] for incident in truth["incidents"])
    assert all(count == 1 for count in alerts.opened.values()), "each alert opens exactly once"
    assert alerts.resolved == Counter({key: 1 for key in escalated}), "each alert is resolved once"
    assert alerts.still_open == [] and alerts.stray_resolves == []
    assert all(keys == {ROUTING_KEY} for keys in alerts.routing_keys.values())

    rows = outbox(database_url)
    for key in escalated:
        updates = [row for row in rows if row.delivery_key == key and row.action == "update"]
        assert updates, f"{key}: the engine updated the signal (more authors, higher severity)"
        assert alerts.updated[key] == sum(row.status == DELIVERED for row in updates), (
            "every delivered update reached the open alert"
        )
        assert all(row.status in (DELIVERED, SUPERSEDED) for row in updates), (
            "an update not sent was folded into the later message of the same alert"
        )


FINTECH_ROUTING_KEY = "FintechRoutingKey0123456789abcde"


@pytest.mark.slow
def test_the_fintech_day_pages_once_per_escalation_and_mirrors_updates_and_resolves(
    tmp_path: Path, analyzer: Any, shared_dir: Path
) -> None:
    """The issue's acceptance replay: ../shared/scenarios/fintech_day.jsonl through a loopback
    PagerDuty Events API: one trigger per escalation in the report, its updates, and one resolve for
    each signal the engine resolved."""
    scenario = shared_dir / "scenarios" / "fintech_day.jsonl"
    config = TargetSettings(name="pd", kind="pagerduty", routing_key=SecretStr(FINTECH_ROUTING_KEY))
    escalation = EscalationSettings(targets=[config], public_base_url="https://triage.example.com")
    database_url = f"sqlite:///{tmp_path / 'fintech.db'}"
    settings = Settings(data_dir=tmp_path, database_url=database_url, escalation=escalation)
    result = replay_file(scenario, settings, analyzer)

    receiver = FakeEventsApi(Reply(202, {"status": "success", "message": "Event processed"}))
    engine = create_db_engine(database_url)
    clock = FakeClock()
    worker = DeliveryWorker(
        session_factory(engine),
        escalation,
        clock=clock,
        sleeper=clock.sleep,
        targets={"pd": PagerDutyTarget(config, transport=receiver.transport)},
    )
    report = worker.deliver_until_empty()
    engine.dispose()
    assert report.dead == 0, report.errors

    rows = outbox(database_url)
    assert rows and not [row for row in rows if row.status in OPEN_STATUSES], "the outbox drained"
    alerts = PagerDutyAlerts(receiver.events())
    signal_of = {row.delivery_key: row.signal_key for row in rows}
    reported = result.engine.reported_signals()
    assert len(result.report["escalations"]) == len(reported) > 0
    for signal, escalation_entry in zip(reported, result.report["escalations"], strict=True):
        opened = [key for key in alerts.opened if signal_of[key] == signal.dedup_key]
        assert len(opened) == 1, f"{escalation_entry['cluster_id']}: one trigger per escalation, got {opened}"
        assert alerts.component[opened[0]] == escalation_entry["service"]
    merged = {key for key, signal in result.engine.signals.items() if signal.merged_into is not None}
    assert {signal_of[key] for key in alerts.opened} <= {s.dedup_key for s in reported} | merged, (
        "an alert opened only for a signal the report shows (or one merged into such a signal)"
    )
    assert all(count == 1 for count in alerts.opened.values()), "each alert opens exactly once"
    # every incident of the day ends before midnight, so every alert is resolved exactly once
    resolved_signals = {d.dedup_key for d in result.engine.decisions if d.action == "resolve"}
    assert {signal_of[key] for key in alerts.opened} <= resolved_signals
    assert alerts.resolved == Counter({key: 1 for key in alerts.opened}), "each alert is resolved once"
    assert alerts.still_open == []
    assert alerts.stray_resolves == []
    assert alerts.after_resolve == [], "nothing reaches an alert after its resolve"
    assert all(keys == {FINTECH_ROUTING_KEY} for keys in alerts.routing_keys.values()), (
        "one routing key per alert"
    )
    updates = [row for row in rows if row.action == "update"]
    assert updates, "the day's incidents grew (more authors, higher severity) and updated their alerts"
    assert sum(alerts.updated.values()) == sum(row.status == DELIVERED for row in updates)
    assert all(row.status in (DELIVERED, SUPERSEDED) for row in updates)
