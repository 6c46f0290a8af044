"""The `search_knowledge_base` tool in Chromium: a knowledge base made on the 📚 page, the tool switched on
in ⚙️ Settings, the knowledge base chosen in the chat; the model searches (a tool step), answers with a
marker, and the sources list under the answer names the file.

The fake DashScope's `[[fake:kb_search:QUERY]]` calls the tool, then quotes the best line it got with its [n]."""

from __future__ import annotations

import re
import time

import pytest

from qwenchat.i18n import t
from tests.test_retrieval import CONTACTS, contact_bytes

from . import helpers
from .conftest import require_chromium
from .helpers import CHAT_MESSAGE, open_app, send_message, wait_for_last_message, wait_idle

require_chromium()
pytestmark = pytest.mark.timeout(120)

TIMEOUT_MS = 30_000


def nav(page, label: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a', has_text=label).first.click()


def test_the_model_searches_the_knowledge_base_itself_and_its_answer_lists_the_source(page, app_url, fake,
                                                                                      tmp_path):
    started = time.monotonic()
    open_app(page, app_url)
    nav(page, t("page.knowledge", "zh"))
    name_box = page.get_by_label(t("kb.create.label", "zh"))
    name_box.wait_for(state="visible", timeout=TIMEOUT_MS)
    name_box.fill("工具资料")
    page.get_by_role("button", name=t("kb.create.button", "zh")).click()
    page.get_by_text(t("kb.created", "zh", name="工具资料")).wait_for(timeout=TIMEOUT_MS)
    wait_idle(page)
    contacts = tmp_path / CONTACTS
    contacts.write_bytes(contact_bytes())
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files([str(contacts)])
    page.wait_for_function("""label => [...document.querySelectorAll('button')]
        .some(b => b.innerText.includes(label) && !b.disabled)""", arg=t("kb.upload.button", "zh"),
                           timeout=TIMEOUT_MS)
    page.get_by_role("button", name=t("kb.upload.button", "zh")).click()
    page.get_by_text(CONTACTS, exact=False).filter(has_text="已加入").first.wait_for(timeout=TIMEOUT_MS)
    wait_idle(page)

    helpers.go_to_page(page, t("page.settings", "zh"), "/settings", ".st-key-region")
    switch = page.locator(".st-key-tool_search_knowledge_base")
    switch.get_by_text(t("tools.name.search_knowledge_base", "zh")).click()
    page.wait_for_function("""() => document.querySelector(
        '.st-key-tool_search_knowledge_base input[type="checkbox"]')?.checked""", timeout=TIMEOUT_MS)
    wait_idle(page)

    nav(page, t("page.chat", "zh"))
    picker = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(
        has_text=t("chat.kb.label", "zh")).first
    picker.wait_for(timeout=TIMEOUT_MS)
    helpers.choose_option(page, picker, "工具资料")
    wait_idle(page)
    send_message(page, "谢宇的邮箱？[[fake:kb_search:谢宇]]")
    wait_for_last_message(page, t("chat.sources", "zh"), timeout=TIMEOUT_MS)
    wait_idle(page)
    reply = page.locator(CHAT_MESSAGE).last
    text = reply.inner_text()
    assert t("tools.steps", "zh", count=1) in text  # the search, as a tool step
    assert "xieyu@educompany.com" in text and re.search(r"\[\d+\]", text), text
    assert CONTACTS in text  # the sources list names the file
    assert not page.locator('[data-testid="stException"]').count()
    chats = [r for r in fake.requests() if r["path"].endswith("/chat/completions")]
    assert chats[-2]["body"]["messages"][-1]["content"] == "谢宇的邮箱？[[fake:kb_search:谢宇]]"  # not grounded
    assert chats[-1]["body"]["messages"][-1]["role"] == "tool"
    print(f"\nknowledge tool browser test: {time.monotonic() - started:.1f} s")
