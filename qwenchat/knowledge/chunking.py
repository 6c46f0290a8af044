"""Cutting a `Document` into passages sized in Qwen tokens (`qwenchat.tokens`), along its structure.

- A heading starts a new passage; the passage carries its heading path.
- Blocks (paragraphs, list items, table rows, code) are packed whole into a passage up to `max_tokens`;
  a block is split only when it alone is longer, at sentence ends first, then at line ends, then anywhere.
  So is a heading longer than a passage.
- A run of headings with no text is text like any other: it fills passages up to `max_tokens`.
- A passage does not end with a lead-in (a line ending with a colon: "Team Interactions:", "工具："), nor with
  a title-like line ("4. Cross-Functional Collaboration", "需求分析") alone or just before a lead-in: those
  lines move to the next passage, with what they introduce, even when they end a paragraph (a PDF's lines
  come as one); such lines are not a passage alone either. What moves is at most half a passage, so the
  next passage may run over `max_tokens` by that much.
- Table rows stay with their table: a passage that holds rows gets the table's header row as context, so a
  row read alone still says what its columns mean. A table's header row is not left alone at the end of a
  passage: with its first row (and lines carried before it) a passage may reach about 2.5 x `max_tokens`.
- The context (heading path, table header) is bounded to a passage's size: the nearest headings within half
  of it, the first columns of the header within the rest, so what is embedded stays far below the embedding
  model's input limit (8,192 tokens for text-embedding-v4) however long a heading or however wide a table.
- Every passage is a span of the document text: `chunk.text == document.text[chunk.start:chunk.end]`.
  Context (heading path, table header) is kept apart, for embedding and keyword indexing only.
"""

from __future__ import annotations

import functools
import re
from dataclasses import replace

from qwenchat import tokens as qwen_tokens
from qwenchat.knowledge.extract import CODE, HEADING, LINE, LIST, PARA, ROW, TABLE_HEADER, Block, Document
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
    content = 0   # blocks that are more than headings, titles and lead-ins

    def start(blocks: list[Block]) -> None:
        nonlocal current, current_tokens, body, content
        current = blocks  # (a carry: at most half a passage)
        current_tokens = sum(count(text[b.start:b.end]) + 1 for b in blocks)
        body = sum(b.kind != HEADING for b in blocks)
        content = sum(not _only_lead(document, b) for b in blocks)

    def add(block: Block, size: int) -> None:
        nonlocal current_tokens, body, content
        current.append(block)
        current_tokens += size + 1
        body += block.kind != HEADING
        content += not _only_lead(document, block)

    def flush(carry: tuple[int, int] | None = None) -> None:
        """Close the passage; from `carry` (block index, offset in the text) on, lines go on to the next."""
        if carry is None:
            head, tail = current, []
        else:
            i, at = carry
            head, tail = current[:i], current[i:]
            if at > tail[0].start:  # the block is cut at a line: its last lines go on
                split = tail[0]
                end = at
                while end > split.start and text[end - 1].isspace():
                    end -= 1
                head = [*head, replace(split, end=end)]
                tail = [replace(split, start=at), *tail[1:]]
        if head:
            chunks.append(_make(document, head, max_tokens))
        start(tail)

    for block in document.blocks:
        size = count(text[block.start:block.end])
        if block.kind == HEADING:
            if body or current_tokens + size > max_tokens:  # (a run of headings is text like any other)
                flush()
            if size > max_tokens:  # a heading alone too long for a passage is cut like any text; its last
                *pieces, last = _split(document, block, max_tokens)  # piece leads what follows
                chunks.extend(_make(document, [piece], max_tokens) for piece in pieces)
                start([last])
                continue
        elif size > max_tokens:
            # headings, a table's header row and lead-ins just before it lead its first piece
            flush(_carry(document, current, half, headings=True))
            carry, current = current, []
            *pieces, last = _split(document, block, max_tokens)
            for piece in pieces:
                chunks.append(_make(document, [*carry, piece], max_tokens))
                carry = []
            start([*carry, last])
            cut = _carry(document, current, half)
            if cut is not None:  # (its last piece may end with a lead-in too)
                flush(cut)
            # else the last piece stays open like any passage being filled: the blocks that follow join it within
            # the usual caps, and a piece of nothing but a title and lead-ins stays with what it introduces
            continue
        elif not body and current_tokens + size > max_tokens:
            # a run of headings with no text yet: the last of them (up to half a passage) lead the block
            flush(_carry(document, current, half, headings=True))
        elif body and not (content == 0 and current_tokens <= half) and (block.kind == TABLE_HEADER or (
                current_tokens + size > max_tokens and current[-1].kind != TABLE_HEADER)):
            # A passage of nothing but titles and lead-ins ("SMART Goals Example:") says nothing: it stays with
            # what follows, within half a passage (a file of nothing but "x:" lines still gets passages of the
            # usual size). A table's header row is never left alone at the end of a passage. A passage never
            # ends with a lead-in or with a title: they go on with what they introduce.
            flush(_carry(document, current, half))
        add(block, size)
    flush()
    return chunks


