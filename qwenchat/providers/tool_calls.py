"""Assembling streamed tool calls: the pieces of `delta.tool_calls` in, whole `ToolCall`s out.

The first piece of a call carries its `index`, `id`, `type` and `function.name` (and usually empty
`arguments`); later pieces carry only the `index` and a fragment of `arguments`. Parallel calls are told
apart by their index. Nothing is parsed here: the arguments are handed on as the model wrote them, once
the stream says the calls are complete (`finish_reason == "tool_calls"`).

Defensive like the rest of the reader: a piece that is not a dict is skipped, a piece without an index
(some local servers) continues the last call unless it brings a new id, a call without an id gets one,
and a call's arguments stop growing at `MAX_ARGUMENT_CHARS` (cut JSON then fails to parse, and the model
is told so).
"""

from __future__ import annotations

import secrets
from typing import Any

from qwenchat.providers.base import ToolCall

MAX_CALLS = 16                 # calls kept from one response; more are left out of the assistant message
MAX_ARGUMENT_CHARS = 100_000   # a call's arguments stop growing here
MAX_NAME_CHARS = 128


class ToolCallAssembler:
    def __init__(self) -> None:
        self._calls: dict[int, dict[str, Any]] = {}  # index -> {"id", "name", "arguments": [pieces], "size"}
        self._last: int | None = None

    def __bool__(self) -> bool:
        return bool(self._calls)

    def feed(self, pieces: Any) -> None:
        """One chunk's `delta.tool_calls`."""
        if type(pieces) is not list:
            return
        for piece in pieces:
            if type(piece) is not dict:
                continue
            function = piece.get("function")
            function = function if type(function) is dict else {}
            call_id = piece.get("id")
            call_id = call_id if type(call_id) is str and call_id else ""
            index = piece.get("index")
            if type(index) is not int:
                if self._last is None or (call_id and call_id != self._calls[self._last]["id"]):
                    index = max(self._calls, default=-1) + 1
                else:
                    index = self._last
            call = self._calls.get(index)
            if call is None:
                if len(self._calls) >= MAX_CALLS:
                    continue
                call = self._calls[index] = {"id": "", "name": "", "arguments": [], "size": 0}
            self._last = index
            if call_id and not call["id"]:
                call["id"] = call_id
            name = function.get("name")
            if type(name) is str and name and not call["name"]:
                call["name"] = name[:MAX_NAME_CHARS]
            fragment = function.get("arguments")
            if type(fragment) is str and fragment and call["size"] < MAX_ARGUMENT_CHARS:
                fragment = fragment[:MAX_ARGUMENT_CHARS - call["size"]]
                call["arguments"].append(fragment)
                call["size"] += len(fragment)

    def calls(self) -> tuple[ToolCall, ...]:
        """The calls in index order; ids filled in where the server sent none."""
        out = []
        for index in sorted(self._calls):
            call = self._calls[index]
            call_id = call["id"] or f"call_{secrets.token_hex(12)}"
            call["id"] = call_id
            out.append(ToolCall(call_id, call["name"], "".join(call["arguments"])))
        return tuple(out)
