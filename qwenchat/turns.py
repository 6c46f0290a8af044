"""What happens to a user's message before any request: checks that give a clear message instead of an
API error."""

from __future__ import annotations

from dataclasses import dataclass

from qwenchat.sanitize import is_blank

# A hard ceiling even when the operator turns the per-message limit off (QWENCHAT_MAX_CHARS_PER_MESSAGE=0).
MAX_MESSAGE_CHARS = 200_000


@dataclass(frozen=True)
class Problem:
    kind: str
    zh: str
    en: str

    def message(self) -> str:
        return f"{self.zh}\n\n{self.en}"


def check_message(text: str, max_chars: int = MAX_MESSAGE_CHARS) -> Problem | None:
    """None when the message can be sent; otherwise what is wrong with it, in both languages."""
    if is_blank(text):
        return Problem("empty", "消息是空的，请输入内容后再发送。", "The message is empty: type something first.")
    if len(text) > max_chars:
        return Problem("too_long", f"消息太长（{len(text):,} 字符，上限 {max_chars:,}），未发送。请缩短后再试。",
                       f"The message is too long ({len(text):,} characters, limit {max_chars:,}) and was not "
                       "sent. Shorten it and try again.")
    return None
