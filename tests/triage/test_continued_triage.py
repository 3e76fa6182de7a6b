"""A live runner's pass continues from its last one and ends where a full replay would.

The demo day (our own data) arrives in time slices; after each slice a pass
runs, as the embedded runner and the Celery tick do. Every pass must give the
engine a replay of what is stored gives, and the stored clusters must match a
full rewrite, whether the pass continued or had to rebuild.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ingest.sources.replay_file import ReplayFileSource
from triage.actions.service import record_cluster_action
from triage.replay.flow import SilentProgress, analyse_pending, run_triage
from triage.replay.report import build_report
from triage.runners.continued_triage import ContinuedTriage, run_and_store
from triage.settings import Settings
from triage.storage.analyses import posts_to_analyse, store_analyses
from triage.storage.database import create_db_engine, migrate, session_factory, transaction
from triage.storage.intake import store_changes, store_posts, store_services
from triage.storage.models import ClusterMemberRow, ClusterRow
from triage.storage.outcomes import replace_triage_state

DEMO_DAY = Path(__file__).resolve().parents[2] / "data" / "demo" / "demo_day.jsonl"
TENANT = "demo"


def demo_lines() -> tuple[list[str], list[dict[str, Any]]]:
    """The demo day's service lines, and its posts and changes in event order."""
    services, events = [], []
    for line in DEMO_DAY.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["type"] == "service":
            services.append(line)
        else:
            events.append(record)
    events.sort(key=lambda record: record.get("created_at") or record.get("started_at") or "")
    return services, events


class Stream:
    """A tenant's database that posts and changes arrive in, slice by slice."""

    def __init__(self, folder: Path, analyzer: Any) -> None:
        self.folder = folder
        self.analyzer = analyzer
        self.settings = Settings(data_dir=folder, database_url=f"sqlite:///{folder / 'live.db'}")
        engine = create_db_engine(self.settings.resolved_database_url)
        migrate(engine)
        self.sessions: sessionmaker[Session] = session_factory(engine)
        self.memory = ContinuedTriage(self.settings)
        self.part = 0

    def arrive(self, lines: list[str], *, analyse: bool = True) -> None:
        self.part += 1
        path = self.folder / f"part{self.part}.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        for batch in ReplayFileSource(path).read({"line": 0}):
            with transaction(self.sessions) as session:
                store_services(session, TENANT, batch.services)
                store_posts(session, TENANT, batch.posts)
                store_changes(session, TENANT, batch.changes)
        if analyse:
            analyse_pending(self.sessions, TENANT, self.analyzer, self.settings, SilentProgress())

    def run_pass(self) -> Any:
        result, _ = run_and_store(self.sessions, TENANT, self.analyzer, self.memory)
        return result

    def replayed_report(self) -> dict[str, Any]:
        engine = run_triage(self.sessions, TENANT, self.analyzer, self.settings, SilentProgress())
        return build_report(engine, engine.posts_seen, 0.0)

    def stored_clusters(self) -> dict[str, tuple[Any, ...]]:
        """Stored clusters by key, with their members; labels left out (see the module docstring of
        ``triage.runners.continued_triage``: a cluster keeps the label it was stored with)."""
        with transaction(self.sessions) as session:
            members: dict[int, set[tuple[int, bool]]] = {}
            for cluster_id, post_id, counted in session.execute(
                select(ClusterMemberRow.cluster_id, ClusterMemberRow.post_id, ClusterMemberRow.counted)
            ):
                members.setdefault(cluster_id, set()).add((post_id, counted))
            return {
                row.key: (
                    row.state,
                    row.service,
                    row.post_count,
                    row.distinct_authors,
                    row.merged_into,
                    row.representative_post_id,
                    frozenset(members.get(row.id, set())),
                )
                for row in session.scalars(select(ClusterRow).where(ClusterRow.tenant == TENANT))
            }

    def rewritten_clusters(self) -> dict[str, tuple[Any, ...]]:
        """What a full rewrite from a replay of everything stored would store."""
        engine = run_triage(self.sessions, TENANT, self.analyzer, self.settings, SilentProgress())
        with transaction(self.sessions) as session:
            replace_triage_state(session, TENANT, engine)
        return self.stored_clusters()


def report_text(report: dict[str, Any]) -> str:
    return json.dumps(report, sort_keys=True, indent=1)


