"""Documents a user attaches to a chat message (PDF, DOCX, TXT, Markdown): read with the knowledge base's
extraction and sent as text with that message.

    prepared = prepare_document("报告.pdf", data, "qwen-plus")   # PreparedDocument | Problem
    prepared.part()      # the message's `file` part: name, mime, bytes, pages, tokens and the text itself

Where the text lives: in the `file` part's data (`data["text"]`), capped at `MAX_TEXT_CHARS`, so it is
saved with the message, comes back on a reload, goes out with the JSON export and in with its import, and
every later request of the conversation resends it (a document is part of what the user said). The file's
bytes are not kept. A longer text is refused rather than cut: an answer from half a document would look
like an answer from all of it.

In the request, each document is a delimited block before the user's question (`request_text`), so the
budget, the quota reservation and the sidebar count it like any text. A file that cannot be read is
refused with the extraction's typed message (`kb.error.*`: corrupt, encrypted, scanned, empty, too large).

No Streamlit here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from qwenchat.conversation import Part
from qwenchat.tokens import count_text
from qwenchat.turns import Problem

FILE = "file"
FILE_TYPES = ("pdf", "docx", "txt", "md", "markdown")  # what the chat input offers besides images
MAX_DOCUMENT_BYTES = 20 * 2**20   # a file larger than this is refused before it is read
MAX_TEXT_CHARS = 200_000          # the most text one document may add to a message (kept with the message)
_MIMES = {"pdf": "application/pdf",
          "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
          "txt": "text/plain", "md": "text/markdown"}


def is_document(name: str) -> bool:
    """Whether a file attached to a message is read as a document (by its extension)."""
    dot = name.rfind(".")
    return dot >= 0 and name[dot + 1:].lower() in FILE_TYPES


@dataclass(frozen=True)
class PreparedDocument:
    name: str
    mime: str
    size: int      # bytes of the file
    pages: int     # a PDF's pages (0 for other formats)
    text: str      # the extracted text
    tokens: int    # what its block costs in the request, for the message's model

    def part(self) -> Part:
        return Part(FILE, self.name, {"mime": self.mime, "bytes": self.size, "pages": self.pages,
                                      "tokens": self.tokens, "chars": len(self.text), "text": self.text})


def block(name: str, text: str) -> str:
    """A document as the model reads it: delimited, with its name, so it is not taken for the question."""
    name = " ".join(name.split()).replace('"', "'")
    # The document's own text cannot close (or open) the wrapper: its words stay inside it.
    text = _TAG.sub(lambda m: "‹" + m.group(0)[1:], text.strip())
    return f"<document name=\"{name}\">\n{text}\n</document>"


_TAG = re.compile(r"<\s*/?\s*document\b", re.IGNORECASE)


def prepare_document(name: str, data: bytes, model: str) -> PreparedDocument | Problem:
    from qwenchat.knowledge.extract import format_of, read_document
    from qwenchat.knowledge.model import IngestError

    if len(data) > MAX_DOCUMENT_BYTES:
        return Problem("doc_too_large", "kb.error.too_large", {"name": name, "size": len(data),
                                                               "limit": MAX_DOCUMENT_BYTES})
    try:
        document = read_document(name, data)
    except IngestError as error:
        return Problem(f"doc_{error.kind}", f"kb.error.{error.kind}", {"name": name, **error.params})
    except Exception:  # noqa: BLE001 - a reader's own failure on a damaged file: it is unreadable
        return Problem("doc_corrupt", "kb.error.corrupt", {"name": name})
    text = document.text.strip()
    if len(text) > MAX_TEXT_CHARS:
        return Problem("doc_too_long", "doc.too_long", {"name": name, "chars": len(text), "limit": MAX_TEXT_CHARS})
    fmt = format_of(name)
    return PreparedDocument(name, _MIMES.get(fmt, "text/plain"), len(data), document.pages, text,
                            count_text(block(name, text), model))


def request_text(text: str, parts: Sequence[Part]) -> str:
    """A user message's text as the request carries it: its documents' blocks, then what the user typed."""
    blocks = [block(p.text, p.data["text"]) for p in parts
              if p.type == FILE and isinstance(p.data.get("text"), str) and p.data["text"].strip()]
    return "\n\n".join([*blocks, text] if text else blocks)


def _count(value: Any) -> int:
    """A count from a part's data, which an import may have filled with anything: 0 unless a whole number."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def tokens_of(parts: Sequence[Part]) -> int:
    return sum(_count(p.data.get("tokens")) for p in parts if p.type == FILE)


def summary(part: Part) -> dict[str, Any]:
    """What the note under the message says about one document."""
    return {"name": part.text, "pages": _count(part.data.get("pages")), "tokens": _count(part.data.get("tokens")),
            "size": _count(part.data.get("bytes"))}
