"""The language catalog: every id in both languages with the same fields, `t` that never raises, the
locale and the farewell's language, and a scan that the converted files hold no Chinese literal."""

from __future__ import annotations

import ast
import logging
import re
import string
from pathlib import Path

import pytest

from qwenchat.i18n import LANGS, MESSAGES, Msg, conversation_language, farewell_for, language_from_locale, t

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


# ---- the catalog -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("message_id", sorted(MESSAGES))
def test_every_id_has_both_languages_with_the_same_fields(message_id):
    texts = MESSAGES[message_id]
    assert len(texts) == len(LANGS) and all(isinstance(text, str) and text.strip() for text in texts)
    zh, en = texts
    assert fields(zh) == fields(en), message_id


@pytest.mark.parametrize("message_id", sorted(MESSAGES))
def test_english_has_no_chinese_and_chinese_is_not_two_languages_glued(message_id):
    zh, en = MESSAGES[message_id]
    if message_id != "lang.name":
        assert not HAN.search(en), f"{message_id}: Chinese in the English text"
    # The old style: "中文 / English" in one string.
    glued = re.compile(r"[\u4e00-\u9fff][^/\n]*\s/\s+[^\u4e00-\u9fff\n]*[A-Za-z]{3,}")
    zh, en = (re.sub(r"\{[^}]*\}", "0", text) for text in (zh, en))  # field names are not words
    assert not glued.search(zh) and " / " not in en.replace("0 / 0", ""), message_id


def test_ids_are_dotted_lowercase_names():
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)*", message_id) for message_id in MESSAGES)


# ---- t ---------------------------------------------------------------------------------------------------

def test_t_fills_parameters_in_the_chosen_language():
    assert t("quota.messages", "en", limit=1_000).startswith("This session has sent 1,000 messages")
    assert t("quota.messages", "zh", limit=1_000).startswith("本次会话已发送 1,000 条消息")


def test_a_missing_parameter_never_raises_and_is_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="qwenchat.i18n"):
        text = t("turn.over_budget", "en", budget=5)  # prompt_tokens missing, and it has a ",” spec
    assert "{prompt_tokens}" in text and "(5)" in text
    assert "prompt_tokens" in caplog.text


def test_an_unknown_id_comes_back_as_itself_and_is_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="qwenchat.i18n"):
        assert t("no.such.id", "zh") == "no.such.id"
    assert "no.such.id" in caplog.text


def test_a_bad_value_or_language_never_raises():
    assert t("turn.too_long", "en", chars="many", limit=3)  # a str for a "," spec: the template comes back
    assert t("farewell", "fr") == t("farewell", "zh")


def test_a_msg_parameter_is_rendered_in_the_same_language():
    reason = Msg("import.missing_fields", {"where": Msg("import.where.message", {"number": 3}), "fields": "role"})
    assert Msg("import.failed", {"reason": reason}).text("en") == "Import failed: message 3 is missing role"
    assert Msg("import.failed", {"reason": reason}).text("zh") == "导入失败：第 3 条消息缺少字段 role"


# ---- languages -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("locale, lang", [
    ("zh-CN", "zh"), ("zh-TW", "zh"), ("zh", "zh"), ("ZH_hans", "zh"), (None, "zh"),
    ("en-US", "en"), ("en", "en"), ("de-DE", "en"), ("ja-JP", "en"), ("", "en"),
])
def test_language_from_locale(locale, lang):
    assert language_from_locale(locale) == lang


@pytest.mark.parametrize("text, lang", [
    ("谢谢，再见", "zh"), ("好的 thanks", "zh"), ("我想问一下 API key 的问题", "zh"),
    ("thanks a lot, bye", "en"), ("How do I say 再见 in English?", "en"), ("Thank you so much, 谢谢", "en"),
])
def test_the_conversation_language_is_the_share_of_chinese(text, lang):
    assert conversation_language(text) == lang


