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


_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,})[^`]*$|^ {0,3}(~{3,}).*$")
_FENCE_CLOSE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*$")


def inert_markdown(text: str) -> str:
    """Markdown that loads nothing and runs nothing in any viewer, for files opened elsewhere (an export
    shown by an editor's preview that renders HTML): images become links, and every `<` becomes `&lt;`
    except inside a fenced code block, told by CommonMark's own rules (a closing fence of the same
    character, at least as long; no backtick in a backtick fence's info string). A fence still open at the
    end is closed, so the next message of the file cannot start inside it. Code spans and indented code
    show `&lt;` as written: telling them apart takes a whole parser, and a wrong guess would let a tag through."""
    out: list[str] = []
    fence = ""
    for line in images_as_links(text).split("\n"):
        if fence:
            close = _FENCE_CLOSE.match(line)
            if close and close.group(1)[0] == fence[0] and len(close.group(1)) >= len(fence):
                fence = ""
        else:
            opening = _FENCE_OPEN.match(line)
            if opening:
                fence = opening.group(1) or opening.group(2)
            else:
                line = line.replace("<", "&lt;")
        out.append(line)
    if fence:
        out.append(fence)
    return "\n".join(out)


def inert_line(text: str) -> str:
    """One line of text (a title, a model or file name) made inert the same way, every `<` escaped."""
    return images_as_links(" ".join(text.split())).replace("<", "&lt;")
