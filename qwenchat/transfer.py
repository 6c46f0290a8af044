"""Export and import: a conversation as Markdown to read, or as versioned JSON to import again.

The JSON file is an envelope, and every key in it is listed below (nothing else is written or
accepted):

    {"format": "qwenchat.conversation", "version": 4, "exported_at": "2025-01-31T08:00:00Z",
     "conversation": {"title", "model", "system_prompt", "closed", "created_at", "leaf", "messages": [
         {"role", "content", "status", "reasoning", "error", "model", "usage", "created_at",
          "parent", "parts": [{"type", "text", "data"}]}],
         "images": [{"id", "mime", "data"}], "params": {"temperature": 0.3}}}

Version 2 carries the whole tree: `messages` lists every branch, each message after its parent;
`parent` is the index of the parent in that list (null for a root) and `leaf` the index of the last
message of the visible branch (null when none is shown). Version 3 adds `images`: the pixels of the
messages' image parts, base64 (`data`), once each; on import each is decoded as its `mime` says, its id
is recomputed from its bytes (the parts follow), and its size is read from it, never from the file.
Version 4 adds `params`: the generation parameters the user changed, bounded on import by `params.clean`
as the Settings page bounds them (unknown names dropped, values clamped). Version 1 files (no `leaf`,
`parent` or `parts`), version 2 and version 3 files still import (with no parameters).

Times inside the conversation are seconds since the epoch, as in the model, and must fall in the years
2000 to 2099, as must `exported_at`; `usage` is null or an object with the `Usage` fields, each a whole
number from 0 to 10**12. The system prompt is at most 8,000 characters, as in the Settings box. A part's
`data` holds numbers within ±10**15 and at most 32 levels of objects and lists. Ids are not exported: an
imported conversation gets fresh ones, so it never overwrites an existing one. A withdrawn reply's text,
reasoning and parts are never exported.
`from_json` only parses and validates; the caller decides whether to save (see `qwenchat.imports` for
the limits on that).

Imported text is treated like model text: the Markdown export shows the visible branch with every
image as a link and every `<` outside code as `&lt;` (`rendering.inert_markdown`: a preview that renders
HTML loads nothing), for every role; an attached image is a note with its name
and size (its pixels are in the JSON export), an attached document a note with its name and tokens (its
text is in the JSON export, in the `file` part's data).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timezone, tzinfo
from typing import Any, Callable

from qwenchat.conversation import (
    FAILED,
    INTERRUPTED,
    PART_TYPES,
    STATUSES,
    STOPPED,
    STREAMING,
    SYSTEM_PROMPT_MAX_CHARS,
    WITHDRAWN,
    Conversation,
    Message,
    Part,
    Usage,
    new_id,
)
from qwenchat.i18n import DEFAULT_LANG, Msg, conversation_language, t
from qwenchat.params import clean as clean_params
from qwenchat.rendering import inert_line, inert_markdown
from qwenchat.sanitize import clean_user_text

FORMAT = "qwenchat.conversation"
VERSION = 4
VERSIONS = (1, 2, 3, 4)
MAX_BYTES = 2 * 1024 * 1024  # the default; QWENCHAT_MAX_IMPORT_BYTES changes it (see qwenchat.imports)
MAX_MESSAGES = 5000
MAX_PARTS = 300  # a reply that called tools has two parts per call: up to 8 rounds of 16 calls
MAX_IMAGES = 200
MAX_DOCUMENT_CHARS = 200_000  # qwenchat.documents.MAX_TEXT_CHARS (not imported: documents reads the knowledge base)
MAX_LABEL = 200  # characters of a model name or an error kind
MAX_TOKENS = 10**12
EARLIEST = 946684800.0  # 2000-01-01T00:00:00Z
LATEST = 4102444800.0   # 2100-01-01T00:00:00Z, excluded
MAX_NUMBER_IN_DATA = 10**15
MAX_DEPTH_IN_DATA = 32  # objects and lists inside one another in a part's data; the app's own nest a few
ROLES = ("user", "assistant")

ENVELOPE_KEYS = ("format", "version", "exported_at", "conversation")
CONVERSATION_KEYS = ("title", "model", "system_prompt", "closed", "created_at", "leaf", "messages", "images",
                     "params")
CONVERSATION_KEYS_V3 = CONVERSATION_KEYS[:-1]
CONVERSATION_KEYS_V2 = CONVERSATION_KEYS_V3[:-1]
IMAGE_KEYS = ("id", "mime", "data")
MESSAGE_KEYS = ("role", "content", "status", "reasoning", "error", "model", "usage", "created_at", "parent",
                "parts")
PART_KEYS = ("type", "text", "data")
CONVERSATION_KEYS_V1 = ("title", "model", "system_prompt", "closed", "created_at", "messages")
MESSAGE_KEYS_V1 = ("role", "content", "status", "reasoning", "error", "model", "usage", "created_at")
USAGE_KEYS = tuple(f.name for f in fields(Usage))


class InvalidImport(ValueError):
    """The file cannot be imported: `reason` says why (catalog id "import.<reason>" and its parameters),
    `message(lang)` says it in a language ("Import failed: ..."). `str()` is the English, for logs."""

    def __init__(self, reason_id: str, **params: Any):
        self.reason = Msg(reason_id, params)
        self.msg = Msg("import.failed", {"reason": self.reason})
        super().__init__(self.message("en"))

    def message(self, lang: str = DEFAULT_LANG) -> str:
        return self.msg.text(lang)


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

_ROLE_HEADERS = {"user": "export.md.user", "assistant": "export.md.assistant"}  # catalog ids
_STATUS_NOTES = {status: f"export.md.status.{status}" for status in (STREAMING, STOPPED, INTERRUPTED, WITHDRAWN,
                                                                       FAILED)}


def _when(timestamp: float, tz: tzinfo) -> str:
    try:
        return datetime.fromtimestamp(timestamp, tz).strftime("%Y-%m-%d %H:%M %Z").strip()
    except (OverflowError, ValueError, OSError):  # a time no calendar shows (year 10000, NaN)
        return "?"


def to_markdown(conversation: Conversation, tz: tzinfo = timezone.utc, lang: str | None = None) -> str:
    """A readable copy: header, then each turn under its role; times shown in `tz` (UTC by default). The
    headings are in `lang`, by default the conversation's language (Chinese when it has no words)."""
    c = conversation
    lang = lang or conversation_language(c.messages)
    title = " ".join(c.title.split()) or t("export.md.conversation", lang)
    lines = [f"# {inert_line(title)}", ""]
    lines.append(t("export.md.model", lang, model=inert_line(c.model)))
    lines.append(t("export.md.date", lang, date=_when(c.created_at, tz)))
    total = c.total_usage().total_tokens
    if total:
        lines.append(t("export.md.tokens", lang, total=total))
    if c.system_prompt.strip():
        lines += ["", t("export.md.system_prompt", lang), ""]
        lines += [f"> {line}".rstrip() for line in inert_markdown(c.system_prompt).splitlines()]
    for message in map(_shown, c.messages):
        header = t(_ROLE_HEADERS[message.role], lang) if message.role in _ROLE_HEADERS else message.role
        if message.role == "assistant" and message.model and message.model != c.model:
            header += f" · {inert_line(message.model)}"
        lines += ["", "---", "", f"## {header}", ""] if lines[-1] else ["---", "", f"## {header}", ""]
        if message.reasoning:
            lines += ["<details>", f"<summary>{t('export.md.reasoning', lang)}</summary>", "",
                      inert_markdown(message.reasoning),
                      "", "</details>", ""]
        for part in message.parts:
            if part.type == "image":
                lines += [t("export.md.image", lang, name=inert_line(part.text) or "?",
                            width=part.data.get("width", "?"), height=part.data.get("height", "?")), ""]
            elif part.type == "file":
                lines += [t("export.md.file", lang, name=inert_line(part.text) or "?",
                            tokens=_count_of(part.data.get("tokens"))), ""]
        lines += _tool_steps(message, lang)
        if message.content:
            lines += [inert_markdown(message.content), ""]
        note = _STATUS_NOTES.get(message.status)
        if note:
            detail = f" ({inert_line(message.error)})" if message.error and message.status != WITHDRAWN else ""
            lines += [t("export.md.note", lang, note=Msg(note), detail=detail), ""]
    return "\n".join(lines).rstrip() + "\n"


