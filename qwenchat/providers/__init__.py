"""Model providers behind one protocol: DashScope, and any OpenAI-compatible server.

`provider_for(settings)` picks one: DashScope for its own hosts (`*.aliyuncs.com`) or when
`QWENCHAT_PROVIDER=dashscope` says so (a gateway in front of DashScope, the tests' fake server), the
OpenAI-compatible provider for anything else (Ollama, vLLM, LM Studio, Xinference).
"""

from __future__ import annotations

import importlib
import threading

from qwenchat.config import Settings
from qwenchat.providers.base import (
    Completion,
    EmbeddingProvider,
    Embeddings,
    Event,
    Failed,
    Finished,
    GenerationParams,
    Heartbeat,
    Provider,
    ProviderError,
    ReasoningDelta,
    Reranked,
    TextDelta,
    ToolCall,
    ToolCallsReady,
    UsageReport,
    frame_failure,
    usage_from,
)
from qwenchat.providers.dashscope import DashScopeProvider
from qwenchat.providers.openai_compatible import DEFAULT_DEADLINE_S, DEFAULT_TIMEOUT, OpenAICompatibleProvider

__all__ = [
    "Completion", "DEFAULT_DEADLINE_S", "EmbeddingProvider", "Embeddings", "Reranked", "DEFAULT_TIMEOUT", "DashScopeProvider", "Event", "Failed", "Finished",
    "GenerationParams", "Heartbeat", "OpenAICompatibleProvider", "Provider", "ProviderError", "ReasoningDelta",
    "TextDelta", "ToolCall", "ToolCallsReady", "UsageReport", "frame_failure", "provider_for", "usage_from",
    "warm_up_in_background",
]

_warming: list[threading.Thread] = []


def provider_for(settings: Settings, **options: object) -> Provider:
    """The provider for these settings (never raises; a bad URL gives a provider whose calls fail with
    `bad_url`). `options` go to the provider: `timeout`, `max_retries`."""
    cls = DashScopeProvider if settings.is_dashscope else OpenAICompatibleProvider
    return cls(settings, **options)  # type: ignore[arg-type]


def warm_up_in_background() -> threading.Thread:
    """Import the SDK and the HTTP layer in a daemon thread, once per process. A provider makes its SDK
    client at its first request (the import takes ~0.7 s, which the first page after a server start does
    not wait for); called once a page is drawn, the import is done before the first message is typed."""
    if not _warming:
        thread = threading.Thread(target=importlib.import_module, args=("qwenchat.providers.network",),
                                  name="qwenchat-sdk-import", daemon=True)
        _warming.append(thread)
        thread.start()
    return _warming[0]
