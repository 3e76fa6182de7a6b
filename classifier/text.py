"""The one text preparation applied before the encoder, identical in training, analysis and ``embed``.

User handles and links are replaced by the placeholders TweetEval uses (``@user``, ``http``): handles name
the company being addressed (in the airline data, a shortcut for "complaint"), and shortened links are
random tokens; neither says what is broken, and both would pull unrelated posts together when clustering.
Literal ``\\uXXXX`` escapes (present in some exports) become characters. Everything else is left alone.
"""

from __future__ import annotations

import re

from classifier.datasets.common import decode_escapes

_MENTION = re.compile(r"(?<![\w@])@\w+")
_URL = re.compile(r"https?://\S+|www\.\S+")
_SPACES = re.compile(r"[ \t]+")


def prepare_text(text: str) -> str:
    """Model input for one post: escapes decoded, handles -> ``@user``, links -> ``http``, spaces squeezed."""
    text = decode_escapes(text)
    text = _URL.sub("http", text)
    text = _MENTION.sub("@user", text)
    return _SPACES.sub(" ", text).strip()
