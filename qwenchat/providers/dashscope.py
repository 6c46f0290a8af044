"""DashScope (Alibaba Cloud Model Studio) in its OpenAI-compatible mode: the compatible provider plus what
only DashScope understands: `enable_thinking` per the model catalog (never false to an always-thinker,
false where a model thinks by default and the user turned it off), `thinking_budget`, and thinking off for
every non-streamed call (a non-streaming call with thinking on is a 400)."""

from __future__ import annotations

from typing import Any

from qwenchat.catalog import THINKING_ALWAYS, lookup, thinking_flag
from qwenchat.providers.base import GenerationParams
from qwenchat.providers.openai_compatible import OpenAICompatibleProvider


class DashScopeProvider(OpenAICompatibleProvider):
    kind = "dashscope"

    def extra_body(self, model: str, thinking: bool, params: GenerationParams | None) -> dict[str, Any]:
        info = lookup(model)
        body: dict[str, Any] = {}
        flag = thinking_flag(info, thinking)
        if flag is not None:
            body["enable_thinking"] = flag
        thinks = thinking or info.thinking == THINKING_ALWAYS
        if params is not None and params.thinking_budget and thinks:
            body["thinking_budget"] = params.thinking_budget
            if info.thinking != THINKING_ALWAYS:
                body["enable_thinking"] = True
        return body

    def completion_extra_body(self) -> dict[str, Any]:
        return {"enable_thinking": False}
