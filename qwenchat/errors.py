"""Every way a model call (DashScope or another OpenAI-compatible server) can fail, named, with a bilingual
message that says what to do.

`classify(exc)` maps an exception from the openai SDK (or the network under it) to a `ChatError`.
DashScope's error code decides where it is known; the HTTP status is the fallback. Messages never quote
the raw exception text, which could carry a request's headers or a key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

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
UNKNOWN = "unknown"

MESSAGES: dict[str, tuple[str, str]] = {
    INVALID_KEY: (
        "API Key 无效。请检查密钥是否完整；北京、新加坡、美国各地域的 Key 不通用，请确认所选地域与 Key 一致。",
        "Invalid API key. Check that it is complete, and that the region matches the key: "
        "Beijing, Singapore and US keys only work in their own region.",
    ),
    RATE_LIMIT: (
        "请求太频繁，已触发限流。请稍等几秒后点击“重试”。",
        "Too many requests: the rate limit was hit. Wait a few seconds, then press Retry.",
    ),
    QUOTA: (
        "每分钟的 Token 配额已用完。请稍后重试，或换用其他模型。",
        "The tokens-per-minute quota is used up. Retry in a minute, or switch to another model.",
    ),
    INPUT_MODERATION: (
        "输入内容未通过内容安全审核，请修改后再发送。",
        "Your message did not pass content moderation. Please rephrase it and send again.",
    ),
    OUTPUT_MODERATION: (
        "回答在生成过程中未通过内容安全审核，已撤回。可以换个问法再试。",
        "The reply failed content moderation while it was being written and was withdrawn. "
        "Try asking another way.",
    ),
    ARREARS: (
        "阿里云账户已欠费，服务暂停。请在控制台充值后重试。",
        "The Alibaba Cloud account is in arrears. Top it up in the console, then retry.",
    ),
    CONTEXT_TOO_LONG: (
        "对话内容超出了模型的上下文长度。请重置对话、缩短消息，或换用上下文更长的模型。",
        "The conversation is longer than the model's context window. Reset the conversation, "
        "shorten the message, or pick a model with a longer context.",
    ),
    OVER_BUDGET: (
        "这条消息本身就超出了每次请求的上下文预算，未发送。请缩短消息，或在侧边栏调高预算。",
        "This message alone exceeds the context budget per request and was not sent. Shorten it, or raise "
        "the budget in the sidebar.",
    ),
    MODEL_NOT_FOUND: (
        "找不到该模型，或当前地域/账户未开通。请在侧边栏换一个模型，或检查地域。",
        "Model not found, or not available in this region or account. Pick another model in the "
        "sidebar, or check the region.",
    ),
    TIMEOUT: (
        "请求超时，服务器没有及时响应。请点击“重试”。",
        "The request timed out: the server did not answer in time. Press Retry.",
    ),
    CONNECTION: (
        "无法连接到模型服务（DashScope 或自定义地址）。请检查网络和 Base URL，然后重试。",
        "Could not reach the model server (DashScope or the custom URL). Check the network and the base URL, "
        "then retry.",
    ),
    INTERRUPTED: (
        "连接在回答过程中中断，已保留收到的部分。可以点击“重试”重新生成。",
        "The connection dropped mid-reply; the part received is kept. Press Retry to regenerate.",
    ),
    THROTTLED_MID_STREAM: (
        "回答过程中触发了限流，回答不完整。请稍后点击“重试”。",
        "The reply was throttled mid-stream and is incomplete. Press Retry in a moment.",
    ),
    BAD_REQUEST: (
        "请求参数有误，DashScope 拒绝了这次请求。",
        "DashScope rejected the request's parameters.",
    ),
    SERVER: (
        "DashScope 服务暂时出错（已自动重试）。请稍后再试。",
        "DashScope had a server error (retried automatically). Please try again later.",
    ),
    REDIRECT: (
        "服务器要求跳转到另一个地址；为安全起见，模型请求不跟随跳转。请检查 Base URL 是否是最终地址。",
        "The server redirected the request elsewhere; model requests never follow redirects, for safety. "
        "Check that the base URL is the final address.",
    ),
    PRIVATE_ADDRESS: (
        "这个地址解析到了服务器自己的网络（本机、内网或链路本地地址），已拒绝连接。",
        "This address resolves to the server's own network (loopback, private or link-local); the "
        "connection was refused.",
    ),
    BAD_URL: (
        "Base URL 无效（例如端口超出范围或格式错误）。请在侧边栏或配置中改正后重试。",
        "The base URL is not valid (for example a port out of range, or malformed). Correct it in the "
        "sidebar or the configuration, then retry.",
    ),
    DEADLINE: (
        "回答超过了允许的总时长，已停止；已保留收到的部分。可以点击“重试”。",
        "The reply took longer than the time allowed for one reply and was stopped; the part received is "
        "kept. Press Retry.",
    ),
    UNKNOWN: (
        "出现了意外错误，消息已保留。请点击“重试”。",
        "Something unexpected went wrong; your message is kept. Press Retry.",
    ),
}


@dataclass(frozen=True)
class ChatError:
    kind: str
    status: int | None = None
    code: str = ""
    request_id: str = ""

    @property
    def message_zh(self) -> str:
        return MESSAGES.get(self.kind, MESSAGES[UNKNOWN])[0]

    @property
    def message_en(self) -> str:
        return MESSAGES.get(self.kind, MESSAGES[UNKNOWN])[1]

    def message(self, lang: str = "zh") -> str:
        return self.message_en if lang == "en" else self.message_zh

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
        return ChatError(kind, status, code, _request_id(exc))
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
