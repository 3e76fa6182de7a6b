"""Tables. Every row belongs to a tenant (a brand, or one replayed scenario), so
two scenarios that both number their posts ``t1...`` never collide."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON, list[Any]: JSON}


class SourceRow(Base):
    """A configured source and where it stopped reading, so a restart resumes."""

    __tablename__ = "sources"
    __table_args__ = (UniqueConstraint("tenant", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(50))
    cursor: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    updated_at: Mapped[datetime | None] = mapped_column(default=None)


class ServiceRow(Base):
    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("tenant", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    keywords: Mapped[list[Any]] = mapped_column(default=list)


class PostRow(Base):
    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("tenant", "source", "external_id"),
        Index("ix_posts_tenant_created", "tenant", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(50))
    external_id: Mapped[str] = mapped_column(String(200))
    author_key: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    lang: Mapped[str | None] = mapped_column(String(20), default=None)
    url: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime]
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ChangeEventRow(Base):
    __tablename__ = "change_events"
    __table_args__ = (
        UniqueConstraint("tenant", "source", "external_id"),
        Index("ix_changes_tenant_started", "tenant", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(50))
    external_id: Mapped[str] = mapped_column(String(200))
    service: Mapped[str | None] = mapped_column(String(100), default=None)
    kind: Mapped[str] = mapped_column(String(20))
    summary: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    url: Mapped[str | None] = mapped_column(Text, default=None)


class AnalysisRow(Base):
    """The classifier's view of one post; the embedding is float32 bytes (384 × 4)."""

    __tablename__ = "analyses"

    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    model_version: Mapped[str] = mapped_column(String(50))
    problem_probability: Mapped[float] = mapped_column(Float)
    category: Mapped[str | None] = mapped_column(String(100), default=None)
    sentiment: Mapped[str] = mapped_column(String(20))
    sentiment_scores: Mapped[dict[str, Any]] = mapped_column(default=dict)
    language: Mapped[str | None] = mapped_column(String(20), default=None)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)


class ClusterRow(Base):
    __tablename__ = "clusters"
    __table_args__ = (UniqueConstraint("tenant", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(100))
    label: Mapped[str] = mapped_column(Text, default="")
    representative_post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id"), default=None)
    service: Mapped[str | None] = mapped_column(String(100), default=None)
    state: Mapped[str] = mapped_column(String(20))
    onset_at: Mapped[datetime]
    last_post_at: Mapped[datetime]
    distinct_authors: Mapped[int] = mapped_column(Integer, default=0)
    post_count: Mapped[int] = mapped_column(Integer, default=0)
    merged_into: Mapped[str | None] = mapped_column(String(100), default=None)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ClusterMemberRow(Base):
    __tablename__ = "cluster_members"

    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"), primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    joined_at: Mapped[datetime]
    #: False for a report a surging incident lists but never counted towards paging (taken in only
    #: at a surge's looser level)
    counted: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class EscalationRow(Base):
    """One customer-impact signal: opened by a cluster's trigger, updated, resolved."""

    __tablename__ = "escalations"
    __table_args__ = (UniqueConstraint("tenant", "dedup_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100))
    dedup_key: Mapped[str] = mapped_column(String(150))
    cluster_key: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(20))
    service: Mapped[str | None] = mapped_column(String(100), default=None)
    first_triggered_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    top_change: Mapped[str | None] = mapped_column(String(200), default=None)
    ranked_changes: Mapped[list[Any]] = mapped_column(default=list)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class TriageStateMarkRow(Base):
    """Which pass last wrote a tenant's clusters and signals.

    A live runner that continues its triage from memory (``triage.runners.continued_triage``) only
    writes the clusters that changed, which is right only if it wrote the stored state itself; a new
    token per pass lets it tell.
    """

    __tablename__ = "triage_state_marks"

    tenant: Mapped[str] = mapped_column(String(100), primary_key=True)
    token: Mapped[str] = mapped_column(String(36))
    written_at: Mapped[datetime]