def test_the_farewell_follows_the_users_recent_messages():
    assert farewell_for("谢谢，再见！") == "感谢您的咨询，再见！"
    assert farewell_for("Thanks a lot, bye!") == "Thank you for chatting. Goodbye!"
    assert farewell_for("bye") == "感谢您的咨询，再见！" and farewell_for("bye", default="en").startswith("Thank")
    chinese = [{"role": "user", "content": "请问怎么退款"}, {"role": "assistant", "content": "You can do it online"},
               {"role": "user", "content": "ok bye"}]
    assert farewell_for(chinese) == "感谢您的咨询，再见！"  # the assistant's words do not count
    english = [{"role": "user", "content": "How do I get a refund?"}, {"role": "user", "content": "88"}]
    assert farewell_for(english) == "Thank you for chatting. Goodbye!"
    assert farewell_for("👋") == "感谢您的咨询，再见！" and farewell_for("👋", default="en").startswith("Thank")


# ---- nothing was missed: the converted files hold no Chinese literal ---------------------------------------

CONVERTED = ["app.py", "views/chat.py", "views/usage.py", "components/lang.py", "components/navigation.py",
             "components/sidebar.py", "components/usage_panel.py", "components/limits_panel.py",
             "components/ending_panel.py", "components/transfer_buttons.py", "qwenchat/turns.py",
             "qwenchat/quotas.py", "qwenchat/chat/engine.py", "qwenchat/access.py", "qwenchat/accounting.py",
             "qwenchat/catalog.py", "qwenchat/errors.py", "qwenchat/config.py", "qwenchat/transfer.py",
             "qwenchat/imports.py", "components/gate.py", "components/session.py", "components/chat_view.py",
             "components/settings.py", "components/history.py", "views/history.py", "qwenchat/store.py",
             "qwenchat/console.py", "components/tools_panel.py", "components/tool_steps.py",
             "qwenchat/tools/calculator.py", "qwenchat/tools/clock.py", "qwenchat/tools/runner.py",
             "views/evaluate.py", "components/evaluate_session.py",
             "components/evaluate_setup.py", "components/evaluate_run.py", "components/evaluate_results.py",
             "qwenchat/knowledge/evalset.py", "qwenchat/knowledge/evaluate.py"]
ROOT = Path(__file__).resolve().parent.parent


def chinese_literals(source: str, name: str = "<sample>") -> list[str]:
    """String literals with a Chinese character, docstrings and `url_path=` values (addresses) aside."""
    tree = ast.parse(source, name)
    skipped = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and \
                isinstance(body[0].value, ast.Constant):
            skipped.add(id(body[0].value))  # a docstring
        if isinstance(node, ast.keyword) and node.arg == "url_path":
            skipped.add(id(node.value))
    return [f"{name}:{node.lineno}: {node.value!r}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skipped
            and HAN.search(node.value)]


@pytest.mark.parametrize("sample", ['st.title("用量 / Usage")', 'x = f"共 {n} 条"', 'ROWS = (("输入", "prompt"),)',
                                    'def f():\n    """文档"""\n    return "对话"'])
def test_the_scan_finds_a_chinese_literal(sample):
    assert chinese_literals(sample)


def test_the_scan_leaves_docstrings_and_addresses_alone():
    assert chinese_literals('"""用量"""\nst.Page("a.py", url_path="用量_Usage")\n# 注释\nst.title(tr("page.usage"))') == []


def test_the_converted_files_take_every_word_from_the_catalog():
    found = [line for path in CONVERTED
             for line in chinese_literals((ROOT / path).read_text(encoding="utf-8"), path)]
    assert found == []


def test_a_list_parameter_is_joined_with_the_languages_own_separator():
    assert t("doc.over_budget", "en", names=["a.pdf", "b.pdf"], tokens=1, prompt_tokens=2, budget=3).startswith(
        "The attached document(s) (a.pdf, b.pdf)")
    assert "（a.pdf、b.pdf）" in t("doc.over_budget", "zh", names=("a.pdf", "b.pdf"), tokens=1, prompt_tokens=2,
                                     budget=3)
