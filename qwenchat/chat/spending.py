"""Who pays for a request, and the limits every paid request passes, whatever started it.

A request on the operator's key (from secrets or the environment, or an operator's local server) passes
the app's limits: the per-message length, requests and tokens per browser session, and the server's daily
cap. A visitor's own key (typed on the Settings page) pays for itself: only the length limit applies.

Every request, a new message, a retry, a regenerate, an edit, the end-of-conversation judge, reserves
its real prompt plus the most it may write before it is sent, and settles with what it used afterwards.
`max_output` is therefore always sent as `max_tokens` on the operator's key: without it, a reply's cost
would be unbounded and no cap could be kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qwenchat.quotas import DailyCounter, Limits, QuotaProblem, Reservation, SessionQuota, too_long


@dataclass
class Hold:
    """What one request set aside: nothing when the visitor pays."""

    tokens: int
    counts_as_message: bool
    daily: Reservation | None = None
    settled: bool = field(default=False)


@dataclass
class Spending:
    limits: Limits
    quota: SessionQuota
    daily: DailyCounter
    operator_pays: bool

    def check_text(self, text: str) -> QuotaProblem | None:
        """The length limit: the one limit that applies with a visitor's own key too."""
        return too_long(text, self.limits)

    def max_output(self, model_max_output: int, wanted: int | None = None) -> int | None:
        """The `max_tokens` to send: the user's wish within the app's cap on the operator's key, where it
        is always set (a cap of 0 means the model's own maximum, still sent and reserved)."""
        if self.operator_pays:
            return min(n for n in (wanted, self.limits.max_output_tokens or model_max_output, model_max_output) if n)
        return min(wanted, model_max_output) if wanted else None

    def reserve(self, prompt_tokens: int, max_output: int, *, counts_as_message: bool = True) -> Hold | QuotaProblem:
        """Check and set aside `prompt_tokens + max_output` for one request; a problem when a limit says no."""
        tokens = max(0, int(prompt_tokens)) + max(0, int(max_output))
        if not self.operator_pays:
            return Hold(tokens, counts_as_message)
        problem = self.quota.check_request(self.limits, upcoming_tokens=tokens, counts_as_message=counts_as_message)
        if problem:
            return problem
        reserved = self.daily.reserve(self.limits.daily_token_cap, tokens)
        if isinstance(reserved, QuotaProblem):
            return reserved
        return Hold(tokens, counts_as_message, reserved)

    def settle(self, hold: Hold, used_tokens: int) -> None:
        """Count what the request really used (once)."""
        if hold.settled:
            return
        hold.settled = True
        if not self.operator_pays:
            return
        self.quota.record(used_tokens, messages=1 if hold.counts_as_message else 0)
        if hold.daily is not None:
            self.daily.settle(hold.daily, used_tokens)
