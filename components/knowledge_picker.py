"""The chat sidebar's knowledge-base picker: none, or one of this owner's knowledge bases, per conversation.

The choice waits in the session (`ChatSession.knowledge`) until a grounded reply records it in its
`retrieval` part, so a reloaded conversation comes back with its knowledge base chosen."""

from __future__ import annotations

import streamlit as st

from components import knowledge, navigation, session
from components.lang import tr
from qwenchat import citations
from qwenchat.conversation import Conversation


def render(conversation: Conversation) -> int:
    """The knowledge base chosen for this conversation (0: none)."""
    chat = session.state()
    try:
        bases = knowledge.bases().list()
    except Exception:  # noqa: BLE001 - a store that is away: the chat goes on without knowledge bases
        st.caption(tr("chat.kb.unavailable"))
        chat.knowledge[conversation.id] = 0
        return 0
    names = {kb.id: kb.name for kb in bases}
    options = [0, *names]
    current = chat.knowledge.get(conversation.id, citations.knowledge_base_of(conversation))
    key = f"kb_choice_{conversation.id}"
    if st.session_state.get(key) not in options:  # first run, or the chosen one was deleted meanwhile
        st.session_state[key] = current if current in options else 0
    else:  # hand the widget its value again: its browser-side label changes with the language
        st.session_state[key] = st.session_state[key]
    none = tr("chat.kb.none")  # in this run's language: a format function is also called between runs
    choice = st.selectbox(tr("chat.kb.label"), options, key=key, help=tr("chat.kb.help"),
                          format_func=lambda i: names.get(i) or none)
    chat.knowledge[conversation.id] = choice
    st.page_link(navigation.KNOWLEDGE, label=tr("chat.kb.manage"), icon="📚")
    return choice


def chosen(conversation: Conversation) -> int:
    return session.state().knowledge.get(conversation.id, 0)
