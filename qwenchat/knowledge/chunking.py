"""Cutting a `Document` into passages sized in Qwen tokens (`qwenchat.tokens`), along its structure.

- A heading starts a new passage; the passage carries its heading path.
- Blocks (paragraphs, list items, table rows, code) are packed whole into a passage up to `max_tokens`;
  a block is split only when it alone is longer, at sentence ends first, then at line ends, then anywhere.
- A run of headings with no text is text like any other: it fills passages up to `max_tokens`.
- A block that ends with a colon (a lead-in: "Team Interactions:", "工具：") is not left at the end of a
  passage, nor alone in one: it moves to the next one, with the list it introduces (which may then run a
  little over `max_tokens`).
- Table rows stay with their table: a passage that holds rows gets the table's header row as context, so a
  row read alone still says what its columns mean.
- Every passage is a span of the document text: `chunk.text == document.text[chunk.start:chunk.end]`.
  Context (heading path, table header) is kept apart, for embedding and keyword indexing only.
"""

from __future__ import annotations

import re

from qwenchat import tokens as qwen_tokens
from qwenchat.knowledge.extract import CODE, HEADING, LIST, ROW, TABLE_HEADER, Block, Document
from qwenchat.knowledge.model import Chunk

MAX_TOKENS = 160
TOKEN_MODEL = "qwen-plus"  # the classic Qwen vocabulary, which text-embedding-v4 shares
_SENTENCE = re.compile(r"[^。！？!?；;\n]*(?:[。！？!?；;]+|\n|$)|[^.]*\.(?:\s+|$)")


def count(text: str) -> int:
    return qwen_tokens.count_text(text, TOKEN_MODEL) if text else 0


def chunk_document(document: Document, *, max_tokens: int = MAX_TOKENS) -> list[Chunk]:
    text = document.text
    half = max_tokens // 2
    chunks: list[Chunk] = []
    # The passage being filled, with running tallies so that each block costs the same however long the
    # passage is (a file of 10,000 headings used to rescan the passage for every one: 4 s, quadratic)
    current: list[Block] = []
    current_tokens = 0
    body = 0      # blocks that are not headings
    content = 0   # blocks that are neither headings nor lead-ins

    def start(blocks: list[Block]) -> None:
        nonlocal current, current_tokens, body, content
        current = blocks  # (a carry: at most half a passage)
        current_tokens = sum(count(text[b.start:b.end]) + 1 for b in blocks)
        body = sum(b.kind != HEADING for b in blocks)
        content = sum(b.kind != HEADING and not _lone_lead_in(document, b) for b in blocks)

    def add(block: Block, size: int) -> None:
        nonlocal current_tokens, body, content
        current.append(block)
        current_tokens += size + 1
        body += block.kind != HEADING
        content += block.kind != HEADING and not _lone_lead_in(document, block)

    def flush(cut: int | None = None) -> None:
        """Close the passage; its blocks from `cut` on go on to the next."""
        cut = len(current) if cut is None else cut
        if cut:
            chunks.append(_make(document, current[:cut]))
        start(current[cut:])

    def leads(cut: int, kinds: tuple[str, ...]) -> int:
        """Where the run of blocks of `kinds` or lead-ins that ends `current[:cut]` begins, within half a
        passage (a table's header row goes with its rows whatever its size)."""
        carried = 0
        while cut:
            block = current[cut - 1]
            if block.kind not in kinds and not _lone_lead_in(document, block):
                break
            n = count(text[block.start:block.end]) + 1
            if block.kind != TABLE_HEADER and carried + n > half:
                break
            carried += n
            cut -= 1
        return cut

    for block in document.blocks:
        size = count(text[block.start:block.end])
        if block.kind == HEADING:
            if body or current_tokens + size > max_tokens:  # (a run of headings is text like any other)
                flush()
        elif size > max_tokens:
            # headings and a table's header row just before it lead its first piece
            flush(leads(len(current), (HEADING, TABLE_HEADER)))
            carry, current = current, []
            for piece in _split(document, block, max_tokens):
                chunks.append(_make(document, [*carry, piece]))
                carry = []
            start([])
            continue
        elif not body and current_tokens + size > max_tokens:
            # a run of headings with no text yet: the last of them (up to half a passage) lead the block
            flush(leads(len(current), (HEADING,)))
        elif body and not (content == 0 and current_tokens <= half) and (block.kind == TABLE_HEADER or (
                current_tokens + size > max_tokens and current[-1].kind != TABLE_HEADER)):
            # "SMART Goals Example:" alone says nothing: a passage of nothing but lead-ins stays with what
            # follows (within half a passage: a file of nothing but "x:" lines still gets passages of the
            # usual size); a table's header row is never left alone at the end of a passage; and a lead-in
            # that ends with a colon ("Team Interactions:") goes on with the list it introduces
            cut = leads(len(current), ())
            flush(cut if cut and current[cut - 1].kind != HEADING else None)  # (never headings alone)
        add(block, size)
    flush()
    return chunks


