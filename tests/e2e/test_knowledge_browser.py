"""The knowledge base in Chromium: upload two of the course's documents on the 📚 page, watch them being
indexed, then ask in the chat with that knowledge base chosen and see the answer's sources.

Runs the session's `streamlit run app.py` against the fake DashScope (embeddings, rerank and a chat reply
that quotes the passage it was given, with its [n])."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qwenchat.i18n import t

from . import helpers
from .conftest import require_chromium
from .helpers import CHAT_MESSAGE, open_app, send_message, wait_for_last_message, wait_idle

require_chromium()
pytestmark = pytest.mark.timeout(120)

DATA = Path(__file__).resolve().parents[2] / "qwenchat" / "knowledge" / "demo" / "zh"
CONTACTS = DATA / "内容公司各部门职责与关键角色联系信息汇总.md"
PHONES = DATA / "百炼系列手机产品介绍.docx"
TIMEOUT_MS = 30_000

# Set when a progress bar is ever on the page (it may show for less than a poll's interval).
WATCH_PROGRESS = """() => {
    window.__progressSeen = [];
    new MutationObserver(() => {
        for (const bar of document.querySelectorAll('[data-testid="stProgress"]')) {
            const text = bar.innerText.trim();
            if (text && !window.__progressSeen.includes(text)) window.__progressSeen.push(text);
        }
    }).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


def nav(page, label: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a', has_text=label).first.click()


@pytest.mark.skipif(not (CONTACTS.exists() and PHONES.exists()), reason="the course's documents are not here")
def test_upload_two_documents_then_an_answer_names_the_contact_file(page, app_url, fake):
    open_app(page, app_url)
    nav(page, t("page.knowledge", "zh"))
    name_box = page.get_by_label(t("kb.create.label", "zh"))
    name_box.wait_for(state="visible", timeout=TIMEOUT_MS)
    name_box.fill("公司资料")
    page.get_by_role("button", name=t("kb.create.button", "zh")).click()
    page.get_by_text(t("kb.created", "zh", name="公司资料")).wait_for(timeout=TIMEOUT_MS)
    wait_idle(page)

    page.evaluate(WATCH_PROGRESS)
    # Each embedding call takes 0.3 s, as a real one does: a small file's bar is then on screen long enough to
    # be seen (without it the browser may draw the second file's bar and its outcome in one frame).
    for _ in range(6):
        fake.enqueue({"endpoint": "embeddings", "kind": "slow", "delay": 0.3})
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files([str(CONTACTS), str(PHONES)])
    add = page.get_by_role("button", name=t("kb.upload.button", "zh"))
    page.wait_for_function("""label => [...document.querySelectorAll('button')]
        .some(b => b.innerText.includes(label) && !b.disabled)""", arg=t("kb.upload.button", "zh"),
                           timeout=TIMEOUT_MS)
    add.click()
    for path in (CONTACTS, PHONES):  # each file's own outcome, and the knowledge base's summary
        page.get_by_text(path.name, exact=False).filter(has_text="已加入").first.wait_for(timeout=TIMEOUT_MS)
    page.get_by_text(t("kb.summary", "zh", files=2, chunks=0).split("·")[0].strip()).first.wait_for(
        timeout=TIMEOUT_MS)
    wait_idle(page)
    seen = page.evaluate("() => window.__progressSeen")
    assert any(CONTACTS.name in text for text in seen) and any(PHONES.name in text for text in seen), seen
    assert not page.locator('[data-testid="stException"]').count()

    nav(page, t("page.chat", "zh"))
    picker = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(
        has_text=t("chat.kb.label", "zh")).first
    picker.wait_for(timeout=TIMEOUT_MS)
    helpers.choose_option(page, picker, "公司资料")
    wait_idle(page)
    send_message(page, "张伟是哪个部门的")
    wait_for_last_message(page, t("chat.sources", "zh"), timeout=TIMEOUT_MS)
    wait_idle(page)
    reply = page.locator(CHAT_MESSAGE).last
    text = reply.inner_text()
    assert "张伟" in text and re.search(r"\[\d\]", text), text  # a quoted passage with its marker
    assert CONTACTS.name in text  # the sources list names the contact file
    assert not page.locator('[data-testid="stException"]').count()
    # The model was given the passages and the question, and the fake embedded and reranked for it.
    last = [r for r in fake.requests() if r["path"].endswith("/chat/completions")][-1]
    assert "资料：" in last["body"]["messages"][-1]["content"]
