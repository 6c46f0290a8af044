"""Reading a streamed reply in a background thread, so the caller is never stuck in a socket read.

`background_events(produce, ...)` runs `produce(put, stop)` in a thread; `produce` puts lists of events
and the consumer takes whatever has gathered in one go (see `_Mailbox`: no thread switch per chunk). The
iterator it returns yields those events, a `Heartbeat()` whenever nothing arrived for `heartbeat_s`, and
`Failed(deadline)` once `deadline_s` has passed since the start, keeping what arrived before. When the
consumer stops early (closes the generator, or a `BaseException` such as Streamlit's stop passes through
it), `abort(thread_id)` shuts the connection and the thread ends on its own within moments.

`SSEParser` turns raw bytes into the data of each server-sent event; `ChunkReader` turns each chunk of an
OpenAI-style stream into events, defensively (no choices, `content: null`, usage-only chunks, error
frames, throttling frames with no `error` key).
"""

from __future__ import annotations

import collections
import json
import threading
import time
from typing import Callable, Iterator

from qwenchat import errors
from qwenchat.providers.base import (
    Event,
    Failed,
    Finished,
    Heartbeat,
    ReasoningDelta,
    TextDelta,
    ToolCallsReady,
    UsageReport,
    frame_failure,
    usage_from,
)
from qwenchat.providers.tool_calls import ToolCallAssembler
from qwenchat.sanitize import without_lone_surrogates

HEARTBEAT_S = 0.3
POLL_S = 0.02        # the consumer looks for waiting events at least this often
NOTIFY_EVERY = 64    # ... and is woken at once when this many are waiting

Put = Callable[[list[Event]], None]


class _Mailbox:
    """Events handed from the reader thread to the consumer in batches.

    A fast stream arrives one HTTP chunk (one event) per read; waking the consumer for each would cost a
    thread switch per chunk. So the reader only appends to a deque (atomic, no lock) and wakes the consumer
    when many events wait or when it has not done so for `POLL_S` (a slow stream loses no time); the
    consumer also looks every `POLL_S` by itself.
    """

    def __init__(self) -> None:
        self._events: collections.deque[Event] = collections.deque()
        self._wake = threading.Event()
        self._woken = 0.0
        self.ended = False

    def put(self, events: list[Event]) -> None:
        self._events.extend(events)
        now = time.monotonic()
        if now - self._woken >= POLL_S or len(self._events) >= NOTIFY_EVERY:
            self._woken = now
            self._wake.set()

    def end(self) -> None:
        self.ended = True
        self._wake.set()

    def take(self, timeout: float) -> tuple[list[Event], bool]:
        """(the events waiting, whether the reader has ended), after waiting at most `timeout`."""
        if not self._events and not self.ended:
            self._wake.wait(timeout)
            self._wake.clear()
        ended = self.ended  # read before draining: once it is true, every event is already queued
        pop = self._events.popleft
        return [pop() for _ in range(len(self._events))], ended


def background_events(produce: Callable[[Put, threading.Event], None], *, deadline_s: float | None,
                      begin: Callable[[int], None], abort: Callable[[int | None], None],
                      release: Callable[[int | None], None], heartbeat_s: float = HEARTBEAT_S) -> Iterator[Event]:
    mailbox = _Mailbox()
    stop = threading.Event()

    def run() -> None:
        try:
            begin(threading.get_ident())
            if not stop.is_set():  # the consumer may have left before this thread got to run
                produce(mailbox.put, stop)
        except BaseException as exc:  # noqa: BLE001 - the thread must always say it ended
            if not stop.is_set():
                mailbox.put([Failed(errors.ChatError(errors.UNKNOWN))])
            if not isinstance(exc, Exception):
                raise
        finally:
            release(threading.get_ident())
            mailbox.end()

    thread = threading.Thread(target=run, name="qwenchat-reply-reader", daemon=True)
    now = time.monotonic()
    deadline = now + deadline_s if deadline_s and deadline_s > 0 else None
    last_news = now
    ended = False
    thread.start()
    try:
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                yield Failed(errors.ChatError(errors.DEADLINE))
                return
            events, ended = mailbox.take(POLL_S if deadline is None else min(POLL_S, deadline - now))
            if events:
                last_news = time.monotonic()
                yield from events
            elif ended:
                return
            elif time.monotonic() - last_news >= heartbeat_s:
                last_news = time.monotonic()
                yield Heartbeat()
    finally:
        stop.set()
        if not ended:
            abort(thread.ident)


class EventTooLarge(ValueError):
    """One server-sent event grew past `MAX_EVENT_BYTES` without ending: the stream is refused."""


MAX_EVENT_BYTES = 1 << 20  # a chunk of a chat reply is a few hundred bytes; a tool call's arguments a few KB


