"""The chat controls in Chromium (issue 10): regenerate, edit and resend, personas, the language switch, and a
local OpenAI-compatible server that needs no key.

Each test asserts what a user would notice on the page, and what the fake server received.
"""

from __future__ import annotations

import re
import urllib.parse

import pytest

from qwenchat.conversation import DEFAULT_SYSTEM_PROMPT
from qwenchat.i18n import t
from qwenchat.personas import builtin

from . import helpers
from .conftest import require_chromium
from .helpers import (
    CHAT_MESSAGE,
    chat_messages,
    go_to_page,
    message_controls,
    open_app,
    send_message,
    wait_for_last_message,
    wait_idle,
)

require_chromium()

pytestmark = pytest.mark.timeout(90)


def request_messages(fake) -> list[list[tuple[str, str]]]:
    """(role, content) of every message of every chat request the fake server received, in order."""
    return [[(m["role"], m["content"]) for m in r["body"]["messages"]] for r in fake.requests()]


def control(message, name: str):
    """One of a message's small buttons, by its key's prefix (`regenerate`, `previous`, `next`, `edit`, ...)."""
    return message.locator(f'[class*="st-key-{name}_"] button:visible').first


def talk(page, text: str, reply: str | None = None) -> None:
    send_message(page, text)
    wait_for_last_message(page, reply or f"收到：{text}")
    wait_idle(page)


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).items()}


