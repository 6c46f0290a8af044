"""What happens to a user's message before any request: checks that give a clear message instead of an
API error."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from qwenchat.i18n import DEFAULT_LANG, t
from qwenchat.sanitize import is_blank

# A hard ceiling even when the operator turns the per-message limit off (QWENCHAT_MAX_CHARS_PER_MESSAGE=0).
MAX_MESSAGE_CHARS = 200_000


@dataclass(frozen=True)
class Problem:
    """Why a message was not sent: `kind` for code to switch on, a catalog id and its parameters for people."""

    kind: str
    id: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def message(self, lang: str = DEFAULT_LANG) -> str:
        return t(self.id, lang, **self.params)


def check_message(text: str, max_chars: int = MAX_MESSAGE_CHARS) -> Problem | None:
    """None when the message can be sent; otherwise what is wrong with it."""
    if is_blank(text):
        return Problem("empty", "turn.empty")
    if len(text) > max_chars:
        return Problem("too_long", "turn.too_long", {"chars": len(text), "limit": max_chars})
    return None
