"""Alembic environment: runs on the connection handed in by ``migrate`` or, from
the alembic CLI, on ``sqlalchemy.url``."""

from alembic import context
from sqlalchemy import engine_from_config, pool

import triage.access.models  # noqa: F401
import triage.actions.models  # noqa: F401  (tables of their own packages, for autogenerate)
import triage.escalation.models  # noqa: F401
from triage.storage.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