STEP_CHARS = 200  # of a step's arguments or result in the Markdown export


def _brief(text: object) -> str:
    line = " ".join(str(text or "").split()).replace("`", "'")
    return inert_line(line if len(line) <= STEP_CHARS else line[:STEP_CHARS - 1] + "…")


def _tool_steps(message: Message, lang: str) -> list[str]:
    """One line per tool call: the tool, its arguments and its result (or error), briefly."""
    results = {p.data.get("id"): p.data for p in message.parts if p.type == "tool_result"}
    lines = []
    for part in message.parts:
        if part.type != "tool_call":
            continue
        result = results.get(part.data.get("id")) or {}
        outcome = t("export.md.tool_error", lang, kind=_brief(result["error"])) if result.get("error") \
            else _brief(result.get("output", ""))
        lines.append(t("export.md.tool_step", lang, name=_brief(part.data.get("name")),
                       arguments=_brief(part.data.get("arguments")), result=outcome))
    return [*lines, ""] if lines else []


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


def to_json(conversation: Conversation, image: Callable[[str], bytes | None] | None = None) -> str:
    """The file to import again; `image(id)` gives an image's bytes (the store's), else none are included."""
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
            "messages": messages, "images": _images_out(map(_shown, everything), image), "params": dict(c.params),
        },
    }
    return json.dumps(envelope, ensure_ascii=False, indent=2)


