"""Running one tool call: its arguments parsed, its function run in a worker thread with a timeout, its output
capped, and the outcome as a typed `ToolResult`.

    run = start(call, tools, context, limits=ToolLimits())
    while not run.wait(0.3):
        ...                   # the engine yields here, so a Stop in the page can act while a tool runs
    result = run.result()

Whatever happens, the result is something the model can read: the tool's text, or an error sentence
(`output`) with a kind (`error`, catalog id "tools.error.<kind>" for the page). Invalid JSON arguments, an
unknown tool and a `ToolError` go back to the model so it can correct its call. A function that raises
anything else is reported by the exception's class only; one that overruns the timeout is left to finish
in its daemon thread and its answer is dropped (the built-ins bound their own work, so none runs long).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Mapping

from qwenchat.providers.base import ToolCall
from qwenchat.settings import read
from qwenchat.tools.registry import Tool, ToolContext, ToolError

# Error kinds (catalog ids "tools.error.<kind>").
UNKNOWN_TOOL = "unknown_tool"
BAD_ARGUMENTS = "bad_arguments"
TOOL_ERROR = "tool_error"
CRASHED = "crashed"
TIMEOUT = "timeout"
STOPPED = "stopped"          # the user pressed Stop before this call finished
ROUND_LIMIT = "round_limit"  # the turn had used all its rounds: the call was not run
ERROR_KINDS = (UNKNOWN_TOOL, BAD_ARGUMENTS, TOOL_ERROR, CRASHED, TIMEOUT, STOPPED, ROUND_LIMIT)

SETTING_NAMES = {"max_rounds": "QWENCHAT_MAX_TOOL_ROUNDS", "timeout_s": "QWENCHAT_TOOL_TIMEOUT_S",
                 "max_output_chars": "QWENCHAT_TOOL_OUTPUT_CHARS"}


@dataclass(frozen=True)
class ToolLimits:
    max_rounds: int = 8           # model requests per turn while tools are on
    timeout_s: float = 10.0       # per call
    max_output_chars: int = 8_000  # per call, of what goes back to the model

    @classmethod
    def from_config(cls, secrets: Mapping[str, object], environ: Mapping[str, str]) -> "ToolLimits":
        return cls(**{name: read(setting, secrets, environ) for name, setting in SETTING_NAMES.items()})


@dataclass(frozen=True)
class ToolResult:
    call: ToolCall
    output: str          # what the model reads: the tool's text, or the error sentence
    error: str = ""      # "" when the tool answered; else one of ERROR_KINDS
    seconds: float = 0.0
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return not self.error


def not_run(call: ToolCall, kind: str) -> ToolResult:
    """The result of a call that was never run (Stop, the round limit): the history stays valid."""
    sentences = {STOPPED: "The user stopped the reply before this call finished.",
                 ROUND_LIMIT: "Not run: this turn reached its limit of tool rounds. Answer with what you have."}
    return ToolResult(call, sentences.get(kind, "Not run."), kind)


def parse_arguments(call: ToolCall) -> dict[str, Any]:
    """The call's arguments as a dict; a `ToolError` the model can act on when they are not a JSON object."""
    text = call.arguments.strip() or "{}"
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ToolError(f"the arguments are not valid JSON ({exc}). Call {call.name} again with a JSON object "
                        f"that matches its parameters.") from None
    except RecursionError:
        raise ToolError("the arguments are nested too deeply. Call again with a flat JSON object.") from None
    if not isinstance(value, dict):
        raise ToolError(f"the arguments must be a JSON object, not {type(value).__name__}. Call {call.name} "
                        "again with a JSON object.")
    return value


def _check_required(tool: Tool, arguments: dict[str, Any]) -> None:
    missing = [name for name in tool.parameters.get("required", []) if name not in arguments]
    if missing:
        raise ToolError(f"missing argument(s): {', '.join(missing)}. Call {tool.name} again with them.")


def cap(text: str, limit: int) -> tuple[str, bool]:
    if limit <= 0 or len(text) <= limit:
        return text, False
    return text[:limit] + f"\n[… output cut: {limit:,} of {len(text):,} characters]", True


class ToolRun:
    """One call in flight. `wait(seconds)` says whether it is over; `result()` once it is."""

    def __init__(self, call: ToolCall, tool: Tool | None, context: ToolContext, limits: ToolLimits,
                 available: tuple[str, ...] = ()):
        self.call, self._tool, self._context, self._limits = call, tool, context, limits
        self._box: dict[str, Any] = {}
        self._done = threading.Event()
        self._started = time.monotonic()
        self._result: ToolResult | None = None
        self._arguments: dict[str, Any] | None = None
        if tool is None:
            names = ", ".join(available) or "none"
            self._result = ToolResult(call, f"Error: there is no tool named {call.name!r} (available: {names}).",
                                      UNKNOWN_TOOL)
            return
        try:
            self._arguments = parse_arguments(call)
            _check_required(tool, self._arguments)
        except ToolError as exc:
            self._result = ToolResult(call, f"Error: {exc.detail}", BAD_ARGUMENTS)
            return
        threading.Thread(target=self._work, name=f"qwenchat-tool-{tool.name}", daemon=True).start()

    def _work(self) -> None:
        try:
            self._box["value"] = self._tool.function(self._arguments, self._context)  # type: ignore[union-attr]
        except ToolError as exc:
            self._box["tool_error"] = exc.detail
        except BaseException as exc:  # noqa: BLE001 - a tool's bug is a result, never a crash of the page
            self._box["crash"] = type(exc).__name__
        finally:
            self._done.set()

    def wait(self, seconds: float) -> bool:
        """Wait up to `seconds` (never past the call's timeout); true once the call is over."""
        if self._result is not None:
            return True
        left = self._started + self._limits.timeout_s - time.monotonic()
        if self._done.wait(max(0.0, min(seconds, left))):
            return True
        return time.monotonic() - self._started >= self._limits.timeout_s

    def result(self) -> ToolResult:
        if self._result is not None:
            return self._result
        seconds = round(time.monotonic() - self._started, 3)
        call = self.call
        if not self._done.is_set():
            self._result = ToolResult(call, f"Error: {call.name} did not answer within {self._limits.timeout_s:g} "
                                            "seconds.", TIMEOUT, seconds)
        elif "tool_error" in self._box:
            self._result = ToolResult(call, f"Error: {self._box['tool_error']}", TOOL_ERROR, seconds)
        elif "crash" in self._box:
            self._result = ToolResult(call, f"Error: {call.name} failed ({self._box['crash']}).", CRASHED, seconds)
        else:
            value = self._box.get("value")
            text, truncated = cap(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                                                   default=str),
                                  self._limits.max_output_chars)
            self._result = ToolResult(call, text, "", seconds, truncated)
        return self._result


def start(call: ToolCall, tools: Mapping[str, Tool], context: ToolContext, limits: ToolLimits) -> ToolRun:
    return ToolRun(call, tools.get(call.name), context, limits, tuple(tools))


def run(call: ToolCall, tools: Mapping[str, Tool], context: ToolContext, limits: ToolLimits) -> ToolResult:
    """Run one call to its end (or its timeout)."""
    handle = start(call, tools, context, limits)
    while not handle.wait(limits.timeout_s):
        pass
    return handle.result()
