"""A reviewed-labels export written by the real export code from a factory-built tenant (no dataset rows)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.api.factories import TENANT, at, build_incident_day
from triage.actions.export import ExportFilter, data_card, export_rows, write_export
from triage.actions.service import label_post, record_cluster_action
from triage.storage.database import create_db_engine, migrate, session_factory, transaction
from triage.storage.models import PostRow


def write_reviewed_export(folder: Path, name: str = "labels.parquet") -> Path:
    """An incident day where a lead confirmed the login outage, dismissed nothing, and relabelled the
    praise as not a problem and one payment post with its category; exported as ``folder/name``."""
    engine = create_db_engine(f"sqlite:///{(folder / 'reviews.db').as_posix()}")
    migrate(engine)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        build_incident_day(session)
        for post in session.query(PostRow).filter(PostRow.tenant == TENANT):
            if post.text.startswith("love the new dark mode") or post.text.startswith("how do I"):
                label_post(session, TENANT, post.id, "not_problem", "dana", at(200))
            elif post.text.startswith("my payment was declined"):
                label_post(session, TENANT, post.id, "category", "dana", at(201), category="payment")
        record_cluster_action(session, TENANT, "k-login", "confirm", "lee", at(210))
        record_cluster_action(session, TENANT, "k-pay", "confirm", "lee", at(211))
    with transaction(sessions) as session:
        rows = export_rows(session, TENANT)
    engine.dispose()
    path = folder / name
    write_export(
        rows, path, path.suffix.lstrip("."), data_card(rows, TENANT, ExportFilter(), datetime.now(UTC))
    )
    return path
