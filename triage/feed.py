"""Feeding posts and changes to a triage engine in event time, in as many instalments as needed.

A replay feeds everything at once; the live runners feed what was analysed
since their last pass. Either way the engine sees the same sequence: changes
before the first post later than them, a tick at every ``tick_seconds``
boundary a post crosses, each person's decision applied at the first tick its
cluster exists. Only the *closing* tick (the boundary after the newest post,
so quiet incidents resolve) and the changes newer than the newest post are
provisional: a later instalment may bring posts before them. ``closed()``
therefore plays them on a copy, and the feed itself carries on from the
last post; fed in instalments or at once, the closed engines are identical.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence

from triage.actions.service import ClusterConstraints
from triage.catalog import ServiceCatalog
from triage.constraints import ConstraintApplier, relabelled
from triage.engine import TriageEngine
from triage.events import TriageChange, TriagePost
from triage.settings import Settings


class TriageFeed:
    """One tenant's engine, fed in event order, with the state needed to continue where it stopped."""

    def __init__(
        self, settings: Settings, catalog: ServiceCatalog, constraints: ClusterConstraints, tenant: str
    ) -> None:
        self.engine = TriageEngine(settings, catalog, tenant)
        self.applier = ConstraintApplier(self.engine, constraints)
        self.constraints = constraints
        self.tick_seconds = float(settings.tick_seconds)
        self.next_tick: float | None = None
        #: (time, post id) of the newest post fed: the next instalment must start after it
        self.last_post: tuple[float, int] | None = None
        #: changes fed so far, in the order fed (those at or before the newest post)
        self.changes_fed: list[TriageChange] = []
        self.posts_fed = 0

    def feed(self, posts: Iterable[TriagePost], changes: Sequence[TriageChange]) -> int:
        """Feed ``posts`` (event order, all after :attr:`last_post`) with the ``changes`` not fed yet
        (event order) that precede them; returns how many of ``changes`` were fed (the newer ones wait)."""
        pending = changes
        next_change = 0
        engine = self.engine
        for post in posts:
            key = (post.time, post.post_id)
            if self.last_post is not None and key <= self.last_post:
                raise ValueError(f"post {post.post_id} is not after the last post fed {self.last_post}")
            while next_change < len(pending) and pending[next_change].time <= post.time:
                engine.add_change(pending[next_change])
                self.changes_fed.append(pending[next_change])
                next_change += 1
            if self.next_tick is None:
                self.next_tick = (post.time // self.tick_seconds + 1) * self.tick_seconds
            while self.next_tick <= post.time:
                self.applier.apply(self.next_tick)
                engine.tick(self.next_tick)
                self.next_tick += self.tick_seconds
            engine.add_post(relabelled(post, self.constraints))
            self.last_post = key
            self.posts_fed += 1
        return next_change

    def close_in_place(self, changes: Sequence[TriageChange]) -> TriageEngine:
        """Play the trailing ``changes`` and the closing tick on the feed's own engine (the feed ends)."""
        for change in changes:
            self.engine.add_change(change)
        if self.next_tick is not None:
            self.applier.apply(self.next_tick)
            self.engine.tick(self.next_tick)
        return self.engine

    def closed(self, changes: Sequence[TriageChange], tail: Iterable[TriagePost] = ()) -> TriageEngine:
        """The engine as a whole replay would leave it — this feed plus ``tail`` posts and the trailing
        ``changes``, then the closing tick — played on a copy, so the feed can take the next instalment."""
        fork = self.fork()
        fed = fork.feed(tail, changes)
        return fork.close_in_place(changes[fed:])

    def fork(self) -> TriageFeed:
        """A copy sharing what never changes (settings, the catalog, posts and changes, which are frozen)."""
        engine = self.engine
        memo = {id(engine.settings): engine.settings, id(engine.catalog): engine.catalog}
        memo[id(self.constraints)] = self.constraints
        return copy.deepcopy(self, memo)
