"""Best-effort language marks on sentences written for the test."""

from __future__ import annotations

import pytest

from classifier.language import detect_language


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("my payment failed again", "en"),
        ("El pago no funciona y nadie me responde", "es"),
        ("Die Zahlung geht nicht und ich bin sehr sauer", "de"),
        ("Le paiement ne marche pas depuis ce matin", "fr"),
        ("оплата не проходит", "ru"),
        ("支付失败了", "zh"),
        ("決済ができません", "ja"),
        ("🔥🔥🔥", "und"),
        ("ugh", "en"),
    ],
)
def test_detect_language(text: str, code: str) -> None:
    assert detect_language(text) == code
