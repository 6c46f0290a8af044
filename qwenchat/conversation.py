"""The conversation model: messages as a tree, their parts, status and usage, and what is sent to the API.

A `Conversation` is plain data that lives in `st.session_state` (one per browser session) and is saved
by the store. The chat view appends to it while a reply streams, so a stop or a rerun keeps what was
already received; `api_messages()` decides what goes back to the model.

Messages form a tree: each has a `parent_id` ("" for a root). A regenerated reply or an edited question
is a sibling of the one it replaces, never an overwrite. `messages` is the visible branch, root to
current leaf, in order, and is what everything else reads; `hidden` holds every message of the other
branches. The order of `messages` is its parent chain: a message appended to it directly is linked to
the one before it when the tree is next used. Data without parent ids (older files and rows) reads as
one linear chain.
"""

from __future__ import annotations

import copy
import secrets
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from qwenchat.i18n import DEFAULT_LANG, t

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant. 你是一个乐于助人的助手，请用用户使用的语言回答。"
SYSTEM_PROMPT_MAX_CHARS = 8_000  # the Settings box's limit; a persona's prompt and an import's keep to it too

# What became of a message. A reply starts as "streaming" and ends in one of the others.
COMPLETE = "complete"
STREAMING = "streaming"
STOPPED = "stopped"          # the user pressed Stop or the page reran: partial text kept
INTERRUPTED = "interrupted"  # the connection dropped mid-stream: partial text kept
WITHDRAWN = "withdrawn"      # output moderation fired mid-stream: text hidden, never sent back
FAILED = "failed"            # the request failed before any text: the message holds the error
FAREWELL = "farewell"        # the closing answer, written without calling the model
INTERRUPTED_ERROR = "interrupted"  # = qwenchat.errors.INTERRUPTED, without importing the error module here
STATUSES = (COMPLETE, STREAMING, STOPPED, INTERRUPTED, WITHDRAWN, FAILED, FAREWELL)


def new_id() -> str:
    """128 random bits, URL-safe."""
    return secrets.token_urlsafe(16)


@dataclass
class Usage:
    """Token usage as billed by the API (or estimated locally, then `estimated` is true)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    estimated: bool = False

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.total_tokens + other.total_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
            self.cached_tokens + other.cached_tokens,
            self.estimated or other.estimated,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "Usage | None":
        if not data:
            return None
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


# "persona": the system prompt changed before this message (data: {"prompt"}; text: the persona's name): on the
#   user message sent first with it, or on a regenerated reply when that was (see ChatEngine._mark_persona).
# "image": an attached image (text: its file name; data: {"id", "mime", "width", "height", "bytes"}); the
# pixels are stored once per owner by id (the SHA-256 of the bytes), never in the message.
IMAGE_PLACEHOLDER = "[image]"  # what a model that cannot see reads in place of each image
IMAGE_KEY = "qwenchat_image"   # a planned image part's data in a request (see `Conversation.api_messages`)
# "tool_call" / "tool_result": one step of a reply that called tools, on the assistant message (text: the
#   tool's name). tool_call data: {"id", "name", "arguments" (the JSON text as the model wrote it), "round",
#   "at" (how much of the message's content had been written when the call was made)}. tool_result data:
#   {"id" (the call's), "name", "output" (what the model read), "error" ("" or a kind, see
#   qwenchat.tools.runner), "seconds", "truncated", "round"}.
# "notice": a note about the reply (text: a catalog id under "tools.note."; data: its parameters).
# "citation": a passage a grounded reply's request carried (text: the passage; data: n, file, page, heading,
# start, end, chunk_id, kb, ...); "retrieval": what that knowledge-base search did and cost (qwenchat.citations,
# qwenchat.chat.retrieval).
# "file": a document attached to a user message (text: its file name; data: mime, bytes, pages, tokens, chars
# and "text", the extracted text the requests carry, see qwenchat.documents).
PART_TYPES = ("image", "tool_call", "tool_result", "citation", "file", "persona", "notice", "retrieval")


@dataclass
class Part:
    """A piece of a message other than its text (which stays in `Message.content`). `data` is JSON-safe."""

    type: str
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Part":
        return cls(type=data["type"], text=data.get("text", ""), data=dict(data.get("data") or {}))


@dataclass
class Message:
    role: str  # "user" | "assistant"  (the system prompt lives on the Conversation)
    content: str
    status: str = COMPLETE
    reasoning: str = ""
    error: str = ""              # the error kind (see qwenchat.errors) when status is failed/interrupted/withdrawn
    model: str = ""
    usage: Usage | None = None
    id: str = field(default_factory=new_id)
    created_at: float = field(default_factory=time.time)
    parent_id: str = ""          # "" for a root
    parts: list[Part] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["usage"] = asdict(self.usage) if self.usage else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Message":
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        known["usage"] = Usage.from_dict(data.get("usage"))
        known["parts"] = [Part.from_dict(p) for p in data.get("parts") or []]
        known["parent_id"] = data.get("parent_id") or ""
        return cls(**known)

    @property
    def images(self) -> list[Part]:
        return [p for p in self.parts if p.type == "image"]

    def api_entry(self, vision: bool = False) -> dict[str, Any]:
        """This message as a request carries it. A user message with images is, for a vision model, a list:
        the images planned (their id and size, no pixels: `qwenchat.images.resolve` fills them in once the
        budget has chosen what goes), then the text; for a model that cannot see, text with a placeholder
        per image (list content would be a 400). Attached documents (`file` parts, qwenchat.documents) go
