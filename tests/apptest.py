"""Small helpers for driving the app with AppTest."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from components.navigation import CHAT, HISTORY, PAGES, SETTINGS, USAGE  # noqa: F401 - the pages, for the tests

TIMEOUT = 30  # AppTest's default of 3 s is too short for a streamed reply on a loaded machine
ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"


def start(path: Path = APP) -> AppTest:
    at = AppTest.from_file(str(path), default_timeout=TIMEOUT)
    at.run()
    return at


def send(at: AppTest, text: str) -> AppTest:
    at.chat_input(key="chat_input").set_value(text).run()
    assert not at.exception, at.exception
    return at


def chat(at: AppTest) -> list[tuple[str, str]]:
    """(role, text) of every chat message on the page."""
    return [(m.name, "\n".join(md.value for md in m.markdown)) for m in at.chat_message]


def on_settings(at: AppTest) -> AppTest:
    """Open the ⚙️ Settings page (where the key, region, budget, system prompt, parameters and end detection are)."""
    at.switch_page(SETTINGS).run()
    assert not at.exception, at.exception
    return at


def on_chat(at: AppTest) -> AppTest:
    """Back to the chat page."""
    at.switch_page(CHAT).run()
    assert not at.exception, at.exception
    return at
