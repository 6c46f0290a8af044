"""Passages to messages: the prompt that asks a model to answer a question from retrieved passages.

A small stand-in until the chat's answer-with-citations template (branch kbui) lands; the evaluation
uses it so a run measures retrieval plus one plain, documented RAG prompt. `messages(question, hits)` gives
a system prompt (answer only from the passages, cite them as [n], say so when they do not hold the answer,
reply in the question's language) and one user message with the numbered passages, then the question.
"""

from __future__ import annotations

from typing import Sequence

from qwenchat.knowledge.model import Hit

MAX_PASSAGE_CHARS = 2_000  # a passage is cut here in the prompt (chunks are ~160 tokens; this is a guard)

SYSTEM = (
    "You answer questions about a company's documents. Use only the numbered passages below. Cite the "
    "passages you use as [1], [2]. If the passages do not contain the answer, say that the documents do not "
    "say, and do not guess. Answer briefly, in the language of the question.\n"
    "你根据下面编号的资料回答关于公司文档的问题：只用资料中的内容，用 [1]、[2] 标注出处；资料里没有答案时，"
    "直接说明文档中没有相关信息，不要编造。回答简洁，使用提问的语言。"
)


def passage_label(n: int, hit: Hit) -> str:
    where = f", p.{hit.page}" if hit.page else ""
    return f"[{n}] {hit.file}{where}"


def messages(question: str, hits: Sequence[Hit]) -> list[dict[str, str]]:
    """The chat messages for one RAG answer: system instructions, then the passages and the question."""
    blocks = [f"{passage_label(i, h)}\n{h.text[:MAX_PASSAGE_CHARS]}" for i, h in enumerate(hits, start=1)]
    passages = "\n\n".join(blocks) if blocks else "(no passages / 无资料)"
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Passages / 资料:\n\n{passages}\n\nQuestion / 问题: {question}"}]
