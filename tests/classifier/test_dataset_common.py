"""Normalisation, dedup and hash splits on small texts written for the test."""

from __future__ import annotations

from classifier.datasets.common import (
    LabelledText,
    decode_escapes,
    deduplicate,
    hash_split,
    normalize_for_dedup,
)
from classifier.text import prepare_text


def record(text: str, label: str) -> LabelledText:
    return LabelledText(id=text[:5], text=text, label=label, split="", dataset="test")


def test_normalisation_ignores_case_mentions_links_and_escapes() -> None:
    a = "@shopdesk The checkout page keeps failing http://t.co/xyz"
    b = "@other the CHECKOUT page keeps failing!!"
    assert normalize_for_dedup(a) == normalize_for_dedup(b) == "the checkout page keeps failing"
    assert decode_escapes("it\\u2019s down") == "it\u2019s down"


def test_dedup_keeps_first_agreeing_copy_and_drops_conflicts() -> None:
    kept = deduplicate(
        [
            record("Login is broken", "bug"),
            record("login is broken!", "bug"),
            record("Great app", "praise"),
            record("great app.", "bug"),
            record("   ", "bug"),
        ]
    )
    assert [r.text for r in kept] == ["Login is broken"]


def test_hash_split_is_stable_and_roughly_proportional() -> None:
    keys = [f"post number {i}" for i in range(4000)]
    splits = [hash_split(key) for key in keys]
    assert splits == [hash_split(key) for key in keys]
    assert 0.17 < splits.count("test") / len(keys) < 0.23
    assert 0.08 < splits.count("validation") / len(keys) < 0.12


def test_prepare_text_replaces_handles_and_links() -> None:
    assert prepare_text("@AcmeBank my card fails https://t.co/abc  again") == "@user my card fails http again"
    assert prepare_text("mail me at a@b.com") == "mail me at a@b.com"
