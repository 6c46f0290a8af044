"""Running an evaluation on the page: the Run button, then one question per step with a progress bar and a
Stop button. The run is saved after every question, so Stop, a rerun (any click) or a reload keeps the rows
done; a rerun picks the active run up again, and a stopped run offers Continue."""

from __future__ import annotations

import streamlit as st

from components.evaluate_session import Context
from components.evaluate_setup import Choice
from components.lang import tr
from qwenchat.knowledge import evaluate as ev
from qwenchat.store import StoreUnavailable

ACTIVE = "eval_active"  # session state: the id of the run in progress
SHOWN = "eval_shown"    # session state: the id of the run shown below


def _stop(ctx: Context) -> None:
    try:
        run = ctx.runs.get(ctx.owner, st.session_state.get(ACTIVE, 0))
        if run is not None and run.status == ev.RUNNING:
            run.status = ev.STOPPED
            ctx.runs.save(ctx.owner, run)
    except StoreUnavailable:  # the page says so on this rerun
        pass
    st.session_state.pop(ACTIVE, None)


def _continue(ctx: Context, run_id: int) -> None:
    try:
        run = ctx.runs.get(ctx.owner, run_id)
        if run is not None and run.remaining > 0:
            run.status, run.stop_reason = ev.RUNNING, None
            ctx.runs.save(ctx.owner, run)
            st.session_state[ACTIVE] = st.session_state[SHOWN] = run.id
    except StoreUnavailable:  # the page says so on this rerun
        pass


def start_button(ctx: Context, choice: Choice | None) -> None:
    """The Run button: saves a new run with the chosen questions and settings and makes it active."""
    if st.button(tr("eval.run"), type="primary", key="eval_run", disabled=choice is None or ACTIVE in st.session_state):
        run = ctx.runs.save(ctx.owner, ev.new_run(choice.questions, choice.settings))  # type: ignore[union-attr]
        st.session_state[ACTIVE] = st.session_state[SHOWN] = run.id


def continue_button(ctx: Context, run: ev.Run) -> None:
    if run.status != ev.RUNNING and run.remaining > 0 and ACTIVE not in st.session_state:
        st.button(tr("eval.continue"), key=f"eval_continue_{run.id}", on_click=_continue, args=(ctx, run.id))


def run_active(ctx: Context) -> None:
    """Evaluate the active run's remaining questions, one per step, drawing progress; nothing when none."""
    run_id = st.session_state.get(ACTIVE)
    if not run_id:
        return
    run = ctx.runs.get(ctx.owner, run_id)
    if run is None or run.status != ev.RUNNING:
        st.session_state.pop(ACTIVE, None)
        return
    st.button(tr("eval.stop"), key="eval_stop", on_click=_stop, args=(ctx,))
    bar = st.progress(len(run.rows) / max(1, len(run.questions)),
                      text=tr("eval.progress", done=len(run.rows), total=len(run.questions)))
    evaluator = ev.Evaluator(ctx.kbs, ctx.provider, ctx.spending)
    while run.status == ev.RUNNING:
        ev.evaluate_next(evaluator, run)  # one question (or, with none left, the status DONE)
        ctx.runs.save(ctx.owner, run)  # before the next st.* call, where a Stop or a rerun takes effect
        bar.progress(len(run.rows) / max(1, len(run.questions)),
                     text=tr("eval.progress", done=len(run.rows), total=len(run.questions)))
    st.session_state.pop(ACTIVE, None)
