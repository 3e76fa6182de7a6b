"""How early a perfect cluster would page each incident under the product's own count test.

The target "triggered by the time the incident's 5th distinct author has posted" asks two things at once:
that the incident's reports are gathered together, and that so few authors are surprising enough against the
everyday complaints to page. This reference takes the first away. It hands the page test of
``triage.detection`` (the same baseline, negative-binomial tail, Bonferroni factor, author floor and rate
ratio) a cluster known in hindsight: the centre of all of the incident's flagged reports, with every flagged
report of the trailing window that matches it at the most favourable of ``HINDSIGHT_LEVELS``, on the
incident's own service (so the budget after a change on that service is the one the product would allow its
cluster). At each new author's first report it asks whether that window would page. Where even
this pages after the 5th author, the target needs a sharper embedding or classifier (or a looser false-alarm
budget), not better clustering.

It is a reference, not a strict bound: an online cluster centred on an incident's *first* reports can fit
them better than the centre of the whole incident does, so the product is now and then earlier. Match
vectors are centred on the trailing complaint history as ``TriageEngine.add_post`` centres them, and authors
are counted as the scorer counts them (every incident author, flagged or not).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from triage.correlation import change_allowance
from triage.detection import count_tail, usual_counts
from triage.events import TriageChange, TriagePost, to_epoch
from triage.history import ComplaintHistory
from triage.settings import Settings

#: cosines to the incident's centre tried at every step (the best one counts)
HINDSIGHT_LEVELS = tuple(round(0.15 + 0.05 * step, 2) for step in range(10))


@dataclass(frozen=True)
class PerfectClusterTrigger:
    """The author by whose first report a perfect cluster of one incident would page (None: never)."""

    incident: str
    authors_by_trigger: int | None
    minutes_after_onset: float | None


def perfect_cluster_triggers(
    posts: Sequence[TriagePost],
    incidents: Sequence[dict],
    settings: Settings,
    changes: Sequence[TriageChange] = (),
    max_authors: int = 60,
) -> list[PerfectClusterTrigger]:
    """The perfect cluster's trigger for every incident of a truth file (``incidents`` as the truth file
    holds them) over the analysed ``posts`` of its scenario, in event order, with the scenario's ``changes``
    (which set the budget after a change). Authors after ``max_authors`` are not tried (a trigger that late
    says enough)."""
    flagged = [post for post in posts if post.problem_probability >= settings.clustering.problem_threshold]
    times = np.array([post.time for post in flagged])
    authors = [post.author for post in flagged]
    matches = _match_vectors(flagged, settings)
    results = []
    for incident in incidents:
        results.append(
            _incident_trigger(incident, flagged, times, authors, matches, settings, changes, max_authors)
        )
    return results


def _match_vectors(flagged: Sequence[TriagePost], settings: Settings) -> np.ndarray:
    """Each flagged post's embedding centred on the complaints before it and itself, as the engine does."""
    history = ComplaintHistory(settings.policy.baseline_hours * 3600)
    vectors = np.zeros((len(flagged), 384), dtype=np.float32)
    for row, post in enumerate(flagged):
        history.add(post.time, post.embedding)
        history.forget_before(post.time - settings.policy.baseline_hours * 3600)
        centred = post.embedding - history.mean_vector()
        norm = float(np.linalg.norm(centred))
        vectors[row] = centred / norm if norm else post.embedding
    return vectors


def _incident_trigger(
    incident: dict,
    flagged: Sequence[TriagePost],
    times: np.ndarray,
    authors: Sequence[str],
    matches: np.ndarray,
    settings: Settings,
    changes: Sequence[TriageChange],
    max_authors: int,
) -> PerfectClusterTrigger:
    own = set(incident["posts"])
    rows = [row for row, post in enumerate(flagged) if post.external_id in own]
    if not rows:
        return PerfectClusterTrigger(incident["id"], None, None)
    direction, fits = _fits(matches, rows)
    first_reports: dict[str, float] = {}
    for _, author, created_at in incident["timeline"]:
        first_reports.setdefault(author, _epoch(created_at))
    onset = _epoch(incident["onset"])
    history = ComplaintHistory(settings.policy.baseline_hours * 3600)
    added = 0
    for count, moment in enumerate(sorted(first_reports.values())[:max_authors], start=1):
        while added < len(flagged) and times[added] <= moment:
            history.add(times[added], flagged[added].embedding)
            added += 1
        history.forget_before(moment - settings.policy.baseline_hours * 3600)
        budget = page_budget(incident.get("service"), changes, moment, settings)
        if count >= settings.policy.min_distinct_authors and _would_page(
            direction, moment, times[:added], authors[:added], fits[:added], history, settings, budget
        ):
            return PerfectClusterTrigger(incident["id"], count, (moment - onset) / 60)
    return PerfectClusterTrigger(incident["id"], None, None)