def slices(events: list[dict[str, Any]], count: int) -> list[list[str]]:
    size = -(-len(events) // count)
    return [
        [json.dumps(record) for record in events[start : start + size]]
        for start in range(0, len(events), size)
    ]


@pytest.fixture
def stream(tmp_path: Path, analyzer: Any) -> Stream:
    return Stream(tmp_path, analyzer)


def test_passes_over_arriving_slices_equal_a_replay_of_what_is_stored(stream: Stream) -> None:
    services, events = demo_lines()
    parts = slices(events, 6)
    stream.arrive(services + parts[0])
    reasons = [stream.run_pass().reason]
    for part in parts[1:]:
        stream.arrive(part)
        result = stream.run_pass()
        reasons.append(result.reason)
        assert report_text(build_report(result.engine, result.engine.posts_seen, 0.0)) == report_text(
            stream.replayed_report()
        )
    assert reasons == ["first pass"] + ["continued"] * (len(parts) - 1)
    report = build_report(result.engine, result.engine.posts_seen, 0.0)
    assert len(report["escalations"]) >= 2  # the demo day's two incidents, found while it streamed in
    continued_state = stream.stored_clusters()
    assert continued_state == stream.rewritten_clusters()


def test_a_late_post_or_change_rebuilds_and_still_equals_a_replay(stream: Stream) -> None:
    services, events = demo_lines()
    posts_only = [record for record in events if record["type"] == "post"]
    late_post, late_change = posts_only[10], next(record for record in events if record["type"] == "change")
    rest = [record for record in events if record not in (late_post, late_change)]
    half = len(rest) // 2
    stream.arrive(services + [json.dumps(record) for record in rest[:half]])
    stream.run_pass()
    stream.arrive([json.dumps(late_post)])
    result = stream.run_pass()
    assert result.reason == "late post"
    stream.arrive([json.dumps(record) for record in rest[half:]])
    assert stream.run_pass().reason == "continued"
    stream.arrive([json.dumps(late_change)])
    result = stream.run_pass()
    assert result.reason == "late change"
    assert report_text(build_report(result.engine, result.engine.posts_seen, 0.0)) == report_text(
        stream.replayed_report()
    )
    assert stream.stored_clusters() == stream.rewritten_clusters()


def test_posts_still_waiting_for_analysis_hold_the_feed_back_without_a_rebuild(stream: Stream) -> None:
    services, events = demo_lines()
    parts = slices(events, 3)
    stream.arrive(services + parts[0])
    stream.run_pass()
    stream.arrive(parts[1], analyse=False)
    with transaction(stream.sessions) as session:
        waiting = posts_to_analyse(session, TENANT, stream.analyzer.model_version)
    later_half = waiting[len(waiting) // 2 :]  # analysed out of order, as parallel workers may
    analyses = stream.analyzer.analyze([text for _, text in later_half])
    with transaction(stream.sessions) as session:
        store_analyses(
            session, [post_id for post_id, _ in later_half], analyses, stream.analyzer.model_version
        )
    result = stream.run_pass()
    assert result.reason == "continued" and result.tail == len(later_half) and result.posts_fed == 0
    assert report_text(build_report(result.engine, result.engine.posts_seen, 0.0)) == report_text(
        stream.replayed_report()
    )
    analyse_pending(stream.sessions, TENANT, stream.analyzer, stream.settings, SilentProgress())
    stream.arrive(parts[2])
    result = stream.run_pass()
    assert result.reason == "continued" and result.tail == 0
    assert report_text(build_report(result.engine, result.engine.posts_seen, 0.0)) == report_text(
        stream.replayed_report()
    )
    assert stream.stored_clusters() == stream.rewritten_clusters()


def test_a_decision_or_a_state_written_elsewhere_rebuilds(stream: Stream) -> None:
    services, events = demo_lines()
    parts = slices(events, 3)
    stream.arrive(services + parts[0])
    stream.run_pass()
    with transaction(stream.sessions) as session:
        some_cluster = session.scalars(select(ClusterRow.key).where(ClusterRow.tenant == TENANT)).first()
        assert some_cluster is not None
        record_cluster_action(
            session, TENANT, some_cluster, "mute", "lead@example.com", datetime(2026, 4, 14, tzinfo=UTC)
        )
    stream.arrive(parts[1])
    assert stream.run_pass().reason == "decisions changed"
    stream.rewritten_clusters()  # another process (a replay, another worker) writes the state
    stream.arrive(parts[2])
    result = stream.run_pass()
    assert result.reason == "state written elsewhere"
    assert report_text(build_report(result.engine, result.engine.posts_seen, 0.0)) == report_text(
        stream.replayed_report()
    )


def test_a_failed_store_makes_the_next_pass_rebuild(stream: Stream, monkeypatch: pytest.MonkeyPatch) -> None:
    services, events = demo_lines()
    parts = slices(events, 3)
    stream.arrive(services + parts[0])
    stream.run_pass()
    stream.arrive(parts[1])
    import triage.escalation.outbox as outbox

    def broken(*_: Any, **__: Any) -> int:
        raise RuntimeError("database went away")

    monkeypatch.setattr(outbox, "enqueue_signal_messages", broken)
    with pytest.raises(RuntimeError):
        stream.run_pass()
    monkeypatch.undo()
    stream.arrive(parts[2])
    result = stream.run_pass()
    assert result.reason == "first pass"
    assert stream.stored_clusters() == stream.rewritten_clusters()


def test_continuing_can_be_turned_off(tmp_path: Path, analyzer: Any) -> None:
    stream = Stream(tmp_path, analyzer)
    stream.memory = ContinuedTriage(stream.settings.model_copy(update={"continue_triage_passes": False}))
    services, events = demo_lines()
    parts = slices(events, 2)
    stream.arrive(services + parts[0])
    stream.run_pass()
    stream.arrive(parts[1])
    result = stream.run_pass()
    assert result.reason == "continuing turned off" and not result.continued
    assert report_text(build_report(result.engine, result.engine.posts_seen, 0.0)) == report_text(
        stream.replayed_report()
    )
