"""A secrets.toml that does not parse fails closed: every page says the configuration is broken (not what
is in it) and no request is made, not even with the environment's key."""

from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from qwenchat.i18n import t
from tests.apptest import APP, ROOT, TIMEOUT

MALFORMED = 'DASHSCOPE_API_KEY = "sk-secret-in-a-broken-file\nAPP_ACCESS_CODE = = "x"\n'
PAGES = [APP, *sorted((ROOT / "pages").glob("*.py"))]


@pytest.fixture
def secrets_file(app_env, tmp_path):
    """Where Streamlit looks for the app's secrets in this test. Not the working folder's
    `.streamlit/secrets.toml`: Streamlit's default list of secrets files may name the folder the test
    process was in when its config was first read, and a broken file left there would break later tests."""
    from streamlit import config

    path = tmp_path / "operator-config" / "secrets.toml"
    path.parent.mkdir()
    saved = config.get_option("secrets.files")
    config.set_option("secrets.files", [str(path)])
    st.secrets._reset()
    yield path
    config.set_option("secrets.files", saved)
    st.secrets._reset()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_a_malformed_secrets_file_stops_every_page_with_a_plain_message(fake, secrets_file, page):
    secrets_file.write_text(MALFORMED, encoding="utf-8")
    at = AppTest.from_file(str(page), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [t("gate.broken_config", "zh")]  # no browser locale: Chinese
    shown = " ".join(str(e.value) for e in [*at.markdown, *at.error, *at.title, *at.caption, *at.info])
    assert "sk-secret" not in shown and "TOML" not in shown and "line" not in shown
    assert not at.chat_input and not at.sidebar.text_input
    assert fake.requests == []


def test_the_chat_page_offers_no_input_and_a_rerun_sends_nothing(fake, secrets_file):
    secrets_file.write_text(MALFORMED, encoding="utf-8")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    assert not at.chat_input  # there is nothing to type into
    at.run()
    assert fake.requests == []


def test_a_valid_secrets_file_is_read_and_no_file_is_no_secrets(fake, secrets_file):
    from components import secrets

    secrets_file.write_text('QWEN_MODEL = "qwen-max"\n', encoding="utf-8")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception and not at.error and at.chat_input
    assert secrets.read_secrets() == {"QWEN_MODEL": "qwen-max"} and not secrets.secrets_broken()
    secrets_file.unlink()
    st.secrets._reset()
    assert secrets.read_secrets() == {} and not secrets.secrets_broken()
    secrets_file.write_text(MALFORMED, encoding="utf-8")
    st.secrets._reset()
    assert secrets.read_secrets() == {} and secrets.secrets_broken()
