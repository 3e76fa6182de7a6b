"""The ``api_keys`` table. The secret itself is never stored: only a per-key random salt and the
SHA-256 of salt and secret, so a copy of the database does not hand out working keys.

Rows are never deleted; revoking sets ``revoked_at``. That keeps the actor names of old decisions
explainable, and means a server that ever had a stored key never falls back to local open mode.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from triage.storage.models import Base


class ApiKeyRow(Base):
    """One stored key. ``key_id`` is the public part of the key (``st_<key_id>_<secret>``), so a
    presented key is found by an indexed lookup and only its own hash is computed."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    salt: Mapped[str] = mapped_column(String(64))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
