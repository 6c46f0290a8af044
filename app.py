"""Qwen Chat: `streamlit run app.py`. Wires the gate, the sidebar and the chat view to the core in `qwenchat/`."""

import streamlit as st

from components import chat_view, gate, session, sidebar
from qwenchat.config import load_dotenv_once

st.set_page_config(page_title="Qwen Chat · 通义千问", page_icon="💬")
load_dotenv_once()
gate.require_access()

conversation = session.conversation()
options = sidebar.render(conversation)
st.title("通义千问 Qwen Chat")
chat_view.render(conversation, options)
