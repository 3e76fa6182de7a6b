"""Small builders for test inputs, in the project's own words (never dataset rows)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from triage.engine import TriageEngine
from triage.events import TriageChange, TriagePost

START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


def stamp(minutes: float) -> str:
    return (START + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def unit_vector(seed: int, dimensions: int = 384) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=dimensions).astype(np.float32)
    return vector / np.linalg.norm(vector)


def near(base: np.ndarray, seed: int, noise: float = 0.3) -> np.ndarray:
    vector = base + noise * unit_vector(seed)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def triage_post(
    number: int,
    minutes: float,
    author: str,
    embedding: np.ndarray,
    problem: float = 0.95,
    text: str = "the card reader says declined",
) -> TriagePost:
    return TriagePost(
        number,
        f"t{number}",
        "twitter",
        author,
        START.timestamp() + minutes * 60,
        text,
        embedding,
        problem,
        "payments",
        "negative",
    )


def triage_change(
    change_id: str, minutes: float, service: str, kind: str = "deploy", embedding: np.ndarray | None = None
) -> TriageChange:
    return TriageChange(
        change_id,
        service,
        kind,
        f"{service} change",
        START.timestamp() + minutes * 60,
        embedding if embedding is not None else unit_vector(999),
    )


def warm_up(
    engine: TriageEngine, hours: float = 5.0, per_hour: int = 30, first_number: int = 100_000
) -> float:
    """Feed ``hours`` of ordinary, varied complaints from minute 0 so the engine has a baseline
    (nothing can page during the learning period); returns the minute the warm-up ended."""
    number = first_number
    for step in range(int(hours * per_hour)):
        minute = step * 60 / per_hour
        topic = unit_vector(10_000 + step % 40)
        engine.add_post(triage_post(number, minute, f"regular{number}", near(topic, number, 0.3)))
        if step % per_hour == 0:
            engine.tick(START.timestamp() + minute * 60)
        number += 1
    return hours * 60


_OUTAGE_PHRASES = [
    "my card keeps getting declined at every shop today",
    "card payment declined again, what is going on with your cards",
    "tried to pay for groceries and the card was refused twice",
    "contactless is not working, card declined at the till",
    "is anyone else's card being declined right now?",
    "card payments failing since lunch, really embarrassing at the counter",
    "your card got declined at the petrol station, please fix this",
    "every card payment I try is rejected, online and in store",
    "card declined for no reason, balance is fine",
    "payments with my debit card keep failing this afternoon",
]
_CHATTER = [
    "what a lovely sunny morning for a run",
    "how do I order a second card for my partner?",
    "can you add dark mode to the app please",
    "love the new savings pots, great job",
    "watching the match tonight with friends",
    "where can I find my account statement?",
    "the coffee in this place is amazing",
    "is there a fee for sending money abroad?",
]


_EVERYDAY_COMPLAINTS = [
    "my refund from last week still has not arrived",
    "the app logged me out again and the login code came late",
    "a transfer to my landlord has been pending since Monday",
    "I was charged a fee I did not expect on my statement",
    "cannot update my address in the profile screen",
    "the savings pot shows the wrong interest this month",
    "exchange rate on my holiday purchase looks wrong",
    "cheque deposit has not shown up in my balance",
]


def write_small_scenario(path: Path, *, seed: int = 7, incident_authors: int = 14) -> dict[str, Any]:
    """A few hours at a tiny bank: chatter all along, one card outage after a deploy.

    Returns the ids that matter so tests can check what was found.
    """
    rng = random.Random(seed)
    lines: list[tuple[float, dict[str, Any]]] = []
    services = [
        {
            "type": "service",
            "name": "cards",
            "description": "card payments, card declined at a shop, contactless",
        },
        {
            "type": "service",
            "name": "transfers",
            "description": "sending money, bank transfers pending or failed",
        },
    ]
    for number in range(1, 121):
        minutes = rng.uniform(0, 360)
        lines.append(
            (
                minutes,
                {
                    "type": "post",
                    "source": "twitter",
                    "id": f"n{number}",
                    "author": f"u{rng.randint(1, 60)}",
                    "text": rng.choice(_CHATTER),
                    "created_at": stamp(minutes),
                    "lang": "en",
                },
            )
        )
    for number in range(1, 61):
        minutes = rng.uniform(0, 360)
        lines.append(
            (
                minutes,
                {
                    "type": "post",
                    "source": "zendesk" if number % 2 else "twitter",
                    "id": f"e{number}",
                    "author": f"regular{number}",
                    "text": _EVERYDAY_COMPLAINTS[number % len(_EVERYDAY_COMPLAINTS)],
                    "created_at": stamp(minutes),
                    "lang": "en",
                },
            )
        )
    incident_posts = []
    for number in range(1, incident_authors + 1):
        minutes = 240 + number * 2.5
        post_id = f"i{number}"
        incident_posts.append(post_id)
        lines.append(
            (
                minutes,
                {
                    "type": "post",
                    "source": "twitter" if number % 3 else "zendesk",
                    "id": post_id,
                    "author": f"victim{number}",
                    "text": _OUTAGE_PHRASES[number % len(_OUTAGE_PHRASES)],
                    "created_at": stamp(minutes),
                    "lang": "en",
                },
            )
        )
    lines.append(
        (
            225,
            {
                "type": "change",
                "id": "c1",
                "service": "cards",
                "kind": "deploy",
                "summary": "card-auth v3.1: new card authorisation retry",
                "created_at": stamp(225),
            },
        )
    )
    lines.append(
        (
            236,
            {
                "type": "change",
                "id": "c2",
                "service": "transfers",
                "kind": "config",
                "summary": "transfers: raise batch size",
                "created_at": stamp(236),
            },
        )
    )
    lines.append(
        (
            262,
            {
                "type": "change",
                "id": "c3",
                "service": "cards",
                "kind": "alert",
                "summary": "card authorisation error rate high",
                "created_at": stamp(262),
            },
        )
    )
    lines.sort(key=lambda item: item[0])
    with path.open("w", encoding="utf-8") as handle:
        for service in services:
            handle.write(json.dumps(service) + "\n")
        for _, obj in lines:
            handle.write(json.dumps(obj) + "\n")
    return {"incident_posts": incident_posts, "cause": "c1", "wrong_service_change": "c2", "alert": "c3"}