def _leads_in(document: Document, block: Block) -> bool:
    return block.kind != TABLE_HEADER and document.text[block.start:block.end].rstrip().endswith((":", "："))


def _lone_lead_in(document: Document, block: Block) -> bool:
    """A lead-in of one line ("SMART Goals Example:"), not a paragraph that happens to end with a colon."""
    return _leads_in(document, block) and "\n" not in document.text[block.start:block.end].strip()


def _make(document: Document, blocks: list[Block]) -> Chunk:
    start, end = blocks[0].start, blocks[-1].end
    text = document.text[start:end]
    body = [b for b in blocks if b.kind != HEADING] or blocks
    heading_path = body[0].heading
    context_parts = []
    if heading_path:
        context_parts.append(" > ".join(heading_path))
    first_row = next((b for b in body if b.kind == ROW), None)
    if first_row is not None and first_row.table_header and not any(b.kind == TABLE_HEADER for b in blocks):
        context_parts.append(first_row.table_header)
    return Chunk(text=text, start=start, end=end, page=blocks[0].page, heading=" > ".join(heading_path),
                 context="\n".join(context_parts), tokens=count(text), kinds=tuple(dict.fromkeys(b.kind for b in blocks)))


def _split(document: Document, block: Block, max_tokens: int) -> list[Block]:
    """Pieces of a block longer than `max_tokens`, as sub-blocks (sentences packed, then hard cuts)."""
    text = document.text[block.start:block.end]
    pieces: list[tuple[int, int]] = []
    begin = 0
    size = 0
    for m in _SENTENCE.finditer(text) if block.kind not in (CODE,) else re.finditer(r"[^\n]*\n?", text):
        if m.end() == m.start():
            continue
        n = count(m.group())
        if size and size + n > max_tokens:
            pieces.append((begin, m.start()))
            begin, size = m.start(), 0
        size += n
    pieces.append((begin, len(text)))
    out: list[Block] = []
    for a, b in pieces:
        for x, y in _hard_cut(text, a, b, max_tokens):
            while x < y and text[x].isspace():
                x += 1
            while y > x and text[y - 1].isspace():
                y -= 1
            if y > x:
                out.append(Block(block.kind if block.kind != LIST else LIST, block.start + x, block.start + y,
                                 block.page, block.heading, block.table_header))
    return out


_CLAUSE = re.compile(r"[^，,、：:\s]*[，,、：:\s]+|[^，,、：:\s]+$")


def _hard_cut(text: str, a: int, b: int, max_tokens: int) -> list[tuple[int, int]]:
    """Cut a sentence longer than `max_tokens` at clause marks or spaces, else anywhere."""
    if count(text[a:b]) <= max_tokens:
        return [(a, b)]
    out: list[tuple[int, int]] = []
    begin, size = a, 0
    for m in _CLAUSE.finditer(text, a, b):
        n = count(m.group())
        if n > max_tokens:  # one clause alone is too long: cut it evenly
            if m.start() > begin:
                out.append((begin, m.start()))
            step = max(1, int(len(m.group()) * max_tokens / n * 0.9))
            out.extend((i, min(m.end(), i + step)) for i in range(m.start(), m.end(), step))
            begin, size = m.end(), 0
            continue
        if size and size + n > max_tokens:
            out.append((begin, m.start()))
            begin, size = m.start(), 0
        size += n
    if begin < b:
        out.append((begin, b))
    return out
