"""From file bytes to a `Document`: the normalised text (`text.normalize`) and its structure as blocks
(heading, paragraph, list item, table row, table header, code, PDF line), each a span of the text with its
page (PDF) and heading path (Markdown, DOCX, HTML).

Formats: PDF (pypdf), DOCX (python-docx), Markdown, TXT, HTML (the stdlib parser), CSV. A file that cannot
be read raises `IngestError` with its kind: unsupported, empty, corrupt, encrypted, no_text (a scan).
"""

from __future__ import annotations

import csv
import io
import logging
import re
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser

from qwenchat.knowledge.model import CORRUPT, EMPTY, ENCRYPTED, NO_TEXT, TOO_LARGE, UNSUPPORTED, IngestError
from qwenchat.knowledge.text import normalize

FORMATS = {".pdf": "pdf", ".docx": "docx", ".md": "md", ".markdown": "md", ".txt": "txt", ".text": "txt",
           ".html": "html", ".htm": "html", ".csv": "csv"}

# What a DOCX's parts other than its pictures may unpack to: a zip of repeated text is about a thousand
# times smaller than its XML, and python-docx parses all of it (40 MB of XML from a 100 KB file: over a minute).
MAX_DOCX_UNPACKED_BYTES = 16 * 1024 * 1024
# A PDF's pages may all draw one big content stream: a file of a few hundred kilobytes can hold hours of text
# extraction. Past this many pages a PDF is refused before any is read; reading stops at the deadline.
MAX_PDF_PAGES = 2_000
MAX_PDF_SECONDS = 30.0

HEADING, PARA, LIST, ROW, TABLE_HEADER, CODE, LINE = "heading", "para", "list", "row", "table_header", "code", "line"


@dataclass(frozen=True)
class Block:
    kind: str
    start: int
    end: int
    page: int | None = None
    heading: tuple[str, ...] = ()
    table_header: str = ""   # for rows: the header row of their table


@dataclass
class Document:
    text: str
    blocks: list[Block] = field(default_factory=list)
    pages: int = 0
    format: str = ""


class _Builder:
    """Appends normalised blocks to one text, one per line, keeping the heading path."""

    def __init__(self, fmt: str):
        self.parts: list[str] = []
        self.length = 0
        self.blocks: list[Block] = []
        self.path: list[tuple[int, str]] = []  # (level, title)
        self.format = fmt

    def heading_path(self) -> tuple[str, ...]:
        return tuple(title for _, title in self.path)

    def add(self, kind: str, text: str, *, page: int | None = None, level: int = 0, header: str = "") -> None:
        text = normalize(text).strip()
        if not text.strip():
            return
        if kind == HEADING:
            title = " ".join(text.split()).lstrip("#").strip()
            while self.path and self.path[-1][0] >= level:
                self.path.pop()
            self.path.append((level, title))
        if self.parts:
            self.parts.append("\n")
            self.length += 1
        self.parts.append(text)
        self.blocks.append(Block(kind, self.length, self.length + len(text), page, self.heading_path(), header))
        self.length += len(text)

    def document(self, pages: int = 0) -> Document:
        return Document("".join(self.parts), self.blocks, pages, self.format)


def format_of(name: str, data: bytes = b"") -> str:
    """The format by the file name's extension ("" when not supported)."""
    lower = name.lower()
    dot = lower.rfind(".")
    return FORMATS.get(lower[dot:], "") if dot >= 0 else ""


def read_document(name: str, data: bytes) -> Document:
    fmt = format_of(name, data)
    if not fmt:
        raise IngestError(UNSUPPORTED, name=name)
    if not data.strip():
        raise IngestError(EMPTY, name=name)
    reader = {"pdf": _pdf, "docx": _docx, "md": _markdown, "txt": _plain, "html": _html, "csv": _csv}[fmt]
    document = reader(name, data)
    if not document.blocks or not document.text.strip():
        raise IngestError(NO_TEXT if fmt == "pdf" else EMPTY, name=name)
    return document


