"""The Evaluate page's choices: which knowledge base, which question set (the bundled dev set or an uploaded
JSONL, with its line problems listed), how many questions, top-k, rerank and the models."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from components.lang import tr
from qwenchat.catalog import CATALOG, THINKING_ALWAYS
from qwenchat.knowledge import KnowledgeBases, evalset
from qwenchat.knowledge.evalset import Question
from qwenchat.knowledge.evaluate import RunSettings
from qwenchat.rendering import escape_inline

DEV, UPLOAD = "dev", "upload"


@dataclass
class Choice:
    questions: list[Question]
    settings: RunSettings


@st.cache_data(show_spinner=False, max_entries=4)
def _parsed(data: bytes) -> evalset.QuestionSet:
    return evalset.parse(data)


def _question_set() -> tuple[list[Question], str]:
    dev_count = len(_parsed(evalset.DEV_SET.read_bytes()).questions)
    source = st.radio(tr("eval.source"), [DEV, UPLOAD], horizontal=True, key="eval_source",
                      format_func=lambda s: tr("eval.source.dev", count=dev_count) if s == DEV
                      else tr("eval.source.upload"))
    if source == DEV:
        st.caption(tr("eval.dev_note"))
        return _parsed(evalset.DEV_SET.read_bytes()).questions, evalset.DEV_SET.name
    upload = st.file_uploader(tr("eval.upload"), type=["jsonl", "json", "txt"], key="eval_upload",
                              help=tr("eval.upload_help"))
    if upload is None:
        return [], ""
    parsed = _parsed(upload.getvalue())
    if parsed.questions:
        st.caption(tr("eval.set_loaded", count=len(parsed.questions)))
    if parsed.problems:
        st.warning(tr("eval.set_problems", count=len(parsed.problems)) + "\n\n" +
                   "\n".join(f"- {escape_inline(tr(p.id, **p.params))}" for p in parsed.problems[:20]))
    return parsed.questions, upload.name


def render(kbs: KnowledgeBases, default_model: str) -> Choice | None:
    """The choices, or None when there is nothing to evaluate (no knowledge base, no questions)."""
    bases = kbs.list()
    if not bases:
        st.info(tr("eval.no_kb"))
        return None
    by_id = {b.id: b for b in bases}
    kb_id = st.selectbox(tr("eval.kb"), list(by_id), key="eval_kb",
                         format_func=lambda i: tr("eval.kb_option", name=by_id[i].name, files=by_id[i].files,
                                                  chunks=by_id[i].chunks))
    questions, set_name = _question_set()
    if not questions:
        return None
    left, middle, right = st.columns(3)
    count = left.number_input(tr("eval.limit"), 1, len(questions), len(questions), key="eval_count")
    top_k = middle.number_input(tr("eval.top_k"), 1, 20, 5, key="eval_top_k")
    rerank = right.toggle(tr("eval.rerank"), key="eval_rerank")
    # A whole (non-streamed) answer needs thinking off: models that always think cannot give one.
    names = [m.name for m in CATALOG if not m.vision and m.thinking != THINKING_ALWAYS]
    if default_model not in names:
        names.insert(0, default_model)
    left, right = st.columns(2)
    model = left.selectbox(tr("eval.model"), names, index=names.index(default_model), key="eval_model")
    judge = right.selectbox(tr("eval.judge_model"), names, index=names.index(default_model), key="eval_judge")
    kb = by_id[kb_id]
    return Choice(questions[:int(count)], RunSettings(kb_id=kb.id, kb_name=kb.name, top_k=int(top_k),
                                                      rerank=bool(rerank), model=model,
                                                      judge_model="" if judge == model else judge,
                                                      set_name=set_name))
