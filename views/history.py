"""History: this visitor's saved conversations, newest first, to open, rename, delete, export or import."""

import streamlit as st

from components import gate, history
from qwenchat.config import load_dotenv_once

st.set_page_config(page_title="历史对话 / History · Qwen Chat", page_icon="🗂️")
load_dotenv_once()
gate.require_access()

st.title("🗂️ 历史对话 / History")
owner = history.current_owner()
store = history.open_store_or_stop()
history.privacy_note(owner)
history.show_result()

query = st.text_input("🔍 搜索标题和内容 / Search titles and messages", key="history_search")
summaries = history.list_or_stop(store, owner, query)
history.conversation_list(store, owner, summaries, searching=bool(query.strip()))

st.divider()
history.import_box(store, owner)
history.delete_everything(store, owner)
