"""Best-effort language identification without a model download.

The heads are trained on English only; a post in another language gets scores that mean little, so the
analysis marks its language and the caller decides. Non-Latin scripts are identified by Unicode block;
Latin-script text by counting frequent function words of a few European languages. Latin text with no
evidence either way (very short posts, hashtags only) is taken as English, the expected language of
the streams this serves. ``und`` means no letters at all.
"""

from __future__ import annotations

import functools
import re
import unicodedata

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)

_FUNCTION_WORDS_SPACED: dict[str, str] = {
    "en": "the and is are was not to of it my you this that with for have has on in at i me can why what "
    "when your be do does don't didn't won't can't again still just",
    "es": "el la los las que de y es no por para con una un mi muy pero se lo del al está esta otra vez",
    "pt": "o a os as que de e é não por para com uma um meu muito mas se do da está isso você ainda",
    "fr": "le la les que de et est ne pas pour avec une un mon très mais se du des je il encore toujours",
    "de": "der die das und ist nicht zu mit ein eine mein sehr aber sich ich es den dem noch schon geht",
    "it": "il la che di e è non per con una un mio molto ma si del della sono ancora",
    "nl": "de het een en is niet van met voor mijn heel maar ik dat nog werkt",
    "tr": "ve bir bu da de için ile çok ama ben değil mi ne",
    "id": "yang dan di ini itu tidak dengan untuk saya ada aku gak",
}
_FUNCTION_WORDS = {code: frozenset(spaced.split()) for code, spaced in _FUNCTION_WORDS_SPACED.items()}

_SCRIPT_PREFIXES = (
    ("CYRILLIC", "ru"),
    ("ARABIC", "ar"),
    ("HEBREW", "he"),
    ("GREEK", "el"),
    ("DEVANAGARI", "hi"),
    ("THAI", "th"),
    ("HANGUL", "ko"),
    ("HIRAGANA", "ja"),
    ("KATAKANA", "ja"),
    ("CJK", "zh"),
    ("BENGALI", "bn"),
    ("TAMIL", "ta"),
    ("GEORGIAN", "ka"),
    ("ARMENIAN", "hy"),
)


@functools.lru_cache(maxsize=8192)
def _script_language(char: str) -> str:
    """Script of one letter; cached, since a post's letters repeat and the Unicode name lookup is the
    costly part of identifying a post's language (it ran on every letter of every analysed post)."""
    if char.isascii():
        return "latin"
    name = unicodedata.name(char, "")
    for prefix, code in _SCRIPT_PREFIXES:
        if name.startswith(prefix):
            return code
    return "latin" if "LATIN" in name else "other"


def detect_language(text: str) -> str:
    """ISO 639-1 code (``en``, ``es``, ``ja``, ...), or ``und`` when the text has no letters."""
    letters = [char for char in text if char.isalpha()]
    if not letters:
        return "und"
    counts: dict[str, int] = {}
    for char in letters:
        script = _script_language(char)
        counts[script] = counts.get(script, 0) + 1
    if counts.get("ja"):
        return "ja"  # Japanese mixes kana with CJK ideographs
    script = max(counts, key=lambda key: counts[key])
    if script not in ("latin", "other"):
        return script
    words = [word.lower() for word in _WORD.findall(text)]
    scores = {code: sum(word in vocabulary for word in words) for code, vocabulary in _FUNCTION_WORDS.items()}
    best = max(scores, key=lambda code: (scores[code], code == "en"))
    return best if scores[best] > scores["en"] else "en"
