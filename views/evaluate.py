"""Evaluate: run a question set against a knowledge base, see each question's passages, answer and scores,
compare two saved runs and download a run as CSV (issue #11, the course's chapter on evaluating RAG)."""

import streamlit as st

from components import evaluate_results as results
from components import evaluate_run, evaluate_session, evaluate_setup
from components.lang import tr
from qwenchat.store import StoreUnavailable

st.title(tr("eval.title"))
st.caption(tr("eval.intro"))
ctx = evaluate_session.context_or_stop()

choice = evaluate_setup.render(ctx.kbs, ctx.settings.model)
try:
    evaluate_run.start_button(ctx, choice)
    evaluate_run.run_active(ctx)
    runs = ctx.runs.list(ctx.owner)
except StoreUnavailable:  # locked or read-only now: say so; the saved rows are kept for the next visit
    st.warning(tr("eval.no_store"))
    st.stop()

st.divider()
st.subheader(tr("eval.runs"))
if not runs:
    st.caption(tr("eval.no_runs"))
    st.stop()
by_id = {r.id: r for r in runs}
shown = st.session_state.get(evaluate_run.SHOWN)
if shown not in by_id:
    shown = runs[0].id
if st.session_state.get("eval_pick") not in by_id or st.session_state.get("eval_last_shown") != shown:
    st.session_state["eval_pick"] = shown  # a new run shows itself
st.session_state["eval_last_shown"] = shown
picked = by_id[st.selectbox(tr("eval.runs"), list(by_id), key="eval_pick", format_func=lambda i: results.run_label(by_id[i]),
                            label_visibility="collapsed")]
evaluate_run.continue_button(ctx, picked)
results.show_run(picked)
if st.button(tr("eval.delete_run"), key=f"eval_delete_{picked.id}"):
    try:
        ctx.runs.delete(ctx.owner, picked.id)
    except StoreUnavailable:
        st.warning(tr("eval.no_store"))
        st.stop()
    st.session_state.pop(evaluate_run.SHOWN, None)
    st.rerun()

st.divider()
st.subheader(tr("eval.compare"))
if len(runs) < 2:
    st.caption(tr("eval.compare_need_two"))
    st.stop()
left, right = st.columns(2)
a = left.selectbox(tr("eval.compare_a"), list(by_id), index=1, key="eval_compare_a",
                   format_func=lambda i: results.run_label(by_id[i]))
b = right.selectbox(tr("eval.compare_b"), list(by_id), index=0, key="eval_compare_b",
                    format_func=lambda i: results.run_label(by_id[i]))
results.comparison(by_id[a], by_id[b])
