"""Online grouping of problem reports into clusters.

A report joins the nearest live cluster when it is close enough; otherwise it
waits in a pending pool. A cluster is born from the pool only when enough
*distinct authors* say the same thing within a window (a density rule: one
post and its neighbours), so a lone rant never becomes a cluster. Clusters
that go quiet subside and then resolve; a resolved cluster takes no new
posts, so a recurrence is a new cluster (and a new signal).

Human decisions are constraints: ``cannot_link`` keeps split clusters apart
on every later pass, and a merged cluster forwards to its survivor.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from triage.events import TriagePost
from triage.settings import ClusteringSettings

EMERGING, ACTIVE, SUBSIDING, RESOLVED = "emerging", "active", "subsiding", "resolved"

#: (seed post, distinct authors saying the same, the cosine they say it at) -> whether that is more
#: than everyday chatter
BirthTest = Callable[[TriagePost, int, float], bool]


def match_vector(post: TriagePost) -> np.ndarray:
    return post.match_vector if post.match_vector is not None else post.embedding


@dataclass
class Cluster:
    key: str
    born_at: float
    members: list[TriagePost] = field(default_factory=list)
    authors: dict[str, int] = field(default_factory=dict)
    vector_sum: np.ndarray = field(default_factory=lambda: np.zeros(384, dtype=np.float64))
    centroid: np.ndarray = field(default_factory=lambda: np.zeros(384, dtype=np.float32))
    recent_sum: np.ndarray = field(default_factory=lambda: np.zeros(384, dtype=np.float64))
    recent_mean: np.ndarray = field(default_factory=lambda: np.zeros(384, dtype=np.float32))
    recent_weight: float = 0.0
    recent_at: float = 0.0
    state: str = EMERGING
    escalated: bool = False
    muted_until: float | None = None
    merged_into: str | None = None
    cannot_link: set[str] = field(default_factory=set)
    #: since when an incident has been below the paging floor (None while it is still surging)
    calm_since: float | None = None
    #: the most distinct authors its trailing window held since it escalated
    peak_window_authors: int = 0
    #: join threshold while it surges (set each pass from how much of its surroundings is the surge)
    surge_join: float | None = None
    #: plain cosine to its centre at which it attaches reports the centred test matched to nothing
    #: (set each pass while it surges; None: it attaches none)
    surge_attach: float | None = None
    #: posts taken in only at a surge's looser level: reported with it (they are its customers), but
    #: they neither move its centre nor count in its window, so the everyday complaints a loose join
    #: touches can neither drag the incident towards them nor keep it open
    attached: set[int] = field(default_factory=set)

    @property
    def first_post_at(self) -> float:
        return self.members[0].time

    @property
    def last_post_at(self) -> float:
        return self.members[-1].time

    @property
    def distinct_authors(self) -> int:
        return len(self.authors)

    def add(self, post: TriagePost, decay_seconds: float = 1800.0, attached: bool = False) -> None:
        if attached:
            self._append_member(post)
            self.attached.add(post.post_id)
            return
        if post.time >= self.recent_at:
            fade = float(np.exp(-(post.time - self.recent_at) / decay_seconds))
            self.recent_sum *= fade
            self.recent_weight *= fade
            self.recent_at = post.time
            weight = 1.0
        else:
            weight = float(np.exp(-(self.recent_at - post.time) / decay_seconds))
        self.recent_sum += match_vector(post) * weight
        self.recent_weight += weight
        self.recent_mean = (self.recent_sum / self.recent_weight).astype(np.float32)
        self._append_member(post)
        self.vector_sum += post.embedding
        norm = float(np.linalg.norm(self.vector_sum))
        self.centroid = (self.vector_sum / norm).astype(np.float32) if norm else self.centroid

    def _append_member(self, post: TriagePost) -> None:
        if self.members and post.time < self.members[-1].time:
            self.members.append(post)
            self.members.sort(key=lambda member: (member.time, member.post_id))
        else:
            self.members.append(post)
        self.authors[post.author] = self.authors.get(post.author, 0) + 1

    def rebuild(self, members: list[TriagePost], decay_seconds: float) -> None:
        """Keep only ``members`` (time-ordered; a split or a burst born inside took the others away);
        loosely attached ones stay loosely attached."""
        attached = self.attached
        self.members, self.authors, self.attached = [], {}, set()
        self.vector_sum = np.zeros_like(self.vector_sum)
        self.recent_sum = np.zeros_like(self.recent_sum)
        self.recent_weight, self.recent_at = 0.0, 0.0
        for post in members:
            self.add(post, decay_seconds, post.post_id in attached)

    def authors_since(self, since: float) -> set[str]:
        """Distinct authors who posted at or after ``since``."""
        return {member.author for member in self.counted_since(since)}

    def counted_since(self, since: float) -> list[TriagePost]:
        """Members posted at or after ``since`` that count towards its window (not those only loosely
        attached), newest first (members are time-ordered)."""
        members: list[TriagePost] = []
        for member in reversed(self.members):
            if member.time < since:
                break
            if member.post_id not in self.attached:
                members.append(member)
        return members

    @property
    def is_surging(self) -> bool:
        """An incident whose window is still surprising: its wording is confirmed, so it takes posts
        that fit it more loosely. Once calm, it is held to the ordinary join test again, so everyday
        complaints that resemble it do not pile into the incident for the rest of the day."""
        return self.escalated and self.calm_since is None

    def is_muted(self, now: float) -> bool:
        return self.muted_until is not None and now < self.muted_until


class ClusterBook:
    """Every cluster of one tenant, the live ones indexed for nearest-centroid search."""

    def __init__(self, settings: ClusteringSettings) -> None:
        self.settings = settings
        self.clusters: dict[str, Cluster] = {}
        self.live: list[Cluster] = []
        self.pending: deque[TriagePost] = deque()
        self._centroids = np.zeros((0, 384), dtype=np.float32)
        self._centroids_stale = False
        self._recent = np.zeros((0, 384), dtype=np.float32)
        self._recent_stale = False
        self._next_number = 1
        self._decay = settings.recent_centroid_minutes * 60
        #: mutes people set on cluster keys, applied the moment such a cluster is born
        self.preset_mutes: dict[str, float] = {}

    # -- placing posts -----------------------------------------------------------------------
    def place(self, post: TriagePost, is_burst: BirthTest | None = None) -> Cluster | None:
        """Put a problem report in a cluster (existing or newly born); None while it waits."""
        nearest, similarity = self._nearest_live(match_vector(post))
        if nearest is not None:
            born = self._try_birth_inside(post, nearest, is_burst) if is_burst is not None else None
            if born is not None:
                return born
            nearest.add(post, self._decay, self._only_loosely(similarity, nearest))
            self._centroids_stale = self._recent_stale = True
            return nearest
        attach_to = self._attaching_incident(post)
        if attach_to is not None:
            attach_to.add(post, self._decay, attached=True)
            return attach_to
        keep = max(self.settings.birth_window_minutes, self.settings.recruit_lookback_minutes)
        self._forget_pending_before(post.time - keep * 60)
        self.pending.append(post)
        return self._try_birth(post, is_burst)

    def _nearest_live(self, embedding: np.ndarray) -> tuple[Cluster | None, float]:
        """The live cluster a post joins (None: it waits) and its similarity to it."""
        if not self.live:
            return None, 0.0
        similarities = self.recent_mean_matrix() @ embedding
        best = int(np.argmax(similarities))
        cluster = self.live[best]
        if similarities[best] >= self.join_threshold(cluster):
            return cluster, float(similarities[best])
        # a hot cluster may not be the nearest by a hair; it still takes a post that clearly fits it
        hot = [index for index, live in enumerate(self.live) if live.is_surging]
        if hot:
            hot_best = max(hot, key=lambda index: (similarities[index], -index))
            if similarities[hot_best] >= self.join_threshold(self.live[hot_best]):
                return self.live[hot_best], float(similarities[hot_best])
        return None, 0.0

    def _attaching_incident(self, post: TriagePost) -> Cluster | None:
        """The surging incident ``post`` is plainly close enough to (see ``Cluster.surge_attach``)."""
        best: tuple[float, str] | None = None
        chosen: Cluster | None = None
        for cluster in self.live:
            if not cluster.is_surging or cluster.surge_attach is None:
                continue
            similarity = float(post.embedding @ cluster.centroid)
            if similarity >= cluster.surge_attach and (best is None or (similarity, cluster.key) > best):
                best, chosen = (similarity, cluster.key), cluster
        return chosen

    def _only_loosely(self, similarity: float, cluster: Cluster) -> bool:
        """Whether a post this similar fits ``cluster`` only at its surge level, not at the hot one."""
        return cluster.is_surging and similarity < self.settings.hot_join_similarity

    def join_threshold(self, cluster: Cluster) -> float:
        """Similarity a post needs to join ``cluster``: looser while it is a surging incident."""
        if not cluster.is_surging:
            return self.settings.join_similarity
        return cluster.surge_join if cluster.surge_join is not None else self.settings.hot_join_similarity

    def recent_mean_matrix(self) -> np.ndarray:
        if self._recent_stale or len(self._recent) != len(self.live):
            self._recent = (
                np.stack([cluster.recent_mean for cluster in self.live])
                if self.live
                else np.zeros((0, 384), dtype=np.float32)
            )
            self._recent_stale = False
        return self._recent

    def centroid_matrix(self) -> np.ndarray:
        if self._centroids_stale or len(self._centroids) != len(self.live):
            self._centroids = (
                np.stack([cluster.centroid for cluster in self.live])
                if self.live
                else np.zeros((0, 384), dtype=np.float32)
            )
            self._centroids_stale = False
        return self._centroids

    def _forget_pending_before(self, time: float) -> None:
        while self.pending and self.pending[0].time < time:
            self.pending.popleft()

    def _try_birth(self, seed: TriagePost, is_burst: BirthTest | None) -> Cluster | None:
        pool = self._pending_since(seed.time - self.settings.birth_window_minutes * 60)
        # a looser level is only safe where a burst test can tell an outage from everyday complaints
        levels = self.settings.birth_levels if is_burst is not None else [self.settings.birth_similarity]
        group = self._burst_around(seed, pool, levels, is_burst)
        return self._form(seed.time, group, pool) if group is not None else None

    def _try_birth_inside(self, seed: TriagePost, host: Cluster, is_burst: BirthTest) -> Cluster | None:
        """A new problem whose first reports land in a broad everyday cluster is born as its own cluster.

        A cluster of everyday complaints that has lived longer than the birth window is a kind of complaint,
        not an event; when a report joining it has close neighbours among the host's recent reports and the
        pending pool that pass the birth test (at the strict level only: loosely, the host itself is such a
        group), those reports leave the host and form a cluster of their own. Left in the host, an outage's
        first reports are outnumbered by the host's everyday ones, so its count is diluted and its wording
        blurred until many more customers have written.
        """
        since = seed.time - self.settings.birth_window_minutes * 60
        if host.escalated or host.born_at >= since:
            return None
        pending = self._pending_since(since)
        pool = [*pending, *host.counted_since(since), seed]
        group = self._burst_around(seed, pool, [self.settings.birth_similarity], is_burst)
        if group is None:
            return None
        leaving = {post.post_id for post in group}
        staying = [member for member in host.members if member.post_id not in leaving]
        if not staying:
            return None
        host.rebuild(staying, self._decay)
        self._centroids_stale = self._recent_stale = True
        return self._form(seed.time, sorted(group, key=lambda post: (post.time, post.post_id)), pending)

    def _burst_around(
        self, seed: TriagePost, pool: list[TriagePost], levels: list[float], is_burst: BirthTest | None
    ) -> list[TriagePost] | None:
        """The posts of ``pool`` saying what ``seed`` says at the strictest of ``levels`` where enough
        distinct authors do and the burst test passes; None where no level forms a group."""
        similarities = np.stack([match_vector(post) for post in pool]) @ match_vector(seed)
        for level in levels:
            neighbours = [
                post for post, similarity in zip(pool, similarities, strict=True) if similarity >= level
            ]
            authors = len({post.author for post in neighbours})
            if authors < self.settings.birth_distinct_authors:
                continue
            if is_burst is None or is_burst(seed, authors, level):
                return neighbours
        return None

    def _form(self, time: float, neighbours: list[TriagePost], pool: list[TriagePost]) -> Cluster:
        cluster = self._new_cluster(time)
        for post in neighbours:
            cluster.add(post, self._decay)
        taken = {post.post_id for post in neighbours}
        # pending posts close to the new centroid belong to it too
        for post in pool:
            if (
                post.post_id not in taken
                and float(match_vector(post) @ cluster.recent_mean) >= self.settings.join_similarity
            ):
                cluster.add(post, self._decay)
                taken.add(post.post_id)
        self.pending = deque(post for post in self.pending if post.post_id not in taken)
        return cluster

    def _pending_since(self, since: float) -> list[TriagePost]:
        """Pending posts at or after ``since`` (the pool is in arrival order, which is time order)."""
        pool: list[TriagePost] = []
        for post in reversed(self.pending):
            if post.time < since:
                break
            pool.append(post)
        pool.reverse()
        return pool

    def _new_cluster(self, time: float) -> Cluster:
        cluster = Cluster(key=f"cl-{self._next_number:05d}", born_at=time)
        cluster.muted_until = self.preset_mutes.get(cluster.key)
        self._next_number += 1
        self.clusters[cluster.key] = cluster
        self.live.append(cluster)
        self._centroids_stale = self._recent_stale = True
        return cluster

    # -- lifecycle and merges ----------------------------------------------------------------
    def update_lifecycle(self, now: float) -> list[Cluster]:
        """Move quiet clusters to subsiding/resolved; returns the clusters resolved now."""
        resolved: list[Cluster] = []
        subside_after = self.settings.quiet_minutes_to_subside * 60
        resolve_after = self.settings.quiet_minutes_to_resolve * 60
        dissolve_after = self.settings.quiet_minutes_to_dissolve * 60
        for cluster in self.live:
            quiet = now - cluster.last_post_at
            if quiet >= (resolve_after if cluster.escalated else dissolve_after):
                cluster.state = RESOLVED
                resolved.append(cluster)
            elif quiet >= subside_after:
                cluster.state = SUBSIDING
            elif cluster.state == SUBSIDING:
                cluster.state = ACTIVE if cluster.escalated else EMERGING
        if resolved:
            self.live = [cluster for cluster in self.live if cluster.state != RESOLVED]
            self._centroids_stale = self._recent_stale = True
        return resolved

    def retire(self, cluster: Cluster) -> None:
        """Resolve a cluster now (a person said so): it leaves the live set for good."""
        cluster.state = RESOLVED
        self.live = [live for live in self.live if live is not cluster]
        self._centroids_stale = self._recent_stale = True

    def merge(self, survivor: Cluster, absorbed: Cluster) -> None:
        """Fold ``absorbed`` into ``survivor``; the absorbed key forwards there from now on."""
        for post in absorbed.members:
            survivor.add(post, self._decay, post.post_id in absorbed.attached)
        survivor.cannot_link |= absorbed.cannot_link
        survivor.escalated = survivor.escalated or absorbed.escalated
        absorbed.merged_into = survivor.key
        absorbed.state = RESOLVED
        self.live = [cluster for cluster in self.live if cluster is not absorbed]
        self._centroids_stale = self._recent_stale = True

    def split(self, source: Cluster, kept: list[TriagePost], moved: list[TriagePost], now: float) -> Cluster:
        """Rebuild ``source`` from ``kept`` and a new live cluster from ``moved``, kept apart for good."""
        part = self._new_cluster(now)
        attached = source.attached
        source.rebuild(kept, self._decay)
        for post in moved:
            part.add(post, self._decay, post.post_id in attached)
        source.cannot_link.add(part.key)
        part.cannot_link.add(source.key)
        self._centroids_stale = self._recent_stale = True
        return part

    def recruit_pending(self, cluster: Cluster, since: float, threshold: float) -> int:
        """Move pending posts since ``since`` that fit ``cluster`` into it; returns how many moved."""
        # similarities against the centre as it is now: the posts added below move it
        waiting = self._pending_since(since)
        fitting = [
            (post, similarity)
            for post in waiting
            if (similarity := float(match_vector(post) @ cluster.recent_mean)) >= threshold
        ]
        for post, similarity in fitting:
            cluster.add(post, self._decay, self._only_loosely(similarity, cluster))
        taken = [post for post, _ in fitting]
        if cluster.is_surging and cluster.surge_attach is not None:
            fitted = {post.post_id for post in taken}
            plainly_close = [
                post
                for post in waiting
                if post.post_id not in fitted
                and float(post.embedding @ cluster.centroid) >= cluster.surge_attach
            ]
            for post in plainly_close:
                cluster.add(post, self._decay, attached=True)
            taken += plainly_close
        if taken:
            moved = {post.post_id for post in taken}
            self.pending = deque(post for post in self.pending if post.post_id not in moved)
            self._centroids_stale = self._recent_stale = True
        return len(taken)

    def find_merges(self, bursting: Callable[[Cluster], bool] | None = None) -> list[tuple[Cluster, Cluster]]:
        """Pairs of live clusters close enough to be one problem (survivor first).

        Raw centres of large clusters all drift towards "a complaint", so close centres are not enough:
        in the centred space posts join by, the clusters' recent reports must also resemble each other as
        a report must resemble a cluster to join it, or two everyday problems snowball into one blob whose
        summed authors page. Two clusters with close centres that are both ``bursting`` right now are
        one outage described two ways and merge all the same, so its authors are counted together.
        """
        if len(self.live) < 2:
            return []
        matrix = self.centroid_matrix()
        similarities = matrix @ matrix.T
        np.fill_diagonal(similarities, -1.0)
        close = np.triu(similarities >= self.settings.merge_similarity, k=1)
        recent = self.recent_mean_matrix()
        alike = close & (recent @ recent.T >= self.settings.join_similarity)
        if bursting is not None:
            # only clusters in a close pair that is not alike need the (costlier) burst test
            undecided = close & ~alike
            candidates = np.flatnonzero(undecided.any(axis=0) | undecided.any(axis=1))
            surging = np.zeros(len(self.live), dtype=bool)
            surging[[index for index in candidates.tolist() if bursting(self.live[index])]] = True
            alike |= undecided & np.outer(surging, surging)
        pairs: list[tuple[Cluster, Cluster]] = []
        used: set[str] = set()
        rows, cols = np.nonzero(alike)
        for row, col in sorted(
            zip(rows.tolist(), cols.tolist(), strict=True), key=lambda pair: -similarities[pair[0], pair[1]]
        ):
            first, second = self.live[row], self.live[col]
            if first.key in used or second.key in used:
                continue
            if second.key in first.cannot_link or first.key in second.cannot_link:
                continue
            survivor, absorbed = sorted((first, second), key=lambda c: (-len(c.members), c.key))
            pairs.append((survivor, absorbed))
            used |= {first.key, second.key}
        return pairs

    def resolve_key(self, key: str) -> Cluster:
        """The cluster a key stands for now, following merges."""
        cluster = self.clusters[key]
        while cluster.merged_into is not None:
            cluster = self.clusters[cluster.merged_into]
        return cluster