def no_exception_shown(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, "a traceback is shown on the page"


def test_regenerate_sends_the_same_history_and_shows_the_new_reply_as_2_of_2(page, app_url, fake):
    open_app(page, app_url)
    talk(page, "讲个关于杭州的笑话")
    fake.enqueue({"kind": "text", "chunks": ["换一个：", "西湖的鱼", "都很淡定。"]})

    control(page.locator(CHAT_MESSAGE).last, "regenerate").click()
    wait_for_last_message(page, "西湖的鱼都很淡定。")
    wait_idle(page)

    assert [m["text"] for m in chat_messages(page)] == ["讲个关于杭州的笑话", "换一个：西湖的鱼都很淡定。"], \
        "the new reply should replace the old one on screen, not be added under it"
    reply = page.locator(CHAT_MESSAGE).last
    assert "2/2" in message_controls(reply)
    no_exception_shown(page)

    sent = request_messages(fake)
    assert len(sent) == 2, "regenerate should send exactly one more request"
    assert sent[1] == sent[0], "regenerate should send the same history again"
    assert sent[0][-1] == ("user", "讲个关于杭州的笑话")

    # The first reply is still there, one click away.
    control(reply, "previous").click()
    wait_for_last_message(page, "收到：讲个关于杭州的笑话")
    wait_idle(page)
    assert "1/2" in message_controls(page.locator(CHAT_MESSAGE).last)
    assert len(fake.requests()) == 2, "switching versions must not call the model"


def test_edit_and_resend_sends_the_edited_text_and_not_the_old_one(page, app_url, fake):
    open_app(page, app_url)
    talk(page, "北京有几个机场？")
    talk(page, "哪个离市区近？")

    first_question = page.locator(CHAT_MESSAGE).first
    control(first_question, "edit").click()
    box = first_question.locator("textarea")
    box.wait_for()
    box.fill("上海有几个机场？")
    first_question.locator('[data-testid="stForm"]').get_by_role(
        "button", name=re.compile("发送|Send")).click()
    wait_for_last_message(page, "收到：上海有几个机场？")
    wait_idle(page)

    assert [m["text"] for m in chat_messages(page)] == ["上海有几个机场？", "收到：上海有几个机场？"], \
        "after an edit the chat shows the edited branch only"
    assert "2/2" in message_controls(page.locator(CHAT_MESSAGE).first)
    no_exception_shown(page)

    sent = request_messages(fake)
    assert len(sent) == 3
    assert sent[2][1:] == [("user", "上海有几个机场？")], "the edited question goes alone, from where it was"
    assert not any("北京" in content or "哪个离市区近" in content for _, content in sent[2])

    # The old branch is kept, with its second turn.
    control(page.locator(CHAT_MESSAGE).first, "previous").click()
    wait_for_last_message(page, "收到：哪个离市区近？")
    wait_idle(page)
    assert [m["text"] for m in chat_messages(page)][0] == "北京有几个机场？"
    assert len(fake.requests()) == 3


def test_a_persona_s_system_prompt_is_the_first_message_of_the_next_request(page, app_url, fake):
    nutritionist = builtin("nutritionist")
    assert nutritionist is not None and nutritionist.name_zh == "营养师"
    open_app(page, app_url)
    talk(page, "你好")

    page.wait_for_function("() => new URLSearchParams(location.search).get('c')")
    conversation_id = query(page.url)["c"]
    persona = page.get_by_test_id("stSidebar").locator(f".st-key-persona_{conversation_id}")
    helpers.choose_option(page, persona, "营养师")
    wait_idle(page)
    assert persona.get_by_role("combobox").input_value() == "营养师"

    talk(page, "早餐吃什么比较好？")
    no_exception_shown(page)
    sent = request_messages(fake)
    assert len(sent) == 2
    assert sent[0][0] == ("system", DEFAULT_SYSTEM_PROMPT), "the persona applies from the next turn, not before"
    assert sent[1][0] == ("system", nutritionist.prompt)
    assert sent[1][1:] == [("user", "你好"), ("assistant", "收到：你好"), ("user", "早餐吃什么比较好？")]


# Every piece of text the app itself shows (the "chrome"), with Chinese in it: visible text nodes outside the
# user's and the model's message text, a selectbox's shown choice, an empty box's placeholder, and the tab
# title. Leaves out text a user can edit (the system prompt, the farewell) and the switch's own 中文 label.
CHINESE_IN_CHROME_JS = """() => {
  const CJK = /[\\u3400-\\u9fff\\uf900-\\ufaff\\u3000-\\u303f\\uff01-\\uff5e]/;
  const isMessageText = (el) => {
    if (!el.closest('[data-testid="stChatMessageContent"]')) return false;
    return !el.closest('[data-testid="stAlert"], [data-testid="stCaptionContainer"], '
      + '[data-testid="stHorizontalBlock"], [data-testid="stExpander"] summary, [data-testid="stForm"] label, button');
  };
  const visible = (el) => el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true});
  const where = (el) => el.closest('[data-testid="stSidebar"]') ? 'sidebar' : 'page';
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const text = node.textContent.trim();
    const el = node.parentElement;
    if (!text || !el || !CJK.test(text) || el.closest('script, style, noscript, template, textarea')) continue;
    if (!visible(el) || isMessageText(el)) continue;
    if (text === '中文' && el.closest('[data-testid="stButtonGroup"]')) continue;
    found.push(where(el) + ': ' + text);
  }
  for (const input of document.querySelectorAll('input, textarea')) {
    if (!visible(input) || input.type === 'password') continue;
    const shown = input.getAttribute('role') === 'combobox' ? input.value : (input.value ? '' : input.placeholder);
    if (shown && CJK.test(shown)) found.push(where(input) + ': ' + shown);
  }
  if (CJK.test(document.title)) found.push('tab title: ' + document.title);
  return found;
}"""

def chinese_in_chrome(page) -> list[str]:
    return page.evaluate(CHINESE_IN_CHROME_JS)


def test_english_leaves_no_chinese_in_the_chrome_and_chinese_comes_back(page, app_url, fake):
    open_app(page, app_url)  # the browser asks for zh-CN
    talk(page, "hello")  # a user message and a reply with its controls: the echo "收到：hello" is model text
    sidebar = page.get_by_test_id("stSidebar")
    nav = page.get_by_test_id("stSidebarNav")
    assert nav.get_by_role("link", name=t("page.usage", "zh")).is_visible()

    sidebar.locator('[data-testid="stButtonGroup"]').get_by_role("radio", name="English").click()
    nav.get_by_role("link", name=t("page.usage", "en")).wait_for()
    wait_idle(page)
    assert sidebar.get_by_role("button", name=t("sidebar.reset", "en")).is_visible()
    assert page.get_by_role("heading", name=t("app.title", "en"), exact=True).is_visible()
    assert [m["text"] for m in chat_messages(page)] == ["hello", "收到：hello"], "the chat itself is unchanged"
    found = {"chat": chinese_in_chrome(page)}

    go_to_page(page, t("page.usage", "en"), "/usage", "h1")
    assert page.get_by_role("heading", name=t("usage_page.title", "en")).is_visible()
    found["usage"] = chinese_in_chrome(page)
    go_to_page(page, t("page.history", "en"), "/history", '[data-testid="stFileUploader"]')
    found["history"] = chinese_in_chrome(page)
    go_to_page(page, t("page.settings", "en"), "/settings", ".st-key-api_key_input")
    assert page.get_by_role("heading", name=t("settings_page.title", "en")).is_visible()
    found["settings"] = chinese_in_chrome(page)

    # And back: the same session in Chinese again, on the chat page.
    go_to_page(page, t("page.chat", "en"), "/", CHAT_MESSAGE)
    sidebar.locator('[data-testid="stButtonGroup"]').get_by_role("radio", name="中文").click()
    nav.get_by_role("link", name=t("page.usage", "zh")).wait_for()
    wait_idle(page)
    assert sidebar.get_by_role("button", name=t("sidebar.reset", "zh")).is_visible()
    assert page.get_by_role("heading", name=t("app.title", "zh"), exact=True).is_visible()
    assert nav.inner_text().split() == ["💬", t("page.chat", "zh"), "📊", t("page.usage", "zh"), "🗂️",
                                        t("page.history", "zh"), "📚", t("page.knowledge", "zh"), "📏",
                                        t("page.evaluate", "zh"), "⚙️", t("page.settings", "zh")]
    assert [m["text"] for m in chat_messages(page)] == ["hello", "收到：hello"]
    no_exception_shown(page)

    shown = [f"{where}: {text}" for where, texts in found.items() for text in texts]
    assert not shown, f"Chinese in the English chrome: {shown}"


def options_of(page, selectbox, attempts: int = 3) -> list[str]:
    """The choices a Streamlit selectbox offers (its menu opened, read, closed; a rerun may close it: retry)."""
    for attempt in range(attempts):
        selectbox.get_by_role("combobox").click()
        options = page.get_by_role("option")
        try:
            options.first.wait_for(state="visible", timeout=5_000)
        except Exception:  # noqa: BLE001 - the menu closed or never opened
            if attempt == attempts - 1:
                raise
            page.keyboard.press("Escape")
            wait_idle(page)
            continue
        listed = options.all_inner_texts()
        page.keyboard.press("Escape")
        return listed
    return []


LOCAL_MODELS = ["llama3.2:3b", "qwen2.5:7b-instruct", "deepseek-r1:1.5b"]


@pytest.fixture
def keyless_app(browser, tmp_path):
    """The app with no key at all, its base URL on a local OpenAI-compatible server that needs none (the
    fake with api_key=None, in this process), like Ollama or vLLM. QWENCHAT_PROVIDER is unset (the
    children's environment drops every QWEN* variable), so the app goes by the URL: not DashScope."""
    from tests.fake_dashscope import FakeDashScope

    with FakeDashScope(api_key=None, models=LOCAL_MODELS) as local:
        app = helpers.start_streamlit(helpers.APP, fake=local, home=tmp_path, log_dir=tmp_path,
                                      name="keyless_app", api_key=None)
        try:
            yield app, local
        finally:
            app.stop()


def test_a_local_server_without_a_key_chats_and_its_models_are_in_the_picker(page, keyless_app):
    app, local = keyless_app
    open_app(page, app.url, timeout=60_000)  # waits for an enabled chat input: no key is asked for
    wait_idle(page, timeout=60_000)
    assert page.locator('[data-testid="stAlert"]').filter(has_text="API Key").count() == 0

    picker = page.get_by_test_id("stSidebar").locator(".st-key-model_choice")
    served = sorted(LOCAL_MODELS)  # the picker lists them sorted
    assert picker.get_by_role("combobox").input_value() == served[0]
    listed = options_of(page, picker)
    assert listed[:len(served)] == served, listed
    assert not any(name.startswith("qwen-plus") for name in listed), "DashScope's catalog is not this server's"
    assert local.model_requests, "the picker did not ask the server for its models"

    helpers.choose_option(page, picker, "qwen2.5:7b-instruct")
    wait_idle(page)
    talk(page, "你好，本地模型")
    assert [m["text"] for m in chat_messages(page)] == ["你好，本地模型", "收到：你好，本地模型"]
    no_exception_shown(page)
    assert len(local.requests) == 1
    request = local.requests[0]
    assert request["body"]["model"] == "qwen2.5:7b-instruct"
    assert request["body"]["messages"][-1] == {"role": "user", "content": "你好，本地模型"}
    assert helpers.VALID_KEY not in request["authorization"], "no key was configured, none may be sent"