def _carry(document: Document, blocks: list[Block], budget: int, *, headings: bool = False) -> tuple[int, int] | None:
    """Where the lines that end `blocks` and lead into what follows begin (block index, offset in the text),
    or None when none do, or when only headings would stay (then nothing goes on).

    From the end: lead-ins (lines ending with a colon, "Team Interactions:"), then at most one title-like
    line just before them ("4. Cross-Functional Collaboration"), or such a title alone; with `headings`
    (before a block cut in pieces, or after a run of headings), also a table's header row and the headings
    before them. All within `budget` tokens.
    """
    cut = _lead_start(document, blocks, budget, headings=headings)
    if cut is None:
        return None
    i, at = cut
    if not headings and at == blocks[i].start and (i == 0 or blocks[i - 1].kind == HEADING):
        return None  # (headings only ever open a passage: there is no text before them)
    return cut


def _only_lead(document: Document, block: Block) -> bool:
    """A heading, or a block of nothing but a title and lead-ins: alone, it says nothing."""
    return block.kind == HEADING or _lead_start(document, [block], None) == (0, block.start)


def _lead_start(document: Document, blocks: list[Block], budget: int | None, *,
                headings: bool = False) -> tuple[int, int] | None:
    text = document.text
    carried = 0
    cut = None
    titled = False  # a title (or heading) was taken: only headings may come before it
    for i in range(len(blocks) - 1, -1, -1):
        block = blocks[i]
        if block.kind in (HEADING, TABLE_HEADER):
            if not headings or (block.kind == TABLE_HEADER and i != len(blocks) - 1):
                break
            if budget is not None:
                n = count(text[block.start:block.end]) + 1
                if block.kind == HEADING and carried + n > budget:
                    break
                carried += n  # (a table's header row goes with its rows whatever its size)
            titled = titled or block.kind == HEADING
            cut = (i, block.start)
            continue
        if titled or block.kind not in (PARA, LIST, LINE):
            break
        end = block.end
        while end > block.start:
            newline = text.rfind("\n", block.start, end)
            line_start = newline + 1 if newline >= 0 else block.start
            line = text[line_start:end]
            previous = text[text.rfind("\n", block.start, newline) + 1:newline] if newline >= 0 else ""
            if _lead_in_line(line, previous):
                pass
            elif _title_line(line):
                titled = True
            else:
                return cut
            if budget is not None:
                n = count(line.strip()) + 1
                if carried + n > budget:
                    return cut
                carried += n
            cut = (i, line_start + len(line) - len(line.lstrip()))
            end = newline if newline >= 0 else block.start
            if titled and end > block.start:
                return cut
    return cut


_BULLET = re.compile(r"^\s*[-*+•·▪◦]\s")
_NUMBERING = re.compile(r"^(?:\d{1,3}(?:\.\d{1,3})*[.)、]?\s+|\d{1,3}[.)、]|[一二三四五六七八九十]{1,3}[、.]"
                        r"|[(（][一二三四五六七八九十\d]{1,3}[)）]|第[一二三四五六七八九十\d]{1,3}[章节部分条])\s*")
_TITLE_STOPS = frozenset("。！？!?；;：:，,、.|`#*=<>\"")
_SMALL_WORDS = frozenset("a an and as at by for from in into of on onto or over the to upon via vs with".split())
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")


def _cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def _width(line: str) -> int:
    return sum(2 if ord(ch) >= 0x2E80 else 1 for ch in line)


def _lead_in_line(line: str, previous: str) -> bool:
    """A line ending with a colon that opens something ("Team Interactions:"), not the end of a sentence
    wrapped onto it ("...as we describe in\ngreat detail below:"). `previous`: the line before it in its
    block ("" for a block's first line)."""
    line = line.strip()
    if not line.endswith((":", "：")):
        return False
    previous = previous.strip()
    if not previous:
        return True
    if "a" <= line[0] <= "z":
        return False  # an English sentence going on
    # a line of Chinese as wide as a page's, not ended: its sentence goes on
    return not (_cjk(previous[-1]) and _width(previous) >= 60)


