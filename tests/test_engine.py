"""The turn engine: every rule of a turn, run against the fake DashScope through the real client, with a
memory store and no browser."""

from __future__ import annotations

import pytest

from qwenchat.chat import saving
from qwenchat.chat.engine import ChatEngine, TurnOptions
from qwenchat.chat.events import Closed, Refused, ReplyEnded, ReplyStarted, UserAdded
from qwenchat.chat.saving import Saver, SaveState
from qwenchat.chat.spending import Spending
from qwenchat.client import QwenClient
from qwenchat.config import SOURCE_ENV, SOURCE_SIDEBAR, Settings
from qwenchat.conversation import COMPLETE, FAILED, FAREWELL, STOPPED, Conversation, Message
from qwenchat.quotas import DailyCounter, Limits, SessionQuota
from qwenchat.store import MemoryStore
from tests.fake_dashscope import VALID_KEY


@pytest.fixture(autouse=True)
def clean(fake):  # `fake`: the session's fake DashScope server (tests/conftest.py)
    fake.reset()


class Setup:
    """One browser session's engine, built the way the chat view builds it."""

    def __init__(self, fake, *, limits=None, daily=None, source=SOURCE_ENV, store=None, conversation=None,
                 options=None):
        self.fake = fake
        self.store = store if store is not None else MemoryStore()
        self.state = SaveState()
        self.quota = SessionQuota()
        self.daily = daily if daily is not None else DailyCounter()
        self.conversation = conversation or Conversation()
        settings = Settings(api_key=VALID_KEY, base_url=fake.base_url, key_source=source,
                            operator_base_url=fake.base_url, provider="dashscope")
        self.engine = ChatEngine(
            self.conversation, QwenClient(settings, max_retries=0),
            Spending(limits or Limits(), self.quota, self.daily, operator_pays=source != SOURCE_SIDEBAR),
            Saver(self.store, "alice", self.state), options or TurnOptions("qwen-plus"))

    def send(self, text):
        return list(self.engine.send(text))

    def chat_requests(self):
        return [r for r in self.fake.requests if r["path"].endswith("/chat/completions")]


def test_a_turn_adds_the_question_streams_the_reply_and_saves_both(fake):
    s = Setup(fake)
    events = s.send("你好")
    assert [type(e) for e in (events[0], events[-1])] == [UserAdded, ReplyEnded]
    assert [m.content for m in s.conversation.messages] == ["你好", "收到：你好"]
    assert s.conversation.messages[-1].status == COMPLETE
    stored = s.store.load("alice", s.conversation.id)
    assert [m.content for m in stored.messages] == ["你好", "收到：你好"]
    assert s.quota.messages == 1 and s.quota.tokens == s.conversation.messages[-1].usage.total_tokens


def test_a_refused_message_sends_no_request_and_keeps_the_text(fake):
    s = Setup(fake, limits=Limits(max_messages_per_session=1))
    s.send("第一条")
    events = s.send("第二条")
    assert len(events) == 1 and isinstance(events[0], Refused)
    assert events[0].problem.kind == "messages" and events[0].text == "第二条"
    assert len(s.chat_requests()) == 1
    assert [m.content for m in s.conversation.messages] == ["第一条", "收到：第一条"]


def test_the_operator_key_always_sends_max_tokens(fake):
    s = Setup(fake, limits=Limits(max_output_tokens=700))
    s.send("hi")
    assert s.chat_requests()[-1]["body"]["max_tokens"] == 700


def test_a_visitors_own_key_pays_for_itself(fake):
    s = Setup(fake, limits=Limits(max_messages_per_session=1, daily_token_cap=10), source=SOURCE_SIDEBAR)
    s.send("one")
    s.send("two")
    assert len(s.chat_requests()) == 2
    assert "max_tokens" not in s.chat_requests()[-1]["body"]
    assert s.quota.messages == 0 and s.daily.used() == 0