def _images_out(messages: Any, image: Callable[[str], bytes | None] | None) -> list[dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for message in messages:
        for part in message.images:
            image_id = part.data.get("id")
            if image is None or not isinstance(image_id, str) or image_id in out:
                continue
            data = image(image_id)
            if data is not None:
                out[image_id] = {"id": image_id, "mime": str(part.data.get("mime", "")),
                                 "data": base64.b64encode(data).decode("ascii")}
    return list(out.values())


@dataclass(frozen=True)
class ImportedImage:
    """An image read from an export, checked: what the store keeps (`qwenchat.store.StoredImage`)."""

    id: str
    mime: str
    width: int
    height: int
    data: bytes


def _reject_constant(name: str) -> Any:
    raise ValueError(name)  # NaN and Infinity are not JSON


def from_json(data: bytes | str, max_bytes: int = MAX_BYTES) -> Conversation:
    """Parse an exported file (version 1, 2 or 3) into a new Conversation with fresh ids, or raise
    InvalidImport. Its images are checked and dropped: `from_json_with_images` keeps them."""
    return from_json_with_images(data, max_bytes)[0]


def from_json_with_images(data: bytes | str, max_bytes: int = MAX_BYTES) -> tuple[Conversation, list[ImportedImage]]:
    """The conversation and the images its parts show, each checked (see the module docstring)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise InvalidImport("import.too_large", size=format_bytes(max_bytes))
    try:
        envelope = json.loads(raw.decode("utf-8-sig"), parse_constant=_reject_constant)
    except RecursionError:  # nested deeper than the parser's stack: valid JSON, but no export is like that
        raise InvalidImport("import.too_deep") from None
    except (UnicodeDecodeError, ValueError):
        raise InvalidImport("import.not_json") from None

    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT:
        raise InvalidImport("import.not_export")
    version = envelope.get("version")
    if type(version) is not int or version not in VERSIONS:
        raise InvalidImport("import.bad_version", version=repr(version))
    the_file, the_conversation = Msg("import.where.file"), Msg("import.where.conversation")
    _exact_keys(envelope, ENVELOPE_KEYS, the_file)
    _exported_at(_typed(envelope, "exported_at", str, the_file))

    conv = _typed(envelope, "conversation", dict, the_file)
    _exact_keys(conv, {1: CONVERSATION_KEYS_V1, 2: CONVERSATION_KEYS_V2, 3: CONVERSATION_KEYS_V3,
                       4: CONVERSATION_KEYS}[version], the_conversation)
    for key in ("title", "model", "system_prompt"):
        _typed(conv, key, str, the_conversation)
    _label(conv["model"], "model", the_conversation)
    _typed(conv, "closed", bool, the_conversation)
    _time(conv, the_conversation)
    items = _typed(conv, "messages", list, the_conversation)
    if len(items) > MAX_MESSAGES:
        raise InvalidImport("import.too_many_messages", limit=MAX_MESSAGES)

    messages: list[Message] = []
    for number, item in enumerate(items, 1):
        message = _message(item, number, min(version, 2))
        if version == 1:
            message.parent_id = messages[-1].id if messages else ""
        else:
            parent = item["parent"]
            if parent is not None and (type(parent) is not int or not 0 <= parent < number - 1):
                raise InvalidImport("import.bad_parent", where=Msg("import.where.message", {"number": number}))
            message.parent_id = messages[parent].id if parent is not None else ""
        messages.append(message)
    leaf: str | None = None  # version 1: the last message
    if version >= 2:
        index = conv["leaf"]
        if index is not None and (type(index) is not int or not 0 <= index < len(messages)):
            raise InvalidImport("import.bad_leaf")
        leaf = messages[index].id if index is not None else ""

    conversation = Conversation(
        model=clean_user_text(conv["model"]), system_prompt=_system_prompt(conv["system_prompt"]),
        title=clean_user_text(conv["title"]), closed=conv["closed"],
        created_at=float(conv["created_at"]), id=new_id(),
    )
    if version >= 4:
        conversation.params = clean_params(_typed(conv, "params", dict, the_conversation), conversation.model)
    conversation.show_tree(messages, leaf)
    imported = _images_in(conv["images"]) if version >= 3 else {}
    _follow_images(messages, imported)
    return conversation, list({i.id: i for i in imported.values()}.values())


def _images_in(value: Any) -> dict[str, ImportedImage]:
    """The file's images by the id the file gives them, each decoded and re-identified by its bytes."""
    from qwenchat import images  # Pillow, only for files that carry images

    if type(value) is not list:
        raise InvalidImport("import.wrong_type", where=Msg("import.where.conversation"), key="images",
                            kind=Msg("import.kind.list"))
    if len(value) > MAX_IMAGES:
        raise InvalidImport("import.too_many_images", limit=MAX_IMAGES)
    found: dict[str, ImportedImage] = {}
    for number, item in enumerate(value, 1):
        where = Msg("import.where.image", {"number": number})
        if not isinstance(item, dict):
            raise InvalidImport("import.not_object", where=where)
        _exact_keys(item, IMAGE_KEYS, where)
        for key in IMAGE_KEYS:
            _typed(item, key, str, where)
        try:
            data = base64.b64decode(item["data"], validate=True)
        except (binascii.Error, ValueError):
            data = b""
        size = images.verify_stored(data, item["mime"]) if data else None
        if size is None:
            raise InvalidImport("import.bad_image", where=where, mime=item["mime"][:40])
        found[item["id"]] = ImportedImage(hashlib.sha256(data).hexdigest(), item["mime"], size[0], size[1], data)
    return found


def _follow_images(messages: list[Message], imported: dict[str, ImportedImage]) -> None:
    """Image parts take their image's real id, type and size; a part whose image is not in the file keeps
    only what it says about itself (it shows as "not available")."""
    for message in messages:
        for part in message.images:
            known = imported.get(str(part.data.get("id")))
            if known is not None:
                part.data = {"id": known.id, "mime": known.mime, "width": known.width, "height": known.height,
                             "bytes": len(known.data)}


def _message(item: Any, number: int, version: int) -> Message:
    where = Msg("import.where.message", {"number": number})
    if not isinstance(item, dict):
        raise InvalidImport("import.not_object", where=where)
    _exact_keys(item, MESSAGE_KEYS if version == 2 else MESSAGE_KEYS_V1, where)
    for key in ("role", "content", "status", "reasoning", "error", "model"):
        _typed(item, key, str, where)
    if item["role"] not in ROLES:
        raise InvalidImport("import.unknown_role", where=where, role=repr(item["role"]))
    if item["status"] not in STATUSES:
        raise InvalidImport("import.unknown_status", where=where, status=repr(item["status"]))
    _label(item["model"], "model", where)
    _label(item["error"], "error", where)
    _time(item, where)
    return Message(
        # Cleaned like typed text: a lone surrogate in a file would otherwise make the store's save fail.
        role=item["role"], content=clean_user_text(item["content"]), status=item["status"],
        reasoning=clean_user_text(item["reasoning"]),
        error=clean_user_text(item["error"]), model=clean_user_text(item["model"]), usage=_usage(item["usage"], where),
        created_at=float(item["created_at"]), id=new_id(),
        parts=_parts(item["parts"], where) if version == 2 else [],
    )


def _parts(value: Any, message: Msg) -> list[Part]:
    if type(value) is not list:
        raise InvalidImport("import.wrong_type", where=message, key="parts", kind=Msg("import.kind.list"))
    if len(value) > MAX_PARTS:
        raise InvalidImport("import.too_many_parts", where=message, limit=MAX_PARTS)
    parts = []
    for n, part in enumerate(value, 1):
        where = Msg("import.where.part", {"number": n, "where": message})
        if not isinstance(part, dict):
            raise InvalidImport("import.not_object", where=where)
        _exact_keys(part, PART_KEYS, where)
        if part["type"] not in PART_TYPES:
            raise InvalidImport("import.unknown_type", where=where, type=repr(part["type"]))
        _typed(part, "text", str, where)
        _typed(part, "data", dict, where)
        _check_data(part["data"], where)
        text = part["data"].get("text") if part["type"] == "file" else None
        if isinstance(text, str) and len(text) > MAX_DOCUMENT_CHARS:  # what an attachment may add, as in the chat
            raise InvalidImport("import.document_too_long", where=where, limit=MAX_DOCUMENT_CHARS)
        parts.append(Part(part["type"], clean_user_text(part["text"]), part["data"]))
    return parts


def _count_of(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _check_data(data: dict[str, Any], where: Msg) -> None:
    """Numbers within ±10**15, text that encodes and at most MAX_DEPTH_IN_DATA levels, all the way down.

    A loop with its own stack, not recursion: a 4 KB file can nest deeper than Python's stack goes."""
    pending: list[tuple[Any, int]] = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, (dict, list)) and depth > MAX_DEPTH_IN_DATA:
            raise InvalidImport("import.data_too_deep", where=where, limit=MAX_DEPTH_IN_DATA)
        if isinstance(value, dict):
            if not all(_encodes(k) for k in value):
                raise InvalidImport("import.data_out_of_bounds", where=where, limit=MAX_NUMBER_IN_DATA)
            pending += [(v, depth + 1) for v in value.values()]
        elif isinstance(value, list):
            pending += [(v, depth + 1) for v in value]
        elif not _bounded(value):
            raise InvalidImport("import.data_out_of_bounds", where=where, limit=MAX_NUMBER_IN_DATA)


def _bounded(value: Any) -> bool:
    """A number within ±10**15, text that encodes, true, false or null."""
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, (int, float)):
        return abs(value) <= MAX_NUMBER_IN_DATA
    return isinstance(value, str) and _encodes(value)


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: the store could not save it
        return False
    return True


