"""Recording a streamed reply into its message as events arrive.

The chat view feeds every event to a `ReplyRecorder` and calls `flush()` at each batch, so the message in
session state always holds what was received. If the run is cut short (Stop, a rerun, a crash), the
caller's `finally` calls `finish()`, which keeps the text and marks it stopped.

A reply that calls tools is several requests (rounds) written into one message: `begin_round()` opens the
next one, the usage reported by each round adds up in `message.usage`, and `round_usage` is the current
round's own (for settling that round's reservation).
"""

from __future__ import annotations

from qwenchat import errors
from qwenchat.client import (
    Event,
    Failed,
    Finished,
    ReasoningDelta,
    TextDelta,
    UsageReport,
)
from qwenchat.conversation import (
    COMPLETE,
    FAILED,
    INTERRUPTED,
    STOPPED,
    STREAMING,
    WITHDRAWN,
    Message,
    Usage,
)
from qwenchat.tokens import count_completion, count_prompt


class ReplyRecorder:
    def __init__(self, message: Message):
        self.message = message
        self._text: list[str] = [message.content] if message.content else []
        self._reasoning: list[str] = [message.reasoning] if message.reasoning else []
        self.error: errors.ChatError | None = None
        self.finish_reason = ""
        self.earlier: Usage | None = message.usage  # what the rounds before this one used
        self.round_usage: Usage | None = None

    @property
    def done(self) -> bool:
        return self.message.status != STREAMING

    def feed(self, event: Event) -> None:
        match event:
            case TextDelta(text):
                self._text.append(text)
            case ReasoningDelta(text):
                self._reasoning.append(text)
            case UsageReport(usage):
                self.round_usage = usage
                self.message.usage = self.earlier + usage if self.earlier else usage
            case Finished(reason):
                self.finish_reason = reason
                self.flush()
                self.message.status = COMPLETE
            case Failed(error):
                self.error = error
                self.flush()
                self.message.error = error.kind
                if error.kind == errors.OUTPUT_MODERATION:
                    self.message.status = WITHDRAWN
                elif self.message.content or self.message.reasoning:
                    self.message.status = INTERRUPTED
                else:
                    self.message.status = FAILED

    def begin_round(self) -> None:
        """The next request of the same reply (after its tool calls ran): streaming again, usage adding up."""
        self.flush()
        self.earlier = self.message.usage
        self.round_usage = None
        self.finish_reason = ""
        self.error = None
        self.message.status = STREAMING
        self.message.error = ""

    def add_round_usage(self, usage: Usage) -> None:
        """A round that ended without the API's usage: count the local estimate instead."""
        self.round_usage = usage
        self.message.usage = self.earlier + usage if self.earlier else usage

    def flush(self) -> None:
        """Join what arrived since the last flush into the message (cheap: joins happen per batch)."""
        if len(self._text) > 1:
            self._text = ["".join(self._text)]
        if len(self._reasoning) > 1:
            self._reasoning = ["".join(self._reasoning)]
        self.message.content = self._text[0] if self._text else ""
        self.message.reasoning = self._reasoning[0] if self._reasoning else ""

    def finish(self) -> None:
        """Called in a `finally`: whatever happened, the message ends in a final status."""
        self.flush()
        if self.message.status == STREAMING:
            self.message.status = STOPPED


def estimated_usage(sent: list[dict], message: Message) -> Usage:
    """A local count of what was sent and received, for a reply whose stream ended without the API's usage
    (a stop or a cut). Marked estimated: the API's own count is the bill."""
    prompt = count_prompt(sent, message.model)
    reasoning = count_completion(message.reasoning, message.model) if message.reasoning else 0
    completion = count_completion(message.content, message.model) + reasoning
    return Usage(prompt, completion, prompt + completion, reasoning_tokens=reasoning, estimated=True)
