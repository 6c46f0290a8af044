"""Two app servers on one PostgreSQL, in Chromium: what one of them saves, the other shows (issue #14).

Two `streamlit run app.py` processes share one database of the test session's PostgreSQL (pgserver, on a
Unix socket) and one `QWENCHAT_SECRET`, as servers behind a load balancer do. A visitor's link works on
either; a knowledge base uploaded through one answers on the other; the daily token cap spent through one
refuses on the other.
"""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

import pytest

from qwenchat.i18n import t
from tests import pg

from . import helpers
from .conftest import require_chromium
from .helpers import CHAT_MESSAGE, open_app, send_message, wait_for_last_message, wait_idle

require_chromium()
pytestmark = pytest.mark.timeout(240)

DATA = Path(__file__).resolve().parents[2] / "qwenchat" / "knowledge" / "demo" / "zh"
CONTACTS = DATA / "内容公司各部门职责与关键角色联系信息汇总.md"
TIMEOUT_MS = 30_000
SECRET = "two-servers-shared-owner-secret-0123456789"


@pytest.fixture
def two_servers(fake_server, tmp_path):
    """Start two app servers on one new PostgreSQL database; `start(**settings)` returns (a, b)."""
    started: list[helpers.Child] = []

    def start(**settings: str) -> tuple[helpers.Child, helpers.Child]:
        url = pg.fresh_database()
        env = {"QWENCHAT_DB": url, "QWENCHAT_SECRET": SECRET, "QWENCHAT_TOOLS": "none", **settings}
        for name in ("a", "b"):
            home = tmp_path / name
            home.mkdir()
            started.append(helpers.start_streamlit(helpers.APP, fake=fake_server, home=home, log_dir=tmp_path,
                                                   name=f"server_{name}", extra_env=env))
        return started[-2], started[-1]

    yield start
    for app in started:
        app.stop()


def new_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    return context.new_page()


def link_of(page) -> dict[str, str]:
    page.wait_for_function("() => location.search.includes('c=') && location.search.includes('o=')")
    return dict(urllib.parse.parse_qsl(urllib.parse.urlparse(page.url).query))


def nav(page, label: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a', has_text=label).first.click()


def no_exception(page) -> None:
    assert not page.locator('[data-testid="stException"]').count()


@pytest.mark.skipif(not CONTACTS.exists(), reason="the course's documents are not here")
def test_a_conversation_and_a_knowledge_base_made_on_one_server_are_there_on_the_other(two_servers, browser, fake):
    a, b = two_servers()
    on_a = new_page(browser)
    open_app(on_a, a.url)
    send_message(on_a, "在第一台服务器上说的话")
    wait_for_last_message(on_a, "收到：在第一台服务器上说的话")
    link = link_of(on_a)

    # The same link on the other server: the conversation is there, and it goes on there.
    on_b = new_page(browser)
    open_app(on_b, f"{b.url}/?c={link['c']}&o={link['o']}")
    on_b.wait_for_function(f"() => document.querySelectorAll('{CHAT_MESSAGE}').length >= 2")
    shown = [m.inner_text() for m in on_b.locator(CHAT_MESSAGE).all()]
    assert "在第一台服务器上说的话" in shown[0] and "收到：在第一台服务器上说的话" in shown[1]
    send_message(on_b, "在第二台服务器上接着说")
    wait_for_last_message(on_b, "收到：在第二台服务器上接着说")
    on_a.reload()
    on_a.wait_for_function(f"() => document.querySelectorAll('{CHAT_MESSAGE}').length >= 4")
    assert "收到：在第二台服务器上接着说" in on_a.locator(CHAT_MESSAGE).last.inner_text()

    # A knowledge base uploaded through server A answers through server B.
    nav(on_a, t("page.knowledge", "zh"))
    name_box = on_a.get_by_label(t("kb.create.label", "zh"))
    name_box.wait_for(state="visible", timeout=TIMEOUT_MS)
    name_box.fill("共享资料")
    on_a.get_by_role("button", name=t("kb.create.button", "zh")).click()
    on_a.get_by_text(t("kb.created", "zh", name="共享资料")).wait_for(timeout=TIMEOUT_MS)
    wait_idle(on_a)
    on_a.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files([str(CONTACTS)])
    on_a.wait_for_function("""label => [...document.querySelectorAll('button')]
        .some(b => b.innerText.includes(label) && !b.disabled)""", arg=t("kb.upload.button", "zh"),
                           timeout=TIMEOUT_MS)
    on_a.get_by_role("button", name=t("kb.upload.button", "zh")).click()
    on_a.get_by_text(CONTACTS.name, exact=False).filter(has_text="已加入").first.wait_for(timeout=TIMEOUT_MS)
    no_exception(on_a)

    on_b.reload()
    on_b.wait_for_function(f"() => document.querySelectorAll('{CHAT_MESSAGE}').length >= 4")
    picker = on_b.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(
        has_text=t("chat.kb.label", "zh")).first
    picker.wait_for(timeout=TIMEOUT_MS)
    helpers.choose_option(on_b, picker, "共享资料")
    wait_idle(on_b)
    send_message(on_b, "张伟是哪个部门的")
    wait_for_last_message(on_b, t("chat.sources", "zh"), timeout=TIMEOUT_MS)
    reply = on_b.locator(CHAT_MESSAGE).last.inner_text()
    assert "张伟" in reply and re.search(r"\[\d\]", reply) and CONTACTS.name in reply, reply
    no_exception(on_a)
    no_exception(on_b)
    root = Path(__file__).resolve().parents[2]  # the servers' working folder: no database URL became a path
    assert not [p.name for p in root.iterdir() if p.name.startswith("postgresql")]


def test_the_daily_cap_spent_through_one_server_refuses_on_the_other(two_servers, browser, fake):
    # Each request reserves its prompt plus 50 output tokens; one long reply spends past the cap.
    a, b = two_servers(QWENCHAT_DAILY_TOKEN_CAP="400", QWENCHAT_MAX_OUTPUT_TOKENS="50")
    on_a = new_page(browser)
    open_app(on_a, a.url)
    send_message(on_a, "[[fake:long:400]]")
    wait_for_last_message(on_a, "数据数据")
    wait_idle(on_a)

    on_b = new_page(browser)
    open_app(on_b, b.url)
    send_message(on_b, "你好")
    refusal = t("quota.daily_spent", "zh", used=0, limit=400).split("（")[0]
    on_b.get_by_text(refusal, exact=False).first.wait_for(timeout=TIMEOUT_MS)
    assert not [r for r in fake.requests() if r["path"].endswith("/chat/completions")
                and "你好" in str(r["body"]["messages"][-1].get("content"))]  # nothing was sent for B
    no_exception(on_b)
