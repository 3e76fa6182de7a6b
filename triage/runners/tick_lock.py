"""The single-writer guard of the clustering/detection tick, one per tenant.

A tick rebuilds a tenant's clusters and signals from everything stored and
replaces the stored state, so two ticks of one tenant at once would only waste
work and race on the replace. On PostgreSQL the guard is a session-level
advisory lock (``pg_try_advisory_lock``) held on a connection of its own for
the length of the tick: it is released when the tick ends *or* when the
connection dies with a killed worker, so a crash never leaves it stuck. On
SQLite (the embedded, one-machine deployment) the fallback is an exclusive
``flock`` on a file beside the database, which the kernel also releases when
the holding process dies; an in-memory database gets a process-local lock,
which is all that can share it.
"""

from __future__ import annotations

import fcntl
import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

#: first half of the two-key advisory lock: keeps our locks apart from other applications' on one server
LOCK_NAMESPACE = 0x5347_5452  # "SGTR"

_memory_locks: dict[str, threading.Lock] = {}
_memory_guard = threading.Lock()


def tenant_lock_key(tenant: str) -> int:
    """A stable signed 32-bit key for ``tenant`` (the same in every process and on every machine)."""
    digest = hashlib.blake2b(tenant.encode("utf-8"), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def tenant_tick_lock(engine: Engine, tenant: str) -> Iterator[bool]:
    """Hold the tenant's tick lock for the ``with`` block; yields False at once if another tick holds it.

    Never waits: a tick that finds the lock taken has nothing to add, because
    the running one reads everything stored when it started and the next
    scheduled tick picks up what arrived since.
    """
    backend = engine.url.get_backend_name()
    if backend == "postgresql":
        with _advisory_lock(engine, tenant) as held:
            yield held
    elif backend == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        with _file_lock(Path(str(engine.url.database)), tenant) as held:
            yield held
    else:
        with _process_lock(tenant) as held:
            yield held


@contextmanager
def _advisory_lock(engine: Engine, tenant: str) -> Iterator[bool]:
    key = tenant_lock_key(tenant)
    with engine.connect() as connection:
        held = bool(
            connection.execute(
                text("SELECT pg_try_advisory_lock(:namespace, :key)"),
                {"namespace": LOCK_NAMESPACE, "key": key},
            ).scalar()
        )
        connection.commit()
        try:
            yield held
        finally:
            if held:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:namespace, :key)"),
                    {"namespace": LOCK_NAMESPACE, "key": key},
                )
                connection.commit()


@contextmanager
def _file_lock(database: Path, tenant: str) -> Iterator[bool]:
    path = database.with_name(f"{database.name}.tick-{tenant_lock_key(tenant) & 0xFFFFFFFF:08x}.lock")
    with path.open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextmanager
def _process_lock(tenant: str) -> Iterator[bool]:
    with _memory_guard:
        lock = _memory_locks.setdefault(tenant, threading.Lock())
    if not lock.acquire(blocking=False):
        yield False
        return
    try:
        yield True
    finally:
        lock.release()
