"""Creating, checking, listing and revoking stored API keys.

A key reads ``st_<key_id>_<secret>``: ``key_id`` (12 hex digits) finds the row, the secret (32
random bytes, URL-safe base64) is checked against ``sha256(salt || secret)`` in constant time. The
secret has 256 bits of entropy, so a fast salted hash is enough (a slow password hash guards
guessable passwords, and would cost every API request milliseconds); the per-key salt keeps two
rows from ever sharing a hash.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from triage.access.models import ApiKeyRow
from triage.access.settings import ROLES
from triage.errors import TriageError

KEY_PREFIX = "st_"
_KEY_ID_BYTES = 6
_SECRET_BYTES = 32
_SALT_BYTES = 16


class ApiKeyError(TriageError):
    """A key cannot be created or revoked as asked."""


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A stored key as people see it: never the secret."""

    key_id: str
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """A new key, with the full secret: shown once, then only its hash exists."""

    key: str
    stored: StoredKey


def _hash(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


def _view(row: ApiKeyRow) -> StoredKey:
    return StoredKey(row.key_id, row.name, row.role, row.created_at, row.revoked_at)


def create_api_key(session: Session, name: str, role: str, now: datetime) -> CreatedKey:
    name = name.strip()
    if not name:
        raise ApiKeyError("a key needs a name (who uses it; recorded as the actor of decisions)")
    if role not in ROLES:
        raise ApiKeyError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    key_id = secrets.token_hex(_KEY_ID_BYTES)
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    salt = secrets.token_hex(_SALT_BYTES)
    row = ApiKeyRow(
        key_id=key_id, name=name, role=role, salt=salt, secret_hash=_hash(salt, secret), created_at=now
    )
    session.add(row)
    session.flush()
    return CreatedKey(f"{KEY_PREFIX}{key_id}_{secret}", _view(row))


def looks_stored(presented: str) -> bool:
    """Whether ``presented`` has the shape of a stored key (configured keys can look like anything)."""
    return presented.startswith(KEY_PREFIX) and presented.count("_") >= 2


def find_api_key(session: Session, presented: str) -> StoredKey | None:
    """The live stored key ``presented`` is, or ``None`` (unknown, wrong secret or revoked)."""
    if not looks_stored(presented):
        return None
    key_id, secret = presented[len(KEY_PREFIX) :].split("_", 1)
    row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.key_id == key_id))
    if row is None or row.revoked_at is not None:
        return None
    if not secrets.compare_digest(_hash(row.salt, secret), row.secret_hash):
        return None
    return _view(row)


def live_api_key(session: Session, key_id: str) -> StoredKey | None:
    """The stored key with ``key_id`` if it is not revoked (a signed-in session names its key by id)."""
    row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.key_id == key_id))
    if row is None or row.revoked_at is not None:
        return None
    return _view(row)


def any_api_keys(session: Session) -> bool:
    """Whether a key was ever stored, revoked ones included: revoking the last key must not open
    the server to everyone."""
    return session.scalar(select(ApiKeyRow.id).limit(1)) is not None


def list_api_keys(session: Session) -> list[StoredKey]:
    return [_view(row) for row in session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.id))]


def revoke_api_key(session: Session, key_id: str, now: datetime) -> StoredKey:
    row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.key_id == key_id))
    if row is None:
        raise ApiKeyError(f"no stored key {key_id!r}; `triage keys list` shows the key ids")
    if row.revoked_at is None:
        row.revoked_at = now
    return _view(row)
