"""A reply's tool steps as message parts, and as the messages of the next request.

The engine records every call and every result on the assistant message as it happens (see the part
formats in `qwenchat.conversation`), so a Stop, a reload or an export keeps them; the next round's request
is the previous one plus what `round_messages` builds from the same calls and results.
"""

from __future__ import annotations

from typing import Any

from qwenchat.conversation import Message, Part
from qwenchat.providers.base import ToolCall
from qwenchat.tools.runner import ToolResult, not_run


def call_part(call: ToolCall, round_number: int, at: int) -> Part:
    return Part("tool_call", call.name, {"id": call.id, "name": call.name, "arguments": call.arguments,
                                         "round": round_number, "at": at})


def result_part(result: ToolResult, round_number: int) -> Part:
    return Part("tool_result", result.call.name, {
        "id": result.call.id, "name": result.call.name, "output": result.output, "error": result.error,
        "seconds": round(float(result.seconds), 3), "truncated": result.truncated, "round": round_number})


def notice(message_id: str, **params: Any) -> Part:
    return Part("notice", message_id, dict(params))


def unanswered(message: Message) -> list[ToolCall]:
    """The calls on `message` that have no result yet."""
    answered = {p.data.get("id") for p in message.parts if p.type == "tool_result"}
    return [ToolCall(p.data["id"], p.data.get("name", ""), p.data.get("arguments", ""))
            for p in message.parts if p.type == "tool_call" and p.data.get("id") not in answered]


def close_unanswered(message: Message, kind: str) -> None:
    """Give every call still without a result one that says why it was not run (Stop, the round limit)."""
    for call in unanswered(message):
        round_number = next((p.data.get("round", 0) for p in message.parts
                             if p.type == "tool_call" and p.data.get("id") == call.id), 0)
        message.parts.append(result_part(not_run(call, kind), round_number))


def round_messages(text: str, calls: list[ToolCall], results: list[ToolResult]) -> list[dict[str, Any]]:
    """The assistant message that made `calls` (with the text it wrote first) and one tool message each."""
    by_id = {r.call.id: r for r in results}
    return [{"role": "assistant", "content": text, "tool_calls": [c.to_api() for c in calls]},
            *({"role": "tool", "tool_call_id": c.id, "content": by_id[c.id].output} for c in calls)]
