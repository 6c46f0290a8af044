"""Conversations that survive, in Chromium: a reload, a server restart, an export, a delete, a stranger.

Runs real `streamlit run app.py` processes against the fake DashScope server, with QWENCHAT_DB in a
temporary HOME (see `helpers.start_streamlit`). The app runs in its public mode: visitors are URL tokens.
"""

from __future__ import annotations

import shutil
import sqlite3
import urllib.parse
from pathlib import Path

import pytest

from tests.e2e import helpers
from tests.e2e.helpers import CHAT_MESSAGE, VALID_KEY

PROBLEM = helpers.chromium_problem()
# Skipped on a machine without Chromium, never in CI, where a missing browser is a failure.
pytestmark = [pytest.mark.timeout(90), pytest.mark.skipif(bool(PROBLEM) and not helpers.in_ci(), reason=PROBLEM)]

HISTORY_PATH = "/history"
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def home():
    path = helpers.temp_home("qwenchat-history-e2e-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def log_dir(home):
    path = home / "logs"
    path.mkdir()
    return path


@pytest.fixture(scope="module")
def fake(home, log_dir):
    server = helpers.start_fake(log_dir, home)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = helpers.launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def start_app(fake, home, log_dir):
    """Start `streamlit run app.py` on this module's database; every app started is stopped at the end."""
    started: list[helpers.Child] = []

    def start() -> helpers.Child:
        app = helpers.start_streamlit(helpers.APP, fake=fake, home=home, log_dir=log_dir,
                                      name=f"history_app_{len(started)}")
        started.append(app)
        return app

    yield start
    for app in started:
        app.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


def db_path(home: Path) -> Path:
    return home / "qwenchat.db"


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).items()}


def messages(page) -> list[str]:
    return [m.inner_text() for m in page.locator(CHAT_MESSAGE).all()]


def wait_for_messages(page, count: int) -> None:
    page.wait_for_function(f"() => document.querySelectorAll('{CHAT_MESSAGE}').length >= {count}")
    helpers.wait_idle(page)


def two_turns(page, app: helpers.Child) -> dict[str, str]:
    """Talk twice on a fresh chat; return the URL's query (`c` and `o`)."""
    helpers.open_app(page, app.url)
    helpers.send_message(page, "第一轮 first turn")
    wait_for_messages(page, 2)
    helpers.send_message(page, "第二轮 second turn")
    wait_for_messages(page, 4)
    page.wait_for_function("() => location.search.includes('c=') && location.search.includes('o=')")
    return query(page.url)


def assert_both_turns(page) -> None:
    wait_for_messages(page, 4)
    shown = messages(page)
    assert len(shown) == 4, shown
    assert "第一轮 first turn" in shown[0] and "收到：第一轮 first turn" in shown[1]
    assert "第二轮 second turn" in shown[2] and "收到：第二轮 second turn" in shown[3]


def open_history(page, app: helpers.Child, params: dict[str, str] | None = None) -> None:
    suffix = "?" + urllib.parse.urlencode(params) if params else ""
    page.goto(app.url + HISTORY_PATH + suffix, wait_until="domcontentloaded")
    page.locator('[data-testid="stFileUploader"]').wait_for()  # drawn after the list
    helpers.wait_idle(page)


def test_a_conversation_survives_reload_and_restart_exports_without_the_key_and_deletes(page, start_app, home):
    app = start_app()
    params = two_turns(page, app)
    conversation_id, token = params["c"], params["o"]

    page.reload(wait_until="domcontentloaded")
    assert_both_turns(page)

    app.stop()
    app = start_app()  # a new process on the same database file
    page.goto(f"{app.url}/?{urllib.parse.urlencode(params)}", wait_until="domcontentloaded")
    assert_both_turns(page)
    assert "not found" not in page.locator("body").inner_text()

    open_history(page, app, {"o": token})
    row = page.locator(f".st-key-row_{conversation_id}")
    assert "第一轮 first turn" in row.inner_text()
    with page.expect_download() as download:
        page.locator(f".st-key-export_md_{conversation_id}").get_by_role("button", name="⬇️ Markdown").click()
    markdown = Path(download.value.path()).read_text(encoding="utf-8")
    assert download.value.suggested_filename.endswith(".md")
    for text in ("第一轮 first turn", "收到：第一轮 first turn", "第二轮 second turn", "收到：第二轮 second turn"):
        assert text in markdown
    assert VALID_KEY not in markdown
    with page.expect_download() as download:
        page.locator(f".st-key-export_json_{conversation_id}").get_by_role("button", name="⬇️ JSON").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    assert "第二轮 second turn" in exported and VALID_KEY not in exported

    page.locator(f".st-key-delete_{conversation_id} button").click()
    page.locator(f".st-key-delete_yes_{conversation_id} button").click()
    row.wait_for(state="detached")
    helpers.wait_idle(page)
    with sqlite3.connect(f"file:{db_path(home)}?mode=ro", uri=True) as db:
        assert db.execute("SELECT COUNT(*) FROM conversations WHERE id = ?", (conversation_id,)).fetchone() == (0,)
        assert db.execute("SELECT COUNT(*) FROM messages WHERE conversation_id = ?",
                          (conversation_id,)).fetchone() == (0,)

    # The JSON export brings it back, as a new conversation with a new id.
    json_file = home / "export.json"
    json_file.write_text(exported, encoding="utf-8")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(json_file))
    page.get_by_text("Imported").wait_for()
    helpers.wait_idle(page)
    rows = page.locator('[class*="st-key-row_"]')
    assert rows.count() == 1 and "第一轮 first turn" in rows.first.inner_text()
    with sqlite3.connect(f"file:{db_path(home)}?mode=ro", uri=True) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id "
                              "WHERE c.title = '第一轮 first turn'").fetchone()
        assert count == 4


def test_a_second_browser_context_sees_none_of_the_first_ones_chats(browser, page, start_app):
    app = start_app()
    params = two_turns(page, app)
    open_history(page, app, {"o": params["o"]})
    assert page.locator(f".st-key-row_{params['c']}").count() == 1

    stranger = browser.new_context().new_page()
    stranger.set_default_timeout(TIMEOUT_MS)
    try:
        open_history(stranger, app)
        body = stranger.locator("body").inner_text()
        assert "No saved conversations yet" in body and "第一轮" not in body
        assert stranger.locator('[class*="st-key-row_"]').count() == 0
        stranger.wait_for_function("() => location.search.includes('o=')")
        assert query(stranger.url)["o"] != params["o"]  # a token of its own to bookmark

        # The conversation's id alone, without the owner's token, opens nothing.
        stranger.goto(f"{app.url}/?c={params['c']}", wait_until="domcontentloaded")
        stranger.get_by_text("was not found").wait_for()
        assert stranger.locator(CHAT_MESSAGE).count() == 0
    finally:
        stranger.context.close()
