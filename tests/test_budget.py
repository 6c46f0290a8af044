"""The context budget: what is sent fits, keeps the system prompt and the newest message, drops whole turns."""

import pytest

from qwenchat import tokens
from qwenchat.budget import Trimmed, default_budget, fit_to_budget
from qwenchat.tokens import count_prompt

MODEL = "qwen-plus"
SYSTEM = {"role": "system", "content": "You are a helpful assistant. Answer briefly."}


def _conversation(turns, words=40):
    messages = [SYSTEM]
    for i in range(turns):
        messages.append({"role": "user", "content": f"Question {i}: " + "why is the sky blue " * (words // 5)})
        messages.append({"role": "assistant", "content": f"Answer {i}: 因为瑞利散射。" + "light scatters " * words})
    messages.append({"role": "user", "content": "And at sunset?"})
    return messages


def test_default_budget():
    assert default_budget(1_000_000, 32_768) == 32_000
    assert default_budget(32_768, 8_192) == 24_576
    assert default_budget(131_072, 8_192, cap=200_000) == 122_880
    assert default_budget(4_000, 8_192) == 0


def test_everything_is_sent_when_it_fits():
    messages = _conversation(3)
    trimmed = fit_to_budget(messages, MODEL, 32_000)
    assert trimmed == Trimmed(messages, 0, count_prompt(messages, MODEL), False)


@pytest.mark.parametrize("budget", [300, 1_000, 5_000, 20_000])
def test_long_conversation_is_cut_to_fit(budget):
    messages = _conversation(200)
    trimmed = fit_to_budget(messages, MODEL, budget)
    sent = trimmed.messages
    assert not trimmed.too_large
    assert trimmed.prompt_tokens == count_prompt(sent, MODEL) <= budget
    assert sent[0] is SYSTEM and sent[-1] is messages[-1]
    # The newest history, whole turns, starting with a question.
    assert sent[1:] == messages[len(messages) - len(sent) + 1:]
    assert trimmed.dropped == len(messages) - len(sent) > 0
    assert len(sent) == 2 or sent[1]["role"] == "user"
    # As much as fits: the turn left out last would not have fitted.
    back = messages[len(messages) - len(sent) - 1:]
    assert count_prompt([SYSTEM] + back, MODEL) > budget


def test_without_system_prompt():
    messages = _conversation(20)[1:]
    trimmed = fit_to_budget(messages, MODEL, 500)
    assert trimmed.messages[0]["role"] == "user"
    assert trimmed.messages[-1] is messages[-1]
    assert trimmed.prompt_tokens <= 500


def test_history_never_starts_with_an_orphan_reply():
    greeting = {"role": "assistant", "content": "How can I help you? " * 20}
    messages = [SYSTEM, greeting] + _conversation(5)[1:]
    trimmed = fit_to_budget(messages, MODEL, count_prompt(messages, MODEL) - 1)
    assert trimmed.messages[1]["role"] == "user"
    assert trimmed.dropped == 1


def test_a_single_huge_message_is_too_large():
    huge = {"role": "user", "content": "这是一份很长的文件。" * 20_000}
    trimmed = fit_to_budget(_conversation(5)[:-1] + [huge], MODEL, 32_000)
    assert trimmed.too_large
    assert trimmed.messages == [SYSTEM, huge]
    assert trimmed.prompt_tokens > 32_000


def test_a_long_system_prompt_can_make_it_too_large():
    system = {"role": "system", "content": "rule " * 2_000}
    trimmed = fit_to_budget([system, {"role": "user", "content": "hi"}], MODEL, 1_000)
    assert trimmed.too_large


def test_refitting_a_200_turn_conversation_counts_from_the_cache(monkeypatch):
    messages = _conversation(200, words=60)
    first = fit_to_budget(messages, MODEL, 8_000)
    calls = []
    real = tokens._encode
    monkeypatch.setattr(tokens, "_encode", lambda enc, text: calls.append(text) or real(enc, text))
    messages.append({"role": "assistant", "content": "Red light travels through more air."})
    messages.append({"role": "user", "content": "Thanks!"})
    again = fit_to_budget(messages, MODEL, 8_000)
    assert len(calls) == 2  # only the two new messages are encoded
    assert again.prompt_tokens <= 8_000
    assert again.messages[-1]["content"] == "Thanks!"
    assert again.dropped >= first.dropped