# --- text files ---------------------------------------------------------------------------------------
def _decode(name: str, data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if b"\x00" in data[:8192]:
        raise IngestError(CORRUPT, name=name)  # binary content in a text file
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise IngestError(CORRUPT, name=name)


_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_MD_LIST = re.compile(r"^\s{0,6}(?:[-*+•]|\d{1,3}[.)、])\s+")
_MD_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def _markdown(name: str, data: bytes) -> Document:
    """Markdown: the text is the file itself (normalised); blocks are spans of it."""
    text = normalize(_decode(name, data))
    doc = Document(text, format="md")
    lines = text.split("\n")
    offsets, pos = [], 0
    for line in lines:
        offsets.append(pos)
        pos += len(line) + 1
    path: list[tuple[int, str]] = []
    i, n = 0, len(lines)
    header = ""

    def add(kind: str, first: int, last: int, table_header: str = "") -> None:
        start, end = offsets[first], offsets[last] + len(lines[last])
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            doc.blocks.append(Block(kind, start, end, None, tuple(t for _, t in path), table_header))

    while i < n:
        line = lines[i]
        if not line.strip():
            i += 1
            header = ""
            continue
        if _FENCE.match(line):
            j = i + 1
            while j < n and not _FENCE.match(lines[j]):
                j += 1
            add(CODE, i, min(j, n - 1))
            i = j + 1
            continue
        m = _MD_HEADING.match(line)
        if m:
            level = len(m.group(1))
            while path and path[-1][0] >= level:
                path.pop()
            path.append((level, m.group(2).strip().strip("#").strip()))
            add(HEADING, i, i)
            i += 1
            continue
        if line.lstrip().startswith("|"):
            if i + 1 < n and _MD_TABLE_SEPARATOR.match(lines[i + 1]) and not header:
                header = line.strip()
                add(TABLE_HEADER, i, i + 1)
                i += 2
                continue
            if _MD_TABLE_SEPARATOR.match(line):
                i += 1
                continue
            add(ROW, i, i, header)
            i += 1
            continue
        if _MD_LIST.match(line):
            j = i + 1
            while j < n and lines[j].strip() and not _MD_LIST.match(lines[j]) and lines[j].startswith((" ", "\t")) \
                    and not _MD_HEADING.match(lines[j]):
                j += 1
            add(LIST, i, j - 1)
            i = j
            continue
        j = i + 1
        while j < n and lines[j].strip() and not (_MD_HEADING.match(lines[j]) or _MD_LIST.match(lines[j])
                                                  or lines[j].lstrip().startswith("|") or _FENCE.match(lines[j])):
            j += 1
        add(PARA, i, j - 1)
        i = j
    return doc


def _plain(name: str, data: bytes) -> Document:
    """Plain text: the file itself; a paragraph per run of non-blank lines."""
    text = normalize(_decode(name, data))
    doc = Document(text, format="txt")
    for m in re.finditer(r"[^\n]*\S[^\n]*(?:\n[^\n]*\S[^\n]*)*", text):
        start, end = m.start(), m.end()
        while text[start].isspace():
            start += 1
        doc.blocks.append(Block(LIST if _MD_LIST.match(m.group()) else PARA, start, end))
    return doc


def _csv(name: str, data: bytes) -> Document:
    """CSV: the file itself; the first record is the header of every other (one block per record)."""
    text = normalize(_decode(name, data))
    doc = Document(text, format="csv")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    header = ""
    lines = text.split("\n")
    pos = 0
    spans: list[tuple[int, int]] = []
    pending_start, pending = None, ""
    for line in lines:  # records may span lines inside quotes: join until the quotes balance
        start = pos
        pos += len(line) + 1
        if pending_start is None:
            pending_start, pending = start, line
        else:
            pending += "\n" + line
        if pending.count('"') % 2 == 0:
            if pending.strip():
                spans.append((pending_start, pending_start + len(pending.rstrip())))
            pending_start, pending = None, ""
    if pending_start is not None and pending.strip():
        spans.append((pending_start, pending_start + len(pending.rstrip())))
    for k, (start, end) in enumerate(spans):
        try:
            next(csv.reader([text[start:end]], dialect))
        except csv.Error:
            raise IngestError(CORRUPT, name=name) from None
        if k == 0:
            header = text[start:end]
            doc.blocks.append(Block(TABLE_HEADER, start, end))
        else:
            doc.blocks.append(Block(ROW, start, end, None, (), header))
    return doc


# --- HTML -----------------------------------------------------------------------------------------------
class _HTML(HTMLParser):
    BLOCKS = {"p", "div", "li", "pre", "blockquote", "section", "article", "dd", "dt", "caption", "figcaption",
              "title", "br", "hr", "table", "ul", "ol", "main", "header", "footer", "nav", "aside"}
    HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
    SKIP = {"script", "style", "noscript", "template", "svg", "head"}

    def __init__(self, builder: _Builder):
        super().__init__(convert_charrefs=True)
        self.b = builder
        self.buffer: list[str] = []
        self.kind = PARA
        self.level = 0
        self.skip = 0
        self.in_title = False
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.header = ""
        self.row_is_header = False

    def flush(self) -> None:
        text = " ".join("".join(self.buffer).split())
        self.buffer = []
        if text:
            self.b.add(self.kind, text, level=self.level)
        self.kind, self.level = PARA, 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.SKIP and tag != "head":
            self.skip += 1
            return
        if tag == "title":
            self.in_title = True
        if self.skip:
            return
        if tag in self.HEADINGS:
            self.flush()
            self.kind, self.level = HEADING, self.HEADINGS[tag]
        elif tag == "tr":
            self.flush()
            self.row, self.row_is_header = [], False
        elif tag in ("td", "th") and self.row is not None:
            self.cell = []
            self.row_is_header = self.row_is_header or tag == "th"
        elif tag == "table":
            self.flush()
            self.header = ""
        elif tag in self.BLOCKS:
            self.flush()
            if tag == "li":
                self.kind = LIST

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and tag != "head":
            self.skip = max(0, self.skip - 1)
            return
        if tag == "title":
            self.in_title = False
            return
        if self.skip:
            return
        if tag in ("td", "th") and self.row is not None and self.cell is not None:
            self.row.append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "tr" and self.row is not None:
            line = " | ".join(self.row)
            if line.strip(" |"):
                if self.row_is_header and not self.header:
                    self.header = line
                    self.b.add(TABLE_HEADER, line)
                else:
                    self.b.add(ROW, line, header=self.header)
            self.row = None
        elif tag in self.HEADINGS or tag in self.BLOCKS:
            self.flush()

    def handle_data(self, data: str) -> None:
        if self.skip or self.in_title:
            return
        if self.cell is not None:
            self.cell.append(data)
        elif self.row is None:
            self.buffer.append(data)


def _html(name: str, data: bytes) -> Document:
    builder = _Builder("html")
    parser = _HTML(builder)
    try:
        parser.feed(_decode(name, data))
        parser.close()
        parser.flush()
    except IngestError:
        raise
    except Exception:  # noqa: BLE001 - the stdlib parser is lenient; anything else is a broken file
        raise IngestError(CORRUPT, name=name) from None
    return builder.document()


# --- DOCX -----------------------------------------------------------------------------------------------
def _docx(name: str, data: bytes) -> Document:
    if not data.startswith(b"PK"):
        raise IngestError(CORRUPT, name=name)
    _check_unpacked(name, data)
    try:
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        document = docx.Document(io.BytesIO(data))
    except Exception:  # noqa: BLE001 - a broken zip, a missing part, bad XML
        raise IngestError(CORRUPT, name=name) from None
    builder = _Builder("docx")
    try:
        for element in document.element.body.iterchildren():
            tag = element.tag.rsplit("}", 1)[-1]
            if tag == "p":
                _docx_paragraph(builder, Paragraph(element, document))
            elif tag == "tbl":
                _docx_table(builder, Table(element, document))
    except Exception:  # noqa: BLE001
        raise IngestError(CORRUPT, name=name) from None
    return builder.document()


def _check_unpacked(name: str, data: bytes) -> None:
    """Refuse a zip bomb by the sizes its directory declares (zipfile never unpacks past them)."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            unpacked = sum(i.file_size for i in z.infolist() if not i.filename.startswith("word/media/"))
    except Exception:  # noqa: BLE001 - not a zip
        raise IngestError(CORRUPT, name=name) from None
    if unpacked > MAX_DOCX_UNPACKED_BYTES:
        raise IngestError(TOO_LARGE, msg_id="kb.error.unpacks_too_large", name=name, size=unpacked,
                          limit=MAX_DOCX_UNPACKED_BYTES)


_LEVEL = re.compile(r"(\d+)")


def _docx_paragraph(builder: _Builder, paragraph) -> None:
    text = paragraph.text
    if not text.strip():
        return
    style = (paragraph.style.name if paragraph.style is not None else "") or ""
    lowered = style.lower()
    if lowered.startswith(("heading", "标题")) or lowered == "title":
        m = _LEVEL.search(style)
        builder.add(HEADING, text, level=int(m.group(1)) if m else (0 if lowered == "title" else 1))
        return
    ppr = paragraph._p.pPr
    numbered = ppr is not None and ppr.numPr is not None
    builder.add(LIST if numbered or "list" in lowered or _MD_LIST.match(text) else PARA, text)


def _docx_table(builder: _Builder, table) -> None:
    header = ""
    for k, row in enumerate(table.rows):
        cells: list[str] = []
        for cell in row.cells:
            value = " ".join(cell.text.split())
            if not cells or value != cells[-1]:  # a merged cell repeats itself
                cells.append(value)
        line = " | ".join(cells)
        if not line.strip(" |"):
            continue
        if k == 0:
            header = line
            builder.add(TABLE_HEADER, line)
        else:
            builder.add(ROW, line, header=header)


# --- PDF ------------------------------------------------------------------------------------------------
_PAGE_NUMBER = re.compile(r"^\s*(?:page\s*)?\d+\s*(?:/|of)\s*\d+\s*$", re.IGNORECASE)
_SENTENCE_END = ("。", "！", "？", ".", "!", "?", "：", ":", "；", ";")


def _pdf(name: str, data: bytes) -> Document:
    if b"%PDF" not in data[:1024]:
        raise IngestError(CORRUPT, name=name)
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        import pypdf

        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except Exception:  # noqa: BLE001 - an unsupported cipher is as closed as a password
                opened = 0
            if not opened:
                raise IngestError(ENCRYPTED, name=name)
        if len(reader.pages) > MAX_PDF_PAGES:
            raise IngestError(TOO_LARGE, msg_id="kb.error.too_many_pages", name=name, pages=len(reader.pages),
                              limit=MAX_PDF_PAGES)
        deadline = time.monotonic() + MAX_PDF_SECONDS
        pages = []
        for page in reader.pages:
            if time.monotonic() > deadline:
                raise IngestError(TOO_LARGE, msg_id="kb.error.pdf_too_slow", name=name, seconds=int(MAX_PDF_SECONDS))
            pages.append(page.extract_text() or "")
    except IngestError:
        raise
    except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds on a broken file
        if "decrypt" in str(exc).lower() or "encrypt" in type(exc).__name__.lower():
            raise IngestError(ENCRYPTED, name=name) from None
        raise IngestError(CORRUPT, name=name) from None
    if not pages:
        raise IngestError(CORRUPT, name=name)
    page_lines = [[line.strip() for line in normalize(text).split("\n")] for text in pages]
    repeated = _repeated_lines(page_lines)
    builder = _Builder("pdf")
    for number, lines in enumerate(page_lines, start=1):
        paragraph: list[str] = []
        for line in lines:
            if not line or line in repeated or _PAGE_NUMBER.match(line):
                continue
            if paragraph and (_MD_LIST.match(line) or paragraph[-1].endswith(_SENTENCE_END)):
                builder.add(LIST if _MD_LIST.match(paragraph[0]) else PARA, "\n".join(paragraph), page=number)
                paragraph = []
            paragraph.append(line)
        if paragraph:
            builder.add(LIST if _MD_LIST.match(paragraph[0]) else PARA, "\n".join(paragraph), page=number)
    document = builder.document(pages=len(pages))
    if not document.text.strip():
        raise IngestError(NO_TEXT, name=name)
    return document


def _repeated_lines(page_lines: list[list[str]]) -> set[str]:
    """Running headers and footers: the same line on at least half the pages (of three or more)."""
    if len(page_lines) < 3:
        return set()
    counts: dict[str, int] = {}
    for lines in page_lines:
        for line in set(lines):
            if line and len(line) > 3:
                counts[line] = counts.get(line, 0) + 1
    return {line for line, count in counts.items() if count >= max(3, len(page_lines) // 2)}
