"""Who may use a shared app: the access code gate, and bring-your-own-key mode.

`APP_ACCESS_CODE` (secrets first, then the environment; empty: no gate) is a code the operator hands out.
An `AccessGate` lives in one browser session's state. It compares in constant time, counts wrong tries
and, after `FREE_TRIES` of them, makes the session wait 2^(n-5) seconds (capped) before the next try.
It keeps only counters and a flag: never the code that was typed, nor the expected one.

The wait is per session, and a reload starts a new session: it slows a person guessing by hand, not a
script. What stops a script is a code too long to guess: use a random one (see SECURITY.md).

`QWENCHAT_BYOK=1` (bring your own key): every visitor must type their own DashScope key and the
operator's key, even if configured, is never used. `for_resolve` removes it from what
`config.resolve` sees.
"""

from __future__ import annotations

import hmac
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from qwenchat.config import KEY_NAME, TRUE, setting
from qwenchat.i18n import DEFAULT_LANG, t

ACCESS_CODE_NAME = "APP_ACCESS_CODE"
BYOK_NAME = "QWENCHAT_BYOK"
FREE_TRIES = 5
MAX_WAIT_SECONDS = 300


def access_code(secrets: Mapping[str, object], environ: Mapping[str, str]) -> str:
    """The code a visitor must type, or "" when the app has no gate."""
    return setting(ACCESS_CODE_NAME, secrets, environ)


def byok_mode(secrets: Mapping[str, object], environ: Mapping[str, str]) -> bool:
    """Whether every visitor must bring their own key (the operator's key is never used)."""
    return setting(BYOK_NAME, secrets, environ).lower() in TRUE


def for_resolve(secrets: Mapping[str, object], environ: Mapping[str, str]
                ) -> tuple[dict[str, object], dict[str, str]]:
    """Copies of the two mappings to hand to `config.resolve`: in BYOK mode without the operator's key."""
    secrets, environ = dict(secrets), dict(environ)
    if byok_mode(secrets, environ):
        secrets.pop(KEY_NAME, None)
        environ.pop(KEY_NAME, None)
    return secrets, environ


@dataclass(frozen=True)
class AccessResult:
    ok: bool
    wait_seconds: int = 0           # > 0: refused without comparing; try again after this long
    tries_left_before_wait: int = FREE_TRIES
    id: str = ""  # the catalog id of what to tell the visitor ("" when the door opened)
    params: Mapping[str, Any] = field(default_factory=dict)

    def message(self, lang: str = DEFAULT_LANG) -> str:
        return t(self.id, lang, **self.params) if self.id else ""


_OPEN = AccessResult(True)


class AccessGate:
    """One browser session's state at the gate. Plain attributes, so it can sit in `st.session_state`."""

    def __init__(self) -> None:
        self.unlocked = False
        self.failures = 0
        self.locked_until = 0.0

    def is_open(self, expected: str) -> bool:
        """Whether the session may use the app: no code is configured, or the right one was typed."""
        return not expected or self.unlocked

    def check(self, typed: str, expected: str, now: float) -> AccessResult:
        """Try `typed` against `expected` at time `now` (seconds, e.g. `time.monotonic()`)."""
        if not expected or self.unlocked:
            self.unlocked = True
            return _OPEN
        if now < self.locked_until:
            return _waiting(math.ceil(self.locked_until - now))
        typed = (typed or "").strip()
        if not typed:
            return AccessResult(False, 0, self._tries_left(), "access.enter_code")
        # compare_digest takes time independent of where the bytes differ; "surrogatepass" lets any
        # str encode, so a pasted lone surrogate is just a wrong code.
        if hmac.compare_digest(typed.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")):
            self.unlocked, self.failures, self.locked_until = True, 0, 0.0
            return _OPEN
        self.failures += 1
        if self.failures < FREE_TRIES:
            left = self._tries_left()
            return AccessResult(False, 0, left, "access.wrong_code", {"left": left})
        wait = min(2 ** (self.failures - FREE_TRIES), MAX_WAIT_SECONDS)
        self.locked_until = now + wait
        return _waiting(wait, wrong=True)

    def _tries_left(self) -> int:
        return max(0, FREE_TRIES - self.failures)


def _waiting(seconds: int, wrong: bool = False) -> AccessResult:
    return AccessResult(False, seconds, 0, "access.wrong_wait" if wrong else "access.too_many", {"seconds": seconds})