def test_the_daily_cap_reserves_a_reply_in_flight(fake):
    """Two sessions on one server: while the first reply streams, its prompt and maximum output are
    reserved, so the second is refused instead of overshooting the cap."""
    daily = DailyCounter()
    limits = Limits(daily_token_cap=1_000, max_output_tokens=600)
    first, second = Setup(fake, limits=limits, daily=daily), Setup(fake, limits=limits, daily=daily)
    turn = first.engine.send("[[fake:slow:3]]")
    while not isinstance(next(turn), ReplyStarted):
        pass
    refused = second.send("hi")
    assert isinstance(refused[0], Refused) and refused[0].problem.kind == "daily_tokens"
    rest = list(turn)
    assert isinstance(rest[-1], ReplyEnded)
    assert daily.used() == first.conversation.messages[-1].usage.total_tokens < 1_000
    assert len(first.chat_requests()) == 1


def test_a_request_over_the_session_tokens_counts_the_real_prompt(fake):
    history = Conversation()
    for _i in range(30):
        history.add_user("长的历史消息" * 50)
        history.messages.append(Message("assistant", "回答" * 100))
    s = Setup(fake, limits=Limits(max_tokens_per_session=5_000, max_output_tokens=100), conversation=history)
    events = s.send("hi")
    assert isinstance(events[0], Refused) and events[0].problem.kind == "session_tokens"
    assert not s.chat_requests()


def test_a_message_over_the_context_budget_is_refused_before_any_request(fake):
    s = Setup(fake, options=TurnOptions("qwen-plus", budget=300))
    events = s.send("字" * 2_000)
    assert isinstance(events[0], Refused) and events[0].problem.kind == "over_budget"
    assert not s.chat_requests() and not s.conversation.messages


def test_trimming_leaves_out_old_turns_and_marks_where_the_context_starts(fake):
    history = Conversation()
    for i in range(20):
        history.add_user(f"问题{i} " + "很长" * 40)
        history.messages.append(Message("assistant", "回答" * 40))
    s = Setup(fake, options=TurnOptions("qwen-plus", budget=800), conversation=history)
    s.send("新问题")
    sent = s.chat_requests()[-1]["body"]["messages"]
    assert sent[0]["role"] == "system" and sent[-1]["content"] == "新问题"
    assert len(sent) < 42 and history.context_start


def test_a_farewell_closes_without_a_model_request(fake):
    s = Setup(fake)
    s.send("你好")
    events = s.send("好的我知道了，谢谢")
    assert isinstance(events[-1], Closed) and events[-1].farewell.status == FAREWELL
    assert s.conversation.closed and len(s.chat_requests()) == 1
    assert isinstance(s.send("还有一个问题")[0], Refused)


def test_the_farewell_follows_the_conversations_language_with_no_model_request(fake):
    english, chinese = Setup(fake), Setup(fake)
    english_end, chinese_end = english.send("Thanks a lot, bye!"), chinese.send("谢谢，再见！")
    assert isinstance(english_end[-1], Closed) and english_end[-1].farewell.content == "Thank you for chatting. Goodbye!"
    assert isinstance(chinese_end[-1], Closed) and chinese_end[-1].farewell.content == "感谢您的咨询，再见！"
    assert english.chat_requests() == [] and chinese.chat_requests() == []


def test_a_farewell_the_user_typed_wins_over_the_automatic_one(fake):
    s = Setup(fake, options=TurnOptions("qwen-plus", farewell="Bye for now!"))
    events = s.send("谢谢，再见！")
    assert isinstance(events[-1], Closed) and events[-1].farewell.content == "Bye for now!"
    assert s.chat_requests() == []


