"""Imports: how much a visitor may import and how often, and the one function that checks and saves.

An import costs the operator disk and nothing else stops it, so every import is capped:

- the file: `QWENCHAT_MAX_IMPORT_BYTES` (2 MB by default), checked before parsing;
- the visitor: `QWENCHAT_MAX_CONVERSATIONS_PER_OWNER` conversations (500), imported or not;
- the server: `QWENCHAT_MAX_STORE_BYTES` in the store in total (1 GB);
- the pace: at most 5 imports a minute per owner and 30 per server (`ImportRateLimiter`, one per process).

Every refusal is an `ImportRefused` (an `InvalidImport`) whose reason, a catalog id, states the limit.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Mapping

from qwenchat.conversation import Conversation
from qwenchat.settings import read
from qwenchat.store import ConversationStore
from qwenchat.transfer import MAX_BYTES, InvalidImport, format_bytes, from_json_with_images

MAX_IMPORT_BYTES_NAME = "QWENCHAT_MAX_IMPORT_BYTES"
MAX_CONVERSATIONS_NAME = "QWENCHAT_MAX_CONVERSATIONS_PER_OWNER"
MAX_STORE_BYTES_NAME = "QWENCHAT_MAX_STORE_BYTES"


class ImportRefused(InvalidImport):
    """The file may be fine, but a limit refuses it now."""


@dataclass(frozen=True)
class ImportLimits:
    max_import_bytes: int = MAX_BYTES
    max_conversations_per_owner: int = 500
    max_store_bytes: int = 2**30

    @classmethod
    def from_config(cls, secrets: Mapping[str, object], environ: Mapping[str, str]) -> "ImportLimits":
        """Each limit from secrets, else the environment, through the one settings table (a value that is
        not a positive whole number keeps the default)."""
        return cls(read(MAX_IMPORT_BYTES_NAME, secrets, environ), read(MAX_CONVERSATIONS_NAME, secrets, environ),
                   read(MAX_STORE_BYTES_NAME, secrets, environ))


class ImportRateLimiter:
    """At most `per_owner` imports per owner and `per_server` in all within any `window` seconds.

    Thread-safe: one instance is shared by every session of the server. `clock` is monotonic seconds.
    """

    def __init__(self, per_owner: int = 5, per_server: int = 30, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        self.per_owner, self.per_server, self.window, self._clock = per_owner, per_server, window, clock
        self._lock = threading.Lock()
        self._all: deque[float] = deque()
        self._by_owner: dict[str, deque[float]] = {}

    def acquire(self, owner: str) -> None:
        """Count one import for `owner`, or raise ImportRefused (and count nothing) when over a limit."""
        with self._lock:
            now = self._clock()
            self._forget(self._all, now)
            for key in [k for k, times in self._by_owner.items() if not self._forget(times, now)]:
                del self._by_owner[key]
            mine = self._by_owner.get(owner, deque())
            if len(mine) >= self.per_owner:
                raise ImportRefused("import.too_often", limit=self.per_owner)
            if len(self._all) >= self.per_server:
                raise ImportRefused("import.server_too_often", limit=self.per_server)
            mine.append(now)
            self._by_owner[owner] = mine
            self._all.append(now)

    def _forget(self, times: deque[float], now: float) -> int:
        while times and times[0] <= now - self.window:
            times.popleft()
        return len(times)


def import_conversation(store: ConversationStore, owner: str, data: bytes | str, limits: ImportLimits,
                        limiter: ImportRateLimiter) -> Conversation:
    """Check the pace, the file and the room left, then save the file as a new conversation of `owner`.

    Raises ImportRefused for a limit, InvalidImport for a bad file, and whatever the store raises
    (StoreUnavailable). Nothing is saved unless every check passes. Every attempt counts towards the
    pace, a bad file included: parsing one costs the server as much as a good one.
    """
    limiter.acquire(owner)
    conversation, images = from_json_with_images(data, max_bytes=limits.max_import_bytes)
    if store.count_conversations(owner) >= limits.max_conversations_per_owner:
        raise ImportRefused("import.too_many_conversations", limit=limits.max_conversations_per_owner)
    size = len(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    if store.stored_bytes() + size > limits.max_store_bytes:
        raise ImportRefused("import.storage_full", limit=format_bytes(limits.max_store_bytes))
    store.save_images(owner, images)  # first: the messages that show them link to them as they are saved
    store.save_conversation(owner, conversation)
    return conversation
