"""Property tests: arbitrary text (lone surrogates, controls, bidi, emoji sequences) through the core's
input handling. Nothing raises, and what is stored survives encoding."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qwenchat import turns
from qwenchat.conversation import Conversation
from qwenchat.sanitize import clean_user_text, is_blank

TRICKY = ["\ud800", "\udfff", "\ud83d", "\ude00", "\r", "\n", "\r\n", "\t", "\x00", "\x1b", "\x85", "\u200b",
          "\u200d", "\ufe0f", "\u202e", "\u2066", "\u2069", "\ufeff", "\u3164", "👨‍👩‍👧‍👦", "\U000e0067", ">",
          "[", "|", "`", " "]
ANY_CHAR = st.characters(exclude_categories=[])  # every code point, lone surrogates included
# Plain arbitrary text, and text dense in the pieces that break things (some longer than one character).
TEXT = st.one_of(st.text(alphabet=ANY_CHAR, max_size=300),
                 st.lists(st.one_of(ANY_CHAR, st.sampled_from(TRICKY)), max_size=80).map("".join))
MODEST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@MODEST
@given(TEXT)
def test_cleaning_never_raises_encodes_and_is_idempotent(text):
    cleaned = clean_user_text(text)
    cleaned.encode("utf-8")
    assert clean_user_text(cleaned) == cleaned
    assert "\r" not in cleaned and not any("\u202a" <= c <= "\u202e" or "\u2066" <= c <= "\u2069" for c in cleaned)


@MODEST
@given(TEXT)
def test_cleaning_keeps_whether_a_text_is_blank(text):
    assert is_blank(clean_user_text(text)) == is_blank(text)


@MODEST
@given(TEXT, st.integers(min_value=0, max_value=400))
def test_check_message_never_raises(text, max_chars):
    for candidate in (text, clean_user_text(text)):
        problem = turns.check_message(candidate, max_chars)
        assert problem is None or problem.message()


@MODEST
@given(st.lists(TEXT, min_size=1, max_size=5))
def test_a_conversation_of_cleaned_text_round_trips_through_json(texts):
    conversation = Conversation()
    for text in texts:
        conversation.add_user(clean_user_text(text))
    wire = json.dumps(conversation.to_dict(), ensure_ascii=False).encode("utf-8")
    assert Conversation.from_dict(json.loads(wire.decode("utf-8"))) == conversation
    json.dumps(conversation.api_messages(), ensure_ascii=False).encode("utf-8")


CONTENT = st.one_of(TEXT, st.none(), st.integers(), st.lists(
    st.one_of(st.fixed_dictionaries({"type": st.just("text"), "text": TEXT}), st.dictionaries(TEXT, TEXT)),
    max_size=3))
TURN = st.one_of(
    st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system", "", "tool"]), "content": CONTENT}),
    st.dictionaries(TEXT, CONTENT, max_size=2))
HISTORY = st.one_of(st.none(), st.lists(TURN, max_size=6))


@MODEST
@given(TEXT, HISTORY)
def test_the_end_detector_never_raises_and_scores_in_0_1(text, history):
    ending = pytest.importorskip("qwenchat.ending")
    for candidate in (text, clean_user_text(text)):
        verdict = ending.detect(candidate, history)
        assert 0.0 <= verdict.score <= 1.0
        assert isinstance(verdict.is_end, bool)
