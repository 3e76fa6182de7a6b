"""Recording people's decisions and reading them back as constraints for the triage pass.

Decisions are appended, never edited; :func:`load_constraints` folds them in time order, so the
latest word on a cluster or post wins (an unmute ends a mute, a newer label replaces an older one).
Times are passed in by the caller (the API passes the wall clock, a replay its event clock): this
module never reads a clock itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from triage.actions.models import CLUSTER_ACTIONS, POST_LABELS, ClusterActionRow, PostLabelRow
from triage.errors import TriageError
from triage.storage.models import ClusterMemberRow, ClusterRow, PostRow


class ActionError(TriageError):
    """A decision that cannot be recorded as asked (unknown cluster, merge into itself, ...)."""


class NotFoundError(ActionError):
    """The cluster or post named in a decision does not exist for this tenant."""


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """One recorded cluster decision, as shown to people and returned by the API."""

    id: int
    tenant: str
    cluster_key: str
    action: str
    actor: str
    created_at: datetime
    expires_at: datetime | None
    target_cluster_key: str | None
    post_ids: tuple[int, ...]
    note: str


@dataclass(frozen=True, slots=True)
class LabelRecord:
    """One recorded post label."""

    id: int
    tenant: str
    post_id: int
    source: str
    external_id: str
    label: str
    category: str | None
    actor: str
    created_at: datetime
    note: str


@dataclass(frozen=True, slots=True)
class PostRelabel:
    """What a person says a post is: ``is_problem`` and, for a category label, which category."""

    post_id: int
    is_problem: bool
    category: str | None


@dataclass(frozen=True)
class ClusterConstraints:
    """Everything later triage passes must respect, folded from the decisions of one tenant.

    - ``mutes``: cluster key → expiry (``None``: until unmuted); a muted cluster is never escalated.
    - ``merges``: absorbed cluster key → surviving key, already followed through chains (a→b→c gives a→c).
    - ``splits``: cluster key → post ids that must leave it; ``split_groups`` are the picked posts of each
      split, which belong together in a new cluster.
    - ``cannot_link``: sorted (post id, post id) pairs that must never share a cluster.
    - ``relabels``: post id → the latest label a person gave it.
    - ``confirmed``, ``resolved`` (key → when) and ``escalate_now`` (key → when requested, cleared by a
      later resolve) are the remaining manual lifecycle decisions.
    """

    mutes: dict[str, datetime | None] = field(default_factory=dict)
    merges: dict[str, str] = field(default_factory=dict)
    splits: dict[str, frozenset[int]] = field(default_factory=dict)
    split_groups: tuple[frozenset[int], ...] = ()
    cannot_link: frozenset[tuple[int, int]] = frozenset()
    relabels: dict[int, PostRelabel] = field(default_factory=dict)
    confirmed: frozenset[str] = frozenset()
    resolved: dict[str, datetime] = field(default_factory=dict)
    escalate_now: dict[str, datetime] = field(default_factory=dict)

    def is_muted(self, cluster_key: str, at: datetime) -> bool:
        if cluster_key not in self.mutes:
            return False
        expiry = self.mutes[cluster_key]
        return expiry is None or at < expiry

    def survivor(self, cluster_key: str) -> str:
        return self.merges.get(cluster_key, cluster_key)

    def can_link(self, first_post_id: int, second_post_id: int) -> bool:
        pair = (min(first_post_id, second_post_id), max(first_post_id, second_post_id))
        return pair not in self.cannot_link


def as_utc(moment: datetime) -> datetime:
    """SQLite hands timezone-aware columns back naive; every stored time is UTC, so say so."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _maybe_utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)


def _action_record(row: ClusterActionRow) -> ActionRecord:
    return ActionRecord(
        row.id,
        row.tenant,
        row.cluster_key,
        row.action,
        row.actor,
        as_utc(row.created_at),
        _maybe_utc(row.expires_at),
        row.target_cluster_key,
        tuple(int(post_id) for post_id in row.post_ids),
        row.note,
    )


def _label_record(row: PostLabelRow) -> LabelRecord:
    return LabelRecord(
        row.id,
        row.tenant,
        row.post_id,
        row.source,
        row.external_id,
        row.label,
        row.category,
        row.actor,
        as_utc(row.created_at),
        row.note,
    )


