"""The sidebar's end-of-conversation panel: the latest verdict, why, and the last few of this conversation."""

from __future__ import annotations

import streamlit as st

from components import session
from components.lang import tr
from qwenchat.ending import Verdict

RECENT = 5
QUIET_CUES = {"leftover", "long", "assistant_closed", "answers_question", "ends_on_closing"}  # no quote to show


def verdicts() -> list[Verdict]:
    return session.state().verdicts


def _cue(cue: str) -> str:
    """"goodbye:再见" as the rule's label with the words that fired it."""
    rule, _, text = cue.partition(":")
    label = tr(f"ending.rule.{rule}")
    return tr("ending.cue", label=label, text=text.strip()) if text.strip() and rule not in QUIET_CUES else label


def _method(verdict: Verdict) -> str:
    return tr("ending.method.judge" if verdict.method == "judge" else "ending.method.rules")


def render() -> None:
    st.subheader(tr("ending.title"))
    history = verdicts()
    if not history:
        st.caption(tr("ending.none"))
        return
    latest = history[-1]
    label = tr("ending.end" if latest.is_end else "ending.continue")
    st.markdown(tr("ending.summary", label=label, score=latest.score, method=_method(latest)))
    st.progress(min(max(latest.score, 0.0), 1.0))
    if latest.method == "judge":  # the judge's own words; the rules' reason is the cues below
        st.caption(tr("ending.judge_reason", reason=latest.reason.removeprefix("judge").lstrip(": ") or "–"))
    if latest.cues:
        st.caption(tr("ending.cues", cues=" · ".join(_cue(cue) for cue in latest.cues)))
    if len(history) > 1:
        rows = [tr("ending.recent"), "|---:|---|---:|---|"]
        start = max(0, len(history) - RECENT)
        for number, verdict in enumerate(history[start:], start=start + 1):
            rows.append(f"| {number} | {'🔚' if verdict.is_end else '💬'} | {verdict.score:.2f} | {_method(verdict)} |")
        st.markdown("\n".join(rows))
