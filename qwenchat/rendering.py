"""How model text is prepared for `st.markdown`: images shown as links, and where a streaming reply may
be split so that only its tail is re-rendered.

Images: a reply steered by instructions hidden in a pasted document could put conversation text into an
image URL, which the browser would fetch on its own. As a link it is fetched only if the user clicks.

Re-rendering the whole reply on every update makes a long reply cost time quadratic in its length. The
chat view instead freezes finished blocks in elements of their own and keeps re-rendering only the open
tail. A split is safe only at a blank line outside a fenced code block (a list, table or quote that
continues past a blank line may render with a gap, but nothing breaks).
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^ {0,3}(```|~~~)", re.MULTILINE)


def stable_split(text: str, min_tail: int = 2000) -> int:
    """The index up to which `text` can be frozen (0 when none): the last blank line outside a code
    fence, leaving at most about `min_tail` characters... and only when the text is longer than that."""
    if len(text) < min_tail * 2:
        return 0
    cut = text.rfind("\n\n", 0, len(text) - min_tail // 2)
    while cut > 0:
        if len(_FENCE.findall(text, 0, cut)) % 2 == 0:
            return cut + 2
        cut = text.rfind("\n\n", 0, cut)
    return 0


def images_as_links(text: str) -> str:
    """`![alt](url)` becomes `[🖼️ alt](url)`: the picture loads only when the user follows the link.

    Every `![` loses its `!`, not only those a pattern recognises as a whole image: alt text may span lines
    or nest brackets, and `![alt][ref]` or `![ref]` take their address from elsewhere in the text. Without
    the `!` each of them is at most a link. A run of `!` goes whole: in `!![` the first would stand before
    the new `[`."""
    return _BANG_BRACKET.sub(lambda m: "[🖼️ image]" if m.group(1) else "[🖼️ ", text)


_BANG_BRACKET = re.compile(r"!+\[(\])?")


_INLINE_MARKUP = set("\\`*_[]()!<>~|$:#")


def escape_inline(text: str) -> str:
    """Text inside a line shown as typed: only the marks that act mid-line are escaped (emphasis, links and
    images, code, HTML, strikethrough, tables, math, emoji and colour directives), so "qwen3.5-plus" stays
    readable in the page source too."""
    return "".join("\\" + ch if ch in _INLINE_MARKUP else ch for ch in " ".join(text.split()))


_CODE_SPAN = re.compile(r"(`+)(?:.*?[^`])?\1(?!`)")


def inert_markdown(text: str) -> str:
    """Markdown that loads nothing and runs nothing in any viewer, for files opened elsewhere (an export
    shown by an editor's preview that renders HTML): images become links, and `<` outside code becomes
    `&lt;`, so no tag is read as HTML. Code blocks and code spans are left as written."""
    out, fenced = [], False
    for line in images_as_links(text).split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            line = _escape_outside_code_spans(line)
        out.append(line)
    return "\n".join(out)


def _escape_outside_code_spans(line: str) -> str:
    pieces, last = [], 0
    for span in _CODE_SPAN.finditer(line):
        pieces += [line[last:span.start()].replace("<", "&lt;"), span.group(0)]
        last = span.end()
    pieces.append(line[last:].replace("<", "&lt;"))
    return "".join(pieces)
