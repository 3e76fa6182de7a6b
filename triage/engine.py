"""The triage state machine: analysed posts and changes in, signal decisions out.

It is fed in event-time order by a runner (the replay, the embedded
scheduler) and never reads a clock: ``now`` is always the time of the event
being processed or the tick being run. The same inputs therefore give the same
clusters and decisions, byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from triage.catalog import ServiceCatalog
from triage.clustering import ACTIVE, Cluster, ClusterBook, match_vector
from triage.correlation import (
    RankedChange,
    change_allowance,
    lead_over_alert_minutes,
    rank_likely_causes,
)
from triage.detection import (
    DetectionVerdict,
    evaluate_cluster,
    is_emerging_burst,
    severity_for,
    surge_attach_similarity,
    surge_join_similarity,
)
from triage.events import TriageChange, TriagePost
from triage.history import ComplaintHistory
from triage.labels import BackgroundTerms, label_for
from triage.onset import OnsetRange, burst_onset_range
from triage.settings import Settings

TRIGGER, UPDATE, RESOLVE = "trigger", "update", "resolve"
#: bursts that began within this long of each other can be one outage said in several ways
_SAME_OUTAGE_ONSET_SECONDS = 3600.0


@dataclass
class Signal:
    """The customer-impact signal of one cluster, as the incident platform should see it."""

    dedup_key: str
    cluster_key: str
    first_triggered_at: float
    #: the burst's first reports (``likeliest_onset``: where it most likely began; see OnsetRange)
    onset: float
    likeliest_onset: float
    severity: str
    service: str | None
    causes: list[RankedChange]
    verdict: DetectionVerdict
    state: str = "open"
    resolved_at: float | None = None
    merged_into: str | None = None
    lead_over_alert_minutes: float | None = None
    history: list[tuple[float, str, str]] = field(default_factory=list)

    @property
    def top_change(self) -> str | None:
        return self.causes[0].change_id if self.causes else None


@dataclass(frozen=True)
class SignalDecision:
    """Something to tell the incident platform: open, update or resolve a signal."""

    action: str
    dedup_key: str
    cluster_key: str
    at: float
    detail: str


class TriageEngine:
    def __init__(self, settings: Settings, catalog: ServiceCatalog, tenant: str = "default") -> None:
        self.settings = settings
        self.catalog = catalog
        self.tenant = tenant
        self.book = ClusterBook(settings.clustering)
        self.history = ComplaintHistory(settings.policy.baseline_hours * 3600)
        self.background = BackgroundTerms()
        self.changes: list[TriageChange] = []
        self.signals: dict[str, Signal] = {}
        self.signal_of_cluster: dict[str, str] = {}
        self.generations: dict[str, int] = {}
        self._labels: dict[str, tuple[int, str]] = {}
        self.decisions: list[SignalDecision] = []
        self.posts_seen = 0
        self.problem_posts = 0

    # -- input ---------------------------------------------------------------------------------
    def add_change(self, change: TriageChange) -> None:
        self.changes.append(change)
        if change.kind == "alert":
            self._note_alert(change)

    def add_post(self, post: TriagePost) -> None:
        self.posts_seen += 1
        if post.problem_probability < self.settings.clustering.problem_threshold:
            return
        self.problem_posts += 1
        self.history.add(post.time, post.embedding)
        # centring on the stream's recent complaints removes what they all share (the domain, the ticket
        # template), so what is left tells one kind of complaint from another
        centred = post.embedding - self.history.mean_vector()
        norm = float(np.linalg.norm(centred))
        post = replace(post, match_vector=(centred / norm).astype(np.float32) if norm else post.embedding)
        self.background.add(post.text)
        cluster = self.book.place(
            post,
            lambda seed, authors, similarity: is_emerging_burst(
                match_vector(seed),
                authors,
                similarity,
                seed.time,
                self.history,
                self.settings.policy,
                self.settings.clustering,
            ),
        )
        if cluster is not None:
            self._consider_trigger(cluster, post.time)

    def tick(self, now: float) -> None:
        """Periodic pass: merges, lifecycle, signal updates and resolutions."""
        self.history.forget_before(now - self.settings.policy.baseline_hours * 3600)
        for survivor, absorbed in self.book.find_merges(lambda cluster: self._is_bursting(cluster, now)):
            pair = self._incident_takes_the_burst(survivor, absorbed, now)
            if pair is None:
                continue
            survivor, absorbed = pair
            self.book.merge(survivor, absorbed)
            self._merge_signals(survivor, absorbed, now)
            # two halves of one problem may page together where neither did alone
            self._consider_trigger(survivor, now)
        for cluster in self.book.update_lifecycle(now):
            self._resolve_signal(cluster, now)
        self._end_calm_incidents(now)
        for key in sorted(self.signal_of_cluster):
            if key not in self.signal_of_cluster:  # folded into another incident earlier in this pass
                continue
            signal = self.signals[self.signal_of_cluster[key]]
            if signal.state == "open":
                cluster = self.book.clusters[key]
                if cluster.is_surging:
                    # once calm, what resembles the incident is mostly everyday complaints (it is back
                    # under min_rate_ratio times their number): it takes only the reports that join it
                    # on their own, which is also how a second wave un-calms it
                    self._gather_burst(cluster, signal.service, signal.onset, now)
                self._refresh_signal(cluster, signal, now)

    def _incident_takes_the_burst(
        self, survivor: Cluster, absorbed: Cluster, now: float
    ) -> tuple[Cluster, Cluster] | None:
        """(survivor, absorbed) of a merge between an incident and an everyday cluster, None for no merge.

        The incident survives and takes only what the other gathered since its burst began (as it would
        have at its own trigger, see ``_detach_burst``); the other's older reports stay an everyday
        cluster of their own, apart for good. Otherwise an incident that merges with a long-lived
        cluster of the same kind of complaint would list that cluster's whole day as its own."""
        incident, other = (survivor, absorbed) if survivor.escalated else (absorbed, survivor)
        if not incident.escalated or other.escalated:
            return survivor, absorbed
        signal_key = self.signal_of_cluster.get(incident.key)
        if signal_key is None:
            return survivor, absorbed
        signal = self.signals[signal_key]
        since = min(signal.onset, signal.first_triggered_at - self.settings.policy.window_minutes * 60)
        recent = [member for member in other.members if member.time >= since]
        older = [member for member in other.members if member.time < since]
        if not recent:
            return None
        if not older:
            return incident, other
        return incident, self.book.split(other, older, recent, now)

    def _is_bursting(self, cluster: Cluster, now: float) -> bool:
        """Whether a cluster's window is surprising at the lenient level clusters are born at (laxer by the
        same allowance a page gets when the service of its burst has just changed)."""
        policy = self.settings.policy
        verdict = evaluate_cluster(cluster, now, self.history, policy, self.settings.clustering)
        level = self.settings.clustering.birth_max_probability
        if verdict.false_alarm_probability <= level:
            return True
        if verdict.false_alarm_probability > level * policy.after_change_max_budget_factor:
            return False
        allowance = change_allowance(self._service_of_burst(cluster, now), self.changes, now, policy)
        return allowance is not None and verdict.false_alarm_probability <= level * allowance.factor

    # -- human decisions (constraints every later pass keeps) ----------------------------------
    def mute(self, cluster_key: str, until: float, now: float) -> None:
        """A muted cluster keeps collecting posts but does not escalate until ``until``; an open
        signal is resolved so nobody is left with an orphan page."""
        cluster = self.book.resolve_key(cluster_key)
        cluster.muted_until = until
        key = self.signal_of_cluster.get(cluster.key)
        if key is not None and self.signals[key].state == "open":
            signal = self.signals[key]
            signal.state, signal.resolved_at = "resolved", now
            self._decide(RESOLVE, signal, now, f"muted until {until:.0f}")
            del self.signal_of_cluster[cluster.key]
            cluster.escalated = False

    def merge_clusters(self, absorbed_key: str, survivor_key: str, now: float) -> None:
        """A person says two clusters are one problem: they stay one from now on."""
        survivor, absorbed = self.book.resolve_key(survivor_key), self.book.resolve_key(absorbed_key)
        if survivor is absorbed:
            return
        survivor.cannot_link.discard(absorbed.key)
        self.book.merge(survivor, absorbed)
        self._merge_signals(survivor, absorbed, now)

    def split_cluster(self, cluster_key: str, post_ids: set[int], now: float) -> str:
        """Move the picked posts to a cluster of their own that never merges back."""
        source = self.book.resolve_key(cluster_key)
        moved = [member for member in source.members if member.post_id in post_ids]
        kept = [member for member in source.members if member.post_id not in post_ids]
        if not moved or not kept:
            raise ValueError("a split needs at least one post on each side")
        part = self.book.split(source, kept, moved, now)
        return part.key

    def escalate_now(self, cluster_key: str, now: float) -> None:
        """A person escalates a cluster the policy has not (yet) found surprising."""
        cluster = self.book.resolve_key(cluster_key)
        if cluster.escalated or not cluster.members:
            return
        verdict = evaluate_cluster(cluster, now, self.history, self.settings.policy, self.settings.clustering)
        self._open_signal(
            cluster,
            now,
            DetectionVerdict(
                verdict.window_authors, verdict.expected_authors, verdict.false_alarm_probability, True
            ),
            "escalated by a person",
        )

    def resolve_now(self, cluster_key: str, now: float) -> None:
        """A person resolves a cluster: its signal closes and the cluster takes no more posts."""
        cluster = self.book.resolve_key(cluster_key)
        self.book.retire(cluster)
        self._resolve_signal(cluster, now)

    def _end_calm_incidents(self, now: float) -> None:
        """An incident is over once its window has stopped being surprising against the baseline, or
        has fallen back to a small share of its peak, for ``quiet_minutes_to_resolve``: everyday
        complaints that still resemble it must not keep the page open for the rest of the day."""
        calm_for = self.settings.clustering.quiet_minutes_to_resolve * 60
        for cluster in [live for live in self.book.live if live.escalated]:
            verdict = evaluate_cluster(
                cluster, now, self.history, self.settings.policy, self.settings.clustering
            )
            cluster.peak_window_authors = max(cluster.peak_window_authors, verdict.window_authors)
            fallen_back = verdict.window_authors <= self.settings.policy.calm_share_of_peak * max(
                cluster.peak_window_authors, self.settings.policy.min_distinct_authors
            )
            # the same two tests a page needs, the first at the lenient level clusters are born at
            surprising = (
                verdict.false_alarm_probability <= self.settings.clustering.birth_max_probability
                and verdict.window_authors >= self.settings.policy.min_rate_ratio * verdict.expected_authors
            )
            if surprising and not fallen_back:
                cluster.calm_since = None
                continue
            cluster.calm_since = cluster.calm_since if cluster.calm_since is not None else now
            if now - cluster.calm_since >= calm_for:
                self.book.retire(cluster)
                self._resolve_signal(cluster, now)

    # -- decisions -----------------------------------------------------------------------------
    def _consider_trigger(self, cluster: Cluster, now: float) -> None:
        if cluster.escalated or cluster.is_muted(now):
            return
        verdict = evaluate_cluster(
            cluster,
            now,
            self.history,
            self.settings.policy,
            self.settings.clustering,
            self.settings.policy.closer_levels,
        )
        if not verdict.triggered:
            verdict = self._after_recent_change(cluster, now, verdict)
        if not verdict.triggered:
            return
        self._open_signal(cluster, now, verdict, verdict.explain())

    def _after_recent_change(
        self, cluster: Cluster, now: float, verdict: DetectionVerdict
    ) -> DetectionVerdict:
        """A count that is surprising but not yet surprising enough pages when the service of the burst has
        just changed, at the laxer budget ``change_allowance`` grants."""
        policy = self.settings.policy
        strict = policy.max_false_alarm_probability
        if not verdict.passes(strict * policy.after_change_max_budget_factor):
            return verdict
        allowance = change_allowance(self._service_of_burst(cluster, now), self.changes, now, policy)
        if allowance is None or not verdict.passes(strict * allowance.factor):
            return verdict
        return replace(
            verdict, triggered=True, after_change=allowance.describe(now, strict, policy.baseline_hours)
        )

    def _open_signal(self, cluster: Cluster, now: float, verdict: DetectionVerdict, detail: str) -> None:
        cluster = self._detach_burst(cluster, now)
        cluster.escalated = True
        cluster.state = ACTIVE
        onset_range = self._onset_of_burst(cluster, now, verdict)
        onset = onset_range.earliest
        service = self._service_of(cluster)
        generation = self.generations.get(cluster.key, 0) + 1
        self.generations[cluster.key] = generation
        signal = Signal(
            # a cluster that pages again after its signal was resolved (a mute ended) gets a new generation,
            # so the incident platform opens a new alert instead of silently reopening a closed one
            dedup_key=f"{self.tenant}:{cluster.key}:{generation}",
            cluster_key=cluster.key,
            first_triggered_at=now,
            onset=onset,
            likeliest_onset=onset_range.likeliest,
            severity=severity_for(cluster.distinct_authors, self.settings.policy),
            service=service,
            causes=rank_likely_causes(
                onset,
                service,
                cluster.centroid,
                self.changes,
                self.settings.correlation,
                onset_range.likeliest,
            ),
            verdict=verdict,
        )
        self.signals[signal.dedup_key] = signal
        self.signal_of_cluster[cluster.key] = signal.dedup_key
        self._gather_burst(cluster, service, onset, now)
        self._decide(TRIGGER, signal, now, detail)

    def _onset_of_burst(self, cluster: Cluster, now: float, verdict: DetectionVerdict) -> OnsetRange:
        """When the burst that pages began: the change point of its authors' first reports in the window
        against the everyday rate, so everyday reports the cluster held before cannot move the onset (and
        the candidate causes) earlier."""
        window_seconds = self.settings.policy.window_minutes * 60
        window_start = now - window_seconds
        first_report: dict[str, float] = {}
        for member in cluster.members:
            if member.time >= window_start and member.post_id not in cluster.attached:
                first_report.setdefault(member.author, member.time)
        if not first_report:
            return OnsetRange(cluster.members[-1].time, cluster.members[-1].time)
        return burst_onset_range(
            sorted(first_report.values()),
            window_start,
            now,
            verdict.expected_authors / window_seconds,
        )

    def _detach_burst(self, cluster: Cluster, now: float) -> Cluster:
        """The burst that pages, apart from the everyday complaints a long-lived cluster gathered
        before it: an incident that lands in such a cluster is reported as its own problem (its own
        posts, service and onset), and the everyday cluster carries on unescalated."""
        parts = self._burst_apart(cluster, now)
        if parts is None:
            return cluster
        older, burst = parts
        return self.book.split(cluster, older, burst, now)

    def _burst_apart(self, cluster: Cluster, now: float) -> tuple[list[TriagePost], list[TriagePost]] | None:
        """(the everyday reports before the window, the burst in it) of a long-lived cluster; None for a
        cluster young enough to be the burst itself."""
        window = self.settings.policy.window_minutes * 60
        window_start = now - window
        if cluster.first_post_at >= window_start - window:
            return None
        burst = [member for member in cluster.members if member.time >= window_start]
        older = [member for member in cluster.members if member.time < window_start]
        return (older, burst) if burst and older else None

    def _service_of_burst(self, cluster: Cluster, now: float) -> str | None:
        """The service a page of ``cluster`` would carry (that of its burst), without splitting it yet."""
        parts = self._burst_apart(cluster, now)
        if parts is None:
            return self._service_of(cluster)
        burst = Cluster(key=cluster.key, born_at=now)
        for member in parts[1]:
            burst.add(
                member,
                self.settings.clustering.recent_centroid_minutes * 60,
                member.post_id in cluster.attached,
            )
        return self._service_of(burst)

    def _gather_burst(self, cluster: Cluster, service: str | None, onset: float, now: float) -> None:
        """Fold in what is plainly the same outage said differently: clusters bursting in the same window
        on the same service with related wording, and pending posts that fit the incident's wording."""
        window_start = now - self.settings.policy.window_minutes * 60
        settings = self.settings.clustering
        # its own early reports too: before the wording was confirmed they fitted nothing well enough
        recruit_since = min(window_start, onset)
        cluster.surge_join = surge_join_similarity(cluster, now, self.history, self.settings.policy, settings)
        cluster.surge_attach = surge_attach_similarity(
            cluster, now, self.history, self.settings.policy, settings
        )
        recruit_at = cluster.surge_join if cluster.is_surging else settings.hot_join_similarity
        self.book.recruit_pending(cluster, recruit_since, recruit_at)
        if onset < window_start - _SAME_OUTAGE_ONSET_SECONDS:
            # a page open for hours is not the same outage as a burst starting now: folding the new burst
            # in would hide a second incident inside the first one's (possibly everyday) signal
            return
        for other in list(self.book.live):
            if other is cluster or other.key in cluster.cannot_link or cluster.key in other.cannot_link:
                continue
            if (
                other.last_post_at < window_start
                or other.first_post_at < window_start - _SAME_OUTAGE_ONSET_SECONDS
            ):
                continue
            if float(other.centroid @ cluster.centroid) < settings.burst_merge_similarity:
                continue
            if self._service_of(other) != service:
                continue
            self.book.merge(cluster, other)
            self._merge_signals(cluster, other, now)

    def _refresh_signal(self, cluster: Cluster, signal: Signal, now: float) -> None:
        severity = severity_for(cluster.distinct_authors, self.settings.policy)
        # once the burst is over, what still joins is everyday complaints that resemble it: they may keep
        # the page open a while, but they must not rewrite what it is about
        service = self._service_of(cluster) if cluster.is_surging else signal.service
        causes = rank_likely_causes(
            signal.onset,
            service,
            cluster.centroid,
            self.changes,
            self.settings.correlation,
            signal.likeliest_onset,
        )
        top_before = signal.top_change
        changed = severity != signal.severity or service != signal.service
        signal.severity, signal.service, signal.causes = severity, service, causes
        if changed or signal.top_change != top_before:
            self._decide(
                UPDATE, signal, now, f"severity {severity}, service {service}, cause {signal.top_change}"
            )

    def _service_of(self, cluster: Cluster) -> str | None:
        return self.catalog.match(cluster, self.history.mean_vector()).service

    def _resolve_signal(self, cluster: Cluster, now: float) -> None:
        key = self.signal_of_cluster.get(cluster.key)
        if key is None or self.signals[key].state != "open":
            return
        signal = self.signals[key]
        signal.state, signal.resolved_at = "resolved", now
        self._decide(RESOLVE, signal, now, "no new reports: cluster resolved")

    def _merge_signals(self, survivor: Cluster, absorbed: Cluster, now: float) -> None:
        absorbed_key = self.signal_of_cluster.pop(absorbed.key, None)
        if absorbed_key is None:
            return
        absorbed_signal = self.signals[absorbed_key]
        survivor_key = self.signal_of_cluster.get(survivor.key)
        if survivor_key is None:
            # the survivor carries on the absorbed cluster's open signal under the same dedup key
            absorbed_signal.cluster_key = survivor.key
            self.signal_of_cluster[survivor.key] = absorbed_key
            return
        survivor_signal = self.signals[survivor_key]
        survivor_signal.first_triggered_at = min(
            survivor_signal.first_triggered_at, absorbed_signal.first_triggered_at
        )
        survivor_signal.onset = min(survivor_signal.onset, absorbed_signal.onset)
        survivor_signal.likeliest_onset = max(
            survivor_signal.onset, min(survivor_signal.likeliest_onset, absorbed_signal.likeliest_onset)
        )
        absorbed_signal.merged_into = survivor_key
        if absorbed_signal.state == "open":
            absorbed_signal.state, absorbed_signal.resolved_at = "resolved", now
            self._decide(RESOLVE, absorbed_signal, now, f"merged into {survivor.key}")

    def _note_alert(self, alert: TriageChange) -> None:
        for signal in self.signals.values():
            if signal.lead_over_alert_minutes is None and signal.merged_into is None:
                signal.lead_over_alert_minutes = lead_over_alert_minutes(
                    signal.first_triggered_at, signal.service, [alert]
                )

    def _decide(self, action: str, signal: Signal, now: float, detail: str) -> None:
        signal.history.append((now, action, detail))
        self.decisions.append(SignalDecision(action, signal.dedup_key, signal.cluster_key, now, detail))

    # -- reading -------------------------------------------------------------------------------
    def cluster_label(self, cluster: Cluster) -> str:
        """Its distinctive terms, computed once per cluster size (persisting and reporting both ask)."""
        cached = self._labels.get(cluster.key)
        if cached is not None and cached[0] == len(cluster.members):
            return cached[1]
        label = self._compute_label(cluster)
        self._labels[cluster.key] = (len(cluster.members), label)
        return label

    def _compute_label(self, cluster: Cluster) -> str:
        texts = [member.text for member in cluster.members[-300:]]
        return label_for(self.background.distinctive_terms(texts), cluster.members[0].text)

    def current_clusters(self) -> list[Cluster]:
        return [cluster for cluster in self.book.clusters.values() if cluster.merged_into is None]

    def reported_signals(self) -> list[Signal]:
        """Signals that stand for a cluster (a signal merged into another is part of that one)."""
        return sorted(
            (signal for signal in self.signals.values() if signal.merged_into is None),
            key=lambda signal: (signal.first_triggered_at, signal.dedup_key),
        )
