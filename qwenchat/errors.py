"""Every way a model call (DashScope or another OpenAI-compatible server) can fail, named, with a message
(catalog id "error." + kind, in `qwenchat.i18n`) that says what to do.

`classify(exc)` maps an exception from the openai SDK (or the network under it) to a `ChatError`.
DashScope's error code decides where it is known; the HTTP status is the fallback. Messages never quote
the raw exception text, which could carry a request's headers or a key.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from qwenchat.i18n import DEFAULT_LANG, Msg

INVALID_KEY = "invalid_key"
RATE_LIMIT = "rate_limit"
QUOTA = "quota"
INPUT_MODERATION = "input_moderation"
OUTPUT_MODERATION = "output_moderation"
ARREARS = "arrears"
CONTEXT_TOO_LONG = "context_too_long"
OVER_BUDGET = "over_budget"
MODEL_NOT_FOUND = "model_not_found"
TIMEOUT = "timeout"
CONNECTION = "connection"
INTERRUPTED = "interrupted"
THROTTLED_MID_STREAM = "throttled_mid_stream"
BAD_REQUEST = "bad_request"
SERVER = "server"
REDIRECT = "redirect"
PRIVATE_ADDRESS = "private_address"
BAD_URL = "bad_url"
DEADLINE = "deadline"
NO_EMBEDDINGS = "no_embeddings"  # the server has no /embeddings endpoint (a local chat-only server)
NO_RERANK = "no_rerank"          # the server has no rerank endpoint
UNKNOWN = "unknown"

KINDS = (INVALID_KEY, RATE_LIMIT, QUOTA, INPUT_MODERATION, OUTPUT_MODERATION, ARREARS, CONTEXT_TOO_LONG,
         OVER_BUDGET, MODEL_NOT_FOUND, TIMEOUT, CONNECTION, INTERRUPTED, THROTTLED_MID_STREAM, BAD_REQUEST, SERVER,
         REDIRECT, PRIVATE_ADDRESS, BAD_URL, DEADLINE, NO_EMBEDDINGS, NO_RERANK, UNKNOWN)


def message_id(kind: str) -> str:
    """The catalog id of a kind's message: "error." + kind ("error.unknown" for a kind this version does not
    know, e.g. one stored by a newer version)."""
    return f"error.{kind}" if kind in KINDS else f"error.{UNKNOWN}"


@dataclass(frozen=True)
class ChatError:
    kind: str
    status: int | None = None
    code: str = ""
    request_id: str = ""
    # The server's message names the `tools` parameter or function calling ("The model does not support tools
    # (function calling)."): a 400 that says it refuses tools, not one about something else. (The message
    # itself is not kept.)
    names_tools: bool = False

    @property
    def msg(self) -> Msg:
        """What to tell the user, as a catalog id (`error.<kind>`) for the UI to render in its language."""
        return Msg(message_id(self.kind))

    def message(self, lang: str = DEFAULT_LANG) -> str:
        return self.msg.text(lang)

    @property
    def message_zh(self) -> str:
        return self.message("zh")

    @property
    def message_en(self) -> str:
        return self.message("en")

    @property
    def retryable(self) -> bool:
        """Resending the same message can help for every failure but a moderation refusal of the input."""
        return self.kind != INPUT_MODERATION

    @property
    def keeps_partial(self) -> bool:
        """Whether text received before the failure stays visible as a (marked) answer."""
        return self.kind in (INTERRUPTED, THROTTLED_MID_STREAM, DEADLINE)


def kind_for_code(code: str, message: str = "", status: int | None = None) -> str | None:
    """The error kind for a DashScope `error.code` (and message, for codes shared by several causes)."""
    code_l = (code or "").lower()
    message_l = (message or "").lower()
    if code_l == "invalid_api_key":
        return INVALID_KEY
    if code_l == "data_inspection_failed" or "inappropriate content" in message_l:
        return OUTPUT_MODERATION if message_l.startswith("output") else INPUT_MODERATION
    if code_l == "arrearage":
        return ARREARS
    if code_l == "insufficient_quota":
        return QUOTA
    if code_l in ("limit_requests", "limit_burst_rate") or code_l.startswith("throttling"):
        return RATE_LIMIT
    if code_l == "model_not_found":
        return MODEL_NOT_FOUND
    if "range of input length" in message_l or "context length" in message_l or "too long" in message_l:
        return CONTEXT_TOO_LONG
    return None


def kind_for_status(status: int | None) -> str:
    if status is not None and 300 <= status < 400:
        return REDIRECT
    if status == 401 or status == 403:
        return INVALID_KEY
    if status == 429:
        return RATE_LIMIT
    if status == 404:
        return MODEL_NOT_FOUND
    if status in (408, 504):
        return TIMEOUT
    if status is not None and status >= 500:
        return SERVER
    if status == 400:
        return BAD_REQUEST
    return UNKNOWN


# "tools" or "tool choice" as a word, "tool_choice", "function calling": not "tool_calls" nor a `tool` message,
# which a 400 about a broken history names
_NAMES_TOOLS = re.compile(r"\btools\b|\btool[ _]choice\b|\bfunction[ _-]?calling\b", re.IGNORECASE)
# What a server quotes back (the user's words, a field's value) says nothing about what it refuses; a quoted
# parameter name alone ("'tools'", '"tool_choice"', as in pydantic's `'loc': ('body', 'tools')`) still counts
_QUOTED = re.compile(r"(?<!\w)'([^'\n]*)'(?!\w)|\"([^\"\n]*)\"")  # (not the ' of "doesn't")


def _names_tools(message: str) -> bool:
    def unquote(m: re.Match[str]) -> str:
        inner = (m.group(1) if m.group(1) is not None else m.group(2)).strip()
        return f" {inner} " if _NAMES_TOOLS.fullmatch(inner) else " "

    return bool(_NAMES_TOOLS.search(_QUOTED.sub(unquote, message)))


def _error_fields(body: Any) -> tuple[str, str]:
    """(code, message) from an SDK error body, which may be the inner `error` dict, the whole payload, or a
    raw string such as `data: {...}` when DashScope prefixed a 400 body the SDK could not parse."""
    if isinstance(body, str):
        text = body.strip()
        if text.startswith("data:"):
            text = text[5:].strip()
        try:
            body = json.loads(text)
        except ValueError:
            return "", body if isinstance(body, str) else ""
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        return str(inner.get("code") or ""), str(inner.get("message") or "")
    return "", ""


def _request_id(exc: Any) -> str:
    response = getattr(exc, "response", None)
    if response is None:
        return ""
    try:
        payload = response.json()
    except Exception:
        try:
            text = response.text.strip()
            payload = json.loads(text[5:] if text.startswith("data:") else text)
        except Exception:
            return ""
    return str(payload.get("request_id", "")) if isinstance(payload, dict) else ""


def classify(exc: BaseException, *, mid_stream: bool = False) -> ChatError:
    """Name a failure. `mid_stream` is true once text has arrived: a dropped connection then is
    'interrupted', not 'could not connect'."""
    import openai

    marked = _marked_kind(exc)
    if marked:
        return ChatError(marked)
    if isinstance(exc, openai.APITimeoutError):
        return ChatError(INTERRUPTED if mid_stream else TIMEOUT)
    if isinstance(exc, openai.APIConnectionError):
        return ChatError(INTERRUPTED if mid_stream else CONNECTION)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        code, message = _error_fields(exc.body)
        if not code:
            code, message = _error_fields(_safe_text(exc.response))
        kind = kind_for_code(code, message, status) or kind_for_status(status)
        return ChatError(kind, status, code, _request_id(exc), names_tools=_names_tools(message))
    if isinstance(exc, openai.APIError):  # an error frame inside a 200 stream
        code, message = _error_fields(exc.body)
        kind = kind_for_code(code, message) or (INTERRUPTED if mid_stream else UNKNOWN)
        if kind == INPUT_MODERATION and mid_stream:
            kind = OUTPUT_MODERATION
        return ChatError(kind, None, code)
    # httpx (older SDKs let these escape mid-stream) and socket errors.
    name = type(exc).__name__
    if "Timeout" in name:
        return ChatError(INTERRUPTED if mid_stream else TIMEOUT)
    if any(word in name for word in ("Protocol", "Connect", "Read", "Network", "Reset", "Broken")):
        return ChatError(INTERRUPTED if mid_stream else CONNECTION)
    return ChatError(UNKNOWN)


def _marked_kind(exc: BaseException) -> str:
    """The kind carried by an exception in the chain (`chat_error_kind`, set by our own network layer, e.g. a
    refused private address), which the SDK and httpx wrap in their own classes on the way up."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        kind = getattr(current, "chat_error_kind", "")
        if isinstance(kind, str) and kind:
            return kind
        current = current.__cause__ or current.__context__
    return ""


def _safe_text(response: Any) -> str:
    try:
        return response.text
    except Exception:
        return ""
