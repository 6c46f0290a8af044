"""The `search_knowledge_base` tool: the conversation's knowledge base searched when the model decides to.

It is offered only when the conversation has a knowledge base chosen (`ToolContext.knowledge_base` and
`ToolContext.search`, built for each turn by the page). The model passes a query and optionally how many
passages it wants; it gets back the passages numbered [n] (see `qwenchat.chat.retrieval.KnowledgeSearch`,
which also pays for the search through `Spending` and records the `citation` parts the reply gets). The
tool is off until the user switches it on; while it is on, the engine skips the automatic grounding step.
"""

from __future__ import annotations

from typing import Any

from qwenchat.tools.registry import Tool, ToolContext, ToolError, register

NAME = "search_knowledge_base"
MAX_TOP_K = 10
DEFAULT_TOP_K = 5


def search_knowledge_base(arguments: dict[str, Any], context: ToolContext) -> str:
    query = arguments.get("query")
    if not isinstance(query, str) or not query.strip():
        raise ToolError('"query" must be a non-empty string: the words to look for')
    top_k = arguments.get("top_k", DEFAULT_TOP_K)
    if isinstance(top_k, bool) or not isinstance(top_k, (int, float)) or int(top_k) != top_k:
        raise ToolError(f'"top_k" must be a whole number from 1 to {MAX_TOP_K}')
    top_k = max(1, min(MAX_TOP_K, int(top_k)))
    if context.search is None or not context.knowledge_base:
        raise ToolError("no knowledge base is chosen for this conversation")
    return context.search(" ".join(query.split())[:500], top_k)


def _available(context: ToolContext) -> bool:
    return bool(context.knowledge_base) and context.search is not None


TOOL = register(Tool(
    NAME,
    "Search the company knowledge base the user chose for this conversation. Returns numbered passages "
    "[n] with their file; answer from them and cite facts with [n]. Search again with other words if they "
    "do not answer.",
    {"type": "object",
     "properties": {"query": {"type": "string",
                              "description": "What to look for: a standalone query with names and terms spelled "
                                             "out (no pronouns), in the user's language"},
                    "top_k": {"type": "integer", "minimum": 1, "maximum": MAX_TOP_K,
                              "description": f"How many passages to return (default {DEFAULT_TOP_K})"}},
     "required": ["query"]},
    search_knowledge_base, label_id="tools.name.search_knowledge_base", default_on=False, available=_available))
