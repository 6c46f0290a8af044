"""The conversation model: messages, their status, their usage, and what is sent to the API.

A `Conversation` is plain data that lives in `st.session_state` (one per browser session) and is saved
by the store. The chat view appends to it while a reply streams, so a stop or a rerun keeps what was
already received; `api_messages()` decides what goes back to the model.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant. 你是一个乐于助人的助手，请用用户使用的语言回答。"

# What became of a message. A reply starts as "streaming" and ends in one of the others.
COMPLETE = "complete"
STREAMING = "streaming"
STOPPED = "stopped"          # the user pressed Stop or the page reran: partial text kept
INTERRUPTED = "interrupted"  # the connection dropped mid-stream: partial text kept
WITHDRAWN = "withdrawn"      # output moderation fired mid-stream: text hidden, never sent back
FAILED = "failed"            # the request failed before any text: the message holds the error
FAREWELL = "farewell"        # the closing answer, written without calling the model
INTERRUPTED_ERROR = "interrupted"  # = qwenchat.errors.INTERRUPTED, without importing the error module here
STATUSES = (COMPLETE, STREAMING, STOPPED, INTERRUPTED, WITHDRAWN, FAILED, FAREWELL)


def new_id() -> str:
    """128 random bits, URL-safe."""
    return secrets.token_urlsafe(16)


@dataclass
class Usage:
    """Token usage as billed by the API (or estimated locally, then `estimated` is true)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    estimated: bool = False

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.total_tokens + other.total_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
            self.cached_tokens + other.cached_tokens,
            self.estimated or other.estimated,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "Usage | None":
        if not data:
            return None
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


@dataclass
class Message:
    role: str  # "user" | "assistant"  (the system prompt lives on the Conversation)
    content: str
    status: str = COMPLETE
    reasoning: str = ""
    error: str = ""              # the error kind (see qwenchat.errors) when status is failed/interrupted/withdrawn
    model: str = ""
    usage: Usage | None = None
    id: str = field(default_factory=new_id)
    created_at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["usage"] = asdict(self.usage) if self.usage else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Message":
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        known["usage"] = Usage.from_dict(data.get("usage"))
        return cls(**known)

    @property
    def sendable(self) -> bool:
        """Whether this message goes back to the model in later requests."""
        if self.role == "user":
            return True
        return self.status in (COMPLETE, STOPPED, INTERRUPTED, FAREWELL) and bool(self.content)


@dataclass
class Conversation:
    model: str = "qwen-plus"
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    messages: list[Message] = field(default_factory=list)
    title: str = ""
    closed: bool = False
    id: str = field(default_factory=new_id)
    created_at: float = field(default_factory=time.time)
    # The id of the oldest message the last request carried, when the context budget left older ones out.
    context_start: str = field(default="", compare=False)

    def add_user(self, text: str) -> Message:
        message = Message("user", text)
        self.messages.append(message)
        if not self.title:
            self.title = title_from(text)
        return message

    def start_reply(self, model: str) -> Message:
        message = Message("assistant", "", status=STREAMING, model=model)
        self.messages.append(message)
        return message

    def recover(self) -> None:
        """A reply saved mid-stream by a process that then died is interrupted, not still streaming."""
        for message in self.messages:
            if message.status == STREAMING:
                message.status = INTERRUPTED if message.content or message.reasoning else FAILED
                message.error = INTERRUPTED_ERROR

    def close_with(self, farewell: str) -> Message:
        """End the conversation with a farewell written without calling the model."""
        message = Message("assistant", farewell, status=FAREWELL)
        self.messages.append(message)
        self.closed = True
        return message

    def api_messages(self) -> list[dict[str, str]]:
        """Role and content only, system prompt first. Reasoning, failed and withdrawn replies stay out.

        Two user turns in a row (the first one's reply failed) are sent as they are: the model copes,
        and dropping the user's words would lose them.
        """
        sent: list[dict[str, str]] = []
        if self.system_prompt.strip():
            sent.append({"role": "system", "content": self.system_prompt})
        sent.extend({"role": m.role, "content": m.content} for m in self.sendable_messages())
        return sent

    def sendable_messages(self) -> list[Message]:
        return [m for m in self.messages if m.sendable]

    def mark_context_start(self, dropped: int) -> None:
        """Remember where the sent context began after the budget left `dropped` old messages out."""
        sendable = self.sendable_messages()
        self.context_start = sendable[dropped].id if 0 < dropped < len(sendable) else ""

    def last_user_message(self) -> Message | None:
        for message in reversed(self.messages):
            if message.role == "user":
                return message
        return None

    def history_dicts(self) -> list[dict[str, str]]:
        """Role and content of every user turn and shown reply, for the end-of-conversation detector."""
        return [{"role": m.role, "content": m.content} for m in self.messages if m.status != FAILED]

    def total_usage(self) -> Usage:
        total = Usage()
        for message in self.messages:
            if message.usage:
                total = total + message.usage
        return total

    def last_usage(self) -> Usage | None:
        for message in reversed(self.messages):
            if message.role == "assistant" and message.usage:
                return message.usage
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "model": self.model,
            "system_prompt": self.system_prompt,
            "closed": self.closed,
            "created_at": self.created_at,
            "messages": [m.to_dict() for m in self.messages],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Conversation":
        return cls(
            id=data.get("id") or new_id(),
            title=data.get("title", ""),
            model=data.get("model", "qwen-plus"),
            system_prompt=data.get("system_prompt", DEFAULT_SYSTEM_PROMPT),
            closed=bool(data.get("closed", False)),
            created_at=data.get("created_at", time.time()),
            messages=[Message.from_dict(m) for m in data.get("messages", [])],
        )


def title_from(text: str, limit: int = 40) -> str:
    """A one-line title from the first user message."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
