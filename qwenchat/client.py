"""The model client, kept importable under its old name: everything now lives in `qwenchat.providers`.

`QwenClient(settings)` is the DashScope provider; `provider_for(settings)` picks DashScope or any
OpenAI-compatible server by the base URL.
"""

from __future__ import annotations

from qwenchat.providers import (  # noqa: F401 - re-exported for existing imports
    DEFAULT_DEADLINE_S,
    DEFAULT_TIMEOUT,
    Completion,
    DashScopeProvider,
    Event,
    Failed,
    Finished,
    GenerationParams,
    Heartbeat,
    OpenAICompatibleProvider,
    Provider,
    ProviderError,
    ReasoningDelta,
    TextDelta,
    UsageReport,
    frame_failure,
    provider_for,
    usage_from,
)

QwenClient = DashScopeProvider
