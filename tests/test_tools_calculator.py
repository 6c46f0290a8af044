"""The calculator tool: exact answers (checked against Python's `fractions` on random expressions), the
course's 393 × 285, and hostile input refused with a sentence the model can act on, never run."""

from __future__ import annotations

import time
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qwenchat.providers.base import ToolCall
from qwenchat.tools import REGISTRY, ToolContext, ToolError
from qwenchat.tools.calculator import MAX_DIGITS, calculate, evaluate
from qwenchat.tools.runner import BAD_ARGUMENTS, TOOL_ERROR, ToolLimits, run

MODEST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---- random expressions, their exact value computed alongside ---------------------------------------------

def _leaf():
    integers = st.integers(min_value=-10**30, max_value=10**30).map(lambda n: (f"({n})", Fraction(n)))
    decimals = st.tuples(st.integers(0, 10**6), st.integers(0, 999)).map(
        lambda p: (f"{p[0]}.{p[1]:03d}", Fraction(f"{p[0]}.{p[1]:03d}")))
    return st.one_of(integers, decimals)


def _combine(children):
    def build(triple):
        (left, lv), op, (right, rv) = triple
        if op == "/" and rv == 0:
            return f"({left}+{right})", lv + rv
        value = {"+": lv + rv, "-": lv - rv, "*": lv * rv, "/": lv / rv if rv else None}[op]
        return f"({left}{op}{right})", value
    return st.tuples(children, st.sampled_from("+-*/"), children).map(build)


EXPRESSIONS = st.recursive(_leaf(), _combine, max_leaves=12)


@MODEST
@given(EXPRESSIONS)
def test_random_expressions_agree_with_pythons_fractions(expression):
    text, exact = expression
    assert evaluate(text) == exact


@MODEST
@given(st.integers(min_value=-10**12, max_value=10**12), st.integers(min_value=1, max_value=10**6))
def test_a_fraction_shows_exactly_or_with_its_decimal(numerator, denominator):
    shown = calculate(f"{numerator}/{denominator}")
    value = Fraction(numerator, denominator)
    if value.denominator == 1:
        assert shown == str(value.numerator)
    elif "/" in shown:
        assert shown.startswith(f"{value.numerator}/{value.denominator} (≈ ")
    else:
        assert Fraction(shown) == value  # a decimal that ends is written out exactly


# ---- what a user asks ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("expression, shown", [
    ("393*285", "112005"), ("393 × 285", "112005"), ("393x285".replace("x", "*"), "112005"),
    ("0.1 + 0.2", "0.3"), ("1/3 + 1/6", "1/2".replace("1/2", "0.5")), ("2^10", "1024"), ("2**100", str(2**100)),
    ("15%", "0.15"), ("200 * 15%", "30"), ("20% of 50", "10"), ("10 % 3", "1"), ("sqrt(144)", "12"),
    ("factorial(25)", str(__import__("math").factorial(25))), ("round(2.675, 2)", "2.68"), ("（1+2）×3", "9"),
    ("1/3", "1/3 (≈ 0.333333333333)"), ("2**-3", "0.125"), ("gcd(12, 18)", "6"), ("max(3, 9, 4)", "9"),
])
def test_everyday_expressions(expression, shown):
    assert calculate(expression) == shown


def test_irrational_answers_are_marked_approximate():
    assert calculate("sqrt(2)").startswith("≈ 1.41421356")
    assert calculate("sin(pi/2)") == "≈ 1"


# ---- hostile input: refused before any work, with a clear reason ----------------------------------------

@pytest.mark.parametrize("expression, reason", [
    ("__import__('os').system('echo hi')", "not allowed"),
    ("(1).__class__", "attribute"),
    ("().__class__.__bases__[0].__subclasses__()", "not allowed"),
    ("open('/etc/passwd')", "not allowed"),
    ("x + 1", "the name 'x'"),
    ("'a' * 10", "only numbers"),
    ("lambda: 1", "not allowed"),
    ("[i for i in range(10**9)]", "not allowed"),
    ("9**9**9", "too large"),
    ("10**10**10", "too large"),
    ("2**(2**64)", "too large"),
    ("1e999999999", "digits"),
    ("factorial(100000)", "factorial"),
    ("1/0", "division by zero"),
    ("5 // 0", "division by zero"),
    ("5 % 0", "modulo by zero"),
    ("0**-1", "division by zero"),
    ("sqrt(-1)", "negative"),
    ("log(0)", "positive"),
    ("exp(100000)", "too large"),
    ("-" * 60 + "1", "nested"),
    ("abs(" * 60 + "1" + ")" * 60, "nested"),
    ("(" * 400 + "1" + ")" * 400, "syntax"),
    ("1+" * 400 + "1", "more than 300 parts"),
    ("1+" * 600 + "1", "longer than"),
    ("9" * 5000, "longer than"),
    ("", "empty"),
    ("1 +", "syntax"),
])
def test_hostile_or_impossible_input_is_a_tool_error(expression, reason):
    started = time.monotonic()
    with pytest.raises(ToolError) as raised:
        evaluate(expression)
    assert reason in raised.value.detail
    assert time.monotonic() - started < 1.0  # refused before doing the work


def test_brackets_alone_cost_nothing():
    assert calculate("(" * 90 + "393*285" + ")" * 90) == "112005"


def test_numbers_up_to_the_digit_bound_still_work():
    assert len(calculate(f"10**{MAX_DIGITS - 1}")) == MAX_DIGITS
    with pytest.raises(ToolError):
        evaluate(f"10**{MAX_DIGITS}")


def test_the_tool_answers_the_model_and_tells_it_what_went_wrong():
    tools = {"calculator": REGISTRY["calculator"]}
    ok = run(ToolCall("c1", "calculator", '{"expression": "393*285"}'), tools, ToolContext(), ToolLimits())
    assert ok.ok and ok.output == "112005"
    zero = run(ToolCall("c2", "calculator", '{"expression": "1/0"}'), tools, ToolContext(), ToolLimits())
    assert zero.error == TOOL_ERROR and "division by zero" in zero.output
    wrong_type = run(ToolCall("c3", "calculator", '{"expression": 5}'), tools, ToolContext(), ToolLimits())
    assert wrong_type.error == TOOL_ERROR and "must be a string" in wrong_type.output
    missing = run(ToolCall("c4", "calculator", "{}"), tools, ToolContext(), ToolLimits())
    assert missing.error == BAD_ARGUMENTS and "expression" in missing.output
