"""Export and import: a conversation as Markdown to read, or as versioned JSON to import again.

The JSON file is an envelope, and every key in it is listed below (nothing else is written or
accepted):

    {"format": "qwenchat.conversation", "version": 2, "exported_at": "2025-01-31T08:00:00Z",
     "conversation": {"title", "model", "system_prompt", "closed", "created_at", "leaf", "messages": [
         {"role", "content", "status", "reasoning", "error", "model", "usage", "created_at",
          "parent", "parts": [{"type", "text", "data"}]}]}}

Version 2 carries the whole tree: `messages` lists every branch, each message after its parent;
`parent` is the index of the parent in that list (null for a root) and `leaf` the index of the last
message of the visible branch (null when none is shown). Version 1 files (no `leaf`, `parent` or
`parts`) still import, as one linear chain.

Times inside the conversation are seconds since the epoch, as in the model, and must fall in the years
2000 to 2099, as must `exported_at`; `usage` is null or an object with the `Usage` fields, each a whole
number from 0 to 10**12. Ids are not exported: an imported conversation gets fresh ones, so it never
overwrites an existing one. A withdrawn reply's text, reasoning and parts are never exported.
`from_json` only parses and validates; the caller decides whether to save (see `qwenchat.imports` for
the limits on that).

Imported text is treated like model text: the Markdown export shows the visible branch with every
image as a link (`rendering.images_as_links`), for every role.
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
    PART_TYPES,
    STATUSES,
    STOPPED,
    STREAMING,
    WITHDRAWN,
    Conversation,
    Message,
    Part,
    Usage,
    new_id,
)
from qwenchat.rendering import images_as_links
from qwenchat.sanitize import clean_user_text

FORMAT = "qwenchat.conversation"
VERSION = 2
VERSIONS = (1, 2)
MAX_BYTES = 2 * 1024 * 1024  # the default; QWENCHAT_MAX_IMPORT_BYTES changes it (see qwenchat.imports)
MAX_MESSAGES = 5000
MAX_PARTS = 50
MAX_LABEL = 200  # characters of a model name or an error kind
MAX_TOKENS = 10**12
EARLIEST = 946684800.0  # 2000-01-01T00:00:00Z
LATEST = 4102444800.0   # 2100-01-01T00:00:00Z, excluded
MAX_NUMBER_IN_DATA = 10**15
ROLES = ("user", "assistant")

ENVELOPE_KEYS = ("format", "version", "exported_at", "conversation")
CONVERSATION_KEYS = ("title", "model", "system_prompt", "closed", "created_at", "leaf", "messages")
MESSAGE_KEYS = ("role", "content", "status", "reasoning", "error", "model", "usage", "created_at", "parent",
                "parts")
PART_KEYS = ("type", "text", "data")
CONVERSATION_KEYS_V1 = ("title", "model", "system_prompt", "closed", "created_at", "messages")
MESSAGE_KEYS_V1 = ("role", "content", "status", "reasoning", "error", "model", "usage", "created_at")
USAGE_KEYS = tuple(f.name for f in fields(Usage))


class InvalidImport(ValueError):
    """The file cannot be imported. The message is Chinese first, then English."""

    def __init__(self, zh: str, en: str):
        super().__init__(f"导入失败：{zh} / Import failed: {en}")


def _shown(message: Message) -> Message:
    """The message as it may leave the app: a withdrawn reply keeps only its status."""
    return replace(message, content="", reasoning="", parts=[]) if message.status == WITHDRAWN else message


def format_bytes(count: int) -> str:
    """A size as a limit is stated: "2 MB", "1.5 MB", "500 KB", "100 bytes"."""
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if count >= size:
            return f"{count / size:.1f}".removesuffix(".0") + f" {unit}"
    return f"{count} bytes"


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
    try:
        return datetime.fromtimestamp(timestamp, tz).strftime("%Y-%m-%d %H:%M %Z").strip()
    except (OverflowError, ValueError, OSError):  # a time no calendar shows (year 10000, NaN)
        return "?"


def to_markdown(conversation: Conversation, tz: tzinfo = timezone.utc) -> str:
    """A readable copy: header, then each turn under its role; times shown in `tz` (UTC by default)."""
    c = conversation
    title = " ".join(c.title.split()) or "对话 / Conversation"
    lines = [f"# {images_as_links(title)}", ""]
    lines.append(f"- 模型 / Model: {images_as_links(' '.join(c.model.split()))}")
    lines.append(f"- 日期 / Date: {_when(c.created_at, tz)}")
    total = c.total_usage().total_tokens
    if total:
        lines.append(f"- Tokens: {total}")
    if c.system_prompt.strip():
        lines += ["", "**系统提示 / System prompt**", ""]
        lines += [f"> {line}".rstrip() for line in images_as_links(c.system_prompt).splitlines()]
    for message in map(_shown, c.messages):
        header = _ROLE_HEADERS.get(message.role, message.role)
        if message.role == "assistant" and message.model and message.model != c.model:
            header += f" · {images_as_links(' '.join(message.model.split()))}"
        lines += ["", "---", "", f"## {header}", ""] if lines[-1] else ["---", "", f"## {header}", ""]
        if message.reasoning:
            lines += ["<details>", "<summary>思考过程 / Reasoning</summary>", "", images_as_links(message.reasoning),
                      "", "</details>", ""]
        if message.content:
            lines += [images_as_links(message.content), ""]
        note = _STATUS_NOTES.get(message.status)
        if note:
            detail = f" ({message.error})" if message.error and message.status != WITHDRAWN else ""
            lines += [f"*（{note}{detail}）*", ""]
    return "\n".join(lines).rstrip() + "\n"


# ---- JSON ----

def _parents_first(messages: list[Message]) -> list[Message]:
    """Every message after its parent: the visible branch first, then the others as their parents land."""
    present = {m.id for m in messages}
    placed: set[str] = set()
    ordered: list[Message] = []
    pending = messages
    while pending:
        waiting = []
        for m in pending:
            if m.parent_id in placed or m.parent_id not in present:
                ordered.append(m)
                placed.add(m.id)
            else:
                waiting.append(m)
        if len(waiting) == len(pending):  # a cycle (only crafted data has one): cut it
            ordered += waiting
            break
        pending = waiting
    return ordered


def to_json(conversation: Conversation) -> str:
    c = conversation
    everything = _parents_first(c.all_messages())
    index = {m.id: i for i, m in enumerate(everything)}
    messages = []
    for i, m in enumerate(map(_shown, everything)):
        parent = index.get(m.parent_id)
        messages.append({
            "role": m.role, "content": m.content, "status": m.status, "reasoning": m.reasoning,
            "error": m.error, "model": m.model, "usage": asdict(m.usage) if m.usage else None,
            "created_at": m.created_at, "parent": parent if parent is not None and parent < i else None,
            "parts": [{"type": p.type, "text": p.text, "data": p.data} for p in m.parts],
        })
    envelope = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "conversation": {
            "title": c.title, "model": c.model, "system_prompt": c.system_prompt, "closed": c.closed,
            "created_at": c.created_at, "leaf": index[c.messages[-1].id] if c.messages else None,
            "messages": messages,
        },
    }
    return json.dumps(envelope, ensure_ascii=False, indent=2)


def _reject_constant(name: str) -> Any:
    raise ValueError(name)  # NaN and Infinity are not JSON


def from_json(data: bytes | str, max_bytes: int = MAX_BYTES) -> Conversation:
    """Parse an exported file (version 1 or 2) into a new Conversation with fresh ids, or raise InvalidImport."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        size = format_bytes(max_bytes)
        raise InvalidImport(f"文件超过 {size}", f"file is larger than {size}")
    try:
        envelope = json.loads(raw.decode("utf-8-sig"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidImport("文件不是有效的 JSON", "not valid JSON") from None

    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT:
        raise InvalidImport("文件不是 qwenchat 对话导出文件", "not a qwenchat conversation export")
    version = envelope.get("version")
    if type(version) is not int or version not in VERSIONS:
        raise InvalidImport(f"不支持的版本 {version!r}", f"unsupported version {version!r}")
    _exact_keys(envelope, ENVELOPE_KEYS, "文件", "the file")
    _exported_at(_typed(envelope, "exported_at", str, "文件", "the file"))

    conv = _typed(envelope, "conversation", dict, "文件", "the file")
    _exact_keys(conv, CONVERSATION_KEYS if version == 2 else CONVERSATION_KEYS_V1, "对话", "the conversation")
    for key in ("title", "model", "system_prompt"):
        _typed(conv, key, str, "对话", "the conversation")
    _label(conv["model"], "model", "对话", "the conversation")
    _typed(conv, "closed", bool, "对话", "the conversation")
    _time(conv, "对话", "the conversation")
    items = _typed(conv, "messages", list, "对话", "the conversation")
    if len(items) > MAX_MESSAGES:
        raise InvalidImport(f"消息超过 {MAX_MESSAGES} 条", f"more than {MAX_MESSAGES} messages")

    messages: list[Message] = []
    for number, item in enumerate(items, 1):
        message = _message(item, number, version)
        if version == 1:
            message.parent_id = messages[-1].id if messages else ""
        else:
            parent = item["parent"]
            if parent is not None and (type(parent) is not int or not 0 <= parent < number - 1):
                raise InvalidImport(f"第 {number} 条消息的 parent 应为它之前某条消息的序号或 null",
                                    f"parent in message {number} must be the index of an earlier message or null")
            message.parent_id = messages[parent].id if parent is not None else ""
        messages.append(message)
    leaf: str | None = None  # version 1: the last message
    if version == 2:
        index = conv["leaf"]
        if index is not None and (type(index) is not int or not 0 <= index < len(messages)):
            raise InvalidImport("对话的 leaf 应为某条消息的序号或 null",
                                "leaf in the conversation must be the index of a message or null")
        leaf = messages[index].id if index is not None else ""

    conversation = Conversation(
        model=clean_user_text(conv["model"]), system_prompt=clean_user_text(conv["system_prompt"]),
        title=clean_user_text(conv["title"]), closed=conv["closed"],
        created_at=float(conv["created_at"]), id=new_id(),
    )
    conversation.show_tree(messages, leaf)
    return conversation


def _message(item: Any, number: int, version: int) -> Message:
    zh, en = f"第 {number} 条消息", f"message {number}"
    if not isinstance(item, dict):
        raise InvalidImport(f"{zh}不是对象", f"{en} is not an object")
    _exact_keys(item, MESSAGE_KEYS if version == 2 else MESSAGE_KEYS_V1, zh, en)
    for key in ("role", "content", "status", "reasoning", "error", "model"):
        _typed(item, key, str, zh, en)
    if item["role"] not in ROLES:
        raise InvalidImport(f"{zh}的角色未知：{item['role']!r}", f"{en} has an unknown role {item['role']!r}")
    if item["status"] not in STATUSES:
        raise InvalidImport(f"{zh}的状态未知：{item['status']!r}", f"{en} has an unknown status {item['status']!r}")
    _label(item["model"], "model", zh, en)
    _label(item["error"], "error", zh, en)
    _time(item, zh, en)
    return Message(
        # Cleaned like typed text: a lone surrogate in a file would otherwise make the store's save fail.
        role=item["role"], content=clean_user_text(item["content"]), status=item["status"],
        reasoning=clean_user_text(item["reasoning"]),
        error=clean_user_text(item["error"]), model=clean_user_text(item["model"]), usage=_usage(item["usage"], zh, en),
        created_at=float(item["created_at"]), id=new_id(),
        parts=_parts(item["parts"], zh, en) if version == 2 else [],
    )


def _parts(value: Any, zh: str, en: str) -> list[Part]:
    if type(value) is not list:
        raise InvalidImport(f"{zh}的 parts 应为数组", f"parts in {en} must be an array")
    if len(value) > MAX_PARTS:
        raise InvalidImport(f"{zh}的 parts 超过 {MAX_PARTS} 个", f"{en} has more than {MAX_PARTS} parts")
    parts = []
    for n, part in enumerate(value, 1):
        where_zh, where_en = f"{zh}的第 {n} 个 part", f"part {n} of {en}"
        if not isinstance(part, dict):
            raise InvalidImport(f"{where_zh}不是对象", f"{where_en} is not an object")
        _exact_keys(part, PART_KEYS, where_zh, where_en)
        if part["type"] not in PART_TYPES:
            raise InvalidImport(f"{where_zh}的类型未知：{part['type']!r}",
                                f"{where_en} has an unknown type {part['type']!r}")
        _typed(part, "text", str, where_zh, where_en)
        _typed(part, "data", dict, where_zh, where_en)
        if not _bounded(part["data"]):
            raise InvalidImport(f"{where_zh}的 data 含有超过 ±{MAX_NUMBER_IN_DATA} 的数字或无效文字",
                                f"data in {where_en} holds a number beyond ±{MAX_NUMBER_IN_DATA} or invalid text")
        parts.append(Part(part["type"], clean_user_text(part["text"]), part["data"]))
    return parts


def _bounded(value: Any) -> bool:
    """Numbers within ±10**15 and text that encodes, all the way down."""
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, (int, float)):
        return abs(value) <= MAX_NUMBER_IN_DATA
    if isinstance(value, str):
        return _encodes(value)
    if isinstance(value, list):
        return all(_bounded(v) for v in value)
    return all(_encodes(k) and _bounded(v) for k, v in value.items())


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: the store could not save it
        return False
    return True


def _label(value: str, key: str, zh: str, en: str) -> None:
    if len(value) > MAX_LABEL:
        raise InvalidImport(f"{zh}的 {key} 超过 {MAX_LABEL} 个字符", f"{key} in {en} is longer than {MAX_LABEL} characters")


def _usage(value: Any, zh: str, en: str) -> Usage | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidImport(f"{zh}的 usage 不是对象", f"{en}: usage is not an object")
    _exact_keys(value, USAGE_KEYS, f"{zh}的 usage", f"{en} usage")
    for key in USAGE_KEYS:
        if key == "estimated":
            _typed(value, key, bool, f"{zh}的 usage", f"{en} usage")
        elif type(value[key]) is not int or not 0 <= value[key] <= MAX_TOKENS:
            raise InvalidImport(f"{zh}的 usage.{key} 应为 0 到 {MAX_TOKENS:,} 之间的整数",
                                f"{en}: usage.{key} must be a whole number from 0 to {MAX_TOKENS:,}")
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
    if type(value) not in (int, float) or not EARLIEST <= value < LATEST:
        raise InvalidImport(f"{zh}的 created_at 不是 2000 至 2099 年之间的时间",
                            f"created_at in {en} is not a time in the years 2000 to 2099")


def _exported_at(value: str) -> None:
    try:
        when = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        when = None
    if when is None or not 2000 <= when.year < 2100:
        raise InvalidImport("文件的 exported_at 不是 2000 至 2099 年之间的时间（如 2025-01-31T08:00:00Z）",
                            "exported_at in the file is not a time in the years 2000 to 2099 "
                            "(like 2025-01-31T08:00:00Z)")


def file_stem(title: str) -> str:
    """A file name from the title: letters, digits (any script) and dashes, at most 40 characters."""
    words = re.sub(r"[^\w]+", "-", title, flags=re.UNICODE).strip("-_")
    return "qwenchat-" + (words[:40].rstrip("-_") or "conversation")
