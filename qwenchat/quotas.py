"""Usage limits that keep a shared app from draining its operator's key.

- `Limits`: the numbers, each a setting (secrets first, then the environment); 0 turns one off. A value
  that is not a whole number >= 0 falls back to the default (and is logged), never raises.
- `SessionQuota`: one browser session's counters (requests sent, tokens used). It lives in session
  state beside the conversation, not in it, so starting a new conversation does not reset it. A reload
  does (a new session): the per-session limits stop accidents and casual over-use, not a determined
  visitor.
- `DailyCounter`: tokens used today by the whole server process, shared by every session (thread-safe;
  resets at local midnight). With `QWENCHAT_DAILY_TOKEN_CAP` set, this is what bounds the bill.

Tokens are the API's `usage.total_tokens` (a local estimate when a stopped reply has none).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Callable, Mapping

from qwenchat.settings import read
from qwenchat.turns import Problem

SETTING_NAMES = {
    "max_messages_per_session": "QWENCHAT_MAX_MESSAGES_PER_SESSION",
    "max_tokens_per_session": "QWENCHAT_MAX_TOKENS_PER_SESSION",
    "max_chars_per_message": "QWENCHAT_MAX_CHARS_PER_MESSAGE",
    "daily_token_cap": "QWENCHAT_DAILY_TOKEN_CAP",
}


@dataclass(frozen=True)
class Limits:
    max_messages_per_session: int = 50
    max_tokens_per_session: int = 200_000
    max_chars_per_message: int = 8_000
    # A reload starts a new session, so only a server-wide cap really bounds what a public app can spend.
    daily_token_cap: int = 2_000_000

    @classmethod
    def from_config(cls, secrets: Mapping[str, object], environ: Mapping[str, str]) -> "Limits":
        """Each limit as `qwenchat.settings` reads it (a bad value: the default, logged)."""
        return cls(**{f.name: read(SETTING_NAMES[f.name], secrets, environ) for f in fields(cls)})


def too_long(text: str, limits: Limits) -> "QuotaProblem | None":
    """The per-message length limit alone: the one limit that applies with a visitor's own key too."""
    n, cap = len(text), limits.max_chars_per_message
    if cap and n > cap:
        return QuotaProblem(
            "too_long", f"消息太长（{n:,} 字符，本应用上限 {cap:,}），未发送。请缩短或分几次发送。",
            f"The message is too long ({n:,} characters; this app allows {cap:,}) and was not sent. "
            "Shorten it or send it in parts.")
    return None


class QuotaProblem(Problem):
    """A message refused by a limit: `kind` is too_long | messages | session_tokens | daily_tokens."""


@dataclass
class SessionQuota:
    messages: int = 0  # requests sent to the model for this session
    tokens: int = 0

    def check_message(self, text: str, limits: Limits, *, upcoming_tokens: int = 0) -> QuotaProblem | None:
        """Whether `text` may be sent now. `upcoming_tokens` is the estimated prompt of the request it
        would make (history and system prompt included), so one request over a long imported history
        cannot overshoot the session's tokens by far."""
        problem = too_long(text, limits)
        if problem:
            return problem
        cap = limits.max_messages_per_session
        if cap and self.messages >= cap:
            return QuotaProblem(
                "messages", f"本次会话已发送 {cap:,} 条消息，达到本应用的上限。请稍后再来，或使用你自己的 API Key。",
                f"This session has sent {cap:,} messages, this app's limit. Come back later, or use your own "
                "API key.")
        cap = limits.max_tokens_per_session
        if cap and (self.tokens >= cap or self.tokens + max(0, upcoming_tokens) > cap):
            left = max(0, cap - self.tokens)
            if left == 0:
                return QuotaProblem(
                    "session_tokens", f"本次会话已用完 {cap:,} 个 Token 的上限。请稍后再来，或使用你自己的 API Key。",
                    f"This session has used its {cap:,} tokens. Come back later, or use your own API key.")
            return QuotaProblem(
                "session_tokens",
                f"这次请求约需 {upcoming_tokens:,} 个 Token，本次会话只剩 {left:,} 个（上限 {cap:,}）。"
                "请开始新对话以缩短历史、调低上下文预算，或使用你自己的 API Key。",
                f"This request needs about {upcoming_tokens:,} tokens and this session has {left:,} left (of "
                f"{cap:,}). Start a new conversation (a shorter history), lower the context budget, or use "
                "your own API key.")
        return None

    def record(self, total_tokens: int, *, messages: int = 1) -> None:
        """Count one request to the model and its tokens (`messages=0` for tokens alone, e.g. a judge's)."""
        self.messages += max(0, int(messages))
        self.tokens += max(0, int(total_tokens or 0))


class DailyCounter:
    """Tokens used today by this server process. One instance per process (`st.cache_resource`)."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self._clock = clock
        self._lock = threading.Lock()
        self._day: date | None = None
        self._tokens = 0

    def _today(self) -> None:  # call with the lock held
        day = datetime.fromtimestamp(self._clock()).date()  # local time: "today" is the operator's day
        if day != self._day:
            self._day, self._tokens = day, 0

    def used(self) -> int:
        with self._lock:
            self._today()
            return self._tokens

    def add(self, tokens: int) -> int:
        """Count `tokens` and return today's total."""
        with self._lock:
            self._today()
            self._tokens += max(0, int(tokens or 0))
            return self._tokens

    def check(self, cap: int, upcoming_tokens: int = 0) -> QuotaProblem | None:
        """None while today's use (plus the request about to go) stays within `cap` (0: no cap).

        Sessions checking at the same moment may all pass and overshoot by one request each."""
        used = self.used()
        if not cap or (used < cap and used + max(0, upcoming_tokens) <= cap):
            return None
        if used < cap:
            return QuotaProblem(
                "daily_tokens", f"这次请求约需 {upcoming_tokens:,} 个 Token，超出本应用今天剩余的额度（已用 "
                                f"{used:,} / {cap:,}）。请开始新对话以缩短历史，或使用你自己的 API Key。",
                f"This request needs about {upcoming_tokens:,} tokens, more than this app has left today "
                f"({used:,} of {cap:,} used). Start a new conversation (a shorter history), or use your own API key.")
        return QuotaProblem(
            "daily_tokens", f"本应用今天的 Token 额度已用完（{used:,} / {cap:,}），明天（服务器时间零点后）再来，"
                            "或使用你自己的 API Key。",
            f"This app has used today's token allowance ({used:,} of {cap:,}). Come back tomorrow (after "
            "midnight, server time), or use your own API key.")


@dataclass(frozen=True)
class UsageRow:
    label: str
    used: int
    limit: int  # 0: no limit


def usage_rows(limits: Limits, session: SessionQuota, daily: DailyCounter | None = None) -> list[UsageRow]:
    """What the sidebar shows: how much of each limit is used. The daily row appears only with a cap."""
    rows = [UsageRow("本次会话消息 / Messages this session", session.messages, limits.max_messages_per_session),
            UsageRow("本次会话 Token / Tokens this session", session.tokens, limits.max_tokens_per_session)]
    if daily is not None and limits.daily_token_cap:
        rows.append(UsageRow("今日全站 Token / Tokens today (whole app)", daily.used(), limits.daily_token_cap))
    return rows
