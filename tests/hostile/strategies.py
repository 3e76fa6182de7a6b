"""Hypothesis strategies for hostile input: JSON of any shape, the contract's shapes with wrong types,
and text with the characters that break naive code (NUL, unpaired surrogates, right-to-left marks,
emoji, byte-order marks, huge strings)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

#: characters chosen for the trouble they cause: NUL, an unpaired surrogate of each kind, RTL override,
#: zero-width joiner, BOM, line and paragraph separators, an emoji with a skin tone
NASTY = [
    "\x00",
    "\ud800",
    "\udfff",
    "\u202e",
    "\u200d",
    "\ufeff",
    "\u2028",
    "\u2029",
    "😀",
    "👍🏽",
    "\r",
    "\t",
]

nasty_text = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=40),  # every code point, surrogates included
    st.lists(st.sampled_from(NASTY) | st.text(max_size=3), max_size=12).map("".join),
    st.sampled_from(["", " ", "null", "[]", "{}", "0", "-1", "1e309", "NaN", "\\u0000"]),
    st.integers(1, 6).map(lambda power: "x" * (10**power)),  # up to a megabyte
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    nasty_text,
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(nasty_text, children, max_size=4),
    max_leaves=12,
)

_zones = st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12, minutes=-30))])
timestamps = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=_zones).map(
        lambda moment: moment.isoformat()
    ),
    st.sampled_from(
        [
            "0001-01-01T00:00:00+05:00",  # before year 1 in UTC
            "9999-12-31T23:59:59-05:00",  # after year 9999 in UTC
            "2026-02-30T10:00:00Z",
            "2026-03-01T25:00:00Z",
            "yesterday",
            "",
            "1772359200",
            "2026-03-01",
        ]
    ),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False),
)


def _field(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a plausible value, sometimes any JSON at all."""
    return st.one_of(valid, valid, json_values)


def post_objects(with_type: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """Objects in the replay file's post shape, each field sometimes of a wrong type or missing."""
    fields = {
        "source": _field(st.sampled_from(["twitter", "zendesk", "forum"]) | nasty_text),
        "id": _field(
            st.integers(0, 30).map(lambda number: f"p{number}") | nasty_text
        ),  # repeats: duplicate ids
        "author": _field(st.integers(0, 9).map(lambda number: f"u{number}") | nasty_text),
        "text": _field(nasty_text),
        "created_at": timestamps,
        "lang": _field(st.sampled_from(["en", "ar", "he", None])),
        "url": _field(st.none() | nasty_text),
        "meta": _field(st.dictionaries(nasty_text, json_values, max_size=3)),
    }
    base = st.fixed_dictionaries({}, optional=fields)
    if with_type:
        base = st.tuples(base, st.sampled_from(["post", "post", "change", "service", None, 3])).map(
            lambda pair: {**pair[0], "type": pair[1]} if pair[1] is not None else pair[0]
        )
    return base


def change_objects() -> st.SearchStrategy[dict[str, Any]]:
    fields = {
        "id": _field(nasty_text),
        "service": _field(st.none() | nasty_text),
        "kind": _field(st.sampled_from(["deploy", "config", "flag", "alert", "rollback"])),
        "summary": _field(nasty_text),
        "created_at": timestamps,
        "ended_at": st.none() | timestamps,
        "url": _field(st.none() | nasty_text),
    }
    return st.fixed_dictionaries({"type": st.just("change")}, optional=fields)


def service_objects() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"type": st.just("service")},
        optional={"name": _field(nasty_text), "description": _field(nasty_text), "keywords": json_values},
    )


def to_json(value: Any) -> bytes:
    """JSON as a sender would write it; unpaired surrogates travel as ``\\ud800`` escapes."""
    return json.dumps(value, ensure_ascii=True).encode()


replay_lines = st.one_of(
    post_objects().map(to_json),
    change_objects().map(to_json),
    service_objects().map(to_json),
    json_values.map(to_json),
    st.binary(max_size=60).filter(lambda raw: b"\n" not in raw and b"\r" not in raw),
    st.sampled_from([b"{", b'{"type": "post"', b"\xff\xfe{}", b"\xed\xa0\x80", b"\x00", b"   ", b"[1, 2]"]),
)
