"""Citations of an answer grounded in a knowledge base: the passages sent, stored as parts of the reply,
and the `[n]` markers in its text that point at them.

A grounded reply carries one `Part("citation", passage text, data)` per passage the request numbered, with
`data["n"]` the number the model saw (1-based, in the order sent), so marker `[n]` maps to the part with
that `n` and to nothing else. Markers with no such part are not citations: `mark` shows them as plain text.
Nothing here renders HTML; the chat view paints what these functions return with `st.markdown`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qwenchat.conversation import Message, Part

CITATION = "citation"
_MARKER = re.compile(r"\[(\d{1,3})\](?!\()")  # [3], not a Markdown link [3](url)


@dataclass(frozen=True)
class Source:
    """One passage a reply was grounded on, as the UI and the export show it."""

    n: int
    file: str
    page: int | None
    heading: str
    text: str
    start: int
    end: int
    chunk_id: int
    kb: int
    kb_name: str = ""


def part_for(n: int, hit, kb: int, kb_name: str = "") -> Part:
    """The citation part of the passage numbered `n` (a `qwenchat.knowledge.Hit`)."""
    return Part(CITATION, hit.text, {"n": n, "file": hit.file, "page": hit.page, "heading": hit.heading,
                                     "start": hit.start, "end": hit.end, "chunk_id": hit.chunk_id,
                                     "file_id": hit.file_id, "kb": kb, "kb_name": kb_name})


def sources(message: Message) -> list[Source]:
    """The passages the reply's request carried, by number."""
    found: dict[int, Source] = {}
    for part in message.parts:
        if part.type != CITATION:
            continue
        data = part.data
        try:
            n = int(data.get("n", 0))
        except (TypeError, ValueError):
            continue
        if n < 1 or n in found:
            continue
        page = data.get("page")
        found[n] = Source(n, str(data.get("file", "")), page if isinstance(page, int) else None,
                          str(data.get("heading", "") or ""), part.text, _int(data.get("start")),
                          _int(data.get("end")), _int(data.get("chunk_id")), _int(data.get("kb")),
                          str(data.get("kb_name", "") or ""))
    return [found[n] for n in sorted(found)]


def cited(text: str, numbers: set[int] | list[int]) -> list[int]:
    """The numbers of `numbers` that `text` cites with `[n]`, in order of first citation."""
    valid = set(numbers)
    seen: list[int] = []
    for match in _MARKER.finditer(text):
        n = int(match.group(1))
        if n in valid and n not in seen:
            seen.append(n)
    return seen


def mark(text: str, numbers: set[int] | list[int]) -> str:
    """The reply's Markdown with each valid marker in bold (`**[1]**`) and every other `[n]` escaped, so a
    marker that points at no passage reads as plain text and is never taken for a citation."""
    valid = set(numbers)

    def swap(match: re.Match) -> str:
        n = int(match.group(1))
        return f"**[{n}]**" if n in valid else f"\\[{n}\\]"

    return _MARKER.sub(swap, text)


def _int(value: object) -> int:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0


def knowledge_base_of(conversation) -> int:
    """The knowledge base the conversation answered from last (0: none): the `retrieval` part of the last
    reply on the visible branch, so a reloaded conversation keeps its choice."""
    for message in reversed(conversation.messages):
        if message.role != "assistant" or message.status == "farewell":
            continue
        for part in message.parts:
            if part.type == "retrieval":
                return _int(part.data.get("kb"))
        return 0
    return 0