def test_the_judges_request_passes_the_limits_and_its_tokens_count(fake):
    s = Setup(fake, options=TurnOptions("qwen-plus", judge=True))
    fake.enqueue({"kind": "completion", "content": '{"end": false, "confidence": 0.9, "reason": "asks more"}'})
    s.send("ok")  # unsure for the rules: the judge is asked
    judged = [r for r in s.chat_requests() if r["body"].get("stream") is False]
    assert judged and s.conversation.messages[0].usage is not None
    assert s.quota.tokens == sum(m.usage.total_tokens for m in s.conversation.messages if m.usage)


def test_the_judge_is_not_asked_when_the_limits_are_used_up(fake):
    s = Setup(fake, limits=Limits(max_tokens_per_session=1), options=TurnOptions("qwen-plus", judge=True))
    events = s.send("ok")
    assert isinstance(events[0], Refused) and not s.chat_requests()


def test_stop_keeps_the_partial_reply_counts_it_and_saves_it(fake):
    s = Setup(fake)
    turn = s.engine.send("[[fake:slow:30]]")
    for event in turn:
        if type(event).__name__ == "ReplyProgress" and event.message.content:
            break
    turn.close()  # what Streamlit's Stop does to the loop painting the events
    reply = s.conversation.messages[-1]
    assert reply.status == STOPPED and reply.content and reply.usage.estimated
    assert s.quota.tokens == reply.usage.total_tokens and s.daily.used() == reply.usage.total_tokens
    assert s.store.load("alice", s.conversation.id).messages[-1].status == STOPPED


def test_a_failed_request_costs_nothing_and_keeps_the_question(fake):
    s = Setup(fake)
    s.send("[[fake:invalid_api_key]]")
    assert s.conversation.messages[-1].status == FAILED
    assert s.quota.tokens == 0 and s.daily.used() == 0
    assert s.quota.messages == 1  # a request was still sent


class BrokenStore(MemoryStore):
    broken = True

    def save_conversation(self, owner, conversation):
        if self.broken:
            raise OSError("disk I/O error")
        return super().save_conversation(owner, conversation)

    def save_message(self, owner, conversation_id, message):
        if self.broken:
            raise OSError("disk I/O error")
        return super().save_message(owner, conversation_id, message)


def test_a_store_that_is_away_never_breaks_the_turn_and_catches_up_later(fake):
    store = BrokenStore()
    s = Setup(fake, store=store)
    s.send("第一条")
    assert s.conversation.messages[-1].content == "收到：第一条"
    assert s.state.status == saving.UNAVAILABLE and s.state.pending
    store.broken = False
    s.send("第二条")
    assert s.state.status == saving.SAVED and not s.state.pending
    assert len(store.load("alice", s.conversation.id).messages) == 4


# --- regenerate, edit, retry: the same checks as a new message (issue 9 item 1) ---------------------------

def test_regenerate_sends_the_same_history_and_keeps_the_old_reply_as_a_sibling(fake):
    s = Setup(fake)
    s.send("你好")
    old = s.conversation.messages[-1]
    fake.enqueue({"kind": "text", "chunks": ["另一个回答"]})
    events = list(s.engine.regenerate(old.id))
    assert isinstance(events[0], ReplyStarted) and isinstance(events[-1], ReplyEnded)
    first, second = s.chat_requests()
    assert first["body"]["messages"] == second["body"]["messages"]
    assert [m.content for m in s.conversation.messages] == ["你好", "另一个回答"]
    assert [m.content for m in s.conversation.siblings(s.conversation.messages[-1].id)] == ["收到：你好", "另一个回答"]
    stored = s.store.load("alice", s.conversation.id)
    assert len(stored.all_messages()) == 3 and stored.messages[-1].content == "另一个回答"


def test_edit_sends_the_new_text_and_keeps_the_old_branch(fake):
    s = Setup(fake)
    s.send("第一问")
    s.send("第二问")
    second_question = s.conversation.messages[2]
    list(s.engine.edit(second_question.id, "改过的第二问"))
    sent = s.chat_requests()[-1]["body"]["messages"]
    assert [m["content"] for m in sent[1:]] == ["第一问", "收到：第一问", "改过的第二问"]
    assert [m.content for m in s.conversation.messages][-2:] == ["改过的第二问", "收到：改过的第二问"]
    assert len(s.conversation.siblings(s.conversation.messages[2].id)) == 2


