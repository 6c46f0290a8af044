"""The chat: the sidebar's settings and meters, then the conversation."""

import streamlit as st

from components import chat_view, session, sidebar
from components.lang import tr

conversation = session.conversation()
options = sidebar.render(conversation)
st.title(tr("app.title"))
chat_view.render(conversation, options)
