"""One table of every setting the app reads, and one typed reader that never raises."""

from __future__ import annotations

import re

import pytest

from qwenchat import settings
from qwenchat.quotas import Limits
from tests.apptest import ROOT

NAME = re.compile(r"\b(QWENCHAT_[A-Z_]+|DASHSCOPE_[A-Z_]+|QWEN_MODEL|APP_ACCESS_CODE)\b")


def names_in_the_code() -> set[str]:
    sources = [ROOT / "app.py", *(ROOT / "qwenchat").rglob("*.py"), *(ROOT / "components").rglob("*.py"),
               *(ROOT / "pages").rglob("*.py")]
    return {m for path in sources for m in NAME.findall(path.read_text(encoding="utf-8"))}


def test_every_setting_the_code_names_is_in_the_table():
    known = set(settings.SETTINGS) | {a for s in settings.SETTINGS.values() for a in s.aliases}
    assert names_in_the_code() - known == set()


def test_every_row_has_a_doc_and_a_default_of_its_type():
    for spec in settings.SETTINGS.values():
        assert spec.doc and isinstance(spec.default, spec.type), spec.name


def test_secrets_win_then_the_environment_then_an_alias_then_the_default():
    name = "DASHSCOPE_BASE_URL"
    assert settings.read(name, {name: "https://s/v1"}, {name: "https://e/v1"}) == "https://s/v1"
    assert settings.read(name, {}, {name: "https://e/v1"}) == "https://e/v1"
    assert settings.read(name, {}, {"DASHSCOPE_API_BASE": "https://course/v1"}) == "https://course/v1"
    assert settings.read(name, {}, {}) == settings.SETTINGS[name].default


@pytest.mark.parametrize("name, text, value", [
    ("QWENCHAT_SAVE", "off", False), ("QWENCHAT_SAVE", "maybe", True), ("QWENCHAT_BYOK", "YES", True),
    ("QWENCHAT_BYOK", "maybe", False), ("QWENCHAT_DAILY_TOKEN_CAP", " 1_000 ", 1000),
    ("QWENCHAT_DAILY_TOKEN_CAP", "-1", 2_000_000), ("QWENCHAT_DAILY_TOKEN_CAP", "1e6", 2_000_000),
    ("QWENCHAT_MAX_MESSAGES_PER_SESSION", "0", 0), ("QWENCHAT_REPLY_DEADLINE_S", "12.5", 12.5),
    ("QWENCHAT_REPLY_DEADLINE_S", "0", 300.0), ("QWENCHAT_REPLY_DEADLINE_S", "nan", 300.0),
    ("QWENCHAT_REPLY_DEADLINE_S", "1e999", 300.0), ("QWENCHAT_MAX_CHARS_PER_MESSAGE", "9" * 5000, 8000),
])
def test_values_are_typed_and_a_bad_one_is_the_default(name, text, value):
    assert settings.read(name, {}, {name: text}) == value


def test_a_bad_secret_value_is_logged_by_name_only(caplog):
    settings.read("QWENCHAT_MAX_CHARS_PER_MESSAGE", {}, {"QWENCHAT_MAX_CHARS_PER_MESSAGE": "sk-leaked"})
    assert "QWENCHAT_MAX_CHARS_PER_MESSAGE" in caplog.text and "sk-leaked" not in caplog.text


def test_the_limits_defaults_agree_with_the_table():
    assert Limits.from_config({}, {}) == Limits()


def test_the_table_renders_as_markdown_without_values():
    text = settings.table_markdown()
    assert text.count("\n") == len(settings.SETTINGS) + 1 and "`QWENCHAT_SECRET`" in text
