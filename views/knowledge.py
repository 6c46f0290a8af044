"""Knowledge: this owner's knowledge bases, their files and the uploads being indexed (issue #11).

The page only paints what `qwenchat.knowledge` returns; the widgets are in `components/knowledge_*.py`.
"""

import streamlit as st

from components import knowledge, knowledge_bases, knowledge_files, knowledge_upload, session
from components.lang import tr
from qwenchat.store import StoreUnavailable

session.conversation()  # keeps the owner token (and the open conversation) in the URL, so a reload is the same visitor
st.title(tr("kb.page.title"))
st.caption(tr("kb.page.intro"))
try:
    kbs = knowledge.bases()
    bases = kbs.list()
except Exception:  # noqa: BLE001 - a store that is away: say so, never a traceback
    st.warning(tr("kb.page.unavailable"))
    st.stop()
if kbs.provider is None:
    st.info(tr("kb.page.no_provider"))
knowledge_bases.show_flash()
try:
    knowledge_bases.create_box(kbs)
    st.divider()
    kb = knowledge_bases.choose(kbs.list())
    queue_area = st.container()
    if kb is not None:
        knowledge_upload.picker(kbs, kb)
        knowledge_files.render(kbs, kb)
        knowledge_bases.manage(kbs, kb)
    with queue_area:
        knowledge_upload.process(kbs)
except StoreUnavailable:  # locked by another writer, read-only, full: say so, never a traceback
    st.warning(tr("kb.page.unavailable"))
