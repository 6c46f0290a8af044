"""History: this visitor's saved conversations, newest first, to open, rename, delete, export or import."""

import streamlit as st

from components import history
from components.lang import tr

st.title(tr("history.page_title"))
owner = history.current_owner()
store = history.open_store_or_stop()
history.privacy_note(owner)
history.show_result()

query = st.text_input(tr("history.search"), key="history_search")
summaries = history.list_or_stop(store, owner, query)
history.conversation_list(store, owner, summaries, searching=bool(query.strip()))

st.divider()
history.import_box(store, owner)
history.delete_everything(store, owner)
