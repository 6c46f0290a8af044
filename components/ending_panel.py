"""The sidebar's end-of-conversation panel: the latest verdict, why, and the last few of this conversation."""

from __future__ import annotations

import streamlit as st

from components import session
from qwenchat.ending import Verdict

RECENT = 5


def verdicts() -> list[Verdict]:
    return session.state().verdicts


def render() -> None:
    st.subheader("结束检测 / End detector")
    history = verdicts()
    if not history:
        st.caption("还没有消息。/ No message yet.")
        return
    latest = history[-1]
    label = "🔚 结束 / End" if latest.is_end else "💬 继续 / Continue"
    method = "模型判断 / judge" if latest.method == "judge" else "规则 / rules"
    st.markdown(f"**{label}** · score {latest.score:.2f} · {method}")
    st.progress(min(max(latest.score, 0.0), 1.0))
    st.caption(latest.reason)
    if latest.cues:
        st.caption("线索 / Cues: " + ", ".join(latest.cues))
    if len(history) > 1:
        rows = ["| # | | score | |", "|---:|---|---:|---|"]
        start = max(0, len(history) - RECENT)
        for number, verdict in enumerate(history[start:], start=start + 1):
            rows.append(f"| {number} | {'🔚' if verdict.is_end else '💬'} | {verdict.score:.2f} | {verdict.method} |")
        st.markdown("\n".join(rows))
