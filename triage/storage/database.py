"""Engines, sessions and schema migrations.

The schema is only ever created by Alembic migrations (never ``create_all``),
so SQLite and PostgreSQL databases walk the same path from version to version.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.orm import Session, sessionmaker

from triage.errors import StorageError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

#: SQLite result codes that mean the database cannot be written at all (retrying will not help)
_SQLITE_UNWRITABLE = {
    "SQLITE_FULL": "the disk is full",
    "SQLITE_READONLY": "the database is read-only",
    "SQLITE_CANTOPEN": "the database file cannot be opened",
    "SQLITE_IOERR": "the disk refused a write (full, over a size limit, or failing)",
    "SQLITE_CORRUPT": "the database file is corrupt",
    "SQLITE_NOTADB": "the file is not a SQLite database",
}
#: PostgreSQL SQLSTATE classes/codes of the same kind: 53 (insufficient resources: disk full, out of
#: memory), 25006 (read-only transaction, e.g. a hot standby)
_POSTGRES_UNWRITABLE = {"53": "the server is out of disk or memory", "25006": "the database is read-only"}


def _unwritable_reason(error: BaseException | None) -> str | None:
    """Why the driver's ``error`` means storage is unusable, or None for anything else (a lock, a
    constraint, a dropped connection), which keeps its own exception and handling."""
    if error is None:
        return None
    name = getattr(error, "sqlite_errorname", None)
    if isinstance(name, str):
        for code, reason in _SQLITE_UNWRITABLE.items():
            if name == code or name.startswith(code + "_"):
                return reason
        return None
    state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if isinstance(state, str):
        return _POSTGRES_UNWRITABLE.get(state) or _POSTGRES_UNWRITABLE.get(state[:2])
    return None


def _storage_error_listener(engine: Engine) -> None:
    """Turn "cannot write at all" driver errors into one ``StorageError`` saying what to do.

    A full disk or a read-only file is a person's to fix; as a raw ``OperationalError`` it would end
    the CLI in a traceback and the API in a 500. The open transaction is rolled back either way, so
    what was committed before (posts with their cursors) stays, and the next start resumes there.
    """
    where = engine.url.render_as_string(hide_password=True)

    @event.listens_for(engine, "handle_error")
    def _translate(context: ExceptionContext) -> None:
        reason = _unwritable_reason(context.original_exception)
        if reason is not None:
            raise StorageError(
                f"cannot write to the database {where}: {reason} ({context.original_exception}); "
                "fix that and start again; everything committed before is kept"
            ) from context.sqlalchemy_exception


def create_db_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets its folder created, WAL journaling and
    enforced foreign keys (off by default in SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        # a SQLite URI (``file:/path?mode=ro`` with ``uri=true``) names its file itself: no folder to make
        is_uri = str(parsed.query.get("uri", "")).lower() in ("true", "1") or (database or "").startswith(
            "file:"
        )
        if database and database != ":memory:" and not is_uri:
            folder = Path(database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StorageError(f"cannot create the database folder {folder}: {error}") from error
        engine = create_engine(url)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        _storage_error_listener(engine)
        return engine
    engine = create_engine(url, pool_pre_ping=True)
    _storage_error_listener(engine)
    return engine


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def migrate(engine: Engine, revision: str = "heads") -> None:
    """Bring the schema to ``revision``; safe to call on every start."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work commits together or not at all."""
    with factory() as session, session.begin():
        yield session
