"""Every setting the app reads: its name, type, default and what it does, in one table, and one reader.

A setting comes from `st.secrets` first, then the environment (`.env` included, loaded by
`config.load_dotenv_once`). The UI hands both in as plain mappings; nothing here imports Streamlit.

    read("QWENCHAT_DAILY_TOKEN_CAP", secrets, os.environ)  # -> 2_000_000, an int

A value that does not fit its type (a word where a number belongs, a negative count) gives the default and
a log line naming the setting, never an exception and never the value (it could be a key).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Mapping

log = logging.getLogger(__name__)

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Setting:
    name: str
    type: type          # str | bool | int | float
    default: object
    doc: str
    secret: bool = False          # never shown or logged
    aliases: tuple[str, ...] = ()  # older names read when the main one is not set
    minimum: float | None = None  # numbers: smallest allowed value
    positive: bool = False        # numbers: must be > 0


_TABLE = (
    # --- the model server --------------------------------------------------------------------------
    Setting("DASHSCOPE_API_KEY", str, "", "The operator's DashScope key (sk-...). Sent only to "
            "DASHSCOPE_BASE_URL; not needed for a local OpenAI-compatible server.", secret=True),
    Setting("DASHSCOPE_BASE_URL", str, "https://dashscope.aliyuncs.com/compatible-mode/v1",
            "The operator's endpoint: a DashScope region, or any OpenAI-compatible server (Ollama, vLLM, "
            "LM Studio).", aliases=("DASHSCOPE_API_BASE",)),
    Setting("QWEN_MODEL", str, "qwen-plus", "The model a new conversation starts with."),
    Setting("QWENCHAT_PROVIDER", str, "", "dashscope | openai: how to talk to the base URL; empty: "
            "DashScope for dashscope*.aliyuncs.com, OpenAI-compatible for anything else."),
    Setting("QWENCHAT_REPLY_DEADLINE_S", float, 300.0, "Seconds one whole reply may take before it is cut "
            "off (the text received is kept).", positive=True),
    Setting("QWENCHAT_VISION_MODEL", str, "qwen-vl-plus", "The model offered for a message with images when "
            "the chosen model cannot see them."),
    Setting("QWENCHAT_AUTO_VISION", bool, False, "Answer a message with images with QWENCHAT_VISION_MODEL "
            "without asking when the chosen model cannot see."),
    Setting("QWENCHAT_ALLOW_PRIVATE_URLS", bool, False, "Let a base URL typed on the Settings page point at this "
            "server's own network (loopback, private, link-local addresses)."),
    # --- who may use the app ---------------------------------------------------------------------------
    Setting("APP_ACCESS_CODE", str, "", "A code visitors must type before chatting; empty: no code.",
            secret=True),
    Setting("QWENCHAT_REQUIRE_LOGIN", bool, False, "Require sign-in with st.login ([auth] in secrets.toml)."),
    Setting("QWENCHAT_BYOK", bool, False, "Bring your own key: every visitor types a key; the operator's "
            "key is never used."),
    # --- limits (0 turns one off) ------------------------------------------------------------------------
    Setting("QWENCHAT_MAX_MESSAGES_PER_SESSION", int, 50, "Requests one browser session may send on the "
            "operator's key.", minimum=0),
    Setting("QWENCHAT_MAX_TOKENS_PER_SESSION", int, 200_000, "Tokens one browser session may spend on the "
            "operator's key.", minimum=0),
    Setting("QWENCHAT_MAX_CHARS_PER_MESSAGE", int, 8_000, "Longest message a visitor may send.", minimum=0),
    Setting("QWENCHAT_DAILY_TOKEN_CAP", int, 2_000_000, "Tokens the whole server may spend per day on the "
            "operator's key.", minimum=0),
    Setting("QWENCHAT_MAX_OUTPUT_TOKENS", int, 4_096, "max_tokens sent with every request on the operator's "
            "key (and the thinking budget while thinking); each request reserves its prompt plus this "
            "first.", minimum=0),
    Setting("QWENCHAT_MAX_IMAGE_BYTES_PER_CONVERSATION", int, 20 * 1024 * 1024, "Bytes of attached images "
            "(after shrinking) one conversation may keep; 0: no limit.", minimum=0),
    Setting("QWENCHAT_TOOLS", str, "", "The tools the model may be offered, comma-separated (calculator, "
            "current_time); empty: every built-in tool; none: no tools. Each is switched on or off in the "
            "settings; their schemas count in every request's prompt."),
    Setting("QWENCHAT_MAX_TOOL_ROUNDS", int, 8, "Model requests one turn may make while tools are on (each "
            "request passes the limits above); the turn ends with a note when they are used.", positive=True),
    Setting("QWENCHAT_TOOL_TIMEOUT_S", float, 10.0, "Seconds one tool call may run before it is reported as "
            "timed out.", positive=True),
    Setting("QWENCHAT_TOOL_OUTPUT_CHARS", int, 8_000, "Characters of one tool call's output sent back to the "
            "model; the rest is cut, with a note.", positive=True),
    Setting("QWENCHAT_MAX_IMPORT_BYTES", int, 2 * 1024 * 1024, "The largest conversation file an import "
            "takes.", positive=True),
    Setting("QWENCHAT_MAX_CONVERSATIONS_PER_OWNER", int, 500, "Imports stop when an owner has this many "
            "conversations.", positive=True),
    Setting("QWENCHAT_MAX_STORE_BYTES", int, 1024 ** 3, "Imports and knowledge-base uploads stop when the "
            "database is this large.",
            positive=True),
    # --- storage and identity --------------------------------------------------------------------------
    Setting("QWENCHAT_DB", str, "~/.qwenchat/chats.db", "Where conversations are saved: a file path (SQLite), "
            "or a postgresql://user:password@host:5432/dbname URL (PostgreSQL, shared by several servers; also "
            "read from [connections.qwenchat] in secrets.toml). A URL carries a password: show it only through "
            "qwenchat.database_url.redact.", secret=True),
    Setting("QWENCHAT_DB_POOL_MAX", int, 10, "PostgreSQL only: the most connections one server opens for "
            "conversations (Streamlit runs each session in its own thread); the daily counter uses up to 4 "
            "more.", positive=True),
    Setting("QWENCHAT_SAVE", bool, True, "Save conversations; off: keep them in this server's memory only."),
    Setting("QWENCHAT_SINGLE_USER", bool, False, "One user on one's own machine: every tab sees every "
            "conversation, no owner tokens."),
    Setting("QWENCHAT_DB_BUSY_TIMEOUT", float, 2.5, "Seconds the app waits for a database another process "
            "has locked before it says history cannot be saved right now.", positive=True),
    # --- knowledge base (qwenchat.knowledge) ---------------------------------------------------------------
    Setting("QWENCHAT_KB_MAX_FILE_BYTES", int, 20 * 1024 * 1024, "The largest file a knowledge base takes.",
            positive=True),
    Setting("QWENCHAT_EMBEDDING_MODEL", str, "text-embedding-v4", "The embedding model of knowledge bases; "
            "changing it re-embeds their passages."),
    Setting("QWENCHAT_EMBEDDING_DIMENSIONS", int, 1024, "Vector size of the embedding model (text-embedding-v4: "
            "2048, 1536, 1024, 768, 512, 256, 128, 64); changing it re-embeds.", positive=True),
    Setting("QWENCHAT_RERANK_MODEL", str, "qwen3-rerank", "The model that reranks knowledge-base hits."),
    Setting("QWENCHAT_SECRET", str, "", "Signs owner tokens; empty: a random secret kept in <QWENCHAT_DB>"
            ".secret.", secret=True),
)

SETTINGS: dict[str, Setting] = {s.name: s for s in _TABLE}


def raw(name: str, secrets: Mapping[str, object], environ: Mapping[str, str]) -> str:
    """A setting's text from secrets, else the environment (its aliases after it); "" when set nowhere.
    Works for names outside the table too."""
    spec = SETTINGS.get(name)
    for candidate in (name, *(spec.aliases if spec else ())):
        for source in (secrets, environ):
            try:
                value = source.get(candidate)
            except Exception:  # noqa: BLE001 - an odd mapping is no setting
                value = None
            if value is not None and str(value).strip():
                return str(value).strip()
    return ""


def read(name: str, secrets: Mapping[str, object], environ: Mapping[str, str]) -> object:
    """A setting's typed value, or its default when it is not set or does not fit its type."""
    spec = SETTINGS[name]
    text = raw(name, secrets, environ)
    if not text:
        return spec.default
    if spec.type is str:
        return text
    if spec.type is bool:
        lowered = text.lower()
        if lowered in TRUE or lowered in FALSE:
            return lowered in TRUE
        return _fallback(spec)
    try:
        number = int(text) if spec.type is int else float(text)  # TOML `true` arrives as "True": no number
    except (ValueError, OverflowError):
        return _fallback(spec)
    if isinstance(number, float) and not math.isfinite(number):
        return _fallback(spec)
    if (spec.minimum is not None and number < spec.minimum) or (spec.positive and number <= 0):
        return _fallback(spec)
    return number


def _fallback(spec: Setting) -> object:
    log.warning("%s does not fit its type (%s); using the default %r", spec.name, spec.type.__name__,
                "…" if spec.secret else spec.default)
    return spec.default


def table_markdown() -> str:
    """The table as Markdown, for the README or a settings page (secret values never appear: only names)."""
    lines = ["| setting | type | default | what it does |", "|---|---|---|---|"]
    for spec in _TABLE:
        default = "" if spec.default in ("", None) else str(spec.default)
        lines.append(f"| `{spec.name}` | {spec.type.__name__} | {default} | {spec.doc} |")
    return "\n".join(lines)
