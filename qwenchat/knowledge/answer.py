"""Passages to messages for the evaluation: exactly the chat's RAG prompt, so a run measures what the chat does.

A thin wrapper over `qwenchat.chat.retrieval.with_passages` (the catalog's `rag.prompt`: answer only from the
numbered passages, cite them as [n], mind namesakes, say so when they do not hold the answer): the question
alone as the request (an evaluated question has no conversation before it), and the prompt's language
taken from the question (Chinese characters in it give the Chinese instructions), as a user asking in that
language would have the app in it.
"""

from __future__ import annotations

from typing import Any, Sequence

from qwenchat.chat.retrieval import with_passages
from qwenchat.knowledge.text import is_cjk


def language_of(question: str) -> str:
    return "zh" if any(is_cjk(ch) for ch in question) else "en"


def messages(question: str, hits: Sequence[Any], lang: str | None = None) -> list[dict[str, Any]]:
    """The chat messages of one RAG answer, as the chat sends them for `question` with these passages."""
    return with_passages([{"role": "user", "content": question}], question, list(hits), lang or language_of(question))
