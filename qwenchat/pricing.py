"""Estimated prices of DashScope models, and the cost of a call.

Owns one dated table of list prices in CNY per 1M tokens (mainland China region). These are ESTIMATES
copied from public listings of about the date below: prices change, promotions and free quotas are not
modelled, and the bill from Alibaba Cloud is the only truth. To update, edit `PRICES` and `PRICES_AS_OF`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PRICES_AS_OF = "2025-11"
CURRENCY = "CNY"

K = 1024  # DashScope's "128K" tier means 131,072 tokens


@dataclass(frozen=True)
class Tier:
    """Prices for requests whose input is at most `up_to` tokens (None: any length)."""

    up_to: int | None
    input: float  # CNY per 1M input tokens
    output: float  # CNY per 1M output tokens
    output_thinking: float | None = None  # in thinking mode, where it differs


@dataclass(frozen=True)
class Price:
    tiers: tuple[Tier, ...]  # by ascending up_to; an input longer than the last tier has no known price
    note: str = ""


PRICES: dict[str, Price] = {
    "qwen-flash": Price((Tier(128 * K, 0.15, 1.5),), "tiers above 128K input not in the table"),
    "qwen-plus": Price((Tier(128 * K, 0.8, 2.0, output_thinking=8.0),), "tiers above 128K input not in the table"),
    "qwen-turbo": Price((Tier(None, 0.3, 0.6, output_thinking=3.0),), "non-thinking prices unconfirmed"),
    "qwen-max": Price((Tier(None, 2.4, 9.6),)),
    "qwen3-max": Price(
        (Tier(32 * K, 3.2, 12.8),),
        "sources disagree (2.5-3.2 in, 10-12.8 out): the higher figures are used; the 32K bound of the first "
        "tier is unconfirmed, longer inputs cost more and are not in the table",
    ),
    "qwq-plus": Price((Tier(None, 1.6, 4.0),), "always thinking"),
    "qwen-vl-plus": Price((Tier(None, 0.8, 2.0),)),
    "qwen-vl-max": Price((Tier(None, 1.6, 4.0),)),
    "qwen3-vl-plus": Price((Tier(32 * K, 1.0, 10.0), Tier(128 * K, 1.5, 15.0), Tier(256 * K, 3.0, 30.0)),
                           "Beijing list prices, about Dec 2025"),
    "qwen3-vl-flash": Price((Tier(32 * K, 0.15, 1.5),), "tiers above 32K input not in the table"),
    "deepseek-r1": Price((Tier(None, 4.0, 16.0),), "always thinking"),
}

# Dated snapshots and aliases share the price of their line: qwen-plus-2025-07-28, qwen-max-0919, -latest.
_SNAPSHOT_SUFFIX = re.compile(r"-(?:latest|\d{4}-\d{2}-\d{2}|\d{4})$")


def _line(model: str, table: dict[str, object]) -> str | None:
    """The key of `table` for `model` ("dashscope/QWEN-PLUS" -> "qwen-plus") or its snapshot's line
    ("qwen-plus-2025-07-28" -> "qwen-plus"), None when the table has neither."""
    name = model.rsplit("/", 1)[-1].strip().lower()
    while name not in table:
        line = _SNAPSHOT_SUFFIX.sub("", name)
        if line == name:
            return None
        name = line
    return name


def price_for(model: str) -> Price | None:
    """The table entry for `model` or its snapshot's line, None when the table does not have it."""
    name = _line(model, PRICES)  # type: ignore[arg-type]
    return None if name is None else PRICES[name]


def estimate_cost(model: str, prompt_tokens: int, completion_tokens: int, thinking: bool = False) -> float | None:
    """Estimated CNY for one call, None when the model or its input-length tier is not in the table.
    `completion_tokens` includes reasoning tokens, as DashScope's usage reports them."""
    price = price_for(model)
    if price is None:
        return None
    tier = next((t for t in price.tiers if t.up_to is None or prompt_tokens <= t.up_to), None)
    if tier is None:
        return None
    output = tier.output_thinking if thinking and tier.output_thinking is not None else tier.output
    return (prompt_tokens * tier.input + completion_tokens * output) / 1_000_000


# Embedding and rerank models: CNY per 1M input tokens (estimates; text-embedding-v3/v4 about 0.5; qwen3-rerank
# USD 0.069 in Beijing, about CNY 0.5, per Model Studio's model page of 2026).
EMBEDDING_PRICES: dict[str, float] = {
    "text-embedding-v4": 0.5,
    "text-embedding-v3": 0.5,
    "qwen3-rerank": 0.5,
}


def estimate_embedding_cost(model: str, tokens: int) -> float | None:
    """Estimated CNY for embedding (or reranking) `tokens` tokens with `model` or its snapshot's line (as for
    chat models: qwen3-rerank-2025-06-05), None when the model is not in the table."""
    name = _line(model, EMBEDDING_PRICES)  # type: ignore[arg-type]
    return None if name is None else tokens * EMBEDDING_PRICES[name] / 1_000_000