def _cluster(session: Session, tenant: str, cluster_key: str) -> ClusterRow:
    row = session.scalar(select(ClusterRow).where(ClusterRow.tenant == tenant, ClusterRow.key == cluster_key))
    if row is None:
        raise NotFoundError(
            f"no cluster {cluster_key!r} in tenant {tenant!r}; list clusters with GET /v1/clusters"
        )
    return row


def _member_ids(session: Session, cluster_id: int) -> list[int]:
    return list(
        session.scalars(select(ClusterMemberRow.post_id).where(ClusterMemberRow.cluster_id == cluster_id))
    )


def record_cluster_action(
    session: Session,
    tenant: str,
    cluster_key: str,
    action: str,
    actor: str,
    at: datetime,
    *,
    expires_at: datetime | None = None,
    target_cluster_key: str | None = None,
    post_ids: Sequence[int] = (),
    note: str = "",
) -> ActionRecord:
    """Validate and append one decision about a cluster. Checks what a person can get wrong (a
    cluster that is not there, a merge into itself or into a cluster already merged into this one,
    a split that takes no post or every post) and says what to do instead."""
    if action not in CLUSTER_ACTIONS:
        raise ActionError(f"unknown action {action!r}; use one of {', '.join(CLUSTER_ACTIONS)}")
    cluster = _cluster(session, tenant, cluster_key)
    details: dict[str, Any] = {}
    if action == "mute" and expires_at is not None and expires_at <= at:
        raise ActionError(
            "a mute must expire in the future; give a positive duration or none for 'until unmuted'"
        )
    if action == "merge":
        if not target_cluster_key:
            raise ActionError("a merge needs the cluster to merge into (target_cluster_key)")
        if target_cluster_key == cluster_key:
            raise ActionError("a cluster cannot be merged into itself; pick another cluster")
        _cluster(session, tenant, target_cluster_key)
        current = load_constraints(session, tenant)
        if current.survivor(target_cluster_key) == cluster_key:
            raise ActionError(
                f"{target_cluster_key!r} is already merged into {cluster_key!r}; merge the other way"
            )
    if action == "split":
        members = set(_member_ids(session, cluster.id))
        picked = sorted(set(int(post_id) for post_id in post_ids))
        if not picked:
            raise ActionError("a split needs the posts that should leave the cluster; pick at least one")
        outsiders = [post_id for post_id in picked if post_id not in members]
        if outsiders:
            raise ActionError(
                f"posts {outsiders} are not in cluster {cluster_key!r}; pick posts from this cluster"
            )
        if len(picked) == len(members):
            raise ActionError(
                "a split must leave at least one post behind; to drop the cluster, mute or resolve it"
            )
        details["remaining_post_ids"] = sorted(members - set(picked))
        post_ids = picked
    row = ClusterActionRow(
        tenant=tenant,
        cluster_key=cluster_key,
        action=action,
        actor=actor,
        created_at=at,
        expires_at=expires_at if action == "mute" else None,
        target_cluster_key=target_cluster_key if action == "merge" else None,
        post_ids=list(post_ids) if action == "split" else [],
        note=note,
        details=details,
    )
    session.add(row)
    session.flush()
    return _action_record(row)


def label_post(
    session: Session,
    tenant: str,
    post_id: int,
    label: str,
    actor: str,
    at: datetime,
    *,
    category: str | None = None,
    note: str = "",
) -> LabelRecord:
    """Append a person's label for a post; ``label="category"`` needs ``category``."""
    if label not in POST_LABELS:
        raise ActionError(f"unknown label {label!r}; use one of {', '.join(POST_LABELS)}")
    if label == "category" and not (category and category.strip()):
        raise ActionError("a category label needs the category name")
    post = session.scalar(select(PostRow).where(PostRow.tenant == tenant, PostRow.id == post_id))
    if post is None:
        raise NotFoundError(f"no post {post_id} in tenant {tenant!r}; list posts with GET /v1/posts")
    row = PostLabelRow(
        tenant=tenant,
        post_id=post.id,
        source=post.source,
        external_id=post.external_id,
        label=label,
        category=category.strip() if label == "category" and category else None,
        actor=actor,
        created_at=at,
        note=note,
    )
    session.add(row)
    session.flush()
    return _label_record(row)


