"""The chat page's sidebar: the meters, the reset button and the choices people change while chatting (model,
thinking, persona). The rarely changed settings and the export of the open conversation are on the ⚙️
Settings page (`views/settings.py`): every element drawn here costs each rerun of the chat, in the script and
in the browser."""

from __future__ import annotations

import streamlit as st

from components import (
    ending_panel,
    gate,
    knowledge_picker,
    limits_panel,
    session,
    settings,
    usage_panel,
)
from components.lang import tr
from qwenchat.conversation import Conversation


def render(conversation: Conversation) -> settings.ChatOptions:
    """The meters first (they are what a user looks at), then the choices they depend on."""
    with st.sidebar:
        st.title("💬 Qwen Chat")
        gate.account_box()
        st.button(tr("sidebar.reset"), on_click=session.reset_conversation, width="stretch", key="reset")
        knowledge_picker.render(conversation)
        meters = st.container()
        st.divider()
        with st.container(key="settings"):
            options = settings.render_sidebar(conversation)
    with meters:
        usage_panel.render(conversation, options)
        if not options.settings.visitor_pays:  # the operator pays: the operator's limits apply
            limits_panel.render()
        st.divider()
        ending_panel.render()
    return options
