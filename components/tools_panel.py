"""The tool switches: which tools the model may call, one toggle each, and the limits that apply.

`render(model)` draws them on the Settings page, keeping each choice in the session's `Preferences`;
`chosen(model)` is what a turn offers, without drawing anything. `limits()` and `context(conversation)` are
what the turn needs besides (the settings' limits, and who is asking, for tools such as the knowledge
base's).
"""

from __future__ import annotations

import os

import streamlit as st

from components import knowledge, knowledge_picker, session
from components.lang import lang, tr
from components.secrets import read_secrets
from qwenchat.catalog import lookup
from qwenchat.chat.retrieval import KnowledgeSearch
from qwenchat.chat.spending import Spending
from qwenchat.config import Settings
from qwenchat.conversation import Conversation
from qwenchat.rendering import escape_inline
from qwenchat.settings import read
from qwenchat.tools import REGISTRY, ToolContext, registry
from qwenchat.tools.knowledge import NAME as KB_TOOL
from qwenchat.tools.runner import ToolLimits


def limits() -> ToolLimits:
    return ToolLimits.from_config(read_secrets(), os.environ)


def context(conversation: Conversation, settings: Settings | None = None,
            spending: Spending | None = None) -> ToolContext:
    """Who is asking, and with the conversation's knowledge base chosen (the chat's picker), a way to search
    it for `search_knowledge_base`: one `KnowledgeSearch` per turn, paying through `spending`."""
    try:
        zone = st.context.timezone or ""
    except Exception:  # noqa: BLE001 - no browser (AppTest): the tool says UTC
        zone = ""
    kb_id, search = knowledge_picker.chosen(conversation), None
    if kb_id and settings is not None and spending is not None:
        search = KnowledgeSearch(knowledge.bases(settings), kb_id, spending)
    return ToolContext(owner=session.owner(), conversation_id=conversation.id, lang=lang(), timezone=zone,
                       knowledge_base=kb_id if search is not None else 0, search=search)


def _offered() -> list[str]:
    return registry.offered(str(read("QWENCHAT_TOOLS", read_secrets(), os.environ)))


def chosen(model: str) -> tuple[str, ...]:
    """The tools switched on (none for a model that cannot call them, or when the operator offers none)."""
    if not lookup(model).tools:
        return ()
    prefs = session.state().prefs
    return tuple(name for name in _offered() if prefs.tools.get(name, REGISTRY[name].default_on))


def render(model: str) -> tuple[str, ...]:
    """One switch per offered tool; returns `chosen(model)`."""
    offered = _offered()
    if not offered:
        st.caption(tr("tools.none_offered"))
        return ()
    prefs = session.state().prefs
    st.caption(tr("tools.help"))
    able = lookup(model).tools
    if not able:
        st.caption(tr("tools.unsupported", model=escape_inline(model)))
    for name in offered:
        tool = REGISTRY[name]
        label = tr(tool.label_id) if tool.label_id else name
        key = f"tool_{name}"
        if key not in st.session_state:
            st.session_state[key] = prefs.tools.get(name, tool.default_on)
        prefs.tools[name] = st.toggle(label, key=key, disabled=not able,
                                      help=tr("tools.kb_help") if name == KB_TOOL else None)
    current = limits()
    st.caption(tr("tools.limits", rounds=current.max_rounds, seconds=current.timeout_s))
    return chosen(model)