def cluster_actions(
    session: Session, tenant: str, cluster_key: str | None = None, *, limit: int = 100, offset: int = 0
) -> list[ActionRecord]:
    """Decisions newest first, optionally for one cluster."""
    statement = select(ClusterActionRow).where(ClusterActionRow.tenant == tenant)
    if cluster_key is not None:
        statement = statement.where(ClusterActionRow.cluster_key == cluster_key)
    statement = statement.order_by(ClusterActionRow.created_at.desc(), ClusterActionRow.id.desc())
    return [_action_record(row) for row in session.scalars(statement.limit(limit).offset(offset))]


def post_labels(session: Session, tenant: str, post_ids: Iterable[int] | None = None) -> list[LabelRecord]:
    """Every label given in ``tenant`` (or for ``post_ids``), oldest first, for export and history."""
    statement = select(PostLabelRow).where(PostLabelRow.tenant == tenant)
    if post_ids is not None:
        statement = statement.where(PostLabelRow.post_id.in_(list(post_ids)))
    statement = statement.order_by(PostLabelRow.created_at, PostLabelRow.id)
    return [_label_record(row) for row in session.scalars(statement)]


def _follow(merges: dict[str, str], key: str) -> str:
    seen = {key}
    while key in merges and merges[key] not in seen:
        key = merges[key]
        seen.add(key)
    return key


def load_constraints(session: Session, tenant: str) -> ClusterConstraints:
    """Fold every decision of ``tenant`` in the order it was made into the constraints a triage
    pass must respect. Cheap enough to call once per pass: one query per table."""
    rows = session.scalars(
        select(ClusterActionRow)
        .where(ClusterActionRow.tenant == tenant)
        .order_by(ClusterActionRow.created_at, ClusterActionRow.id)
    )
    mutes: dict[str, datetime | None] = {}
    merges: dict[str, str] = {}
    splits: dict[str, set[int]] = {}
    groups: list[frozenset[int]] = []
    cannot_link: set[tuple[int, int]] = set()
    confirmed: set[str] = set()
    resolved: dict[str, datetime] = {}
    escalate_now: dict[str, datetime] = {}
    for row in rows:
        key = row.cluster_key
        if row.action == "mute":
            mutes[key] = _maybe_utc(row.expires_at)
        elif row.action == "unmute":
            mutes.pop(key, None)
        elif row.action == "merge" and row.target_cluster_key:
            merges[key] = row.target_cluster_key
        elif row.action == "split":
            picked = {int(post_id) for post_id in row.post_ids}
            splits.setdefault(key, set()).update(picked)
            groups.append(frozenset(picked))
            remaining = (int(post_id) for post_id in row.details.get("remaining_post_ids", []))
            for other in remaining:
                cannot_link.update((min(post_id, other), max(post_id, other)) for post_id in picked)
        elif row.action == "confirm":
            confirmed.add(key)
        elif row.action == "resolve":
            resolved[key] = as_utc(row.created_at)
            escalate_now.pop(key, None)
        elif row.action == "escalate":
            escalate_now[key] = as_utc(row.created_at)
            resolved.pop(key, None)

    relabels: dict[int, PostRelabel] = {}
    for label in session.scalars(
        select(PostLabelRow)
        .where(PostLabelRow.tenant == tenant)
        .order_by(PostLabelRow.created_at, PostLabelRow.id)
    ):
        relabels[label.post_id] = PostRelabel(
            label.post_id, label.label != "not_problem", label.category if label.label == "category" else None
        )

    return ClusterConstraints(
        mutes=mutes,
        merges={absorbed: _follow(merges, absorbed) for absorbed in merges},
        splits={key: frozenset(ids) for key, ids in splits.items()},
        split_groups=tuple(groups),
        cannot_link=frozenset(cannot_link),
        relabels=relabels,
        confirmed=frozenset(confirmed),
        resolved=resolved,
        escalate_now=escalate_now,
    )