class SSEParser:
    """Bytes in, the data of each complete server-sent event out (`data:` lines joined by newlines;
    comments such as `: keepalive` and other fields ignored). Linear in what arrives: an event that never
    ends costs one look at each new read, and past `MAX_EVENT_BYTES` it raises `EventTooLarge`."""

    def __init__(self) -> None:
        self._pending: list[bytes] = []  # the unfinished event, in reads
        self._size = 0
        self._last = b""  # the pending event's last byte, to see a blank line split across reads
        self._cr = False  # the previous read ended with CR, maybe half of a CRLF

    def feed(self, data: bytes) -> list[bytes]:
        if not self._pending and not self._cr and data[:6] == b"data: " and data.find(b"\n") == len(data) - 2 \
                and data[-2:] == b"\n\n" and b"\r" not in data:
            return [data[6:-2]]  # the usual read of a fast stream: exactly one one-line event
        if self._cr:
            data, self._cr = b"\r" + data, False
        if b"\r" in data:  # CRLF or CR line ends
            if data.endswith(b"\r"):
                data, self._cr = data[:-1], True
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if b"\n\n" not in self._last + data[:1] and b"\n\n" not in data:
            if data:
                self._pending.append(data)
                self._size += len(data)
                self._last = data[-1:]
            if self._size > MAX_EVENT_BYTES:
                raise EventTooLarge(self._size)
            return []
        buffer = b"".join([*self._pending, data])
        *blocks, rest = buffer.split(b"\n\n")
        self._pending, self._size, self._last = ([rest] if rest else []), len(rest), rest[-1:]
        if self._size > MAX_EVENT_BYTES:
            raise EventTooLarge(self._size)
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
        rest = b"".join(self._pending) + (b"\n" if self._cr else b"")
        self._pending, self._size, self._last, self._cr = [], 0, b"", False
        return self.feed(rest + b"\n\n") if rest.strip() else []


class ChunkReader:
    """The events of each JSON chunk, and the state needed to end the stream with the right event."""

    def __init__(self) -> None:
        self.received = False  # text or reasoning arrived: a later drop is an interruption
        self.finish_reason = ""
        self.done = False      # `[DONE]` arrived
        self.tool_calls = ToolCallAssembler()
        self.calls_sent = False  # the assembled calls went out in a `ToolCallsReady`

    def events(self, payloads: list[bytes], out: list[Event]) -> Failed | None:
        """Append the events of these payloads to `out`; a failure frame ends the stream and is returned.
        This runs once per chunk of a long reply: keep it lean (exact type checks, one `get` per field)."""
        loads = json.loads
        for payload in payloads:
            if payload == b"[DONE]":
                self.done = True
                self._release_calls(out)  # calls of a server that sent no finish reason
                return None
            try:
                chunk = loads(payload.decode())  # str, not bytes: json skips its encoding sniffing
            except ValueError:  # not JSON, or not UTF-8
                continue
            if type(chunk) is not dict:
                continue
            if chunk.get("usage"):
                usage = usage_from(chunk["usage"])
                if usage:
                    out.append(UsageReport(usage))
            choices = chunk.get("choices")
            if not choices or type(choices) is not list:
                failure = frame_failure(chunk, self.received)
                if failure:
                    return failure
                continue
            choice = choices[0]
            if type(choice) is not dict:
                continue
            delta = choice.get("delta")
            if delta and type(delta) is dict:
                reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                if reasoning and type(reasoning) is str:
                    self.received = True
                    out.append(ReasoningDelta(without_lone_surrogates(reasoning)))
                content = delta.get("content")
                if content and type(content) is str:
                    self.received = True
                    out.append(TextDelta(without_lone_surrogates(content)))
                pieces = delta.get("tool_calls")
                if pieces:
                    self.received = True
                    self.tool_calls.feed(pieces)
            finish = choice.get("finish_reason")
            if finish:
                self.finish_reason = str(finish)
                self._release_calls(out)
        return None

    def _release_calls(self, out: list[Event]) -> None:
        """The calls are complete once the choice finishes: `tool_calls` as DashScope says, or `stop` as some
        local servers say. A reply cut at `length` or by a filter leaves its calls unfinished: none go out."""
        if self.tool_calls and not self.calls_sent and self.finish_reason not in ("length", "content_filter"):
            self.calls_sent = True
            out.append(ToolCallsReady(self.tool_calls.calls()))

    def ending(self) -> Event:
        """The last event of a body that ended normally."""
        if self.finish_reason:
            return Finished(self.finish_reason)
        if self.done:  # `[DONE]` without a finish reason: some local servers leave it out
            return Finished("tool_calls" if self.calls_sent else "stop")
        # The body ended without a finish reason or `[DONE]`: the server or a proxy cut the answer short.
        return Failed(errors.ChatError(errors.INTERRUPTED if self.received else errors.CONNECTION))
