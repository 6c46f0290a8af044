"""Cleaning pasted text: each bad input that reaches the chat box, and what must survive untouched."""

import json
import sqlite3
import time

import pytest

from qwenchat.sanitize import clean_user_text, is_blank

FAMILY = "👨‍👩‍👧‍👦"
SCOTLAND = "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"  # a flag made of tag characters


def fast(fn, *args, limit=0.5):
    start = time.perf_counter()
    result = fn(*args)
    assert time.perf_counter() - start < limit
    return result


def storable(text: str) -> None:
    text.encode("utf-8")
    json.loads(json.dumps(text, ensure_ascii=False))
    with sqlite3.connect(":memory:") as db:
        assert db.execute("SELECT ?", (text,)).fetchone()[0] == text


def test_empty_and_whitespace_only():
    assert clean_user_text("") == "" and is_blank("")
    for text in (" ", "\n\n\t ", "\u3000", "\u00a0\u2003", "\r\n"):
        assert is_blank(text) and is_blank(clean_user_text(text))


def test_ordinary_text_and_markdown_are_unchanged():
    text = "  def f():\n\treturn 1  \n\n**粗体** `代码` > 引用\n| a | b |\n|---|---|\nالعربية עברית"
    assert clean_user_text(text) == text and not is_blank(text)


def test_a_one_megabyte_paste_is_cleaned_fast():
    text = ("一段很长的粘贴文本 with English, 数字 12345 and **Markdown**.\n" * 20_000)[:1_000_000]
    assert fast(clean_user_text, text) == text
    dirty = text[:500_000] + "\x00\r\n\u202e\ud800" + text[500_000:]
    cleaned = fast(clean_user_text, dirty)
    assert cleaned == text[:500_000] + "\n\ufffd" + text[500_000:]
    assert not fast(is_blank, text)
    assert fast(is_blank, "\u200b" * 1_000_000) and not fast(is_blank, "\u200b" * 1_000_000 + "x")


def test_control_characters_are_removed_but_newlines_and_tabs_stay():
    assert clean_user_text("a\x00b\x07c\x1bd\x7fe\x85f\x9fg") == "abcdefg"
    assert clean_user_text("line\tcell\nnext") == "line\tcell\nnext"
    assert clean_user_text("\x1b[31mred\x1b[0m") == "[31mred[0m"  # no terminal escapes survive
    assert clean_user_text("windows\r\nline\rold mac") == "windows\nline\nold mac"
    assert clean_user_text("\x0b\x0c") == "" and is_blank("\x00\x01")
    storable(clean_user_text("a\x00b"))


def test_lone_surrogates_become_the_replacement_character():
    for dirty, expected in (("\ud800", "\ufffd"), ("a\udfffb", "a\ufffdb"), ("\udc00\ud800", "\ufffd\ufffd")):
        cleaned = clean_user_text(dirty)
        assert cleaned == expected
        storable(cleaned)


def test_a_surrogate_pair_becomes_the_character_it_stands_for():
    assert clean_user_text("smile \ud83d\ude00!") == "smile 😀!"
    assert clean_user_text("\ud83d\ude00\ud83d") == "😀\ufffd"


def test_bidi_overrides_and_isolates_are_removed():
    trojan = "access = 'user\u202e \u2066// admin\u2069 \u2066'"
    cleaned = clean_user_text(trojan)
    assert cleaned == "access = 'user // admin '"
    for char in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069":
        assert clean_user_text(f"x{char}y") == "xy"
    assert clean_user_text("שלום\u200f abc \u200e") == "שלום\u200f abc \u200e"  # direction marks stay


def test_zero_width_characters_stay_but_count_as_blank_alone():
    for char in ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"):
        assert clean_user_text(f"a{char}b") == f"a{char}b"
        assert is_blank(char * 3) and is_blank(f" {char}\n")
    assert is_blank("\u3164\u2800\u115f\ufe0f\u00ad")  # Hangul filler, Braille blank & co.
    assert not is_blank("\u200bx") and not is_blank("\ufffd") and not is_blank("\ud800")


@pytest.mark.parametrize("emoji", [FAMILY, "🏳️‍🌈", "❤️", "👩🏽‍💻", "🧑‍🤝‍🧑", SCOTLAND, "1️⃣", "葛\U000e0100"])
def test_emoji_and_variation_sequences_are_kept_intact(emoji):
    long = (emoji + " ") * 1000
    assert clean_user_text(emoji) == emoji and clean_user_text(long) == long
    assert not is_blank(emoji)
    storable(emoji)


def test_a_markdown_bomb_is_unchanged_and_fast():
    table = "| a | b | c |\n|---|---|---|\n" + "| 1 | 2 | 3 |\n" * 10_000
    quotes = ">" * 5_000 + " deep"
    links = "[" * 5_000 + "x" + "](" * 5_000
    nested_lists = "".join("  " * i + "- item\n" for i in range(2_000))
    for bomb in (table, quotes, links, nested_lists):
        assert fast(clean_user_text, bomb) == bomb
        assert not fast(is_blank, bomb)


def test_cleaning_twice_changes_nothing_more():
    dirty = "a\r\n\x00\u202e\ud800\ud83d\ude00" + FAMILY
    once = clean_user_text(dirty)
    assert clean_user_text(once) == once
