"""The UI language switch, driven by AppTest: the browser's locale first, then the visitor's choice, on
every page; in English the converted parts show no Chinese, in Chinese no English-only label."""

from __future__ import annotations

import json
import re

from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

from components.lang import SWITCH
from qwenchat.i18n import t
from tests.apptest import APP, CHAT, HISTORY, SETTINGS, TIMEOUT, USAGE, send
from tests.fake_dashscope import FakeDashScope

HAN = re.compile(r"[\u3400-\u9fff]")
NOT_CONVERTED: set[str] = set()  # keys of sidebar blocks whose words are not in the catalog yet
# Words that are the same in both languages: names, formats, units.
STREAMLIT_COLUMNS = {"value", "color"}  # a chart's long form, Streamlit's own names, never shown
NAMES = re.compile(r"Qwen Chat|qwen-[a-z0-9.-]+|Token|Markdown|JSON|CNY|API Key|DashScope|Qwen|Base URL|Top P|#")
# Widgets whose value is the conversation's content, not the app's words: the system prompt is sent to the model.
CONTENT_KEYS = ("system_prompt_", "edit_text_")
# Inside a chat message, Markdown and code are what the user or the model wrote; the rest is the app's.
CONTENT_TYPES = ("markdown", "code")


def texts(node, in_message: bool = False) -> list[str]:
    """Every piece of text a visitor reads under `node`: values, labels, help, options, table headers; in a
    chat message, everything but what the user or the model wrote."""
    found = []
    for child in node.children.values():
        if isinstance(child, Block):
            if child.key not in NOT_CONVERTED:
                found += [child.proto.expandable.label] if child.type == "expandable" else []
                found += texts(child, in_message or child.type == "chat_message")
            continue
        if in_message and child.type in CONTENT_TYPES:
            continue
        if child.type == "dataframe":
            found += [str(column) for column in child.value.columns]
            continue
        if child.type == "vega_lite_chart":  # the charts' columns name their axes and legend
            columns = convert_arrow_bytes_to_pandas_df(child.proto.datasets[0].data.data).columns
            found += [name for name in [*map(str, columns), *titles(json.loads(child.proto.spec))]
                      if name not in STREAMLIT_COLUMNS and "streamlit-generated" not in name]
            continue
        if child.type == "button_group":  # the language switch: each language's name in itself
            continue
        if child.type == "selectbox":  # what the visitor reads is the options, not the value behind them
            found += list(child.options)
        content = child.type == "selectbox" or str(getattr(child, "key", "") or "").startswith(CONTENT_KEYS)
        for attribute in ("label", "text", "help", "placeholder") if content else \
                ("value", "label", "text", "help", "placeholder"):
            try:
                value = getattr(child, attribute, None)
            except Exception:  # a widget's value outside a run
                continue
            if isinstance(value, str):
                found.append(value)
        proto_text = getattr(getattr(child, "proto", None), "text", None)
        if isinstance(proto_text, str):  # st.progress's text
            found.append(proto_text)
    return found


def titles(spec) -> list[str]:
    """Every "title" in a Vega-Lite spec: axis and legend titles."""
    if isinstance(spec, dict):
        found = [spec["title"]] if isinstance(spec.get("title"), str) else []
        return found + [title for value in spec.values() for title in titles(value)]
    return [title for value in spec for title in titles(value)] if isinstance(spec, list) else []


def chinese(found: list[str]) -> list[str]:
    return [text for text in found if HAN.search(text)]


def english_only(found: list[str]) -> list[str]:
    return [text for text in found if not HAN.search(text) and re.search(r"[A-Za-z]{2,}", NAMES.sub("", text))]


def page_titles(at: AppTest) -> set[str]:
    # The menu is not in AppTest's element tree; the registered pages carry its titles.
    return {page["page_name"] for page in at._registered_pages.values()}


def choose(at: AppTest, lang: str) -> AppTest:
    at.sidebar.segmented_control(key=SWITCH).set_value(lang).run()
    assert not at.exception, at.exception
    return at


def test_the_browser_locale_picks_the_first_language(app_env):
    for locale, lang in (("en-US", "en"), ("zh-CN", "zh"), (None, "zh")):
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
        if locale:
            at.context = {"locale": locale}
        at.run()
        assert at.sidebar.segmented_control(key=SWITCH).value == lang
        assert at.title[0].value == t("app.title", lang)


def test_in_english_the_sidebar_and_the_usage_page_show_no_chinese(app_env, fake):
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    send(at, "hello there")  # user content in English, so every Chinese character would be the app's
    send(at, "thanks, bye")  # the end detector's verdict fills its panel
    choose(at, "en")
    assert at.sidebar.segmented_control(key=SWITCH).options == ["中文", "English"]
    found = texts(at.sidebar)
    assert t("usage.title", "en") in found and t("sidebar.reset", "en") in found and t("ending.title", "en") in found
    assert chinese(found) == []
    assert page_titles(at) >= {t("page.chat", "en"), t("page.usage", "en"), t("page.history", "en"),
                               t("page.settings", "en")}

    at.switch_page(USAGE).run()
    assert not at.exception and at.session_state["ui_lang"] == "en"  # the choice outlives the page
    assert at.metric and at.get("vega_lite_chart")
    found = texts(at.main) + texts(at.sidebar)
    assert t("usage_page.title", "en") in found and chinese(found) == []

    at.switch_page(SETTINGS).run()
    at.toggle(key=f"show_params_{at.session_state['chat'].conversation.id}").set_value(True).run()
    at.selectbox(key="region").select("custom").run()  # every box of the page drawn
    found = texts(at.main) + texts(at.sidebar)
    assert t("settings_page.title", "en") in found and t("settings.param.temperature", "en") in found
    assert t("settings.base_url_placeholder", "en") in found and chinese(found) == []


