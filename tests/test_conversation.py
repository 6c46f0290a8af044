"""What the conversation sends back to the model, and what it remembers."""

from qwenchat.conversation import (
    COMPLETE,
    FAILED,
    FAREWELL,
    INTERRUPTED,
    STOPPED,
    WITHDRAWN,
    Conversation,
    Message,
    Usage,
)


def test_api_messages_are_role_and_content_only_with_the_system_prompt_first():
    c = Conversation(system_prompt="be kind")
    c.add_user("问题")
    reply = c.start_reply("qwen-plus")
    reply.content, reply.reasoning, reply.status = "回答", "secret thoughts", COMPLETE
    assert c.api_messages() == [{"role": "system", "content": "be kind"}, {"role": "user", "content": "问题"},
                                {"role": "assistant", "content": "回答"}]


def test_failed_and_withdrawn_replies_are_not_sent_back_but_partial_ones_are():
    c = Conversation(system_prompt="")
    for status in (FAILED, WITHDRAWN, STOPPED, INTERRUPTED, FAREWELL):
        c.add_user(f"q-{status}")
        c.messages.append(Message("assistant", f"a-{status}", status=status))
    sent = [m["content"] for m in c.api_messages()]
    assert "a-failed" not in sent and "a-withdrawn" not in sent
    assert {"a-stopped", "a-interrupted", "a-farewell"} <= set(sent)
    assert all(f"q-{s}" in sent for s in (FAILED, WITHDRAWN))  # the user's words are never dropped


def test_a_reply_still_streaming_is_not_sent():
    c = Conversation(system_prompt="")
    c.add_user("hi")
    c.start_reply("qwen-plus").content = "par"
    assert c.api_messages() == [{"role": "user", "content": "hi"}]


def test_usage_totals_and_last_usage():
    c = Conversation()
    c.add_user("a")
    c.messages.append(Message("assistant", "x", usage=Usage(10, 2, 12)))
    c.add_user("b")
    c.messages.append(Message("assistant", "y", usage=Usage(20, 3, 23, reasoning_tokens=1)))
    assert c.last_usage() == Usage(20, 3, 23, reasoning_tokens=1)
    assert c.total_usage() == Usage(30, 5, 35, reasoning_tokens=1)


def test_title_comes_from_the_first_message_and_round_trip_keeps_everything():
    c = Conversation()
    c.add_user("  请问   北京今天的天气怎么样？我想出门散步，顺便买点东西，然后去公园看看花开了没有 ")
    assert c.title.startswith("请问 北京今天") and len(c.title) <= 40
    c.messages.append(Message("assistant", "晴 ☀️", usage=Usage(1, 2, 3), reasoning="r"))
    again = Conversation.from_dict(c.to_dict())
    assert again == c
