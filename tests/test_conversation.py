"""What the conversation sends back to the model, what it remembers, and its tree of branches."""

import json

from qwenchat.conversation import (
    COMPLETE,
    FAILED,
    FAREWELL,
    INTERRUPTED,
    STOPPED,
    WITHDRAWN,
    Conversation,
    Message,
    Part,
    Usage,
    copy_of,
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


# ---- the tree: regenerate and edit make siblings, nothing is overwritten ----

def answered(c: Conversation, text: str, reply: str) -> tuple[Message, Message]:
    question = c.add_user(text)
    answer = c.start_reply("qwen-plus")
    answer.content, answer.status = reply, COMPLETE
    return question, answer


def contents(messages) -> list[str]:
    return [m.content for m in messages]


def test_new_messages_hang_off_the_last_visible_one():
    c = Conversation(system_prompt="")
    q1, a1 = answered(c, "q1", "a1")
    q2, a2 = answered(c, "q2", "a2")
    assert [m.parent_id for m in c.messages] == ["", q1.id, a1.id, q2.id]
    assert c.hidden == [] and c.all_messages() == [q1, a1, q2, a2]


def test_regenerate_keeps_the_old_reply_as_a_sibling_and_sends_only_the_new_branch():
    c = Conversation(system_prompt="")
    question, old = answered(c, "写一首诗", "旧的诗")
    c.regenerate_point(old.id)
    assert contents(c.messages) == ["写一首诗"] and c.hidden == [old]
    new = c.start_reply("qwen-max")
    new.content, new.status = "新的诗", COMPLETE
    assert new.parent_id == question.id
    assert c.siblings(new.id) == [old, new] == c.siblings(old.id)  # "2/2"
    assert c.api_messages() == [{"role": "user", "content": "写一首诗"}, {"role": "assistant", "content": "新的诗"}]
    c.switch_to(old.id)
    assert contents(c.messages) == ["写一首诗", "旧的诗"] and c.hidden == [new]


def test_edit_makes_the_new_question_a_sibling_and_keeps_what_followed_the_old_one():
    c = Conversation(system_prompt="")
    q1, a1 = answered(c, "q1", "a1")
    q2, a2 = answered(c, "q2 with a typo", "a2")
    q3, a3 = answered(c, "q3", "a3")
    c.branch_from(q2.id)
    assert c.messages == [q1, a1] and c.hidden == [q2, a2, q3, a3]
    fixed = c.add_user("q2 fixed")
    assert fixed.parent_id == a1.id and c.siblings(fixed.id) == [q2, fixed]
    assert [m["content"] for m in c.api_messages()] == ["q1", "a1", "q2 fixed"]
    c.switch_to(q2.id)  # back to the old branch, down to its newest leaf
    assert c.messages == [q1, a1, q2, a2, q3, a3] and c.hidden == [fixed]


def test_editing_the_first_question_makes_a_new_root():
    c = Conversation(system_prompt="")
    q1, a1 = answered(c, "first", "reply")
    c.branch_from(q1.id)
    assert c.messages == []
    again = c.add_user("first, better")
    assert again.parent_id == "" and c.siblings(again.id) == [q1, again]


def test_add_user_under_a_given_parent_switches_the_branch():
    c = Conversation(system_prompt="")
    q1, a1 = answered(c, "q1", "a1")
    answered(c, "q2", "a2")
    other = c.add_user("instead of q2", parent_id=a1.id)
    assert c.messages == [q1, a1, other] and contents(c.hidden) == ["q2", "a2"]


def test_switch_to_follows_the_newest_child_at_each_step():
    c = Conversation(system_prompt="")
    q1, a1 = answered(c, "q1", "a1")
    c.regenerate_point(a1.id)
    a1b = c.start_reply("m")
    a1b.content, a1b.status = "a1b", COMPLETE
    q2, a2 = answered(c, "q2", "a2")
    c.switch_to(a1.id)
    assert c.messages == [q1, a1]
    c.switch_to(q1.id)
    assert c.messages == [q1, a1b, q2, a2]


def test_delete_pair_removes_the_question_and_every_version_of_its_answer_and_keeps_what_followed():
    c = Conversation(system_prompt="")
    q1, a1 = answered(c, "q1", "a1")
    q2, a2 = answered(c, "q2", "a2")
    q3, a3 = answered(c, "q3", "a3")
    c.regenerate_point(a2.id)
    a2b = c.start_reply("m")
    c.switch_to(a2.id)  # back on the branch that goes on to q3
    removed = c.delete_pair(q2.id)
    assert set(removed) == {q2.id, a2.id, a2b.id}
    assert c.messages == [q1, a1, q3, a3] and c.hidden == [] and q3.parent_id == a1.id


def test_deleting_the_visible_pair_shows_a_remaining_sibling_branch():
    c = Conversation(system_prompt="")
    q1, a1 = answered(c, "q1", "a1")
    c.branch_from(q1.id)
    q1b, a1b = answered(c, "q1b", "a1b")
    assert c.delete_pair(q1b.id) == [q1b.id, a1b.id]
    assert c.messages == [q1, a1] and c.hidden == []
    assert c.delete_pair(q1.id) == [q1.id, a1.id] and c.messages == [] and c.hidden == []


def edited_first_question_back_on_the_original() -> tuple[Conversation, list[Message], list[Message]]:
    """q1, a1, q2, a2; q1 edited ("q1-edited" and its answer); then back on the q1 branch."""
    c = Conversation(system_prompt="")
    original = [*answered(c, "q1", "a1"), *answered(c, "q2", "a2")]
    c.branch_from(original[0].id)
    edited = list(answered(c, "q1-edited", "a1-edited"))
    c.switch_to(original[0].id)
    assert c.messages == original and len(c.siblings(original[0].id)) == 2
    return c, original, edited


def test_deleting_a_pair_removes_that_pair_only_and_what_followed_keeps_its_place():
    """First review: q2 became a root (its chain to the message before was lost). Second review: the fix for
    it dropped the edited branch with the pair, 12 messages for one click. Only the pair goes."""
    c, (q1, a1, q2, a2), (e1, f1) = edited_first_question_back_on_the_original()
    removed = c.delete_pair(q1.id)
    assert set(removed) == {q1.id, a1.id}
    assert c.messages == [q2, a2] and q2.parent_id == ""  # what followed keeps its place
    assert {m.id for m in c.all_messages()} == {q2.id, a2.id, e1.id, f1.id}  # the edit is still reachable
    assert sorted(contents(c.siblings(q2.id))) == ["q1-edited", "q2"]  # versions of that turn now
    again = Conversation.from_dict(json.loads(json.dumps(c.to_dict())))
    assert again.messages == [q2, a2] and {m.id for m in again.all_messages()} == {q2.id, a2.id, e1.id, f1.id}


def test_deleting_a_pair_removes_every_version_of_its_answer_and_keeps_what_followed_each():
    c = Conversation(system_prompt="")
    q1, old = answered(c, "q1", "old answer")
    after_old = answered(c, "asked after the old answer", "x")
    c.regenerate_point(old.id)
    new = c.start_reply("qwen-plus")
    q2, a2 = answered(c, "q2", "a2")
    c.branch_from(q2.id)
    q2b, a2b = answered(c, "q2b", "a2b")  # an edit of q2: a real version of it
    removed = c.delete_pair(q1.id)
    assert set(removed) == {q1.id, old.id, new.id}
    assert c.messages == [q2b, a2b]
    assert {m.id for m in c.all_messages()} == {q2.id, a2.id, q2b.id, a2b.id, *(m.id for m in after_old)}
    assert all(m.parent_id == "" for m in (q2, q2b, after_old[0]))


def test_deleting_the_last_pair_clears_the_title_so_the_next_message_names_the_conversation():
    c = Conversation(system_prompt="")
    q1, _ = answered(c, "Old subject", "a")
    assert c.title == "Old subject"
    c.delete_pair(q1.id)
    assert c.messages == [] and c.title == ""
    c.add_user("New subject")
    assert c.title == "New subject"
    c, (q1, *_), _ = edited_first_question_back_on_the_original()
    c.delete_pair(c.messages[0].id)
    assert c.title == "q1"  # messages remain: the title stays


def test_messages_appended_directly_are_linked_in_order():
    c = Conversation(system_prompt="")
    c.messages += [Message("user", "a"), Message("assistant", "b")]
    first, second = c.messages
    assert c.all_messages() == [first, second] and second.parent_id == first.id and first.parent_id == ""


def test_old_data_without_parent_ids_reads_as_one_chain():
    old = {"id": "c1", "title": "t", "model": "qwen-plus", "system_prompt": "", "closed": False,
           "created_at": 1.0, "messages": [{"role": "user", "content": "q", "id": "m1"},
                                           {"role": "assistant", "content": "a", "id": "m2"}]}
    c = Conversation.from_dict(old)
    assert [m.parent_id for m in c.all_messages()] == ["", "m1"] and c.hidden == []


def test_parts_and_hidden_branches_round_trip_through_dicts():
    c = Conversation(system_prompt="")
    q, a = answered(c, "看这张图", "一只猫")
    q.parts = [Part("image", data={"url": "https://example.com/cat.png"})]
    a.parts = [Part("citation", text="猫的百科", data={"source": "kb", "score": 0.9})]
    c.regenerate_point(a.id)
    c.start_reply("m").content = "另一只猫"
    again = Conversation.from_dict(json.loads(json.dumps(c.to_dict())))
    assert again == c and again.hidden == [a] and again.messages[0].parts[0].type == "image"


def test_usage_counts_hidden_replies_but_last_usage_is_the_visible_one():
    c = Conversation(system_prompt="")
    _, old = answered(c, "q", "a")
    old.usage = Usage(10, 5, 15)
    c.regenerate_point(old.id)
    new = c.start_reply("m")
    new.usage = Usage(10, 7, 17)
    assert c.total_usage().total_tokens == 32 and c.last_usage() == Usage(10, 7, 17)


def test_recover_reaches_hidden_branches():
    c = Conversation(system_prompt="")
    c.add_user("q")
    stuck = c.start_reply("m")
    stuck.content = "half"
    c.regenerate_point(stuck.id)
    c.recover()
    assert stuck.status == INTERRUPTED


def test_a_copy_has_fresh_ids_the_same_tree_and_a_marked_title():
    c = Conversation(system_prompt="", title="原来的")
    q, a = answered(c, "q", "a")
    c.regenerate_point(a.id)
    c.start_reply("m").content = "b"
    c.version = 7
    dup = copy_of(c)
    assert dup.id != c.id and dup.version == 0 and dup.title.startswith("原来的") and dup.title != c.title
    old_ids = {m.id for m in c.all_messages()}
    assert not old_ids & {m.id for m in dup.all_messages()}
    assert contents(dup.messages) == contents(c.messages) and contents(dup.hidden) == ["a"]
    assert dup.siblings(dup.messages[1].id)[0].content == "a"  # parent links remapped
    assert c.all_messages()[0].id == q.id  # the original is untouched


def test_a_message_whose_parent_was_deleted_in_another_tab_keeps_the_history_above_it():
    """The review's finding 6: tab A sends Q3 after A2 while tab B deletes the Q2 pair."""
    c = Conversation(system_prompt="")
    q1, a1 = answered(c, "q1", "a1")
    q2, a2 = answered(c, "q2", "a2")
    q3, a3 = answered(c, "q3", "a3")
    survivors = [m for m in c.all_messages() if m.id not in (q2.id, a2.id)]
    loaded = Conversation(system_prompt="")
    loaded.show_tree(survivors, a3.id)
    assert [m.content for m in loaded.messages] == ["q1", "a1", "q3", "a3"] and loaded.hidden == []


def test_a_copys_title_is_marked_in_the_ui_language():
    c = Conversation(system_prompt="", title="Trip plan")
    answered(c, "q", "a")
    assert copy_of(c, "en").title == "Trip plan (copy)"
    assert copy_of(c, "zh").title == "Trip plan（副本）"
