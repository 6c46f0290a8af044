"""Estimated costs: the right line of the table for a model name, tiers, thinking prices, unknown models."""

import re

import pytest

from qwenchat.pricing import PRICES, PRICES_AS_OF, estimate_cost, estimate_embedding_cost, price_for

M = 1_000_000


def test_prices_are_dated():
    assert re.fullmatch(r"\d{4}-\d{2}", PRICES_AS_OF)


def test_cost_per_token_direction():
    assert estimate_cost("qwen-plus", 100_000, M) == pytest.approx(0.08 + 2.0)
    assert estimate_cost("qwen-max", M, M) == pytest.approx(2.4 + 9.6)
    assert estimate_cost("qwen-flash", M // 10, 0) == pytest.approx(0.015)


def test_the_billed_example_costs_a_tiny_fraction_of_a_yuan():
    # prompt 22 + completion 17 tokens on qwen-plus
    assert estimate_cost("qwen-plus", 22, 17) == pytest.approx((22 * 0.8 + 17 * 2.0) / M)


def test_thinking_output_costs_more_where_the_table_says_so():
    assert estimate_cost("qwen-plus", 0, M, thinking=True) == pytest.approx(8.0)
    assert estimate_cost("qwen-plus", 0, M, thinking=False) == pytest.approx(2.0)
    assert estimate_cost("qwen-turbo", 0, M, thinking=True) == pytest.approx(3.0)
    assert estimate_cost("qwen-turbo", 0, M, thinking=False) == pytest.approx(0.6)
    # Models that always think have one output price.
    assert estimate_cost("qwq-plus", 0, M, thinking=True) == estimate_cost("qwq-plus", 0, M) == pytest.approx(4.0)


@pytest.mark.parametrize(
    "model, line",
    [
        ("qwen-plus-2025-07-28", "qwen-plus"), ("qwen-plus-latest", "qwen-plus"), ("qwen-max-0919", "qwen-max"),
        ("qwen-turbo-2025-04-28", "qwen-turbo"), ("qwen3-max-2025-09-23", "qwen3-max"),
        ("qwen-vl-max-latest", "qwen-vl-max"), ("QWEN-PLUS", "qwen-plus"), ("qwq-plus-2025-03-05", "qwq-plus"),
    ],
)
def test_dated_snapshots_are_priced_as_their_line(model, line):
    assert price_for(model) is PRICES[line]
    assert estimate_cost(model, 1000, 1000) == estimate_cost(line, 1000, 1000)


@pytest.mark.parametrize("model", ["gpt-4o", "qwen-plus-character", "qwen3-max-preview", "qwen-long", ""])
def test_unknown_models_have_no_estimate(model):
    assert estimate_cost(model, 1000, 1000) is None


def test_similar_names_are_not_confused():
    assert estimate_cost("qwen3-max", M, 0) != estimate_cost("qwen-max", M, 0)
    assert estimate_cost("qwen-vl-max", M, 0) != estimate_cost("qwen-max", M, 0)


def test_input_length_tiers():
    assert estimate_cost("qwen-plus", 131_072, 0) == pytest.approx(131_072 * 0.8 / M)
    # Longer inputs cost more and their price is not in the table: no estimate rather than a low one.
    assert estimate_cost("qwen-plus", 131_073, 0) is None
    assert estimate_cost("qwen-flash", 500_000, 100) is None
    assert estimate_cost("qwen3-max", 32_768, 0) is not None
    assert estimate_cost("qwen3-max", 40_000, 0) is None
    # Untiered lines apply at any length.
    assert estimate_cost("qwen-turbo", 900_000, 0) == pytest.approx(900_000 * 0.3 / M)


def test_table_is_sane():
    for name, price in PRICES.items():
        assert name == name.lower() and price.tiers, name
        bounds = [t.up_to for t in price.tiers]
        assert bounds == sorted(bounds, key=lambda b: float("inf") if b is None else b), name
        for tier in price.tiers:
            assert 0 < tier.input <= tier.output, name
            assert tier.output_thinking is None or tier.output_thinking >= tier.output, name


@pytest.mark.parametrize("model, line", [
    ("qwen3-rerank-2025-06-05", "qwen3-rerank"), ("text-embedding-v4-2025-01-01", "text-embedding-v4"),
    ("qwen3-rerank-latest", "qwen3-rerank"), ("dashscope/QWEN3-RERANK-2025-06-05", "qwen3-rerank"),
])
def test_dated_snapshots_of_embedding_and_rerank_models_are_priced_as_their_line(model, line):
    # they had no price: a reranked search's cost was shown with a gap ("≥") in the sidebar and the export
    assert estimate_embedding_cost(model, M) == estimate_embedding_cost(line, M) > 0


@pytest.mark.parametrize("model", ["gte-rerank-v2", "qwen3-rerank-preview", "text-embedding-v4x", ""])
def test_unknown_embedding_and_rerank_models_have_no_estimate(model):
    assert estimate_embedding_cost(model, M) is None
