"""Settings: what is rarely changed, so that the chat's sidebar (drawn on every rerun of the chat) stays
short. Every choice is kept in the session's `Preferences` and applies on the chat page."""

import streamlit as st

from components import session, settings, tools_panel, transfer_buttons
from components.lang import tr
from qwenchat.rendering import escape_inline

st.title(tr("settings_page.title"))
conversation = session.conversation()

st.subheader(tr("settings_page.connection"))
settings.connection_box()

found = settings.choices()
model = found.model
st.subheader(tr("settings_page.model", model=escape_inline(model)))
st.caption(tr("settings_page.model_note"))
settings.budget_box(model)

st.subheader(tr("settings_page.conversation"))
st.caption(tr("settings_page.conversation_note"))
settings.persona_picker(conversation)
settings.system_prompt_box(conversation)
settings.params_box(conversation, model, found.prefs.thinking_for(model))
st.markdown(f"**{tr('settings_page.export')}**")
transfer_buttons.render(conversation)

st.subheader(tr("tools.title"))
tools_panel.render(model)

st.subheader(tr("settings.end_detection"))
settings.end_detection_box()
