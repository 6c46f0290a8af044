"""What every model provider speaks: the closed set of stream events, the generation parameters, a whole
completion, and the `Provider` protocol that DashScope and any OpenAI-compatible server implement.

    for event in provider.stream_chat(messages, model="qwen-plus"):
        match event:
            case TextDelta(text): ...
            case ReasoningDelta(text): ...
            case UsageReport(usage): ...
            case ToolCallsReady(calls): ...  # the model asks for these calls (`finish_reason == "tool_calls"`)
            case Heartbeat(): ...        # nothing arrived for a moment: touch the page so a Stop can act
            case Finished(reason): ...
            case Failed(error): ...

Every stream ends with exactly one `Finished` or one `Failed`; nothing is raised to the caller. Tool calls
are assembled inside the stream (from deltas that carry an index, the id and name first, the arguments in
pieces): the caller only ever sees whole calls, in one `ToolCallsReady` before the `Finished`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator, Protocol, runtime_checkable

from qwenchat import errors
from qwenchat.conversation import Usage


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True)
class UsageReport:
    usage: Usage


@dataclass(frozen=True)
class ToolCall:
    """One function call the model asked for, complete. `arguments` is the JSON text as the model wrote it:
    parsing it (and telling the model when it is not JSON) is the tool runner's job."""

    id: str
    name: str
    arguments: str

    def to_api(self) -> dict[str, Any]:
        """The call as the assistant message of the next request carries it."""
        return call_for_api(self.id, self.name, self.arguments)


def call_for_api(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    """A `tool_calls` item of an assistant message sent back. Arguments that are not a JSON object (the model
    wrote them badly, and was told so by the tool's result) go back as `{}`: DashScope refuses a history
    whose `function.arguments` is not JSON."""
    try:
        valid = isinstance(json.loads(arguments), dict)
    except (ValueError, RecursionError):
        valid = False
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments if valid else "{}"}}


@dataclass(frozen=True)
class ToolCallsReady:
    calls: tuple[ToolCall, ...]


@dataclass(frozen=True)
class Heartbeat:
    """Nothing arrived for a short while. Carries nothing; it exists so that a Streamlit page gets a chance
    to make an `st.*` call, where a Stop or a rerun takes effect, while the server is silent."""


@dataclass(frozen=True)
class Finished:
    reason: str  # stop | length | content_filter | ... as the server reports it


@dataclass(frozen=True)
class Failed:
    error: errors.ChatError


Event = TextDelta | ReasoningDelta | UsageReport | ToolCallsReady | Heartbeat | Finished | Failed


@dataclass(frozen=True)
class GenerationParams:
    """Sampling settings for one request. Each is sent only when set; the model's own default applies
    otherwise. `thinking_budget` caps the reasoning tokens and is sent only while thinking is on."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    thinking_budget: int | None = None

    def request_fields(self) -> dict[str, Any]:
        """The top-level request fields that are set (not `thinking_budget`, which goes in the extra body)."""
        fields = {"temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens,
                  "seed": self.seed, "presence_penalty": self.presence_penalty}
        return {name: value for name, value in fields.items() if value is not None}


@dataclass(frozen=True)
class Completion:
    """A whole, non-streamed answer; `usage` is None when the server did not report it."""

    text: str
    usage: Usage | None = None


@dataclass(frozen=True)
class Embeddings:
    """The vectors of some texts, in the order of the texts, and the tokens the calls were billed for
    (`usage.total_tokens` summed over the batches; 0 when the server reported none)."""

    vectors: list[list[float]]
    tokens: int = 0
    model: str = ""
    dimensions: int = 0


@dataclass(frozen=True)
class Reranked:
    """(document index, relevance score) pairs, best first, and the tokens the call was billed for."""

    results: list[tuple[int, float]]
    tokens: int = 0


class ProviderError(Exception):
    """A `complete()` call that failed; `error` names the failure like a stream's `Failed` does."""

    def __init__(self, error: errors.ChatError):
        super().__init__(error.kind)
        self.error = error


@runtime_checkable
class Provider(Protocol):
    """A model server. Built once per settings; holds no per-user state but them."""

    def stream_chat(self, messages: list[dict[str, Any]], *, model: str, thinking: bool = False,
                    params: GenerationParams | None = None, max_tokens: int | None = None,
                    deadline_s: float | None = None, tools: list[dict[str, Any]] | None = None) -> Iterator[Event]:
        """`tools`: the functions the model may call, as OpenAI `tools` entries (JSON schemas)."""

    def complete(self, messages: list[dict[str, Any]], *, model: str, max_tokens: int, temperature: float = 0,
                 timeout: float) -> Completion: ...

    def list_models(self) -> list[str]: ...


@runtime_checkable
class EmbeddingProvider(Protocol):
    """A server that embeds and reranks texts (the knowledge base). Both raise `ProviderError`: kind
    `no_embeddings` / `no_rerank` when the server has no such endpoint, else the usual kinds."""

    def embed(self, texts: list[str], *, model: str, dimensions: int | None = None) -> Embeddings: ...

    def rerank(self, query: str, documents: list[str], *, model: str, top_n: int | None = None) -> Reranked: ...


def usage_from(raw: Any) -> Usage | None:
    """The usage object of a chunk or a completion (a dict or an SDK object), or None."""
    if not raw:
        return None
    get = raw.get if isinstance(raw, dict) else (lambda k, d=None: getattr(raw, k, d))
    details = get("completion_tokens_details") or {}
    prompt_details = get("prompt_tokens_details") or {}
    dget = details.get if isinstance(details, dict) else (lambda k, d=None: getattr(details, k, d))
    pget = prompt_details.get if isinstance(prompt_details, dict) else (lambda k, d=None: getattr(prompt_details, k, d))
    try:
        prompt = int(get("prompt_tokens") or 0)
        completion = int(get("completion_tokens") or 0)
        return Usage(prompt, completion, int(get("total_tokens") or prompt + completion),
                     int(dget("reasoning_tokens") or 0), int(pget("cached_tokens") or 0))
    except (TypeError, ValueError):
        return None


def frame_failure(chunk: dict[str, Any], received: bool) -> Failed | None:
    """A chunk without choices that is an error: an `error` frame (output moderation, mid-stream) or a
    throttling frame with `code`/`message` and no `error` key."""
    error = chunk.get("error")
    if isinstance(error, dict):
        code, message = str(error.get("code") or ""), str(error.get("message") or "")
    elif chunk.get("code") and not chunk.get("usage"):
        code, message = str(chunk["code"]), str(chunk.get("message") or "")
    else:
        return None
    kind = errors.kind_for_code(code, message) or (errors.INTERRUPTED if received else errors.UNKNOWN)
    if kind == errors.RATE_LIMIT and received:
        kind = errors.THROTTLED_MID_STREAM
    if kind == errors.INPUT_MODERATION and received:
        kind = errors.OUTPUT_MODERATION
    return Failed(errors.ChatError(kind, None, code, str(chunk.get("request_id") or "")))
