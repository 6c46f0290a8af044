"""The Evaluate page's results: a saved run's aggregate metrics, its table, one expander per question
(passages, answer, scores), the CSV download; and two saved runs side by side with their deltas."""

from __future__ import annotations

import streamlit as st

from components.lang import lang, tr
from qwenchat.accounting import Cost, format_cny
from qwenchat.knowledge import evaluate as ev
from qwenchat.rendering import escape_inline


def _score(value: float | None) -> str:
    return tr("eval.missing") if value is None else f"{value:.2f}"


def _delta(value: float | None) -> str | None:
    return None if value is None else f"{value:+.2f}"


def metric_name(metric: str) -> str:
    return tr(f"eval.metric.{metric}")


def status_text(run: ev.Run) -> str:
    return tr(f"eval.status.{run.status}")


def run_label(run: ev.Run) -> str:
    return tr("eval.run_option", id=run.id, name=run.name, done=len(run.rows), total=len(run.questions),
              status=status_text(run))


def aggregates(run: ev.Run) -> None:
    values, counts = run.aggregates(), run.counts()
    for column, metric in zip(st.columns(len(ev.METRICS)), ev.METRICS):
        column.metric(metric_name(metric), _score(values[metric]), help=tr("eval.metric_help", count=counts[metric]))
    missing = run.unpriced  # (as the sidebar: "≥" when some calls have no price, "–" when none has one)
    cost = Cost(run.cost, priced=1 if run.cost else 0, unpriced=len(missing), missing=frozenset(missing))
    st.caption(tr("eval.totals", done=len(run.rows), tokens=run.tokens, cost=format_cny(cost)))


def _table(run: ev.Run) -> None:
    st.dataframe([{tr("eval.col.id"): r.id, tr("eval.col.question"): r.question,
                   **{metric_name(m): r.score(m) for m in ev.METRICS},
                   tr("eval.col.tokens"): r.tokens,
                   tr("eval.col.error"): r.error.text(lang()) if r.error else ""} for r in run.rows],
                 hide_index=True)


def _question(row: ev.Row) -> None:
    with st.expander(f"{escape_inline(row.id)} · {escape_inline(row.question)}"):
        st.markdown(" · ".join(f"{metric_name(m)} **{_score(row.score(m))}**" for m in ev.METRICS))
        if row.recall_method:
            st.caption(tr(f"eval.recall_by.{row.recall_method}"))
        if row.error:
            st.warning(row.error.text(lang()))
        st.markdown(f"**{tr('eval.col.answer')}**")
        st.text(row.answer or "–")
        st.markdown(f"**{tr('eval.col.reference')}**")
        st.text(row.reference)
        st.markdown(f"**{tr('eval.passages')}**")
        if not row.passages:
            st.caption(tr("eval.no_passages"))
        for i, p in enumerate(row.passages, 1):
            st.caption(f"[{i}] {escape_inline(p.file)}" + (f" p.{p.page}" if p.page else "") + f" · {p.score:.3f}")
            st.text(p.text)


def show_run(run: ev.Run) -> None:
    if run.stop_reason is not None:
        st.warning(tr("eval.stopped_at", reason=run.stop_reason, done=len(run.rows)))
    if not run.rows:
        return
    aggregates(run)
    _table(run)
    for row in run.rows:
        _question(row)
    st.download_button(tr("eval.download"), ev.to_csv(run, lang()).encode("utf-8-sig"),
                       file_name=f"evaluation-{run.id}.csv", mime="text/csv", key=f"eval_csv_{run.id}")


def comparison(a: ev.Run, b: ev.Run) -> None:
    diff = ev.compare(a, b)
    if diff.settings_changed:
        st.caption(tr("eval.compare_changed", changes=", ".join(
            f"{k}: {escape_inline(str(x))} → {escape_inline(str(y))}" for k, (x, y) in diff.settings_changed.items())))
    else:
        st.caption(tr("eval.compare_same"))
    for column, metric in zip(st.columns(len(ev.METRICS)), ev.METRICS):
        d = diff.aggregates[metric]
        column.metric(metric_name(metric), _score(d.b), delta=_delta(d.change), help=f"A: {_score(d.a)}")
    st.dataframe([{tr("eval.col.id"): r.key, tr("eval.col.question"): r.question,
                   **{f"{metric_name(m)} A": r.deltas[m].a for m in ev.METRICS},
                   **{f"{metric_name(m)} B": r.deltas[m].b for m in ev.METRICS},
                   **{tr("eval.col.delta", metric=metric_name(m)): r.deltas[m].change for m in ev.METRICS}}
                  for r in diff.rows], hide_index=True)
