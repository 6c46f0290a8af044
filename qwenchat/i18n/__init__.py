"""The words the app shows, in Chinese and English, from one catalog keyed by message id.

    t("quota.messages", "en", limit=50)   # "This session has sent 50 messages, ..."
    Msg("turn.closed").text("zh")         # an id and its parameters, kept until a language is known

The core never builds a sentence: it returns ids and parameters (a `Msg`, or a `Problem` that carries one)
and the UI renders them in the visitor's language. The catalog itself is `qwenchat.i18n.catalog`.

`t` never raises: an unknown id comes back as the id itself, a missing parameter as `{name}`, both logged.
A parameter that is itself a `Msg` is rendered in the same language; a list or tuple parameter is its items
joined with the language's own separator (`list.separator`: "a.pdf、b.pdf" / "a.pdf, b.pdf").
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from qwenchat.i18n.catalog import MESSAGES

log = logging.getLogger(__name__)

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"  # the product is Chinese first

_reported: set[tuple[str, str]] = set()  # (id, what) already logged, so a rerun does not flood the log


def _report(message_id: str, what: str, detail: str) -> None:
    if (message_id, what) not in _reported:
        _reported.add((message_id, what))
        log.warning("i18n: %s %r (%s)", what, message_id, detail)


@dataclass(frozen=True)
class Msg:
    """A message id with its parameters: what the core hands the UI instead of a sentence."""

    id: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def text(self, lang: str) -> str:
        return t(self.id, lang, **self.params)


class _Missing:
    """Stands for a parameter the caller did not pass: prints as `{name}` whatever the format spec."""

    def __init__(self, name: str):
        self.name = name

    def __format__(self, spec: str) -> str:
        return "{" + self.name + "}"


class _Params(dict):
    def __init__(self, message_id: str, values: Mapping[str, Any]):
        super().__init__(values)
        self.message_id = message_id

    def __missing__(self, name: str) -> _Missing:
        _report(self.message_id, "missing parameter", name)
        return _Missing(name)


def t(message_id: str, lang: str, /, **params: Any) -> str:
    """The text of `message_id` in `lang` ("zh" or "en"), with `params` filled in by `str.format`."""
    if lang not in LANGS:
        _report(str(lang), "unknown language", f"using {DEFAULT_LANG}")
        lang = DEFAULT_LANG
    texts = MESSAGES.get(message_id)
    if texts is None:
        _report(message_id, "unknown message id", lang)
        return message_id
    template = texts[LANGS.index(lang)]
    values = {name: _value(value, lang) for name, value in params.items()}
    try:
        return template.format_map(_Params(message_id, values))
    except (ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:  # a bad value for a spec
        _report(message_id, "cannot format", f"{type(exc).__name__}: {exc}")
        return template


def _value(value: Any, lang: str) -> Any:
    if isinstance(value, Msg):
        return value.text(lang)
    if isinstance(value, (list, tuple)):
        return t("list.separator", lang).join(str(_value(item, lang)) for item in value)
    return value


def language_from_locale(locale: str | None) -> str:
    """The UI language for a browser locale such as "zh-CN" or "en-US": Chinese for zh*, else English;
    Chinese when the browser did not say."""
    if locale is None:
        return "zh"
    return "zh" if locale.strip().lower().replace("_", "-").startswith("zh") else "en"


# ---- the farewell follows the conversation's language ---------------------------------------------------

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
RECENT_USER_MESSAGES = 3
# Two Chinese characters count as one word. Chinese when at least a third of the words are Chinese: a
# Chinese sentence with "API key" in it stays Chinese, "how do you say 再见" stays English.
CHINESE_SHARE = 1 / 3
# Fewer words than this say too little ("bye", "ok"): the caller's default (the UI language) decides.
MIN_WORDS = 3


def _user_texts(text_or_history: str | Iterable[Any]) -> list[str]:
    if isinstance(text_or_history, str):
        return [text_or_history]
    texts = []
    for message in text_or_history:
        role = message.get("role") if isinstance(message, Mapping) else getattr(message, "role", None)
        content = message.get("content") if isinstance(message, Mapping) else getattr(message, "content", None)
        if role == "user" and isinstance(content, str):
            texts.append(content)
    return texts[-RECENT_USER_MESSAGES:]


def conversation_language(text_or_history: str | Iterable[Any], default: str = DEFAULT_LANG) -> str:
    """"zh" or "en": the language of a text, or of the user's last few messages in a history (a list of
    {"role", "content"} dicts or of messages with those attributes). `default` when there is no word."""
    text = "\n".join(_user_texts(text_or_history))
    chinese = len(_HAN.findall(text)) / 2
    english = len(_LATIN_WORD.findall(text))
    if chinese + english < MIN_WORDS:
        return default if default in LANGS else DEFAULT_LANG
    return "zh" if chinese / (chinese + english) >= CHINESE_SHARE else "en"


def farewell_for(text_or_history: str | Iterable[Any], default: str = DEFAULT_LANG) -> str:
    """The closing reply in the conversation's language: 感谢您的咨询，再见！ or its English."""
    return t("farewell", conversation_language(text_or_history, default))


__all__ = ["LANGS", "DEFAULT_LANG", "MESSAGES", "Msg", "t", "language_from_locale", "conversation_language",
           "farewell_for"]
