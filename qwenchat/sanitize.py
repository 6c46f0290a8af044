"""Making any pasted text safe to send and store, without changing what the user meant.

`clean_user_text` never raises for a `str`, and its output always encodes to UTF-8. It:
- replaces lone surrogates with U+FFFD (they make UTF-8 encoding fail, so json, sqlite and HTTP
  would fail); a high and low surrogate that form a pair become the character they stand for;
- turns \\r\\n and a lone \\r into \\n;
- removes C0 and C1 control characters and DEL, except \\n and \\t;
- removes the bidi embedding, override and isolate controls (U+202A-U+202E, U+2066-U+2069), which can
  make text display in a different order than it reads ("Trojan Source").

It keeps, on purpose: the zero-width joiner U+200D and variation selectors (emoji sequences such as
👨‍👩‍👧‍👦 and ❤️ are built from them), the zero-width non-joiner and space (Persian, Indic scripts and
Thai line breaking need them), left-to-right and right-to-left marks U+200E/U+200F (harmless, and
Hebrew or Arabic text uses them), tag characters (subdivision flags), every other character, all
whitespace and the Markdown as typed. It does not normalise (NFC/NFKC) or trim: code and poems keep
their exact spacing.

`is_blank` says whether a text has nothing visible in it: empty, whitespace, or only invisible
characters such as zero-width spaces.
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")
_NEWLINE = re.compile(r"\r\n?")
_REMOVED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

# Whitespace, controls, format characters that draw nothing, variation selectors and the "filler"
# letters (Hangul fillers, Braille blank) often used to post a message that looks empty.
_INVISIBLE = re.compile(
    "[\\s\x00-\x1f\x7f-\x9f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\U0001d173-\U0001d17a"
    "\U000e0000-\U000e0fff]*")


def without_lone_surrogates(text: str) -> str:
    """`text` with each lone surrogate (which a JSON escape such as "\\ud800" can carry, and no UTF-8 page,
    file or database takes) as U+FFFD, and each pair that was split as the character it stands for."""
    if _SURROGATE.search(text):
        # UTF-16 with surrogatepass writes every surrogate as-is; decoding joins real pairs and
        # replaces lone ones with U+FFFD.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def clean_user_text(text: str) -> str:
    """`text` made safe to send and store (see the module docstring for what changes and what stays)."""
    text = without_lone_surrogates(text)
    if "\r" in text:
        text = _NEWLINE.sub("\n", text)
    return _REMOVED.sub("", text)


def is_blank(text: str) -> bool:
    """True for "", whitespace only, or only invisible characters (zero-width spaces, joiners, bidi
    controls, variation selectors, control characters)."""
    return not text or text.isspace() or _INVISIBLE.fullmatch(text) is not None