before the text as delimited blocks, in this request and every later one."""
        pictures = self.images if self.role == "user" else []
        text = self.content
        if self.role == "user" and any(p.type == "file" for p in self.parts):
            from qwenchat.documents import request_text  # its documents' text before the question

            text = request_text(text, self.parts)
        if not pictures:
            return {"role": self.role, "content": text}
        if not vision:
            lines = [IMAGE_PLACEHOLDER] * len(pictures) + ([text] if text else [])
            return {"role": self.role, "content": "\n".join(lines)}
        content: list[dict[str, Any]] = [
            {"type": "image_url", "image_url": {"url": ""}, IMAGE_KEY: dict(p.data)} for p in pictures]
        if text:
            content.append({"type": "text", "text": text})
        return {"role": self.role, "content": content}

    @property
    def sendable(self) -> bool:
        """Whether this message goes back to the model in later requests."""
        if self.role == "user":
            return True
        return self.status in (COMPLETE, STOPPED, INTERRUPTED, FAREWELL) and bool(self.content)


@dataclass
class Conversation:
    model: str = "qwen-plus"
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    messages: list[Message] = field(default_factory=list)  # the visible branch, root to leaf
    title: str = ""
    closed: bool = False
    id: str = field(default_factory=new_id)
    created_at: float = field(default_factory=time.time)
    # The id of the oldest message the last request carried, when the context budget left older ones out.
    context_start: str = field(default="", compare=False)
    hidden: list[Message] = field(default_factory=list)  # every message of the other branches, oldest first
    # What this copy last loaded or saved: the store bumps it on each save_conversation.
    version: int = field(default=0, compare=False)
    # Generation parameters the user changed from the model's defaults (see qwenchat.params), saved with it.
    params: dict[str, Any] = field(default_factory=dict)

    # ---- growing the visible branch ----

    def add_user(self, text: str, parent_id: str | None = None) -> Message:
        """A user message after the last visible one, or after `parent_id` ("" for a new root)."""
        if parent_id is not None:
            self._cut_to(parent_id)
        message = Message("user", text, parent_id=self._leaf_id())
        self.messages.append(message)
        if not self.title:
            self.title = title_from(text)
        return message

    def start_reply(self, model: str) -> Message:
        message = Message("assistant", "", status=STREAMING, model=model, parent_id=self._leaf_id())
        self.messages.append(message)
        return message

    def recover(self) -> None:
        """A reply saved mid-stream by a process that then died is interrupted, not still streaming."""
        for message in self.all_messages():
            if message.status == STREAMING:
                message.status = INTERRUPTED if message.content or message.reasoning else FAILED
                message.error = INTERRUPTED_ERROR

    def close_with(self, farewell: str) -> Message:
        """End the conversation with a farewell written without calling the model."""
        message = Message("assistant", farewell, status=FAREWELL, parent_id=self._leaf_id())
        self.messages.append(message)
        self.closed = True
        return message

    # ---- the tree ----

    def all_messages(self) -> list[Message]:
        """The visible branch, then the hidden ones."""
        self._link()
        return [*self.messages, *self.hidden]

    def find(self, message_id: str) -> Message | None:
        return next((m for m in self.all_messages() if m.id == message_id), None)

    def siblings(self, message_id: str) -> list[Message]:
        """Messages with the same parent and role as this one, oldest first, itself included."""
        message = self._get(message_id)
        return sorted((m for m in self.all_messages()
                       if m.parent_id == message.parent_id and m.role == message.role), key=_age)

    def switch_to(self, message_id: str) -> None:
        """Show the branch through this message: its ancestors, itself, then each time its newest child."""
        self._get(message_id)
        children: dict[str, list[Message]] = {}
        for m in self.all_messages():
            children.setdefault(m.parent_id, []).append(m)
        path = self._path_to(message_id)
        seen = {m.id for m in path}
        while kids := [k for k in children.get(path[-1].id, []) if k.id not in seen]:
            newest = max(kids, key=_age)
            path.append(newest)
            seen.add(newest.id)
        self._show(path)

    def branch_from(self, message_id: str) -> None:
        """For an edit: the visible branch ends at this message's parent, so the next `add_user` becomes its
        sibling. Everything after moves to `hidden`; nothing is deleted."""
        self._cut_to(self._get(message_id).parent_id)

    def regenerate_point(self, reply_id: str) -> None:
        """For a regenerate: the visible branch ends at this reply's parent, so the next `start_reply` becomes
        its sibling; the old reply (and anything after it) moves to `hidden`."""
        self._cut_to(self._get(reply_id).parent_id)

    def delete_pair(self, user_message_id: str) -> list[str]:
        """Remove a user message and its replies (every version of the answer), and nothing else: what followed
        them, on any branch, now follows the message before, and the branch shown keeps its place. Other
        versions of the question (its edits) stay reachable beside what takes its place, as versions of that
        turn: one click never removes more than the pair it is on (a review saw the first design drop a
        12-message edited branch with it). Emptied, the conversation loses its title, so its next message
        names it again. Return the removed ids (for the store's `delete_messages`)."""
        message = self._get(user_message_id)
        everything = self.all_messages()
        children: dict[str, list[Message]] = {}
        for m in everything:
            children.setdefault(m.parent_id, []).append(m)
        doomed = {message.id} | {m.id for m in children.get(message.id, []) if m.role == "assistant"}
        for d in doomed:
            for m in children.get(d, []):
                if m.id not in doomed:
                    m.parent_id = message.parent_id
        removed = [m.id for m in everything if m.id in doomed]
        leaf = self.messages[-1].id if self.messages else ""
        self.messages = [m for m in self.messages if m.id not in doomed]
        self.hidden = [m for m in self.hidden if m.id not in doomed]
        if leaf and leaf not in doomed:
            self.switch_to(leaf)
        elif message.parent_id:
            self.switch_to(message.parent_id)
        else:
            roots = [m for m in self.all_messages() if not m.parent_id]
            if roots:
                self.switch_to(max(roots, key=_age).id)
            else:
                self._show([])
        if not self.messages and not self.hidden:
            self.title = ""
        return removed

    def show_tree(self, messages: list[Message], leaf_id: str | None) -> None:
        """Set the tree from all its messages, for the store and the importer: the visible branch ends at
        `leaf_id`, is empty for "", and ends at the last message for None or an id not among them."""
        by_id = {m.id: m for m in messages}
        # A message whose parent was deleted meanwhile (another tab deleted that pair while this one sent)
        # follows the message before it, so the history above it stays on its branch.
        for before, message in zip([None, *messages], messages):
            if message.parent_id and message.parent_id not in by_id:
                message.parent_id = before.id if before is not None else ""
        if leaf_id == "":
            leaf = None
        else:
            leaf = by_id.get(leaf_id or "") or (messages[-1] if messages else None)
        path: list[Message] = []
        seen: set[str] = set()
        node = leaf
        while node is not None and node.id not in seen:  # a cycle in crafted data stops here
            path.append(node)
            seen.add(node.id)
            node = by_id.get(node.parent_id)
        path.reverse()
        self.messages = path
        self.hidden = sorted((m for m in messages if m.id not in seen), key=_age)

    def _get(self, message_id: str) -> Message:
        message = self.find(message_id)
        if message is None:
            raise KeyError(message_id)
        return message

    def _leaf_id(self) -> str:
        self._link()
        return self.messages[-1].id if self.messages else ""

    def _link(self) -> None:
        # The visible list is a path: each message's parent is the one before it.
        previous = ""
        for message in self.messages:
            message.parent_id = previous
            previous = message.id

    def _path_to(self, message_id: str) -> list[Message]:
        by_id = {m.id: m for m in self.all_messages()}
        path: list[Message] = []
        seen: set[str] = set()
        node = by_id.get(message_id)
        while node is not None and node.id not in seen:
            path.append(node)
            seen.add(node.id)
            node = by_id.get(node.parent_id)
        return path[::-1]

    def _cut_to(self, parent_id: str) -> None:
        self._show(self._path_to(parent_id) if parent_id else [])

    def _show(self, path: list[Message]) -> None:
        everything = self.all_messages()
        shown = {m.id for m in path}
        self.messages = list(path)
        self.hidden = sorted((m for m in everything if m.id not in shown), key=_age)

    # ---- what is sent, and what it cost ----

    def api_messages(self, vision: bool = False) -> list[dict[str, Any]]:
        """Role and content of the visible branch only, system prompt first. Reasoning, failed and withdrawn
        replies stay out; images as `Message.api_entry` says for `vision`.

        A reply that called tools is sent as the model made it (`api_messages_of`): for each round, the
        assistant message with its `tool_calls` and one `tool` message per call, then the final text. A
        round whose calls did not all get a result, and every round of a reply without final text, are
        left out, so the history is always one the API accepts; the reply's text then goes as a plain
        assistant message.

        Two user turns in a row (the first one's reply failed) are sent as they are: the model copes,
        and dropping the user's words would lose them.
        """
        sent: list[dict[str, Any]] = []
        if self.system_prompt.strip():
            sent.append({"role": "system", "content": self.system_prompt})
        for message in self.sendable_messages():
            sent.extend(api_messages_of(message, vision))
        return sent

    def sendable_messages(self) -> list[Message]:
        return [m for m in self.messages if m.sendable]

    def mark_context_start(self, dropped: int) -> None:
        """Remember where the sent context began after the budget left `dropped` old API messages out (a
        reply that called tools is several of them)."""
        self.context_start = ""
        if dropped <= 0:
            return
        seen = 0
        for message in self.sendable_messages():
            if seen == dropped:
                self.context_start = message.id
                return
            seen += len(api_messages_of(message))

    def last_user_message(self) -> Message | None:
        for message in reversed(self.messages):
            if message.role == "user":
                return message
        return None

    def system_prompt_in_use(self) -> str:
        """The system prompt the visible branch's last turn was sent with (recorded by its persona part)."""
        for message in reversed(self.messages):
            for part in message.parts:
                if part.type == "persona" and isinstance(part.data.get("prompt"), str):
                    return part.data["prompt"]
        return DEFAULT_SYSTEM_PROMPT

    def history_dicts(self) -> list[dict[str, str]]:
        """Role and content of every user turn and shown reply, for the end-of-conversation detector."""
        return [{"role": m.role, "content": m.content} for m in self.messages if m.status != FAILED]

    def image_bytes(self) -> int:
        """The size of every distinct image in the conversation, hidden branches included."""
        sizes = {p.data.get("id"): p.data.get("bytes") for m in self.all_messages() for p in m.images}
        return sum(n for n in sizes.values() if isinstance(n, int) and n > 0)

    def total_usage(self) -> Usage:
        """Everything this conversation cost, hidden branches included: a regenerated reply was paid for."""
        total = Usage()
        for message in self.all_messages():
            if message.usage:
                total = total + message.usage
        return total

    def last_usage(self) -> Usage | None:
        for message in reversed(self.messages):
            if message.role == "assistant" and message.usage:
                return message.usage
        return None

    def to_dict(self) -> dict[str, Any]:
        self._link()
        return {
            "id": self.id,
            "title": self.title,
            "model": self.model,
            "system_prompt": self.system_prompt,
            "closed": self.closed,
            "created_at": self.created_at,
            "messages": [m.to_dict() for m in self.messages],
            "hidden": [m.to_dict() for m in self.hidden],
            "version": self.version,
            "params": dict(self.params),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Conversation":
        """The inverse of `to_dict`; messages without a `parent_id` (older data) form one linear chain."""
        messages = [Message.from_dict(m) for m in data.get("messages", [])]
        return cls(
            id=data.get("id") or new_id(),
            title=data.get("title", ""),
            model=data.get("model", "qwen-plus"),
            system_prompt=data.get("system_prompt", DEFAULT_SYSTEM_PROMPT),
            closed=bool(data.get("closed", False)),
            created_at=data.get("created_at", time.time()),
            messages=messages,
            hidden=[Message.from_dict(m) for m in data.get("hidden", [])],
            version=int(data.get("version", 0) or 0),
            params=dict(data["params"]) if isinstance(data.get("params"), dict) else {},
        )


def api_messages_of(message: Message, vision: bool = False) -> list[dict[str, Any]]:
    """The API messages one sendable message stands for (see `Conversation.api_messages`)."""
    from qwenchat.providers.base import call_for_api  # the providers import this module
    if message.role != "assistant" or not any(p.type == "tool_call" for p in message.parts):
        return [message.api_entry(vision)]
    results = {p.data.get("id"): p for p in message.parts
               if p.type == "tool_result" and isinstance(p.data.get("id"), str)}
    rounds: dict[int, list[Part]] = {}
    for part in message.parts:
        data = part.data
        if part.type == "tool_call" and isinstance(data.get("id"), str) and isinstance(data.get("name"), str) \
                and isinstance(data.get("arguments"), str) and type(data.get("round", 0)) is int:
            rounds.setdefault(data.get("round", 0), []).append(part)
    content = message.content
    sent: list[dict[str, Any]] = []
    written = 0
    for number in sorted(rounds):
        calls = rounds[number]
        if not all(c.data["id"] in results for c in calls):
            break  # stopped before every call had its result: this round and later ones stay out
        at = calls[0].data.get("at", written)
        at = min(max(at if type(at) is int else written, written), len(content))
        sent.append({"role": "assistant", "content": content[written:at],
                     "tool_calls": [call_for_api(c.data["id"], c.data["name"], c.data["arguments"]) for c in calls]})
        for c in calls:
            output = results[c.data["id"]].data.get("output")
            sent.append({"role": "tool", "tool_call_id": c.data["id"],
                         "content": output if isinstance(output, str) else ""})
        written = at
    if not sent or not content[written:]:
        return [{"role": "assistant", "content": content}]  # no final text: the reply's words alone
    return [*sent, {"role": "assistant", "content": content[written:]}]


def _age(message: Message) -> tuple[float, str]:
    """Oldest first; the id breaks a tie the same way everywhere."""
    return (message.created_at, message.id)


def copy_of(conversation: Conversation, lang: str = DEFAULT_LANG) -> Conversation:
    """A copy with fresh ids for the conversation and every message, parent links remapped, the title
    marked as a copy in the UI language `lang` and version 0: what "save a copy" saves when the original
    was deleted elsewhere."""
    suffix = t("conversation.copy_suffix", lang)
    fresh = {m.id: new_id() for m in conversation.all_messages()}

    def moved(m: Message) -> Message:
        clone = copy.deepcopy(m)
        clone.id = fresh[m.id]
        clone.parent_id = fresh.get(m.parent_id, "")
        return clone

    return replace(conversation, id=new_id(), title=(conversation.title + suffix).strip(), version=0,
                   messages=[moved(m) for m in conversation.messages],
                   hidden=[moved(m) for m in conversation.hidden], context_start="")


def title_from(text: str, limit: int = 40) -> str:
    """A one-line title from the first user message."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
