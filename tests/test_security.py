"""Security checks that SECURITY.md points to and no other test file covers.

- no page renders HTML from text (a source scan, with a self-check that it can fail);
- conversation ids and owner tokens are 128 random bits, URL-safe;
- the daily cap binds every session at once and lifts after midnight;
- the API key never reaches a log record, stdout/stderr or a file the app writes.
"""

from __future__ import annotations

import ast
import logging
import re
from datetime import datetime

import pytest
from streamlit.testing.v1 import AppTest

from components.settings import SYSTEM_PROMPT_MAX_CHARS
from qwenchat import identity
from qwenchat.conversation import Conversation, new_id
from qwenchat.quotas import DailyCounter, Limits, SessionQuota
from tests.apptest import APP, PAGES, ROOT, TIMEOUT, on_chat, on_settings, send
from tests.fake_dashscope import VALID_KEY

# --- (a) no HTML rendering of text ---------------------------------------------------------------

APP_SOURCES = [ROOT / "app.py", *sorted((ROOT / "components").rglob("*.py")),
               *sorted((ROOT / "views").rglob("*.py")), *sorted((ROOT / "pages").rglob("*.py"))]
HTML_MODULES = {"streamlit.components.v1", "streamlit.components"}


def html_risks(source: str, name: str = "<sample>") -> list[str]:
    """Lines that could render HTML: `unsafe_allow_html=` anything but a literal False, any `.html`
    attribute (`st.html`, `components.html`, `st.components.v1.html`, called or not) and `html` imported
    from streamlit.components.v1. Strict on purpose: a static-HTML need gets reviewed, not waved through."""
    found = []
    for node in ast.walk(ast.parse(source, name)):
        where = f"{name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "unsafe_allow_html" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                    found.append(f"{where}: unsafe_allow_html={ast.unparse(kw.value)}")
            if isinstance(node.func, ast.Name) and node.func.id == "html" and "streamlit" in source:
                found.append(f"{where}: html(...)")
        elif isinstance(node, ast.Attribute) and node.attr == "html":  # called or passed around
            found.append(f"{where}: {ast.unparse(node)}")
        elif isinstance(node, ast.ImportFrom) and node.module in HTML_MODULES:
            if any(alias.name == "html" for alias in node.names):
                found.append(f"{where}: from {node.module} import html")
    return found


@pytest.mark.parametrize("sample", [
    "import streamlit as st\nst.markdown(reply, unsafe_allow_html=True)",
    "import streamlit as st\nst.chat_message('ai').write(text, unsafe_allow_html=flag)",
    "import streamlit as st\nst.html(message.content)",
    "import streamlit.components.v1 as components\ncomponents.html(text, height=300)",
    "import streamlit as st\nst.components.v1.html(text)",
    "from streamlit.components.v1 import html\nhtml(text)",
    "import streamlit as st\nshow = st.html\nshow(text)",
])
def test_the_html_scanner_flags_each_way_in(sample):
    assert html_risks(sample)


def test_the_html_scanner_leaves_plain_markdown_alone():
    assert html_risks("import streamlit as st\nst.markdown(text)\nst.caption(x, unsafe_allow_html=False)\n"
                      "st.code(text)  # unsafe_allow_html=True in a comment is not a call") == []


def test_no_page_can_render_html_from_text():
    names = {p.relative_to(ROOT).as_posix() for p in APP_SOURCES}
    assert {"app.py", "components/chat_view.py", "components/history.py"} <= names
    assert set(PAGES) <= names
    offending = [line for path in APP_SOURCES
                 for line in html_risks(path.read_text(encoding="utf-8"), path.relative_to(ROOT).as_posix())]
    assert offending == [], "HTML rendering can run model or user text as script; use st.markdown"


# --- (b) ids and owner tokens --------------------------------------------------------------------

URL_SAFE_22 = re.compile(r"[A-Za-z0-9_-]{22}")  # token_urlsafe(16): 128 bits


def test_conversation_and_message_ids_are_22_url_safe_characters_and_unique():
    ids = [new_id() for _ in range(10_000)]
    assert all(URL_SAFE_22.fullmatch(i) for i in ids)
    assert len(set(ids)) == 10_000
    conversation = Conversation()
    for value in (conversation.id, conversation.add_user("hi").id):
        assert URL_SAFE_22.fullmatch(value) and identity.looks_like_id(value)