def _title_line(line: str) -> bool:
    """A short line that names a section ("4. Cross-Functional Collaboration", "Development Phase", "需求分析"):
    no sentence or clause marks, no bullet, English words in title case, 2 characters to 8 words or 30
    Chinese characters (a PDF whose table comes out a character a line has lines like "学")."""
    line = line.strip()
    if not line or _BULLET.match(line):
        return False
    body = _NUMBERING.sub("", line, count=1).strip()
    if len(body) < 2 or _width(body) > 60 or any(ch in _TITLE_STOPS for ch in body) or not any(ch.isalpha() for ch in body):
        return False
    words = _LATIN_WORD.findall(body)
    if len(words) > 8 or "a" <= body[0] <= "z":
        return False
    return all(w[0].isupper() for w in words if len(w) >= 4 and w.lower() not in _SMALL_WORDS)


def _make(document: Document, blocks: list[Block], max_tokens: int = MAX_TOKENS) -> Chunk:
    start, end = blocks[0].start, blocks[-1].end
    text = document.text[start:end]
    body = [b for b in blocks if b.kind != HEADING] or blocks
    heading_path = body[0].heading
    # The context is embedded and indexed with every passage: bounded, so that a heading of 9,000 tokens or a
    # CSV of 1,500 columns does not make each passage's input too long for the embedding model (8,192 tokens
    # for text-embedding-v4): the nearest headings within half a passage, then the first columns of the
    # table's header within what is left of a passage. The heading shown with a passage (in the citation, and
    # in the model's prompt as its place) is the same nearest headings.
    budget = max(2, max_tokens)
    heading = _fit(" > ".join(heading_path), budget // 2, keep_end=True) if heading_path else ""
    context_parts = [heading] if heading else []
    first_row = next((b for b in body if b.kind == ROW), None)
    if first_row is not None and first_row.table_header and not any(b.kind == TABLE_HEADER for b in blocks):
        left = budget - (count(context_parts[0]) if context_parts else 0)
        context_parts.append(_fit(first_row.table_header, max(1, left), keep_end=False))
    # the page of what the passage is about, not of a title or lead-in carried over from the page before
    page = next((b.page for b in blocks if not _only_lead(document, b)), blocks[0].page)
    return Chunk(text=text, start=start, end=end, page=page, heading=heading,
                 context="\n".join(context_parts), tokens=count(text), kinds=tuple(dict.fromkeys(b.kind for b in blocks)))


@functools.lru_cache(maxsize=256)  # (the same heading path or table header, for passage after passage)
def _fit(text: str, budget: int, *, keep_end: bool) -> str:
    """`text` if it has at most `budget` tokens, else its longest end (or start) that does, cut after a
    separator (" > ", ",", "|", a space) when there is one near."""
    if count(text) <= budget:
        return text
    lo, hi = 0, len(text)  # the most characters kept within the budget, by bisection
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(text[len(text) - mid:] if keep_end else text[:mid]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    kept = text[len(text) - lo:] if keep_end else text[:lo]
    marks = [kept.find(m) + len(m) for m in (" > ", ",", "|", " ") if 0 <= kept.find(m) < len(kept) // 4] if keep_end \
        else [kept.rfind(m) for m in (" > ", ",", "|", " ") if kept.rfind(m) > len(kept) * 3 // 4]
    if marks:
        kept = kept[min(marks):] if keep_end else kept[:max(marks)]
    return kept.strip()


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
            out.extend(_even_cut(text, m.start(), m.end(), n, max_tokens))
            begin, size = m.end(), 0
            continue
        if size and size + n > max_tokens:
            out.append((begin, m.start()))
            begin, size = m.start(), 0
        size += n
    if begin < b:
        out.append((begin, b))
    return out


def _even_cut(text: str, a: int, b: int, n: int, max_tokens: int) -> list[tuple[int, int]]:
    """Cut `text[a:b]` (`n` tokens, no clause marks) in even pieces of at most `max_tokens`. The step comes from
    the average density: a piece denser than the average ("a" * 6000 then emoji) is cut again with its own."""
    step = max(1, int((b - a) * max_tokens / n * 0.9))
    out: list[tuple[int, int]] = []
    for i in range(a, b, step):
        j = min(b, i + step)
        size = count(text[i:j])
        out.extend(_even_cut(text, i, j, size, max_tokens) if size > max_tokens and j - i > 1 else [(i, j)])
    return out
