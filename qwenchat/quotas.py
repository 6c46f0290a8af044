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

from qwenchat.i18n import DEFAULT_LANG, t
from qwenchat.settings import read
from qwenchat.turns import Problem

SETTING_NAMES = {
    "max_messages_per_session": "QWENCHAT_MAX_MESSAGES_PER_SESSION",
    "max_tokens_per_session": "QWENCHAT_MAX_TOKENS_PER_SESSION",
    "max_chars_per_message": "QWENCHAT_MAX_CHARS_PER_MESSAGE",
    "daily_token_cap": "QWENCHAT_DAILY_TOKEN_CAP",
    "max_output_tokens": "QWENCHAT_MAX_OUTPUT_TOKENS",
    "max_image_bytes_per_conversation": "QWENCHAT_MAX_IMAGE_BYTES_PER_CONVERSATION",
}


@dataclass(frozen=True)
class Limits:
    max_messages_per_session: int = 50
    max_tokens_per_session: int = 200_000
    max_chars_per_message: int = 8_000
    # A reload starts a new session, so only a server-wide cap really bounds what a public app can spend.
    daily_token_cap: int = 2_000_000
    # Sent as `max_tokens` on every request the operator pays for, so a reply's cost is bounded before it
    # starts and the daily cap can reserve it (0: the model's own maximum).
    max_output_tokens: int = 4_096
    # Attached images kept per conversation (after shrinking), whoever pays: they cost the operator's disk.
    max_image_bytes_per_conversation: int = 20 * 2**20

    @classmethod
    def from_config(cls, secrets: Mapping[str, object], environ: Mapping[str, str]) -> "Limits":
        """Each limit as `qwenchat.settings` reads it (a bad value: the default, logged)."""
        return cls(**{f.name: read(SETTING_NAMES[f.name], secrets, environ) for f in fields(cls)})


def too_long(text: str, limits: Limits) -> "QuotaProblem | None":
    """The per-message length limit alone: the one limit that applies with a visitor's own key too."""
    n, cap = len(text), limits.max_chars_per_message
    if cap and n > cap:
        return QuotaProblem("too_long", "quota.too_long", {"chars": n, "limit": cap})
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
        return too_long(text, limits) or self.check_request(limits, upcoming_tokens=upcoming_tokens)

    def check_request(self, limits: Limits, *, upcoming_tokens: int = 0,
                      counts_as_message: bool = True) -> QuotaProblem | None:
        """Whether one more request of `upcoming_tokens` fits this session's limits."""
        cap = limits.max_messages_per_session
        if counts_as_message and cap and self.messages >= cap:
            return QuotaProblem("messages", "quota.messages", {"limit": cap})
        cap = limits.max_tokens_per_session
        if cap and (self.tokens >= cap or self.tokens + max(0, upcoming_tokens) > cap):
            left = max(0, cap - self.tokens)
            if left == 0:
                return QuotaProblem("session_tokens", "quota.session_tokens_spent", {"limit": cap})
            return QuotaProblem("session_tokens", "quota.session_tokens_request",
                                {"needed": upcoming_tokens, "left": left, "limit": cap})
        return None

    def record(self, total_tokens: int, *, messages: int = 1) -> None:
        """Count one request to the model and its tokens (`messages=0` for tokens alone, e.g. a judge's)."""
        self.messages += max(0, int(messages))
        self.tokens += max(0, int(total_tokens or 0))


@dataclass
class Reservation:
    """Tokens set aside for one request before it is sent, settled with what it really used."""

    tokens: int
    day: date | None = None
    settled: bool = False


class DailyCounter:
    """Tokens used today by this server process. One instance per process (`st.cache_resource`).

    A request first `reserve`s its prompt plus its maximum output, atomically against the cap, so that
    replies in flight at the same moment cannot together overshoot it; `settle` then replaces the
    reservation with the tokens really used."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self._clock = clock
        self._lock = threading.Lock()
        self._day: date | None = None
        self._tokens = 0
        self._reserved = 0

    def _today(self) -> date:  # call with the lock held
        day = datetime.fromtimestamp(self._clock()).date()  # local time: "today" is the operator's day
        if day != self._day:
            self._day, self._tokens, self._reserved = day, 0, 0
        return day

    def used(self) -> int:
        """Tokens spent today, counting those reserved by requests still in flight."""
        with self._lock:
            self._today()
            return self._tokens + self._reserved

    def add(self, tokens: int) -> int:
        """Count `tokens` and return today's total."""
        with self._lock:
            self._today()
            self._tokens += max(0, int(tokens or 0))
            return self._tokens + self._reserved

    def reserve(self, cap: int, tokens: int) -> "Reservation | QuotaProblem":
        """Set `tokens` aside if today's use plus every reservation plus them stays within `cap` (0: no cap)."""
        tokens = max(0, int(tokens or 0))
        with self._lock:
            day = self._today()
            used = self._tokens + self._reserved
            if cap and (used >= cap or used + tokens > cap):
                return _daily_problem(cap, used, tokens)
            self._reserved += tokens
            return Reservation(tokens, day)

    def settle(self, reservation: Reservation, tokens: int) -> None:
        """Replace a reservation by the tokens really used (once; a second call does nothing)."""
        with self._lock:
            if reservation.settled:
                return
            reservation.settled = True
            if self._today() == reservation.day:
                self._reserved = max(0, self._reserved - reservation.tokens)
            self._tokens += max(0, int(tokens or 0))

    def check(self, cap: int, upcoming_tokens: int = 0) -> QuotaProblem | None:
        """None while today's use (plus the request about to go) stays within `cap` (0: no cap). A check
        alone reserves nothing: requests use `reserve`."""
        used = self.used()
        if not cap or (used < cap and used + max(0, upcoming_tokens) <= cap):
            return None
        return _daily_problem(cap, used, upcoming_tokens)


def _daily_problem(cap: int, used: int, upcoming_tokens: int) -> QuotaProblem:
    if used < cap:
        return QuotaProblem("daily_tokens", "quota.daily_request",
                            {"needed": upcoming_tokens, "used": used, "limit": cap})
    return QuotaProblem("daily_tokens", "quota.daily_spent", {"used": used, "limit": cap})


@dataclass(frozen=True)
class UsageRow:
    id: str  # the catalog id of its label
    used: int
    limit: int  # 0: no limit

    def label(self, lang: str = DEFAULT_LANG) -> str:
        return t(self.id, lang)


def usage_rows(limits: Limits, session: SessionQuota, daily: DailyCounter | None = None) -> list[UsageRow]:
    """What the sidebar shows: how much of each limit is used. The daily row appears only with a cap."""
    rows = [UsageRow("quota.row.messages", session.messages, limits.max_messages_per_session),
            UsageRow("quota.row.session_tokens", session.tokens, limits.max_tokens_per_session)]
    if daily is not None and limits.daily_token_cap:
        rows.append(UsageRow("quota.row.daily_tokens", daily.used(), limits.daily_token_cap))
    return rows
