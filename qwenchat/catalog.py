"""The model catalog: the Qwen models the sidebar offers, their context window, output cap and thinking mode.

Figures from DashScope's model list (about Nov 2025). A model not listed here can still be typed in by
name; it then gets `UNKNOWN_MODEL`'s conservative limits. `tools` says whether the model takes function
calls (DashScope's function-calling page lists the Qwen text models, QwQ and DeepSeek-R1; the Qwen2.5-VL
models are not listed); a server that still refuses `tools` is retried once without them (see
`qwenchat.chat.engine`).
"""

from __future__ import annotations

from dataclasses import dataclass

from qwenchat.i18n import DEFAULT_LANG, t

# How a model treats `enable_thinking`.
THINKING_OFF = "off"        # thinks only when asked (enable_thinking=True)
THINKING_ON = "on"          # thinks unless told not to
THINKING_ALWAYS = "always"  # always thinks; sending enable_thinking=False is a 400


@dataclass(frozen=True)
class ModelInfo:
    name: str
    context_window: int
    max_output: int
    thinking: str = THINKING_OFF
    vision: bool = False
    note_id: str = ""
    tools: bool = True  # takes `tools` (function calling)  # the catalog id of what the model is for ("" for a model not listed)

    @property
    def thinks_by_default(self) -> bool:
        return self.thinking in (THINKING_ON, THINKING_ALWAYS)

    def note_text(self, lang: str = DEFAULT_LANG) -> str:
        return t(self.note_id, lang) if self.note_id else ""


CATALOG: tuple[ModelInfo, ...] = (
    ModelInfo("qwen-plus", 1_000_000, 32_768, THINKING_OFF, note_id="model.balanced"),
    ModelInfo("qwen-flash", 1_000_000, 32_768, THINKING_OFF, note_id="model.cheapest"),
    ModelInfo("qwen-turbo", 1_000_000, 16_384, THINKING_OFF, note_id="model.fast"),
    ModelInfo("qwen-max", 32_768, 8_192, THINKING_OFF, note_id="model.previous_flagship"),
    ModelInfo("qwen3-max", 262_144, 65_536, THINKING_OFF, note_id="model.flagship"),
    ModelInfo("qwq-plus", 131_072, 8_192, THINKING_ALWAYS, note_id="model.reasoning"),
    ModelInfo("deepseek-r1", 131_072, 16_384, THINKING_ALWAYS, note_id="model.reasoning"),
    ModelInfo("qwen-vl-plus", 131_072, 8_192, THINKING_OFF, vision=True, note_id="model.vision",
              tools=False),
    ModelInfo("qwen-vl-max", 131_072, 8_192, THINKING_OFF, vision=True, note_id="model.vision", tools=False),
    ModelInfo("qwen3-vl-plus", 262_144, 32_768, THINKING_OFF, vision=True, note_id="model.vision"),
    ModelInfo("qwen3-vl-flash", 262_144, 32_768, THINKING_OFF, vision=True, note_id="model.vision"),
)
VISION_MODEL = "qwen-vl-plus"  # offered (or switched to, QWENCHAT_AUTO_VISION) when the chosen model cannot see

UNKNOWN_MODEL = ModelInfo("", 131_072, 8_192, THINKING_OFF)
DEFAULT_MODEL = "qwen-plus"


def lookup(name: str) -> ModelInfo:
    """The catalog entry for a model name; dated snapshots (qwen-plus-2025-07-28) match their family."""
    name = (name or "").strip()
    by_name = {m.name: m for m in CATALOG}
    if name in by_name:
        return by_name[name]
    for info in sorted(CATALOG, key=lambda m: -len(m.name)):
        if name.startswith(info.name + "-") and name[len(info.name) + 1:][:1].isdigit():
            return ModelInfo(name, info.context_window, info.max_output, info.thinking, info.vision, info.note_id,
                             info.tools)
    lowered = name.lower()
    if "thinking" in lowered or lowered.startswith(("qwq", "deepseek-r1")):
        thinking = THINKING_ALWAYS
    elif lowered.startswith(("qwen3.5", "qwen3.6", "qwen3-")) and "instruct" not in lowered and "max" not in lowered:
        thinking = THINKING_ON
    else:
        thinking = THINKING_OFF
    # qwen-vl-*, qwen3-vl-*, and the multimodal Qwen3.5/3.6 "plus" models see images.
    vision = "-vl" in lowered or lowered.startswith(("qwen3.5-plus", "qwen3.6-plus"))
    tools = not vision or lowered.startswith(("qwen3-vl", "qwen3.5", "qwen3.6"))
    return ModelInfo(name, UNKNOWN_MODEL.context_window, UNKNOWN_MODEL.max_output, thinking, vision, tools=tools)


def thinking_flag(info: ModelInfo, want_thinking: bool) -> bool | None:
    """The `enable_thinking` value to send, or None to leave it out (never send false to an always-thinker)."""
    if info.thinking == THINKING_ALWAYS:
        return None
    if want_thinking == info.thinks_by_default:
        return None if info.thinking == THINKING_OFF else want_thinking
    return want_thinking
