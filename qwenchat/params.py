"""Generation parameters per conversation: what the user may set, their bounds, and each model's defaults.

A conversation keeps only what the user changed (`{"temperature": 0.2}`); everything else is the model's
own default, shown beside the control. `clean` bounds every value, so a crafted import or a stale session
cannot send something the API refuses or that costs more than the app allows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from qwenchat.catalog import THINKING_ALWAYS, lookup


@dataclass(frozen=True)
class Spec:
    name: str
    low: float
    high: float
    step: float
    whole: bool = False


SPECS: tuple[Spec, ...] = (
    Spec("temperature", 0.0, 1.99, 0.05),
    Spec("top_p", 0.01, 1.0, 0.05),
    Spec("max_tokens", 1, 65_536, 256, whole=True),
    Spec("seed", 0, 2**31 - 1, 1, whole=True),
    Spec("presence_penalty", -2.0, 2.0, 0.1),
    Spec("thinking_budget", 1, 81_920, 512, whole=True),
)
BY_NAME = {spec.name: spec for spec in SPECS}


def model_defaults(model: str) -> dict[str, Any]:
    """The defaults DashScope documents for a model family (about 2025); None where the server picks."""
    info = lookup(model)
    name = (model or "").lower()
    if info.vision:
        temperature, top_p = 0.01, 0.001
    elif info.thinking == THINKING_ALWAYS or name.startswith(("qwen3-", "qwen3.5", "qwen3.6")):
        temperature, top_p = 0.6, 0.95
    else:
        temperature, top_p = 0.7, 0.8
    return {"temperature": temperature, "top_p": top_p, "max_tokens": info.max_output, "seed": None,
            "presence_penalty": 0.0, "thinking_budget": info.max_output}


def clean(params: Any, model: str = "") -> dict[str, Any]:
    """Only known names with finite values within bounds (and within the model's output cap)."""
    if not isinstance(params, dict):
        return {}
    info = lookup(model)
    kept: dict[str, Any] = {}
    for name, value in params.items():
        spec = BY_NAME.get(name)
        if spec is None or value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if isinstance(value, int):
            value = min(max(value, -(2 ** 63)), 2 ** 63)  # an imported 10**400 would overflow isfinite's float
        if not math.isfinite(value):
            continue
        high = min(spec.high, info.max_output) if name in ("max_tokens", "thinking_budget") else spec.high
        value = min(max(value, spec.low), high)
        kept[name] = int(value) if spec.whole else round(float(value), 4)
    return kept
