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
from dataclasses import dataclass
from typing import Mapping

from qwenchat.config import KEY_NAME, TRUE, setting

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
    zh: str = ""
    en: str = ""

    def message(self) -> str:
        return f"{self.zh}\n\n{self.en}" if self.zh else ""


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
            return AccessResult(False, 0, self._tries_left(), "请输入访问码。", "Enter the access code.")
        # compare_digest takes time independent of where the bytes differ; "surrogatepass" lets any
        # str encode, so a pasted lone surrogate is just a wrong code.
        if hmac.compare_digest(typed.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")):
            self.unlocked, self.failures, self.locked_until = True, 0, 0.0
            return _OPEN
        self.failures += 1
        if self.failures < FREE_TRIES:
            left = self._tries_left()
            return AccessResult(False, 0, left, f"访问码不正确。再错 {left} 次后需要等待才能再试。",
                                f"Wrong access code. {left} more wrong tries and you will have to "
                                "wait before trying again.")
        wait = min(2 ** (self.failures - FREE_TRIES), MAX_WAIT_SECONDS)
        self.locked_until = now + wait
        return _waiting(wait, wrong=True)

    def _tries_left(self) -> int:
        return max(0, FREE_TRIES - self.failures)


def _waiting(seconds: int, wrong: bool = False) -> AccessResult:
    zh = ("访问码不正确。" if wrong else "尝试次数过多。") + f"请 {seconds} 秒后再试。"
    en = ("Wrong access code. " if wrong else "Too many wrong tries. ") + f"Try again in {seconds} s."
    return AccessResult(False, seconds, 0, zh, en)
