"""What every scale-out process does before it starts: bring the schema up to date, one at a time."""

from __future__ import annotations

from sqlalchemy import Engine, text

from triage.storage.database import migrate

#: advisory-lock key of schema migrations (apart from the tick locks, which use two keys)
_MIGRATION_LOCK = 0x5347_5452_4D49_4752  # "SGTRMIGR"


def migrate_serialised(engine: Engine) -> None:
    """``migrate`` under a PostgreSQL advisory lock.

    Several workers starting together would otherwise run the same migration
    at once and all but one fail on "table exists". On SQLite the database
    file's own write lock already serialises them.
    """
    if engine.url.get_backend_name() != "postgresql":
        migrate(engine)
        return
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
        connection.commit()
        try:
            migrate(engine)
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK})
            connection.commit()
