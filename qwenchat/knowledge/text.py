"""Text normalisation for the knowledge base: what every extracted text goes through before it is chunked,
indexed, embedded or stored, and the looser form used to compare passages.

- `normalize(text)`: Unicode NFKC (folds the Kangxi radicals U+2F00-U+2FDF that some Chinese PDFs print
  instead of ideographs, full-width letters and digits, ligatures), then the hand map of the U+2E80-block
  radicals NFKC leaves alone (⻔→门 ⻢→马 ⻜→飞 …), NUL list markers (`"\\x00. "`, as pypdf prints numbered
  lists of some PDFs) and other control characters dropped, line ends made `\\n`.
- `compact(text)`: `normalize` + lower case + no whitespace: how evidence strings are matched against
  chunks (a padded Markdown cell and a PDF line break compare equal).
"""

from __future__ import annotations

import re
import unicodedata

# U+2E80-block radicals that NFKC does not fold, mapped to the ideograph they stand for. Only those that are
# a whole simplified character (not a component such as ⻈ 讠).
RADICALS = {
    "⺠": "民", "⻄": "西", "⻅": "见", "⻆": "角", "⻉": "贝", "⻋": "车", "⻓": "长", "⻔": "门", "⻘": "青",
    "⻙": "韦", "⻚": "页", "⻛": "风", "⻜": "飞", "⻝": "食", "⻢": "马", "⻣": "骨", "⻤": "鬼", "⻥": "鱼",
    "⻦": "鸟", "⻧": "卤", "⻨": "麦", "⻩": "黄", "⻪": "黾", "⻬": "齐", "⻮": "齿", "⻰": "龙", "⻗": "雨",
    "⻊": "足", "⻑": "長", "⻒": "镸", "⻎": "辶", "⻍": "辶", "⻌": "辶",
}
_RADICAL_TABLE = str.maketrans(RADICALS)

_NUL_MARKER = re.compile(r"\x00+\.?[ \t]?")
# C0/C1 controls other than tab and newline, zero-width characters and the BOM.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u200c\u200d\u2060\ufeff]")
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """The text as the knowledge base keeps it (see the module docstring)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _NUL_MARKER.sub("", text)
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(_RADICAL_TABLE)
    return _CONTROLS.sub("", text)


def compact(text: str) -> str:
    """`normalize(text)`, lower-cased, every whitespace removed: for comparing passages."""
    return _SPACE.sub("", normalize(text)).lower()


def is_cjk(ch: str) -> bool:
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x2FA1F or 0xF900 <= o <= 0xFAFF
