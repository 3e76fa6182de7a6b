"""Tables for people's decisions. Rows are only ever added, never updated, so the history of who
decided what stays intact and a later decision (an unmute, a newer label) simply supersedes an
earlier one when the constraints are read back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from triage.storage.models import Base

#: what a support lead can do to a cluster
CLUSTER_ACTIONS: tuple[str, ...] = ("confirm", "mute", "unmute", "merge", "split", "escalate", "resolve")

#: how a post can be relabelled; "category" carries the category name in ``PostLabelRow.category``
POST_LABELS: tuple[str, ...] = ("problem", "not_problem", "category")


class ClusterActionRow(Base):
    """One decision about one cluster. Clusters are named by ``cluster_key`` (not id) because a
    replay re-creates cluster rows with new ids while the keys stay the same."""

    __tablename__ = "cluster_actions"
    __table_args__ = (Index("ix_cluster_actions_tenant_cluster", "tenant", "cluster_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100))
    cluster_key: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    target_cluster_key: Mapped[str | None] = mapped_column(String(100), default=None)
    post_ids: Mapped[list[Any]] = mapped_column(default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class PostLabelRow(Base):
    """A person's label for one post. The post's (source, external id) is kept beside its id so
    an export stays meaningful after the post table is rebuilt from the same sources."""

    __tablename__ = "post_labels"
    __table_args__ = (Index("ix_post_labels_tenant_post", "tenant", "post_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100))
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(50))
    external_id: Mapped[str] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(20))
    category: Mapped[str | None] = mapped_column(String(100), default=None)
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(Text, default="")
