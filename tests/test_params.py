"""Generation parameters: bounds a crafted value cannot escape, and each model's defaults."""

import math

from hypothesis import given
from hypothesis import strategies as st

from qwenchat.params import BY_NAME, clean, model_defaults


def test_defaults_follow_the_model_family():
    assert model_defaults("qwen-plus")["temperature"] == 0.7
    assert model_defaults("qwq-plus")["top_p"] == 0.95
    assert model_defaults("qwen-vl-max")["temperature"] == 0.01
    assert model_defaults("qwen-max")["max_tokens"] == 8_192


def test_unknown_names_and_junk_values_are_dropped():
    assert clean({"temperature": 0.3, "logit_bias": {"1": 100}, "top_p": "1", "seed": True,
                  "presence_penalty": float("nan")}) == {"temperature": 0.3}
    assert clean("not a dict") == {} and clean(None) == {}


def test_max_output_cannot_exceed_the_models_cap():
    assert clean({"max_tokens": 10**9}, "qwen-max") == {"max_tokens": 8_192}


@given(st.dictionaries(st.sampled_from(list(BY_NAME)), st.one_of(st.integers(), st.floats())))
def test_every_cleaned_value_is_finite_and_in_bounds(params):
    for name, value in clean(params, "qwen-plus").items():
        spec = BY_NAME[name]
        assert math.isfinite(value) and spec.low <= value <= spec.high


def test_an_integer_too_big_for_a_float_is_bounded_not_an_overflow():
    # The second review: an imported file with 10**400 raised OverflowError out of the import.
    kept = clean({"temperature": 10**400, "seed": -(10**400), "max_tokens": 10**400}, "qwen-max")
    assert kept["temperature"] == BY_NAME["temperature"].high and kept["max_tokens"] == 8_192
    assert kept["seed"] == BY_NAME["seed"].low