def test_a_retry_of_a_failed_reply_passes_every_limit(fake):
    """An imported conversation ending in a failed reply gave a fresh Retry with no check at all."""
    history = Conversation()
    history.add_user("长问题" * 3_000)
    failed = history.start_reply("qwen-plus")
    failed.status, failed.error = FAILED, "rate_limit"
    s = Setup(fake, limits=Limits(max_tokens_per_session=2_000), conversation=history,
              options=TurnOptions("qwen-plus", budget=200_000))
    events = list(s.engine.regenerate(failed.id))
    assert len(events) == 1 and isinstance(events[0], Refused) and events[0].problem.kind == "session_tokens"
    assert not s.chat_requests()
    assert s.conversation.messages[-1] is failed  # nothing moved


def test_regenerate_counts_against_the_message_limit(fake):
    s = Setup(fake, limits=Limits(max_messages_per_session=1))
    s.send("hi")
    events = list(s.engine.regenerate(s.conversation.messages[-1].id))
    assert isinstance(events[0], Refused) and events[0].problem.kind == "messages"
    assert len(s.chat_requests()) == 1


def test_an_edit_over_the_length_limit_is_refused_and_changes_nothing(fake):
    s = Setup(fake, limits=Limits(max_chars_per_message=10))
    s.send("短")
    before = [m.id for m in s.conversation.messages]
    events = list(s.engine.edit(s.conversation.messages[0].id, "长" * 11))
    assert isinstance(events[0], Refused) and events[0].text == "长" * 11
    assert [m.id for m in s.conversation.messages] == before and len(s.chat_requests()) == 1


def test_the_users_parameters_are_sent_within_the_apps_caps(fake):
    s = Setup(fake, limits=Limits(max_output_tokens=500),
              options=TurnOptions("qwen-plus", params={"temperature": 0.2, "seed": 7, "max_tokens": 9_000}))
    s.send("hi")
    body = s.chat_requests()[-1]["body"]
    assert body["temperature"] == 0.2 and body["seed"] == 7 and body["max_tokens"] == 500


def test_thinking_on_the_operators_key_sends_a_thinking_budget_and_reserves_it(fake):
    daily = DailyCounter()
    s = Setup(fake, limits=Limits(max_output_tokens=300, daily_token_cap=10_000), daily=daily,
              options=TurnOptions("qwen-plus", thinking=True))
    turn = s.engine.send("[[fake:think]]")
    while not isinstance(next(turn), ReplyStarted):
        pass
    assert daily.used() >= 600  # the prompt, the answer's cap and the thinking budget are all set aside
    list(turn)
    body = s.chat_requests()[-1]["body"]
    assert body["max_tokens"] == 300 and body["thinking_budget"] == 300 and body["enable_thinking"] is True


def test_two_tabs_on_one_conversation_keep_both_sides_and_say_so(fake):
    """Issue 9 item 9: a save from a tab that did not see the other's messages deletes nothing."""
    store = MemoryStore()
    first = Setup(fake, store=store)
    first.send("第一个标签页")
    copy = store.load("alice", first.conversation.id)
    second = Setup(fake, store=store, conversation=copy)
    first.send("A 的问题")
    second.send("B 的问题")
    assert second.state.status == saving.CONFLICT
    texts = {m.content for m in second.conversation.all_messages()}
    assert {"A 的问题", "收到：A 的问题", "B 的问题", "收到：B 的问题"} <= texts
    assert second.conversation.messages[-1].content == "收到：B 的问题"  # this tab still sees its own branch
    stored = store.load("alice", first.conversation.id)
    assert {"A 的问题", "B 的问题"} <= {m.content for m in stored.all_messages()}