def test_owner_tokens_are_22_url_safe_characters_unique_and_only_hashed_in_the_owner_id():
    owners = [identity.owner_for() for _ in range(10_000)]
    tokens = [o.url_token for o in owners]
    assert all(URL_SAFE_22.fullmatch(t) for t in tokens)
    assert len(set(tokens)) == 10_000 and len({o.id for o in owners}) == 10_000
    assert all(re.fullmatch(r"anon:[0-9a-f]{64}", o.id) and o.url_token not in o.id for o in owners)


# --- (c) the daily cap across sessions ----------------------------------------------------------
# tests/test_quotas.py::test_the_daily_cap_and_its_reset_at_local_midnight covers one counter alone;
# this is the shared case: two sessions, checked the way components/chat_view.py's _quota_problem does
# (the session's own limits, then the daily counter), and charged the way _record_spend does.

class Clock:
    def __init__(self, when: datetime):
        self.now = when.timestamp()

    def __call__(self) -> float:
        return self.now


def test_the_daily_cap_refuses_every_session_until_midnight():
    clock = Clock(datetime(2025, 11, 3, 22, 0, 0))
    daily = DailyCounter(clock)
    limits = Limits(max_messages_per_session=50, max_tokens_per_session=200_000, daily_token_cap=1_000)
    alice, bob = SessionQuota(), SessionQuota()

    def refusal(session: SessionQuota, upcoming: int = 10):
        return session.check_message("hi", limits, upcoming_tokens=upcoming) or \
            daily.check(limits.daily_token_cap, upcoming)

    def spend(session: SessionQuota, tokens: int) -> None:
        session.record(tokens)
        daily.add(tokens)

    assert refusal(alice) is None
    spend(alice, 600)
    assert refusal(bob) is None
    spend(bob, 400)  # together they reach the cap; neither is near its own session limit
    for session in (alice, bob, SessionQuota()):  # a reload (a fresh session) does not help either
        problem = refusal(session)
        assert problem is not None and problem.kind == "daily_tokens"
    clock.now = datetime(2025, 11, 3, 23, 59, 59).timestamp()
    assert refusal(alice).kind == "daily_tokens"
    clock.now = datetime(2025, 11, 4, 0, 0, 1).timestamp()
    assert refusal(alice) is None and refusal(bob) is None
    assert (alice.tokens, bob.tokens) == (600, 400)  # the session counters do not reset at midnight


@pytest.fixture
def fresh_daily_counter():
    """The process-wide counter (`st.cache_resource`) starts at zero and is dropped afterwards, so other
    tests in this process never see this test's spending."""
    from components import session
    session.daily.clear()
    yield
    session.daily.clear()


def test_in_the_app_one_sessions_spending_closes_the_daily_cap_for_the_next(app_env, fake, fresh_daily_counter):
    app_env.setenv("QWENCHAT_DAILY_TOKEN_CAP", "60")  # the fake bills characters: one short turn is ~70
    app_env.setenv("QWENCHAT_MAX_OUTPUT_TOKENS", "5")  # each request reserves its prompt plus this
    app_env.setenv("QWENCHAT_TOOLS", "none")  # their schemas alone would be over this tiny cap
    first = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    first.run()
    send(first, "一")
    second = AppTest.from_file(str(APP), default_timeout=TIMEOUT)  # another visitor, or a reload
    second.run()
    send(second, "二")
    assert len(fake.requests) == 1
    assert "今天" in second.warning[0].value and second.code[0].value == "二"
    send(first, "三")
    assert len(fake.requests) == 1 and "今天" in first.warning[0].value


# --- sign-in (QWENCHAT_REQUIRE_LOGIN) -------------------------------------------------------------

SIGNED_OUT = {"email": "visitor@example.com", "is_logged_in": False}
SIGNED_IN = {"email": "visitor@example.com", "name": "Visitor", "is_logged_in": True}


def test_with_sign_in_required_no_page_opens_until_signed_in(app_env, fake):
    app_env.setenv("QWENCHAT_REQUIRE_LOGIN", "1")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.user = dict(SIGNED_OUT)
    at.run()
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, page
        assert at.button(key="sign_in") and not at.chat_input and not at.sidebar.text_input, page
        assert not at.metric and not at.dataframe, page
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.user = dict(SIGNED_IN)
    at.run()
    send(at, "你好")
    assert len(fake.requests) == 1


