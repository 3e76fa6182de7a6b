"""``triage outbox list|retry|purge|deliver`` in process, on a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import respx
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from tests.triage.escalation.support import WEBHOOK_SECRET, incident_engine
from triage.cli.outbox import outbox_app
from triage.errors import ConfigurationError
from triage.escalation.models import DEAD, DELIVERED, OutboxMessageRow
from triage.escalation.outbox import enqueue_signal_messages
from triage.escalation.settings import EscalationSettings, TargetSettings
from triage.storage.database import create_db_engine, migrate, session_factory, transaction

URL = "https://hooks.example.com/signal"


def prepare(tmp_path: Path) -> tuple[dict[str, str], Path, sessionmaker[Session]]:
    database = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = create_db_engine(database)
    migrate(engine)
    sessions = session_factory(engine)
    settings = EscalationSettings(
        targets=[TargetSettings(name="hook", kind="webhook", url=URL, secret=SecretStr(WEBHOOK_SECRET))]
    )
    with transaction(sessions) as session:
        enqueue_signal_messages(session, "bank", incident_engine(), settings)
    config = tmp_path / "escalation.json"
    config.write_text(
        json.dumps({"targets": [{"name": "hook", "kind": "webhook", "url": URL, "secret": WEBHOOK_SECRET}]})
    )
    return {"SIGNAL_TRIAGE_DATABASE_URL": database, "COLUMNS": "200"}, config, sessions


@respx.mock
def test_deliver_list_retry_purge(tmp_path: Path) -> None:
    env, config, sessions = prepare(tmp_path)
    runner = CliRunner()
    respx.post(URL).mock(
        side_effect=[httpx.Response(400, text="unknown event type")] + [httpx.Response(200)] * 5
    )

    delivered = runner.invoke(
        outbox_app, ["deliver", "--until-empty", "--escalation-config", str(config)], env=env
    )
    assert delivered.exit_code == 0, delivered.output
    assert "delivered 1" in delivered.output and "dead 1" in delivered.output
    assert "unknown event type" in delivered.output

    listed = runner.invoke(outbox_app, ["list", "--status", "dead"], env=env)
    assert listed.exit_code == 0 and "trigger" in listed.output and "unknown event type" in listed.output

    retried = runner.invoke(outbox_app, ["retry"], env=env)
    assert retried.exit_code == 0 and "not retried" in retried.output, "the resolve was delivered after it"

    purged = runner.invoke(outbox_app, ["purge", "--older-than-days", "0"], env=env)
    assert purged.exit_code == 0 and "purged" in purged.output
    with transaction(sessions) as session:
        remaining = {row.status for row in session.scalars(select(OutboxMessageRow))}
    assert DELIVERED not in remaining and DEAD not in remaining


def test_a_bad_status_is_a_usage_error(tmp_path: Path) -> None:
    env, _, _ = prepare(tmp_path)
    result = CliRunner().invoke(outbox_app, ["list", "--status", "lost"], env=env)
    assert result.exit_code != 0 and "unknown status" in result.output


def test_deliver_without_targets_or_with_a_bad_file_says_what_to_do(tmp_path: Path) -> None:
    env, _, _ = prepare(tmp_path)
    runner = CliRunner()
    bare = runner.invoke(outbox_app, ["deliver"], env=env)
    assert isinstance(bare.exception, ConfigurationError) and "--escalation-config" in str(bare.exception)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"targets": [{"name": "hook", "kind": "webhook", "secret": "hunter2"}]}))
    result = runner.invoke(outbox_app, ["deliver", "--escalation-config", str(broken)], env=env)
    assert isinstance(result.exception, ConfigurationError) and "needs url" in str(result.exception)
    assert "hunter2" not in str(result.exception)
