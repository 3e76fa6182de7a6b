"""Applying support leads' recorded decisions to a triage pass.

A replay re-derives clusters from stored posts, and cluster keys are
deterministic for the same input, so decisions recorded against a key
(``triage.actions``) find the same cluster on every later pass. Each decision
is applied once, at the first tick where its cluster exists; mutes are set
before a cluster can page at all.
"""

from __future__ import annotations

import math
from dataclasses import replace

from triage.actions.service import ClusterConstraints
from triage.engine import TriageEngine
from triage.events import TriagePost, to_epoch


def relabelled(post: TriagePost, constraints: ClusterConstraints) -> TriagePost:
    """A person's label beats the classifier's: problem → probability 1, not a problem → 0."""
    label = constraints.relabels.get(post.post_id)
    if label is None:
        return post
    return replace(
        post,
        problem_probability=1.0 if label.is_problem else 0.0,
        category=label.category if label.is_problem else None,
    )


class ConstraintApplier:
    """Applies each recorded decision to the engine once its cluster exists."""

    def __init__(self, engine: TriageEngine, constraints: ClusterConstraints) -> None:
        self.engine = engine
        self.constraints = constraints
        self._done: set[tuple[str, str]] = set()
        engine.book.preset_mutes.update(
            {
                key: math.inf if expiry is None else to_epoch(expiry)
                for key, expiry in constraints.mutes.items()
            }
        )

    def _once(self, kind: str, key: str) -> bool:
        if (kind, key) in self._done:
            return False
        self._done.add((kind, key))
        return True

    def apply(self, now: float) -> None:
        clusters = self.engine.book.clusters
        for absorbed, survivor in sorted(self.constraints.merges.items()):
            if absorbed in clusters and survivor in clusters and self._once("merge", absorbed):
                self.engine.merge_clusters(absorbed, survivor, now)
        for key, leaving in sorted(self.constraints.splits.items()):
            if key not in clusters:
                continue
            cluster = self.engine.book.resolve_key(key)
            present = {member.post_id for member in cluster.members} & set(leaving)
            if present and len(present) < len(cluster.members) and self._once("split", key):
                self.engine.split_cluster(key, present, now)
        for key, expiry in sorted(self.constraints.mutes.items()):
            if key in clusters and self._once("mute", key):
                self.engine.mute(key, math.inf if expiry is None else to_epoch(expiry), now)
        for key in sorted(self.constraints.escalate_now):
            if key in clusters and self._once("escalate", key):
                self.engine.escalate_now(key, now)
        for key in sorted(self.constraints.resolved):
            if key in clusters and self._once("resolve", key):
                self.engine.resolve_now(key, now)
