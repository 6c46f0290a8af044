"""The tools Qwen may call: what a tool is, the per-turn context it runs in, and the registry of them.

    register(Tool("current_time", description, parameters, current_time, label_id="tools.name.current_time"))
    schemas(["calculator"])   # -> the request's `tools` list

A tool is a name, a description and a JSON schema for the model, and a plain function
`(arguments: dict, context: ToolContext) -> str` whose text goes back to the model. A function reports a
problem the model can correct (a division by zero, an unknown time zone) by raising `ToolError`; anything
else it raises is caught by the runner and reported without its text.

Built-ins register themselves when `qwenchat.tools` is imported. A tool from elsewhere (the knowledge base's
`search_knowledge_base`) is one more `register(...)` call in its own module: it reads who is asking and
which knowledge bases apply from the `ToolContext` the engine builds for each turn, and `available` says
when it is offered at all (e.g. only when the owner has a knowledge base).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping


class ToolError(Exception):
    """A failure the model should hear about and may correct: `detail` is sent to it, in English."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class ToolContext:
    """What a tool may know about the turn that called it. Built by the engine's caller for each turn."""

    owner: str = ""                  # the store's owner id (whose knowledge bases, whose files)
    conversation_id: str = ""
    lang: str = "zh"                 # the UI language
    timezone: str = ""               # the browser's IANA time zone ("" when unknown)
    knowledge_bases: tuple[str, ...] = ()  # the knowledge bases this conversation searches
    knowledge_base: int = 0          # the knowledge base chosen for this conversation (0: none)
    # How `search_knowledge_base` searches it: `search(query, top_k) -> text for the model` (raises
    # ToolError), e.g. qwenchat.chat.retrieval.KnowledgeSearch; None when no knowledge base is chosen.
    search: Callable[[str, int], str] | None = None
    services: Mapping[str, Any] = field(default_factory=dict)  # shared handles a tool needs (an index, a store)
    now: Callable[[], datetime] = _utc_now


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]  # a JSON schema of an object
    function: Callable[[dict[str, Any], ToolContext], str]
    label_id: str = ""          # catalog id of its name in the settings
    default_on: bool = True
    available: Callable[[ToolContext], bool] | None = None

    def schema(self) -> dict[str, Any]:
        """The entry of the request's `tools` list."""
        return {"type": "function",
                "function": {"name": self.name, "description": self.description, "parameters": self.parameters}}

    def offered(self, context: ToolContext) -> bool:
        return self.available is None or bool(self.available(context))


REGISTRY: dict[str, Tool] = {}


def register(tool: Tool) -> Tool:
    """Add (or replace) a tool by its name."""
    REGISTRY[tool.name] = tool
    return tool


def chosen(names: list[str] | tuple[str, ...], context: ToolContext | None = None) -> dict[str, Tool]:
    """The registered tools among `names`, in registry order, that are offered in this context."""
    context = context or ToolContext()
    wanted = set(names)
    return {name: tool for name, tool in REGISTRY.items() if name in wanted and tool.offered(context)}


def schemas(names: list[str] | tuple[str, ...], context: ToolContext | None = None) -> list[dict[str, Any]]:
    return [tool.schema() for tool in chosen(names, context).values()]


def offered(setting: str) -> list[str]:
    """The registered tools an operator's `QWENCHAT_TOOLS` value allows: "" for all, "none" for none."""
    text = (setting or "").strip().lower()
    if not text:
        return list(REGISTRY)
    wanted = {name.strip() for name in text.split(",")}
    return [name for name in REGISTRY if name in wanted]


def defaults() -> list[str]:
    """The tools on until the user says otherwise."""
    return [name for name, tool in REGISTRY.items() if tool.default_on]
