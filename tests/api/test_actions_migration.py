"""Migration 0003 creates exactly the tables ``triage/actions/models.py`` declares."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

import triage.actions.models  # noqa: F401  (registers the tables on Base.metadata)
from triage.storage.database import alembic_config, create_db_engine, migrate
from triage.storage.models import Base


def test_migration_matches_the_models(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{(tmp_path / 'm.db').as_posix()}")
    migrate(engine)
    with engine.connect() as connection:
        heads = MigrationContext.configure(connection).get_current_heads()
        script = ScriptDirectory.from_config(alembic_config(engine))
        assert "0003" in {revision.revision for revision in script.iterate_revisions(heads, "base")}
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    ours = [diff for diff in differences if "cluster_actions" in repr(diff) or "post_labels" in repr(diff)]
    assert ours == []
    assert {"cluster_actions", "post_labels"} <= set(inspect(engine).get_table_names())
    engine.dispose()
