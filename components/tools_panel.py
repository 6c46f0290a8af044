"""The tool switches: which tools the model may call, one toggle each, and the limits that apply.

`render(model)` draws them wherever the settings are (today the sidebar's settings) and returns the names
switched on; `limits()` and `context(conversation)` are what the turn needs besides (the settings' limits,
and who is asking, for tools such as the knowledge base's).
"""

from __future__ import annotations

import os

import streamlit as st

from components import session
from components.lang import lang, tr
from components.secrets import read_secrets
from qwenchat.catalog import lookup
from qwenchat.conversation import Conversation
from qwenchat.rendering import escape_inline
from qwenchat.settings import read
from qwenchat.tools import REGISTRY, ToolContext, registry
from qwenchat.tools.runner import ToolLimits


def limits() -> ToolLimits:
    return ToolLimits.from_config(read_secrets(), os.environ)


def context(conversation: Conversation) -> ToolContext:
    try:
        zone = st.context.timezone or ""
    except Exception:  # noqa: BLE001 - no browser (AppTest): the tool says UTC
        zone = ""
    return ToolContext(owner=session.owner(), conversation_id=conversation.id, lang=lang(), timezone=zone)


def render(model: str) -> tuple[str, ...]:
    """The tools switched on (none for a model that cannot call them, or when the operator offers none)."""
    offered = registry.offered(str(read("QWENCHAT_TOOLS", read_secrets(), os.environ)))
    if not offered:
        return ()
    chosen = []
    with st.expander(tr("tools.title")):
        st.caption(tr("tools.help"))
        able = lookup(model).tools
        if not able:
            st.caption(tr("tools.unsupported", model=escape_inline(model)))
        for name in offered:
            tool = REGISTRY[name]
            label = tr(tool.label_id) if tool.label_id else name
            if st.toggle(label, value=tool.default_on, key=f"tool_{name}", disabled=not able):
                chosen.append(name)
        current = limits()
        st.caption(tr("tools.limits", rounds=current.max_rounds, seconds=current.timeout_s))
    return tuple(chosen) if able else ()