def test_in_chinese_no_english_only_label_remains(app_env, fake):
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.context = {"locale": "en-US"}  # starts in English, switched to Chinese
    at.run()
    send(at, "你好")
    choose(at, "zh")
    found = texts(at.sidebar)
    assert t("usage.title", "zh") in found and english_only(found) == []
    assert page_titles(at) >= {t("page.chat", "zh"), t("page.usage", "zh"), t("page.history", "zh")}
    at.switch_page(USAGE).run()
    found = texts(at.main) + texts(at.sidebar)
    assert t("usage_page.title", "zh") in found and english_only(found) == []
    at.switch_page(SETTINGS).run()
    at.toggle(key=f"show_params_{at.session_state['chat'].conversation.id}").set_value(True).run()
    found = texts(at.main) + texts(at.sidebar)
    assert t("settings_page.title", "zh") in found and t("settings.param.temperature", "zh") in found
    assert english_only(found) == []


def test_the_choice_is_kept_on_every_page_and_back(app_env):
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    choose(at, "en")
    for page in (USAGE, HISTORY, SETTINGS, CHAT):
        at.switch_page(page).run()
        assert not at.exception, page
        assert at.sidebar.segmented_control(key=SWITCH).value == "en", page
    assert at.title[0].value == t("app.title", "en")
    choose(at, "zh")
    assert at.title[0].value == t("app.title", "zh")


def block(node, key: str) -> Block:
    """The block with this key under `node`."""
    for child in node.children.values():
        if isinstance(child, Block):
            if child.key == key:
                return child
            try:
                return block(child, key)
            except LookupError:
                pass
    raise LookupError(key)


def click(at: AppTest, prefix: str, index: int = 0) -> AppTest:
    """Click the `index`-th button whose key starts with `prefix` (a message's control)."""
    [b for b in at.button if b.key and b.key.startswith(prefix)][index].click().run()
    assert not at.exception, at.exception
    return at


def a_chat_with_every_control(at: AppTest, fake: FakeDashScope) -> AppTest:
    """Two versions of a reply (‹ 2/2 ›), a failed reply with its Retry, an edit form open and a refusal on
    screen. User content is English, so every Chinese character would be the app's or the fake model's."""
    send(at, "hello there")
    click(at, "regenerate_")
    fake.enqueue(*[{"kind": "error", "code": "limit_requests"}] * 3)  # the SDK retries twice by itself
    send(at, "and another question")
    click(at, "edit_")
    send(at, "   ")  # refused: an empty message
    return at


def test_in_english_the_chat_page_shows_no_chinese_but_the_content(app_env, fake):
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.context = {"locale": "en-US"}
    at.run()
    a_chat_with_every_control(at, fake)
    assert at.error[0].value == t("error.rate_limit", "en") and at.warning[0].value == t("turn.empty", "en")
    assert at.button(key=[b.key for b in at.button if b.key.startswith("retry_")][0]).label == t("chat.retry", "en")
    assert "2/2" in [c.value for c in at.caption] and at.text_area[0].label == t("chat.edit_label", "en")
    found = texts(at.main) + texts(at.sidebar)
    assert t("settings.title", "en") in found and t("chat.edit_resend", "en") in found
    assert t("error.rate_limit", "en") in found and t("turn.empty", "en") in found and t("chat.send", "en") in found
    assert chinese(found) == []
    assert at.sidebar.segmented_control(key=SWITCH).options == ["中文", "English"]  # the switch's own 中文

    choose(at, "zh")  # and back: the same page in Chinese, no English-only word but names and content
    send(at, "   ")
    assert at.error[0].value == t("error.rate_limit", "zh") and at.warning[0].value == t("turn.empty", "zh")
    found = texts(at.main) + texts(block(at.sidebar, "settings"))
    assert t("settings.title", "zh") in found and t("chat.edit_resend", "zh") in found
    assert english_only(found) == []


def test_in_english_a_closed_conversation_says_goodbye_in_english(app_env, fake):
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.context = {"locale": "en-US"}
    at.run()
    send(at, "hello there")
    send(at, "thanks, bye")
    assert [m.markdown[0].value for m in at.chat_message][-1] == t("farewell", "en")
    assert at.info[0].value == t("chat.closed", "en")
    assert chinese(texts(at.main)) == []


def test_in_english_a_copy_saved_after_a_delete_elsewhere_is_titled_in_english(app_env, fake, tmp_path):
    from qwenchat.store import Store

    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.context = {"locale": "en-US"}
    at.run()
    send(at, "hello there")
    elsewhere = Store(tmp_path / "chats.db")  # another tab deletes the conversation
    assert elsewhere.delete(at.session_state["owner"].id, at.session_state["chat"].conversation.id)
    send(at, "one more thing")
    assert t("chat.saving.deleted", "en") in [w.value for w in at.warning]
    at.button(key="save_copy").click().run()
    assert not at.exception
    [summary] = elsewhere.list_conversations(at.session_state["owner"].id)
    elsewhere.close()
    assert summary.title == "hello there (copy)"
