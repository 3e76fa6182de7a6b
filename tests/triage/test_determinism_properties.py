"""Property tests: triage decisions depend on the posts, not on the order they arrive within a tick."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import near, triage_post, unit_vector, warm_up
from triage.catalog import ServiceCatalog
from triage.engine import TriageEngine
from triage.settings import Settings

TICK = 60.0


def run(posts: list, order: list[int]) -> list[tuple[str, str, float]]:  # type: ignore[type-arg]
    """Feed a burst through a warmed-up engine, shuffling arrival within each one-minute tick."""
    engine = TriageEngine(Settings(), ServiceCatalog([], np.zeros((0, 384))))
    warm_up(engine)
    by_tick: dict[float, list[int]] = {}
    for index in order:
        by_tick.setdefault(posts[index].time // TICK, []).append(index)
    for tick in sorted(by_tick):
        engine.tick(tick * TICK)
        for index in by_tick[tick]:
            engine.add_post(posts[index])
    engine.tick((max(by_tick) + 1) * TICK)
    return sorted((d.action, d.cluster_key, d.at // TICK) for d in engine.decisions)


@settings(max_examples=15, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(min_value=6, max_value=14))
def test_order_within_a_tick_does_not_change_what_pages(shuffler, authors: int) -> None:  # type: ignore[no-untyped-def]
    theme = unit_vector(77)
    posts = [
        triage_post(number, 400 + number // 3, f"person{number}", near(theme, number, 0.2))
        for number in range(authors)
    ]
    forward = run(posts, list(range(authors)))
    shuffled_order = list(range(authors))
    shuffler.shuffle(shuffled_order)
    assert [(action, tick) for action, _, tick in run(posts, shuffled_order)] == [
        (action, tick) for action, _, tick in forward
    ]
    assert forward and forward[0][0] == "trigger"


def test_the_same_input_twice_gives_the_same_decisions() -> None:
    theme = unit_vector(78)
    posts = [
        triage_post(number, 400 + number // 2, f"person{number}", near(theme, number, 0.2))
        for number in range(12)
    ]
    assert run(posts, list(range(12))) == run(posts, list(range(12)))