def test_sign_in_without_auth_set_up_says_so_at_the_gate(app_env):
    app_env.setenv("QWENCHAT_REQUIRE_LOGIN", "1")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.user = dict(SIGNED_OUT)
    at.run()
    at.button(key="sign_in").click().run()
    assert not at.exception
    assert "登录未配置" in at.error[0].value and not at.chat_input


# --- input that reaches the model: the system prompt ---------------------------------------------
# The chat input is covered by tests/test_app_sharing.py::test_bad_input_never_crashes_or_loses_the_message.

def test_the_system_prompt_is_cleaned_and_capped_by_the_server(app, fake):
    on_settings(app).text_area[0].input("先\x00回\u202e答\r\n好").run()
    on_chat(app)
    send(app, "你好")
    assert fake.requests[-1]["body"]["messages"][0] == {"role": "system", "content": "先回答\n好"}
    # set_value skips the browser's max_chars, as a scripted client would: the server cuts it anyway.
    on_settings(app).text_area[0].set_value("长" * 20_000).run()
    on_chat(app)
    send(app, "再问")
    assert fake.requests[-1]["body"]["messages"][0]["content"] == "长" * SYSTEM_PROMPT_MAX_CHARS


# --- (d) and (e) the key in logs and files ------------------------------------------------------

WRONG_KEY = "sk-wrong-key-typed-by-a-visitor-9999"


class Everything:
    """Every log record of every logger, present or created later, at every level, formatted with its
    traceback, its arguments and its extra fields."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._format = logging.Formatter("%(name)s %(levelname)s %(message)s").format

    def add(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{self._format(record)} {record.args!r} {vars(record)!r}")


@pytest.fixture
def every_log(monkeypatch):
    """Each logger, whatever its level and whether or not it propagates (Streamlit's do not), hands every
    record to the collector; only records its own level allows go on to its handlers as before."""
    collected = Everything()
    enabled, handle = logging.Logger.isEnabledFor, logging.Logger.handle

    def collect(logger: logging.Logger, record: logging.LogRecord) -> None:
        collected.add(record)
        if enabled(logger, record.levelno):
            handle(logger, record)

    monkeypatch.setattr(logging.Logger, "isEnabledFor", lambda logger, level: True)
    monkeypatch.setattr(logging.Logger, "handle", collect)
    return collected


def converse(app: AppTest, fake) -> None:
    """A turn, an invalid-key error and a retry on the operator's key, then a wrong key typed on the settings
    page."""
    send(app, "你好")
    send(app, "再来 [[fake:invalid_api_key]]")
    assert "Key" in app.error[0].value
    send(app, "第三句")
    on_settings(app).selectbox(key="region").select("custom").run()
    app.text_input(key="custom_base_url").input(fake.base_url).run()
    app.text_input(key="api_key_input").input(WRONG_KEY).run()
    on_chat(app)
    send(app, "换一个 Key")
    assert len(fake.requests) == 4 and fake.requests[-1]["authorization"] == f"Bearer {WRONG_KEY}"
    assert [r["authorization"] for r in fake.requests[:3]] == [f"Bearer {VALID_KEY}"] * 3
    assert len(app.error) >= 1 and not app.exception


def test_the_key_is_in_no_log_record_and_no_output(every_log, app, fake, capfd):
    converse(app, fake)
    logs = "\n".join(every_log.lines)
    # The capture works: the HTTP client's DEBUG lines and the 401s are there.
    assert "HTTP Request: POST" in logs and "401 Unauthorized" in logs and "send_request_headers" in logs
    for key in (VALID_KEY, WRONG_KEY):
        assert key not in logs
        assert key[3:] not in logs  # nor the key without its prefix
    out, err = capfd.readouterr()
    assert VALID_KEY not in out + err and WRONG_KEY not in out + err


def test_the_key_is_in_no_file_the_app_writes(app, fake, tmp_path):
    """tmp_path is the app's working directory, its HOME and the folder of its SQLite file (with -wal, -shm)."""
    converse(app, fake)
    files = {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert "chats.db" in files
    assert any("第三句".encode() in data for data in files.values())  # the conversation is there to be seen
    for key in (VALID_KEY, WRONG_KEY):
        forms = (key.encode(), key.encode("utf-16-le"), key[3:].encode())
        holding = sorted(name for name, data in files.items() if any(f in data for f in forms))
        assert holding == [], f"{key} is written in {holding}"
