"""One whole turn of the chat, from the user's text to a saved reply, as a stream of typed events.

    engine = ChatEngine(conversation, provider, spending, saver, options)
    for event in engine.send(text): ...          # a new message
    for event in engine.regenerate(reply_id): ...  # the same question again (a retry is one too)
    for event in engine.edit(message_id, text): ...  # an earlier question changed, answered anew

Each of them runs the same steps, so no request escapes a rule: clean and check the text; build the
request the model will really get (trimmed to the context budget once; that count serves the quota
check, the request and the sidebar); reserve its prompt plus its maximum output against the limits of
whoever pays; then, for a new message, the end-of-conversation verdict (the judge's request passes the
same limits); then the streamed reply, recorded into the conversation as it arrives, saved at most once
a second, counted and settled when it ends, however it ends.

Nothing here imports Streamlit: the store, the provider, the limits and the clock come in as arguments.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from qwenchat import errors, sanitize, turns
from qwenchat import judge as judge_module
from qwenchat.budget import Trimmed, fit_to_budget
from qwenchat.catalog import THINKING_ALWAYS, lookup
from qwenchat.chat.events import (
    Closed,
    Judged,
    Refused,
    ReplyEnded,
    ReplyProgress,
    ReplyStarted,
    TurnEvent,
    UserAdded,
    Waiting,
)
from qwenchat.chat.retrieval import Grounding, attach
from qwenchat.chat.saving import Saver
from qwenchat.chat.spending import Hold, Spending
from qwenchat.conversation import FAREWELL, STOPPED, Conversation, Message, Part, Usage
from qwenchat.ending import Verdict, detect
from qwenchat.errors import OVER_BUDGET
from qwenchat.i18n import farewell_for
from qwenchat.providers import GenerationParams
from qwenchat.quotas import QuotaProblem
from qwenchat.reply import ReplyRecorder, estimated_usage
from qwenchat.tokens import count_prompt


@dataclass(frozen=True)
class TurnOptions:
    """What the user chose for this turn (the sidebar, or the console's flags)."""

    model: str
    thinking: bool = False
    budget: int = 32_000
    judge: bool = False
    farewell: str = ""  # "" = automatic: 感谢您的咨询，再见！ or its English, in the conversation's language
    lang: str = "zh"  # the UI language: the farewell's when the conversation has too few words to tell
    params: dict[str, Any] = field(default_factory=dict)  # what the user changed (see qwenchat.params)
    persona_name: str = ""  # the chosen persona's name, recorded where its prompt is first used


@dataclass
class ChatEngine:
    conversation: Conversation
    provider: Any  # a qwenchat provider: stream_chat(...) -> events, complete(...) for the judge
    spending: Spending
    saver: Saver
    options: TurnOptions
    clock: Callable[[], float] = time.monotonic
    # Seconds between two `ReplyProgress` events; the chat view lengthens it as the reply grows.
    pace: Callable[[], float] = field(default=lambda: 0.05)
    verdicts: list[Verdict] = field(default_factory=list)
    # The conversation's knowledge base (qwenchat.chat.retrieval.Retrieval), None to answer without one.
    retrieval: Any = None

    # ---- the three ways a turn starts ----------------------------------------------------------------

    def send(self, raw_text: str) -> Iterator[TurnEvent]:
        text = sanitize.clean_user_text(raw_text)
        problem = self._text_problem(text)
        if problem:
            yield Refused(problem, text)
            return
        history = self.conversation.history_dicts()
        request = [*self.conversation.api_messages(), {"role": "user", "content": text}]
        grounding, trimmed, hold = self._prepare(request, text)
        if isinstance(hold, turns.Problem):
            yield Refused(hold, text)
            return
        try:
            user_message = self.conversation.add_user(text)
            self._mark_persona(user_message)
            self.saver.save(self.conversation)
            yield UserAdded(user_message)
            verdict = self._verdict(text, history, user_message)
            yield Judged(verdict)
            if verdict.is_end:
                self.spending.settle(hold, 0)
                farewell = self.conversation.close_with(
                    self.options.farewell or farewell_for([*history, {"role": "user", "content": text}],
                                                          self.options.lang))
                self.saver.save(self.conversation)
                yield Closed(farewell)
                return
        except BaseException:
            self.spending.settle(hold, 0)
            raise
        yield from attach(self._reply(trimmed, hold), grounding)

    def regenerate(self, reply_id: str) -> Iterator[TurnEvent]:
        """Answer the same question again; the old reply stays as a sibling ("1/2")."""
        conversation = self.conversation
        target = conversation.find(reply_id)
        if target is None or target.role != "assistant" or target.status == FAREWELL or conversation.closed:
            yield Refused(turns.Problem("stale", "turn.stale"))
            return
        leaf = conversation.messages[-1].id if conversation.messages else ""
        conversation.regenerate_point(reply_id)
        question = conversation.last_user_message()
        grounding, trimmed, hold = self._prepare(conversation.api_messages(), question.content if question else "")
        if isinstance(hold, turns.Problem):
            if leaf:
                conversation.switch_to(leaf)
            yield Refused(hold)
            return
        yield from attach(self._reply(trimmed, hold), grounding)

    def edit(self, message_id: str, raw_text: str) -> Iterator[TurnEvent]:
        """Ask an earlier question differently: the new one and its reply become a branch of their own (in a
        closed conversation too: the new branch has no farewell)."""
        text = sanitize.clean_user_text(raw_text)
        problem = turns.check_message(text) or self.spending.check_text(text)
        if problem:
            yield Refused(problem, text)
            return
        conversation = self.conversation
        target = conversation.find(message_id)
        if target is None or target.role != "user":
            yield Refused(turns.Problem("stale", "turn.stale"), text)
            return
        leaf = conversation.messages[-1].id if conversation.messages else ""
        conversation.branch_from(message_id)
        grounding, trimmed, hold = self._prepare([*conversation.api_messages(), {"role": "user", "content": text}],
                                                 text)
        if isinstance(hold, turns.Problem):
            if leaf:
                conversation.switch_to(leaf)
            yield Refused(hold, text)
            return
        try:
            conversation.closed = False
            user_message = conversation.add_user(text)
            self._mark_persona(user_message)
            self.saver.save(conversation)
            yield UserAdded(user_message)
        except BaseException:  # a Stop while the history is painted: the reservation must not stay taken
            self.spending.settle(hold, 0)
            raise
        yield from attach(self._reply(trimmed, hold), grounding)

    # ---- the steps ---------------------------------------------------------------------------------------

    def _mark_persona(self, user_message: Message) -> None:
        """When the system prompt changed since the last turn (a persona was chosen, or the prompt edited),
        the first message sent with the new one carries a `persona` part: the switch shows in the chat."""
        conversation = self.conversation
        if conversation.system_prompt != conversation.system_prompt_in_use():
            user_message.parts.append(Part("persona", self.options.persona_name,
                                           {"prompt": conversation.system_prompt}))

    def _text_problem(self, text: str) -> turns.Problem | None:
        if self.conversation.closed:
            return turns.Problem("closed", "turn.closed")
        return turns.check_message(text) or self.spending.check_text(text)

    @property
    def thinking(self) -> bool:
        """Whether the reply may think: the user's switch, or always for a model that cannot stop."""
        return self.options.thinking or lookup(self.options.model).thinking == THINKING_ALWAYS

    def generation(self) -> GenerationParams:
        """What the request asks for: the user's parameters within the app's caps. On the operator's key
        `max_tokens` is always set, and so is `thinking_budget` while thinking, so a reply's cost is bounded."""
        wanted = self.options.params or {}
        model_max = lookup(self.options.model).max_output
        max_output = self.spending.max_output(model_max, wanted.get("max_tokens"))
        thinking_budget = None
        if self.thinking:
            thinking_budget = self.spending.max_output(model_max, wanted.get("thinking_budget"))
        return GenerationParams(temperature=wanted.get("temperature"), top_p=wanted.get("top_p"),
                                max_tokens=max_output, seed=wanted.get("seed"),
                                presence_penalty=wanted.get("presence_penalty"), thinking_budget=thinking_budget)

    def _prepare(self, request: list[dict], question: str) -> tuple[Grounding | None, Trimmed,
                                                                       Hold | turns.Problem]:
        """The knowledge-base step, then `_admit`. With a knowledge base chosen, the passages for `question`
        go into the request (see qwenchat.chat.retrieval) before it is trimmed and reserved; a problem of
        that step stops the turn like a limit does. Without one, this is `_admit` alone."""
        grounding = None
        if self.retrieval is not None:
            history = [m for m in request[:-1] if m.get("role") != "system"]
            found = self.retrieval.ground(request, question, history)
            if isinstance(found, turns.Problem):
                return None, fit_to_budget([], self.options.model, self.options.budget), found
            grounding, request = found, found.request
        trimmed, hold = self._admit(request)
        return grounding, trimmed, hold

    def _admit(self, request: list[dict]) -> tuple[Trimmed, Hold | turns.Problem]:
        """The request as it will be sent, and the limits' answer to it."""
        trimmed = fit_to_budget(request, self.options.model, self.options.budget)
        if trimmed.too_large:
            return trimmed, turns.Problem(OVER_BUDGET, "turn.over_budget",
                                          {"prompt_tokens": trimmed.prompt_tokens, "budget": self.options.budget})
        generation = self.generation()
        # A thinking model may also think up to its budget before writing: reserve that too.
        reserve_output = (generation.max_tokens or 0) + (generation.thinking_budget or 0)
        return trimmed, self.spending.reserve(trimmed.prompt_tokens, reserve_output)

    def _verdict(self, text: str, history: list[dict], user_message: Message) -> Verdict:
        """The rules' verdict; the judge's when the rules are unsure, the judge is on, and its request passes
        the limits. The judge's tokens are counted on the message it judged."""
        verdict = detect(text, history)
        if not verdict.confident and self.options.judge:
            judge_prompt = count_prompt(judge_module.messages(text, history), judge_module.JUDGE_MODEL)
            hold = self.spending.reserve(judge_prompt, judge_module.MAX_TOKENS, counts_as_message=False)
            if not isinstance(hold, QuotaProblem):
                try:
                    verdict = judge_module.decide(text, history, provider=self.provider, judge_enabled=True)
                finally:
                    used = verdict.usage.prompt_tokens + verdict.usage.completion_tokens if verdict.usage else 0
                    self.spending.settle(hold, used)
                if verdict.usage:
                    user_message.usage = Usage(verdict.usage.prompt_tokens, verdict.usage.completion_tokens,
                                               verdict.usage.prompt_tokens + verdict.usage.completion_tokens)
        self.verdicts.append(verdict)
        return verdict

    def _reply(self, trimmed: Trimmed, hold: Hold) -> Iterator[TurnEvent]:
        conversation, options = self.conversation, self.options
        message = conversation.start_reply(options.model)
        conversation.mark_context_start(trimmed.dropped)
        recorder = ReplyRecorder(message)
        events = None
        sent = False
        try:
            yield ReplyStarted(message)
            events = self.provider.stream_chat(trimmed.messages, **self._request_options())
            last = self.clock()
            sent = True  # from here the request is on its way: a stop still costs its prompt
            for event in events:
                recorder.feed(event)
                now = self.clock()
                if recorder.done or now - last >= self.pace():
                    recorder.flush()
                    self.saver.save_message(conversation, message)
                    yield ReplyProgress(message)
                    last = now
                elif type(event).__name__ == "Heartbeat":
                    yield Waiting()
        finally:
            if events is not None:
                events.close()
            recorder.finish()
            if message.usage is None and (message.content or message.reasoning):
                message.usage = estimated_usage(trimmed.messages, message)
            elif message.usage is None and sent and (message.status == STOPPED or message.error in BILLED_FAILURES):
                # Nothing came back, but the server may have read (and billed) the prompt: count it.
                message.usage = Usage(trimmed.prompt_tokens, 0, trimmed.prompt_tokens, estimated=True)
            self.spending.settle(hold, message.usage.total_tokens if message.usage else 0)
            self.saver.save_message(conversation, message, force=True)
            self.saver.save(conversation)
        yield ReplyEnded(message)

    def _request_options(self) -> dict[str, Any]:
        return {"model": self.options.model, "thinking": self.thinking, "params": self.generation()}


# Failures after the request reached the server: its prompt may be billed. (An HTTP error status is not.)
BILLED_FAILURES = (errors.TIMEOUT, errors.DEADLINE, errors.INTERRUPTED)