def _fits(matches: np.ndarray, rows: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """What the incident says, known in hindsight (the centre of all of its flagged reports), and how
    closely each report fits it. An incident report is compared with the centre of the *other* reports:
    in 384 dimensions the centre of a few dozen unrelated reports still lies close to each of them, and
    counting a report towards its own centre would let any handful of posts look alike."""
    total = matches[rows].astype(np.float64).sum(axis=0)
    direction = (total / max(float(np.linalg.norm(total)), 1e-12)).astype(np.float32)
    fits = matches @ direction
    for row in rows:
        rest = total - matches[row]
        norm = float(np.linalg.norm(rest))
        fits[row] = float(matches[row] @ rest) / norm if norm > 1e-9 else 0.0
    return direction, fits


def _would_page(
    direction: np.ndarray,
    now: float,
    times: np.ndarray,
    authors: Sequence[str],
    fits: np.ndarray,
    history: ComplaintHistory,
    settings: Settings,
    budget: float,
) -> bool:
    """The product's page test (``evaluate_cluster``) on the window's reports that fit ``direction``, at
    the most favourable of the ``HINDSIGHT_LEVELS`` but charged only the product's own Bonferroni factor,
    held to the false-alarm ``budget`` the product would hold that window to."""
    policy, clustering = settings.policy, settings.clustering
    window_start = now - policy.window_minutes * 60
    start = int(np.searchsorted(times, window_start, side="left"))
    similarities = fits[start:]
    charged = 1 + sum(1 for level in policy.closer_levels if level > clustering.join_similarity)
    levels = HINDSIGHT_LEVELS
    usual = usual_counts(direction, levels, window_start, now, history, policy)
    best_chance, best_authors, best_expected = 1.0, 0, 0.0
    for level, baseline in zip(levels, usual, strict=True):
        count = len({authors[start + row] for row in np.flatnonzero(similarities >= level)})
        chance = count_tail(count, baseline) if count >= policy.min_distinct_authors else 1.0
        if chance < best_chance:
            best_chance, best_authors, best_expected = chance, count, baseline.expected
    return best_chance * charged <= budget and best_authors >= policy.min_rate_ratio * best_expected


def page_budget(
    service: str | None, changes: Sequence[TriageChange], now: float, settings: Settings
) -> float:
    """The false-alarm budget the product allows a cluster of ``service`` at ``now``
    (``TriageEngine._after_recent_change``)."""
    allowance = change_allowance(service, changes, now, settings.policy)
    return settings.policy.max_false_alarm_probability * (allowance.factor if allowance else 1.0)


def _epoch(moment: str) -> float:
    return to_epoch(datetime.fromisoformat(moment.replace("Z", "+00:00")))


def stored_triggers(
    database_url: str, tenant: str, model_version: str, incidents: Sequence[dict], settings: Settings
) -> list[PerfectClusterTrigger]:
    """:func:`perfect_cluster_triggers` over the posts a replay stored and analysed."""
    from triage.replay.flow import load_change_rows, load_posts, to_changes
    from triage.storage.database import create_db_engine, session_factory, transaction

    engine = create_db_engine(database_url)
    try:
        with transaction(session_factory(engine)) as session:
            posts = load_posts(session, tenant, model_version)
            rows = load_change_rows(session, tenant)
            changes = to_changes(rows, np.zeros((len(rows), 384), dtype=np.float32))
    finally:
        engine.dispose()
    return perfect_cluster_triggers(posts, incidents, settings, changes)
