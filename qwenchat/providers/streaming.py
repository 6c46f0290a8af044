"""Reading a streamed reply in a background thread, so the caller is never stuck in a socket read.

`background_events(produce, ...)` runs `produce(put, stop)` in a thread; `produce` puts lists of events
(one list per network read, so a fast stream costs one queue hand-over per read, not per chunk). The
iterator it returns yields those events, a `Heartbeat()` whenever nothing arrived for `heartbeat_s`, and
`Failed(deadline)` once `deadline_s` has passed since the start, keeping what arrived before. When the
consumer stops early (closes the generator, or a `BaseException` such as Streamlit's stop passes through
it), `abort(thread_id)` shuts the connection and the thread ends on its own within moments.

`SSEParser` turns raw bytes into the data of each server-sent event; `ChunkReader` turns each chunk of an
OpenAI-style stream into events, defensively (no choices, `content: null`, usage-only chunks, error
frames, throttling frames with no `error` key).
"""

from __future__ import annotations

import json
import queue
import threading
import time
from typing import Any, Callable, Iterator

from qwenchat import errors
from qwenchat.providers.base import (
    Event,
    Failed,
    Finished,
    Heartbeat,
    ReasoningDelta,
    TextDelta,
    UsageReport,
    frame_failure,
    usage_from,
)

HEARTBEAT_S = 0.3
_END = object()

Put = Callable[[list[Event]], None]


def background_events(produce: Callable[[Put, threading.Event], None], *, deadline_s: float | None,
                      abort: Callable[[int | None], None], release: Callable[[int | None], None],
                      heartbeat_s: float = HEARTBEAT_S) -> Iterator[Event]:
    items: queue.SimpleQueue[Any] = queue.SimpleQueue()
    stop = threading.Event()

    def run() -> None:
        try:
            produce(items.put, stop)
        except BaseException as exc:  # noqa: BLE001 - the thread must always say it ended
            if not stop.is_set():
                items.put([Failed(errors.ChatError(errors.UNKNOWN))])
            if not isinstance(exc, Exception):
                raise
        finally:
            release(threading.get_ident())
            items.put(_END)

    thread = threading.Thread(target=run, name="qwenchat-reply-reader", daemon=True)
    deadline = time.monotonic() + deadline_s if deadline_s and deadline_s > 0 else None
    ended = False
    thread.start()
    try:
        while True:
            wait = heartbeat_s
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    yield Failed(errors.ChatError(errors.DEADLINE))
                    return
                wait = min(wait, left)
            try:
                item = items.get(timeout=wait)
            except queue.Empty:
                if deadline is None or time.monotonic() < deadline:
                    yield Heartbeat()
                continue
            if item is _END:
                ended = True
                return
            yield from item
    finally:
        stop.set()
        if not ended:
            abort(thread.ident)


class SSEParser:
    """Bytes in, the data of each complete server-sent event out (`data:` lines joined by newlines;
    comments such as `: keepalive` and other fields ignored)."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[bytes]:
        buffer = self._buffer + data if self._buffer else data
        if b"\r" in buffer:  # CRLF or CR line ends; a CR at the very end may be half of a CRLF
            tail = b"\r" if buffer.endswith(b"\r") else b""
            buffer = (buffer[:-1] if tail else buffer).replace(b"\r\n", b"\n").replace(b"\r", b"\n") + tail
        if b"\n\n" not in buffer:
            self._buffer = buffer
            return []
        *blocks, self._buffer = buffer.split(b"\n\n")
        out = []
        for block in blocks:
            if block.startswith(b"data: ") and b"\n" not in block:  # the usual case: one data line
                out.append(block[6:])
                continue
            parts = [line[6:] if line.startswith(b"data: ") else line[5:]
                     for line in block.split(b"\n") if line.startswith(b"data:")]
            if parts:
                out.append(b"\n".join(parts))
        return out

    def close(self) -> list[bytes]:
        """Whatever complete-looking event is left when the body ends without a blank line."""
        rest, self._buffer = self._buffer, b""
        return self.feed(rest + b"\n\n") if rest.strip() else []


class ChunkReader:
    """The events of each JSON chunk, and the state needed to end the stream with the right event."""

    def __init__(self) -> None:
        self.received = False  # text or reasoning arrived: a later drop is an interruption
        self.finish_reason = ""
        self.done = False      # `[DONE]` arrived

    def events(self, payloads: list[bytes], out: list[Event]) -> Failed | None:
        """Append the events of these payloads to `out`; a failure frame ends the stream and is returned."""
        for payload in payloads:
            if payload == b"[DONE]":
                self.done = True
                return None
            try:
                chunk = json.loads(payload)
            except ValueError:
                continue
            if not isinstance(chunk, dict):
                continue
            if chunk.get("usage"):
                usage = usage_from(chunk["usage"])
                if usage:
                    out.append(UsageReport(usage))
            choices = chunk.get("choices")
            if not choices or not isinstance(choices, list):
                failure = frame_failure(chunk, self.received)
                if failure:
                    return failure
                continue
            choice = choices[0] if isinstance(choices[0], dict) else {}
            delta = choice.get("delta") or {}
            if isinstance(delta, dict):
                reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                if reasoning and isinstance(reasoning, str):
                    self.received = True
                    out.append(ReasoningDelta(reasoning))
                content = delta.get("content")
                if content and isinstance(content, str):
                    self.received = True
                    out.append(TextDelta(content))
            if choice.get("finish_reason"):
                self.finish_reason = str(choice["finish_reason"])
        return None

    def ending(self) -> Event:
        """The last event of a body that ended normally."""
        if self.finish_reason:
            return Finished(self.finish_reason)
        if self.done:  # `[DONE]` without a finish reason: some local servers leave it out
            return Finished("stop")
        # The body ended without a finish reason or `[DONE]`: the server or a proxy cut the answer short.
        return Failed(errors.ChatError(errors.INTERRUPTED if self.received else errors.CONNECTION))
