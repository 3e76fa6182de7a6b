"""The whole scale-out topology, killed where it hurts, resumes without a person.

Real processes on the machine's PostgreSQL and Redis, as ``compose.yaml`` runs
them: ``triage beat`` sending the schedule (pull the watched folder, dispatch
analysis, tick, deliver) and one ``triage worker`` at a time consuming every
queue, delivering escalations to a loopback webhook receiver that checks
signatures and deduplicates by ``webhook-id``. A small scenario (an outage,
then two quiet hours so its signal resolves) is dropped into the watched
folder, stored 10 lines per transaction, and each worker in turn is SIGKILLed
(no warm shutdown, no acknowledgement) at one point:

1. inside the ingest, after its third stored batch, together with beat;
2. inside a triage tick, after ``tick_started`` and before ``tick_done``;
3. inside a delivery, while the receiver holds the answer to a message it got;
4. and then Redis is restarted without saving under the last worker and beat, which must reconnect
   and make up for every queued message, result and analysis lease it lost.

After each kill a fresh worker (and, after the first, a fresh beat on the
same schedule file) is started and nobody does anything else. The end state:

- every post stored exactly once and analysed exactly once;
- every cluster decision reproducible: a last tick's report equals the
  embedded runner's replay of the same file;
- every outbox message delivered, and after deduplication the receiver saw
  each exactly once and nothing else;
- no signal left open, in the service or at the receiver, for a resolved cluster.
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.faults.servers import redis_restarted_on_exit
from tests.faults.support import Receiver, escalation_env, running_receiver, write_scenario
from tests.scale_out import conftest as scale_out
from tests.scale_out.conftest import Beat
from triage.escalation.models import OutboxMessageRow
from triage.replay.flow import replay_file
from triage.runners.celery_app import create_celery_app
from triage.settings import Settings
from triage.storage.database import create_db_engine, session_factory, transaction
from triage.storage.models import AnalysisRow, ClusterRow, EscalationRow, PostRow

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

redis_url = scale_out.redis_url
worker_environment = scale_out.worker_environment
workers = scale_out.workers
beats = scale_out.beats
scale_out_settings = scale_out.scale_out_settings

TENANT = "default"
BATCH_LINES = 10
#: seconds a killed worker's unacknowledged message waits in Redis before it is handed out again
VISIBILITY_SECONDS = 8
#: how long the receiver holds each answer: the window a delivery kill lands in
RECEIVER_HOLD_SECONDS = 2.0
#: generous bounds for a loaded 2-core machine; reaching one fails the test, it never makes it pass
PATIENCE_SECONDS = 300.0
SEED = int(os.environ.get("FAULT_SEEDS", "11").split(",")[0])
_STORED = re.compile(r"analysis_batch_stored task_id=\S+ tenant=\S+ posts=\d+ analysed=(\d+)")


def _wait_until(check: Callable[[], bool], what: str, logs: Callable[[], str]) -> None:
    deadline = time.monotonic() + PATIENCE_SECONDS
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {PATIENCE_SECONDS:.0f}s:\n{logs()[-4000:]}")


def _counts(settings: Settings) -> dict[str, Any]:
    engine = create_db_engine(settings.resolved_database_url)
    try:
        with transaction(session_factory(engine)) as session:
            tenant_posts = PostRow.tenant == TENANT
            return {
                "posts": session.scalar(select(func.count()).select_from(PostRow).where(tenant_posts)),
                "distinct": session.scalar(
                    select(func.count(func.distinct(PostRow.external_id))).where(tenant_posts)
                ),
                "analyses": session.scalar(
                    select(func.count())
                    .select_from(AnalysisRow)
                    .join(PostRow, PostRow.id == AnalysisRow.post_id)
                    .where(tenant_posts)
                ),
                "outbox": {
                    row.message_id: (row.action, row.status)
                    for row in session.scalars(
                        select(OutboxMessageRow).where(OutboxMessageRow.tenant == TENANT)
                    )
                },
                "signals": {
                    row.dedup_key: (row.cluster_key, row.state)
                    for row in session.scalars(select(EscalationRow).where(EscalationRow.tenant == TENANT))
                },
                "clusters": {
                    row.key: row.state
                    for row in session.scalars(select(ClusterRow).where(ClusterRow.tenant == TENANT))
                },
            }
    finally:
        engine.dispose()


def _kill_inside_a_tick(worker: Any, rng: random.Random) -> None:
    """SIGKILL ``worker`` between a ``tick_started`` and its ``tick_done``, in a tick that has analysed
    posts to write; a tick that finished before the kill could land is skipped and the next one tried."""
    offset = worker.wait_for("analysis_batch_stored", timeout=PATIENCE_SECONDS)
    deadline = time.monotonic() + PATIENCE_SECONDS
    while time.monotonic() < deadline:
        offset = worker.wait_for("tick_started", timeout=PATIENCE_SECONDS, after=offset)
        time.sleep(rng.uniform(0.0, 0.05))
        if "tick_done" not in worker.text()[offset:]:
            worker.kill()
            if "tick_done" not in worker.text()[offset:]:
                return
    raise AssertionError("no tick lasted long enough to be killed inside")


def _kill_inside_a_delivery(worker: Any, receiver: Receiver) -> None:
    before = receiver.count()
    _wait_until(lambda: receiver.count() > before, "a delivery reaching the receiver", worker.text)
    worker.kill()  # the receiver is still holding its answer: sent, not yet recorded


def test_killed_workers_and_beat_resume_without_a_person(
    workers: Any,
    beats: Callable[[str], Beat],
    scale_out_settings: Callable[[], Settings],
    analyzer: Any,
    tmp_path: Path,
) -> None:
    rng = random.Random(SEED)
    folder = tmp_path / "drop"
    folder.mkdir()
    scenario = folder / "day.jsonl"
    posts = write_scenario(scenario)
    os.utime(scenario, (1_000_000, 1_000_000))  # long settled
    embedded = replay_file(
        scenario,
        Settings(database_url=f"sqlite:///{tmp_path / 'embedded.db'}", data_dir=tmp_path / "embedded"),
        analyzer,
        tenant=TENANT,
        timer=lambda: 0.0,
    ).report
    assert embedded["escalations"], "the scenario must escalate for delivery to be checked"

    with (
        running_receiver(delay_seconds=RECEIVER_HOLD_SECONDS) as receiver,
        redis_restarted_on_exit() as restart_redis,
    ):
        workers.environment.update(
            SIGNAL_TRIAGE_SOURCES__WATCHED_FOLDER=str(folder),
            SIGNAL_TRIAGE_SOURCES__WATCHED_FOLDER_SETTLE_SECONDS="0",
            SIGNAL_TRIAGE_SOURCES__WATCHED_FOLDER_BATCH_LINES=str(BATCH_LINES),
            SIGNAL_TRIAGE_ESCALATION=escalation_env(receiver.url, lease_seconds=3.0),
            SIGNAL_TRIAGE_BROKER_VISIBILITY_TIMEOUT_SECONDS=str(VISIBILITY_SECONDS),
        )
        settings = scale_out_settings()

        # 1. inside the ingest, beat with it
        first = workers.start("ingest-victim")
        beat = beats("beat-1")
        offset = 0
        for _ in range(3):
            offset = first.wait_for("source_batch_stored", timeout=PATIENCE_SECONDS, after=offset)
        first.kill()
        beat.process.kill()
        beat.process.wait(timeout=30)
        stored_by_first = first.text().count("source_batch_stored")
        assert stored_by_first < len(posts) // BATCH_LINES, "the ingest finished before the kill; no test"

        # 2. inside a tick, with a fresh beat on the same schedule file; this worker rebuilds on every
        # tick (a continued tick is over in milliseconds, too soon to aim a kill at reliably), the
        # next ones continue from their own memory, so a switch between the two is covered too. It
        # leaves the delivery queue alone, so what it decides is still to be sent when the next starts.
        restarted_beat = beats("beat-2")
        workers.environment["SIGNAL_TRIAGE_CONTINUE_TRIAGE_PASSES"] = "false"
        second = workers.start("tick-victim", "--queues", "ingest,analysis,triage")
        del workers.environment["SIGNAL_TRIAGE_CONTINUE_TRIAGE_PASSES"]
        _kill_inside_a_tick(second, rng)

        # 3. inside a delivery
        third = workers.start("delivery-victim")
        _kill_inside_a_delivery(third, receiver)

        survivor = workers.start("survivor")
        # 4. Redis restarted under the survivor and beat: every queued message, result and lease gone
        survivor.wait_for("] received", timeout=PATIENCE_SECONDS)
        restart_redis()

        def logs() -> str:
            return (
                "\n".join(worker.text()[-1500:] for worker in workers.started) + restarted_beat.text()[-800:]
            )

        def settled() -> bool:
            state = _counts(settings)
            outbox = state["outbox"]
            return (
                state["analyses"] == state["posts"] == len(posts)
                and bool(outbox)
                and all(status == "delivered" for _, status in outbox.values())
                and len(outbox) >= 2 * len(embedded["escalations"])  # a trigger and a resolve each
            )

        _wait_until(settled, "every post analysed and every escalation delivered", logs)
        # the final word: a tick over everything stored, sent as any other task
        app = create_celery_app(settings)
        deadline = time.monotonic() + PATIENCE_SECONDS
        while True:
            tick = app.send_task("triage.tick", kwargs={"tenant": TENANT, "report": True}).get(
                timeout=PATIENCE_SECONDS
            )
            if tick["status"] == "ran" or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        _wait_until(
            lambda: all(s == "delivered" for _, s in _counts(settings)["outbox"].values()), "delivery", logs
        )
        state = _counts(settings)
        seen = receiver.deduplicated()
        sent_twice = receiver.duplicates()

    assert restarted_beat.process.poll() is None, "the restarted beat is still running"
    assert "Sending due task" in restarted_beat.text(), "the restarted beat resumed the schedule"

    assert state["posts"] == state["distinct"] == len(posts), "every post stored exactly once"
    assert state["analyses"] == state["posts"], "every post analysed"
    analysed = sum(int(count) for worker in workers.started for count in _STORED.findall(worker.text()))
    assert analysed == len(posts), "no post analysed and stored twice"

    assert tick["status"] == "ran"
    report = tick["report"]
    report["stats"]["seconds"] = 0.0
    assert report == embedded, "the decisions differ from the embedded runner's"

    assert receiver.bad_signatures == 0
    assert sent_twice, "the message the killed worker had sent was sent again"
    assert set(sent_twice.values()) == {2}, "only that message, and only once more"
    assert set(seen) == set(state["outbox"]), "after dedup the receiver saw each message, and only those"
    for message_id, (action, _) in state["outbox"].items():
        assert seen[message_id].action == action
    at_receiver = receiver.last_action_by_alert()
    for dedup_key, (cluster_key, signal_state) in state["signals"].items():
        if state["clusters"].get(cluster_key) == "resolved" or signal_state == "resolved":
            assert signal_state == "resolved", f"{dedup_key} is open for a resolved cluster"
            assert at_receiver.get(dedup_key) == "resolve", f"{dedup_key} is left open at the receiver"
    assert any(signal_state == "resolved" for _, signal_state in state["signals"].values())