def test_a_conversation_deleted_in_another_tab_stays_deleted_and_the_reply_is_kept(fake):
    """Issue 9 item 11: deleting during a reply neither crashes the replying tab nor brings it back."""
    s = Setup(fake)
    s.send("你好")
    turn = s.engine.send("[[fake:slow:5]]")
    while not isinstance(next(turn), ReplyStarted):
        pass
    s.store.delete("alice", s.conversation.id)
    events = list(turn)
    assert isinstance(events[-1], ReplyEnded) and events[-1].message.content
    assert s.state.status == saving.DELETED
    assert s.store.load("alice", s.conversation.id) is None


def test_a_persona_switch_applies_from_the_next_turn_and_is_marked_where_it_starts(fake):
    s = Setup(fake, options=TurnOptions("qwen-plus", persona_name="营养师"))
    s.send("你好")
    assert not s.conversation.messages[0].parts  # the default prompt: nothing to mark
    s.conversation.system_prompt = "你是一名注册营养师。"
    s.send("早餐吃什么")
    s.send("午餐呢")
    marked = [m for m in s.conversation.messages if m.parts]
    assert [m.content for m in marked] == ["早餐吃什么"]
    assert marked[0].parts[0].type == "persona" and marked[0].parts[0].text == "营养师"
    first, second, _ = s.chat_requests()
    assert second["body"]["messages"][0]["content"] == "你是一名注册营养师。" != first["body"]["messages"][0]["content"]


# --- what the security review found (December 2026) --------------------------------------------------------

def test_an_edit_stopped_while_the_history_is_painted_gives_its_reservation_back(fake):
    daily = DailyCounter()
    s = Setup(fake, limits=Limits(daily_token_cap=20_000), daily=daily)
    s.send("你好")
    spent = daily.used()
    for _ in range(4):
        turn = s.engine.edit(s.conversation.messages[0].id, "换个问法")
        next(turn)  # UserAdded: the chat view paints the history now, and a Stop lands here
        turn.close()
    assert daily.used() == spent and len(s.chat_requests()) == 1


def test_a_stop_before_the_first_token_still_counts_the_prompt(fake):
    s = Setup(fake)
    turn = s.engine.send("[[fake:timeout:3]]")  # the server answers only after 3 s
    for event in turn:
        if type(event).__name__ in ("Waiting", "ReplyProgress"):  # a heartbeat while the server is silent
            break
    turn.close()
    reply = s.conversation.messages[-1]
    assert reply.status == STOPPED and not reply.content
    assert reply.usage.estimated and reply.usage.prompt_tokens > 0
    assert s.quota.tokens == reply.usage.total_tokens == s.daily.used()


def test_an_output_cap_of_zero_still_sends_and_reserves_the_models_maximum(fake):
    daily = DailyCounter()
    s = Setup(fake, limits=Limits(max_output_tokens=0, daily_token_cap=10_000), daily=daily)
    refused = s.send("hi")  # qwen-plus may write 32,768 tokens: more than the cap allows
    assert isinstance(refused[0], Refused) and refused[0].problem.kind == "daily_tokens"
    s = Setup(fake, limits=Limits(max_output_tokens=0), options=TurnOptions("qwen-max"))
    s.send("hi")
    assert s.chat_requests()[-1]["body"]["max_tokens"] == 8_192


def test_a_model_that_always_thinks_gets_a_thinking_budget_even_with_the_switch_off(fake):
    s = Setup(fake, limits=Limits(max_output_tokens=100), options=TurnOptions("qwq-plus", thinking=False))
    s.send("hi")
    assert s.chat_requests()[-1]["body"]["thinking_budget"] == 100


