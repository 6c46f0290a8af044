"""The sidebar's limits panel: how much of this app's quotas this session (and the whole app today) used."""

from __future__ import annotations

import streamlit as st

from components import session
from components.lang import lang, tr
from qwenchat.quotas import usage_rows


def render() -> None:
    rows = [row for row in usage_rows(session.limits(), session.quota(), session.daily()) if row.limit]
    if not rows:
        return
    st.caption(tr("limits.title"))
    for row in rows:
        st.progress(min(row.used / row.limit, 1.0), text=tr("limits.row", label=row.label(lang()), used=row.used,
                                                           limit=row.limit))