def _system_prompt(value: str) -> str:
    """The prompt as the Settings box would keep it, or InvalidImport when it is longer than that box allows.

    Refused rather than cut: a cut prompt would quietly change how every later reply is written (its end is
    often where the rules are), while the refusal says which limit to edit the file down to."""
    prompt = clean_user_text(value)
    if len(prompt) > SYSTEM_PROMPT_MAX_CHARS:
        raise InvalidImport("import.system_prompt_too_long", limit=SYSTEM_PROMPT_MAX_CHARS)
    return prompt


def _label(value: str, key: str, where: Msg) -> None:
    if len(value) > MAX_LABEL:
        raise InvalidImport("import.label_too_long", where=where, key=key, limit=MAX_LABEL)


def _usage(value: Any, message: Msg) -> Usage | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidImport("import.usage_not_object", where=message)
    where = Msg("import.where.usage", {"where": message})
    _exact_keys(value, USAGE_KEYS, where)
    for key in USAGE_KEYS:
        if key == "estimated":
            _typed(value, key, bool, where)
        elif type(value[key]) is not int or not 0 <= value[key] <= MAX_TOKENS:
            raise InvalidImport("import.usage_not_count", where=message, key=key, limit=MAX_TOKENS)
    return Usage(**value)


def _exact_keys(obj: dict[str, Any], expected: tuple[str, ...], where: Msg) -> None:
    missing = [k for k in expected if k not in obj]
    if missing:
        raise InvalidImport("import.missing_fields", where=where, fields=", ".join(missing))
    unknown = [k for k in obj if k not in expected]
    if unknown:
        raise InvalidImport("import.unknown_fields", where=where, fields=", ".join(unknown))


_TYPE_NAMES = {str: "import.kind.str", bool: "import.kind.bool", dict: "import.kind.dict", list: "import.kind.list"}


def _typed(obj: dict[str, Any], key: str, kind: type, where: Msg) -> Any:
    value = obj.get(key)
    if type(value) is not kind:
        raise InvalidImport("import.wrong_type", where=where, key=key, kind=Msg(_TYPE_NAMES[kind]))
    return value


def _time(obj: dict[str, Any], where: Msg) -> None:
    value = obj.get("created_at")
    if type(value) not in (int, float) or not EARLIEST <= value < LATEST:
        raise InvalidImport("import.bad_time", where=where)


def _exported_at(value: str) -> None:
    try:
        when = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        when = None
    if when is None or not 2000 <= when.year < 2100:
        raise InvalidImport("import.bad_exported_at")


def file_stem(title: str) -> str:
    """A file name from the title: letters, digits (any script) and dashes, at most 40 characters."""
    words = re.sub(r"[^\w]+", "-", title, flags=re.UNICODE).strip("-_")
    return "qwenchat-" + (words[:40].rstrip("-_") or "conversation")