def test_actions_on_the_wrong_kind_of_message_send_nothing(fake):
    s = Setup(fake)
    s.send("你好")
    question, reply = s.conversation.messages
    assert isinstance(next(s.engine.regenerate(question.id)), Refused)
    assert isinstance(next(s.engine.edit(reply.id, "x")), Refused)
    assert isinstance(next(s.engine.regenerate("no-such-id")), Refused)
    s.send("好的我知道了，谢谢")
    farewell = s.conversation.messages[-1]
    assert isinstance(next(s.engine.regenerate(farewell.id)), Refused)
    assert len(s.chat_requests()) == 1


def test_an_earlier_question_of_a_closed_conversation_can_be_edited(fake):
    s = Setup(fake)
    s.send("问题")
    s.send("好的我知道了，谢谢")
    assert s.conversation.closed
    events = list(s.engine.edit(s.conversation.messages[0].id, "换个问题"))
    assert isinstance(events[-1], ReplyEnded) and not s.conversation.closed
    assert [m.content for m in s.conversation.messages] == ["换个问题", "收到：换个问题"]


def test_the_chats_totals_count_regenerated_replies_as_the_quota_does(fake):
    """Reviewer, December 2026: "This chat" showed 84 tokens where the quota and the export had 336."""
    from qwenchat import accounting

    s = Setup(fake)
    s.send("hello there")
    for _ in range(3):
        list(s.engine.regenerate(s.conversation.messages[-1].id))
    assert len(s.conversation.siblings(s.conversation.messages[-1].id)) == 4
    totals = accounting.totals(s.conversation)
    assert totals.usage.total_tokens == s.conversation.total_usage().total_tokens == s.quota.tokens
    assert totals.usage.total_tokens == 4 * s.conversation.messages[-1].usage.total_tokens
    assert totals.calls == 4 and totals.cost.priced == 4


def test_a_regenerate_with_a_new_persona_marks_it_on_the_new_reply_and_not_again(fake):
    """Reviewer, December 2026: the regenerated reply used the new prompt with no note; the next message got it."""
    s = Setup(fake, options=TurnOptions("qwen-plus", persona_name="海盗"))
    s.send("hello")
    old = s.conversation.messages[-1]
    s.conversation.system_prompt = "You are a pirate."
    list(s.engine.regenerate(old.id))
    assert s.chat_requests()[-1]["body"]["messages"][0]["content"] == "You are a pirate."
    question, new = s.conversation.messages
    marked = [(m.id, p.text, p.data["prompt"]) for m in s.conversation.messages for p in m.parts if p.type == "persona"]
    assert marked == [(new.id, "海盗", "You are a pirate.")]  # the note shows above the reply that used it
    assert not question.parts and not old.parts  # the old reply's branch was not sent with it
    assert s.conversation.system_prompt_in_use() == "You are a pirate."
    s.send("and now?")
    assert [m for m in s.conversation.messages if m.parts] == [new]  # marked once, where it started
    stored = s.store.load("alice", s.conversation.id)
    assert [p.type for p in stored.find(new.id).parts] == ["persona"]


def test_a_pair_deleted_while_the_store_is_away_stays_deleted_once_it_is_back():
    # The third review: a delete that failed once came back on the next load, though the next save worked.
    class Flaky(MemoryStore):
        fail_next_delete = True

        def delete_messages(self, owner, conversation_id, ids):
            if self.fail_next_delete:
                self.fail_next_delete = False
                raise OSError("disk gone")
            return super().delete_messages(owner, conversation_id, ids)

    store, state = Flaky(), SaveState()
    saver = Saver(store, "alice", state)
    c = Conversation(system_prompt="")
    for text in ("keep", "delete me", "later"):
        c.add_user(text)
        c.start_reply("qwen-plus").content = f"re {text}"
    saver.save(c)
    saver.delete_messages(c, c.delete_pair(c.messages[2].id))
    assert state.pending  # the store said no: remembered
    saver.save(c)
    stored = [m.content for m in store.load("alice", c.id).all_messages()]
    assert stored == ["keep", "re keep", "later", "re later"] and not state.pending
