"""Export and import: a conversation as Markdown to read, or as versioned JSON to import again.

The JSON file is an envelope, and every key in it is listed below (nothing else is written or
accepted):

    {"format": "qwenchat.conversation", "version": 1, "exported_at": "2025-01-31T08:00:00Z",
     "conversation": {"title", "model", "system_prompt", "closed", "created_at", "messages": [
         {"role", "content", "status", "reasoning", "error", "model", "usage", "created_at"}]}}

Times inside the conversation are seconds since the epoch, as in the model; `usage` is null or an
object with the `Usage` fields. Ids are not exported: an imported conversation gets fresh ones, so it
never overwrites an existing one. A withdrawn reply's text and reasoning are never exported.
`from_json` only parses and validates; the caller decides whether to save.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, fields, replace
from datetime import datetime, timezone, tzinfo
from typing import Any

from qwenchat.conversation import (
    FAILED,
    INTERRUPTED,
    STATUSES,
    STOPPED,
    STREAMING,
    WITHDRAWN,
    Conversation,
    Message,
    Usage,
    new_id,
)
from qwenchat.sanitize import clean_user_text

FORMAT = "qwenchat.conversation"
VERSION = 1
MAX_BYTES = 5 * 1024 * 1024
MAX_MESSAGES = 5000
ROLES = ("user", "assistant")

ENVELOPE_KEYS = ("format", "version", "exported_at", "conversation")
CONVERSATION_KEYS = ("title", "model", "system_prompt", "closed", "created_at", "messages")
MESSAGE_KEYS = ("role", "content", "status", "reasoning", "error", "model", "usage", "created_at")
USAGE_KEYS = tuple(f.name for f in fields(Usage))


class InvalidImport(ValueError):
    """The file cannot be imported. The message is Chinese first, then English."""

    def __init__(self, zh: str, en: str):
        super().__init__(f"导入失败：{zh} / Import failed: {en}")


def _shown(message: Message) -> Message:
    """The message as it may leave the app: a withdrawn reply keeps only its status."""
    return replace(message, content="", reasoning="") if message.status == WITHDRAWN else message


# ---- Markdown ----

_ROLE_HEADERS = {"user": "用户 / User", "assistant": "助手 / Assistant"}
_STATUS_NOTES = {
    STREAMING: "回复未完成 / Reply incomplete: it was still being written",
    STOPPED: "已停止 / Stopped before the end",
    INTERRUPTED: "连接中断 / Interrupted: the connection dropped",
    WITHDRAWN: "此回复已撤回 / This reply was withdrawn",
    FAILED: "请求失败 / Request failed",
}


def _when(timestamp: float, tz: tzinfo) -> str:
    return datetime.fromtimestamp(timestamp, tz).strftime("%Y-%m-%d %H:%M %Z").strip()


def to_markdown(conversation: Conversation, tz: tzinfo = timezone.utc) -> str:
    """A readable copy: header, then each turn under its role; times shown in `tz` (UTC by default)."""
    c = conversation
    title = " ".join(c.title.split()) or "对话 / Conversation"
    lines = [f"# {title}", ""]
    lines.append(f"- 模型 / Model: {c.model}")
    lines.append(f"- 日期 / Date: {_when(c.created_at, tz)}")
    total = c.total_usage().total_tokens
    if total:
        lines.append(f"- Tokens: {total}")
    if c.system_prompt.strip():
        lines += ["", "**系统提示 / System prompt**", ""]
        lines += [f"> {line}".rstrip() for line in c.system_prompt.splitlines()]
    for message in map(_shown, c.messages):
        header = _ROLE_HEADERS.get(message.role, message.role)
        if message.role == "assistant" and message.model and message.model != c.model:
            header += f" · {message.model}"
        lines += ["", "---", "", f"## {header}", ""] if lines[-1] else ["---", "", f"## {header}", ""]
        if message.reasoning:
            lines += ["<details>", "<summary>思考过程 / Reasoning</summary>", "", message.reasoning, "",
                      "</details>", ""]
        if message.content:
            lines += [message.content, ""]
        note = _STATUS_NOTES.get(message.status)
        if note:
            detail = f" ({message.error})" if message.error and message.status != WITHDRAWN else ""
            lines += [f"*（{note}{detail}）*", ""]
    return "\n".join(lines).rstrip() + "\n"


# ---- JSON ----

def to_json(conversation: Conversation) -> str:
    c = conversation
    messages = []
    for m in map(_shown, c.messages):
        messages.append({
            "role": m.role, "content": m.content, "status": m.status, "reasoning": m.reasoning,
            "error": m.error, "model": m.model, "usage": asdict(m.usage) if m.usage else None,
            "created_at": m.created_at,
        })
    envelope = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "conversation": {
            "title": c.title, "model": c.model, "system_prompt": c.system_prompt, "closed": c.closed,
            "created_at": c.created_at, "messages": messages,
        },
    }
    return json.dumps(envelope, ensure_ascii=False, indent=2)


def _reject_constant(name: str) -> Any:
    raise ValueError(name)  # NaN and Infinity are not JSON


def from_json(data: bytes | str) -> Conversation:
    """Parse an exported file into a new Conversation with fresh ids, or raise InvalidImport."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if len(raw) > MAX_BYTES:
        raise InvalidImport(f"文件超过 {MAX_BYTES // 2**20} MB", f"file is larger than {MAX_BYTES // 2**20} MB")
    try:
        envelope = json.loads(raw.decode("utf-8-sig"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidImport("文件不是有效的 JSON", "not valid JSON") from None

    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT:
        raise InvalidImport("文件不是 qwenchat 对话导出文件", "not a qwenchat conversation export")
    version = envelope.get("version")
    if type(version) is not int or version != VERSION:
        raise InvalidImport(f"不支持的版本 {version!r}", f"unsupported version {version!r}")
    _exact_keys(envelope, ENVELOPE_KEYS, "文件", "the file")
    _typed(envelope, "exported_at", str, "文件", "the file")

    conv = _typed(envelope, "conversation", dict, "文件", "the file")
    _exact_keys(conv, CONVERSATION_KEYS, "对话", "the conversation")
    for key in ("title", "model", "system_prompt"):
        _typed(conv, key, str, "对话", "the conversation")
    _typed(conv, "closed", bool, "对话", "the conversation")
    _time(conv, "对话", "the conversation")
    items = _typed(conv, "messages", list, "对话", "the conversation")
    if len(items) > MAX_MESSAGES:
        raise InvalidImport(f"消息超过 {MAX_MESSAGES} 条", f"more than {MAX_MESSAGES} messages")

    return Conversation(
        model=conv["model"], system_prompt=clean_user_text(conv["system_prompt"]),
        title=clean_user_text(conv["title"]), closed=conv["closed"],
        created_at=float(conv["created_at"]), id=new_id(),
        messages=[_message(item, number) for number, item in enumerate(items, 1)],
    )


def _message(item: Any, number: int) -> Message:
    zh, en = f"第 {number} 条消息", f"message {number}"
    if not isinstance(item, dict):
        raise InvalidImport(f"{zh}不是对象", f"{en} is not an object")
    _exact_keys(item, MESSAGE_KEYS, zh, en)
    for key in ("role", "content", "status", "reasoning", "error", "model"):
        _typed(item, key, str, zh, en)
    if item["role"] not in ROLES:
        raise InvalidImport(f"{zh}的角色未知：{item['role']!r}", f"{en} has an unknown role {item['role']!r}")
    if item["status"] not in STATUSES:
        raise InvalidImport(f"{zh}的状态未知：{item['status']!r}", f"{en} has an unknown status {item['status']!r}")
    _time(item, zh, en)
    return Message(
        # Cleaned like typed text: a lone surrogate in a file would otherwise make the store's save fail.
        role=item["role"], content=clean_user_text(item["content"]), status=item["status"],
        reasoning=clean_user_text(item["reasoning"]),
        error=item["error"], model=item["model"], usage=_usage(item["usage"], zh, en),
        created_at=float(item["created_at"]), id=new_id(),
    )


def _usage(value: Any, zh: str, en: str) -> Usage | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidImport(f"{zh}的 usage 不是对象", f"{en}: usage is not an object")
    _exact_keys(value, USAGE_KEYS, f"{zh}的 usage", f"{en} usage")
    for key in USAGE_KEYS:
        if key == "estimated":
            _typed(value, key, bool, f"{zh}的 usage", f"{en} usage")
        elif type(value[key]) is not int or not 0 <= value[key] < 2**63:
            raise InvalidImport(f"{zh}的 usage.{key} 不是非负整数", f"{en}: usage.{key} is not a non-negative integer")
    return Usage(**value)


def _exact_keys(obj: dict[str, Any], expected: tuple[str, ...], zh: str, en: str) -> None:
    missing = [k for k in expected if k not in obj]
    if missing:
        raise InvalidImport(f"{zh}缺少字段 {', '.join(missing)}", f"{en} is missing {', '.join(missing)}")
    unknown = [k for k in obj if k not in expected]
    if unknown:
        raise InvalidImport(f"{zh}含有未知字段 {', '.join(unknown)}", f"{en} has unknown fields {', '.join(unknown)}")


_TYPE_NAMES = {str: ("字符串", "a string"), bool: ("布尔值", "true or false"), dict: ("对象", "an object"),
               list: ("数组", "an array")}


def _typed(obj: dict[str, Any], key: str, kind: type, zh: str, en: str) -> Any:
    value = obj.get(key)
    if type(value) is not kind:
        zh_kind, en_kind = _TYPE_NAMES[kind]
        raise InvalidImport(f"{zh}的 {key} 应为{zh_kind}", f"{key} in {en} must be {en_kind}")
    return value


def _time(obj: dict[str, Any], zh: str, en: str) -> None:
    value = obj.get("created_at")
    # Up to the year 9999, the last one datetime can show.
    if type(value) not in (int, float) or not 0 <= value < 253402300800:
        raise InvalidImport(f"{zh}的 created_at 不是有效时间", f"created_at in {en} is not a valid time")


def file_stem(title: str) -> str:
    """A file name from the title: letters, digits (any script) and dashes, at most 40 characters."""
    words = re.sub(r"[^\w]+", "-", title, flags=re.UNICODE).strip("-_")
    return "qwenchat-" + (words[:40].rstrip("-_") or "conversation")
