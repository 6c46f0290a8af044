"""The pages never show a PostgreSQL password: with `QWENCHAT_DB` a URL whose server is away, the chat, the
History page and the Usage page say the store is unavailable and name it as `user:***@host`, never with the
password, and neither does the server's log (AppTest, against the fake DashScope server)."""

from __future__ import annotations

import logging

from streamlit.testing.v1 import AppTest

from qwenchat.i18n import t
from tests.apptest import APP, HISTORY, TIMEOUT, USAGE, send

PASSWORD = "Pa55-only-in-the-url"


def page_text(at: AppTest) -> str:
    """Everything the page holds: every element's whole message, sidebar included."""
    found: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            found.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(found)


def test_no_page_shows_the_database_password_while_the_database_is_away(app_env, tmp_path, caplog):
    url = f"postgresql://qwen:{PASSWORD}@/chat?host={tmp_path}/no-server&connect_timeout=1"
    app_env.setenv("QWENCHAT_DB", url)
    app_env.setenv("QWENCHAT_DB_BUSY_TIMEOUT", "1")
    caplog.set_level(logging.DEBUG)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    send(at, "你好")
    chat = page_text(at)
    # The operator's key is spent against the shared daily cap, which cannot be checked: nothing is sent.
    assert t("quota.daily_unavailable", "zh") in chat

    at.switch_page(HISTORY).run()
    assert not at.exception, at.exception
    history = page_text(at)
    assert "qwen:***@" in history  # what the pages show is in what is checked below
    warning = "\n".join(w.value for w in at.warning)
    assert "postgresql://qwen:***@" in warning and "no-server" in warning  # it says which database
    at.switch_page(USAGE).run()
    assert not at.exception, at.exception
    usage = page_text(at)

    for text in (chat, history, usage, caplog.text):  # nor the server's log
        assert PASSWORD not in text
