"""One whole turn of the chat, from the user's text to a saved reply, as a stream of typed events.

    engine = ChatEngine(conversation, provider, spending, saver, options)
    for event in engine.send(text): ...          # a new message
    for event in engine.send(text, attachments=[prepared_image, ...]): ...  # with images (qwenchat.images)
    for event in engine.regenerate(reply_id): ...  # the same question again (a retry is one too)
    for event in engine.edit(message_id, text): ...  # an earlier question changed, answered anew

Each of them runs the same steps, so no request escapes a rule: clean and check the text; build the
request the model will really get (trimmed to the context budget once; that count serves the quota
check, the request and the sidebar); reserve its prompt plus its maximum output against the limits of
whoever pays; then, for a new message, the end-of-conversation verdict (the judge's request passes the
same limits); then the streamed reply, recorded into the conversation as it arrives, saved at most once
a second, counted and settled when it ends, however it ends.

Documents (qwenchat.documents): `send` takes prepared documents among its attachments; each becomes a `file`
part with its text, which the request carries before the question (this turn and later ones). A message
whose documents do not fit the context budget is refused with their tokens, the prompt's and the budget.

Images: a message with images needs a model that sees; otherwise the turn is refused with the vision model
to offer (`image.model_blind`), or, with `auto_vision`, that model answers this turn. Images count against
the conversation's image cap and, by their size, in the budget and the reservation like text; only those
the budget keeps are loaded and sent. A model that cannot see gets "[image]" in place of older images.

With tools on, the reply is a loop of rounds: when the model asks for tool calls, each runs (a timeout and
an output cap each, see `qwenchat.tools.runner`), its call and result are saved as parts of the reply, and
the next request carries the assistant's `tool_calls` and one `tool` message per call. Each round is a
request like the first: it reserves its real prompt plus its maximum output before it is sent and settles
what it used, so every round counts in the totals, the quotas and the cost. At most `max_rounds` requests
per turn; then the turn ends with a notice. The knowledge base's `search_knowledge_base` tool adds the
passages it returned to the reply as `citation` parts (numbered on across its searches in the turn) and
replaces the automatic grounding step while it is offered. A model the catalog marks as without function calling gets no
tools; a server that answers 400 to a request with tools is asked once more without them. It is taken to
refuse tools (not offered them again this session, with a notice) when its error names tools or when the
request without them is answered; when that fails too, its error is the turn's and nothing is remembered
(a 400 for the user's own temperature is not a refusal of tools). Only the first round of a turn can be such
a refusal: a later one follows a round the server took tools in. When the refused tools included the
knowledge base's search, the request without them is grounded by the automatic step first (its calls and
the new request pass the limits; the message still counts once), so the answer still comes from the
documents, with citations.

Nothing here imports Streamlit: the store, the provider, the limits and the clock come in as arguments.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Generator, Iterator, Sequence

from qwenchat import documents, errors, images, sanitize, turns
from qwenchat import judge as judge_module
from qwenchat.budget import Trimmed, fit_to_budget
from qwenchat.catalog import THINKING_ALWAYS, VISION_MODEL, lookup
from qwenchat.chat.events import (
    Closed,
    Judged,
    Noticed,
    Refused,
    ReplyEnded,
    ReplyProgress,
    ReplyStarted,
    ToolFinished,
    ToolStarted,
    TurnEvent,
    UserAdded,
    Waiting,
)
from qwenchat.chat.retrieval import Grounding, attach
from qwenchat.chat.saving import Saver
from qwenchat.chat.spending import Hold, Spending
from qwenchat.conversation import COMPLETE, FAILED, FAREWELL, STOPPED, Conversation, Message, Part, Usage
from qwenchat.ending import Verdict, detect
from qwenchat.errors import OVER_BUDGET
from qwenchat.i18n import farewell_for
from qwenchat.providers import GenerationParams, ToolCall, ToolCallsReady
from qwenchat.quotas import QuotaProblem
from qwenchat.reply import ReplyRecorder
from qwenchat.tokens import count_completion, count_prompt, count_tools
from qwenchat.tools import ToolContext, registry, runner, steps
from qwenchat.tools.runner import ToolLimits


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
    vision_model: str = VISION_MODEL  # offered when the model cannot see the message's images
    auto_vision: bool = False  # True: that model answers such a turn without asking (QWENCHAT_AUTO_VISION)
    tools: tuple[str, ...] = ()  # the tools the model may call (names in qwenchat.tools.registry)
    tool_limits: ToolLimits = field(default_factory=ToolLimits)
    tool_context: ToolContext = field(default_factory=ToolContext)
    # Servers and models that refused tools earlier in this session ("url|model"; see `_reply`):
    # they are not offered tools again, so a server without function calling costs one refused request,
    # not one per turn. Shared and filled by the engine (the session's set).
    tools_refused: set[str] = field(default_factory=set, compare=False)


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
    _attached: dict[str, images.PreparedImage] = field(default_factory=dict, init=False, repr=False)
    _tools: dict[str, registry.Tool] | None = field(default=None, init=False, repr=False)
    _unground: tuple[list[dict], str] = field(default=([], ""), init=False, repr=False)  # (request, question)
    # The conversation's knowledge base (qwenchat.chat.retrieval.Retrieval), None to answer without one.
    retrieval: Any = None

    # ---- the three ways a turn starts ----------------------------------------------------------------

    def send(self, raw_text: str,
             attachments: Sequence[images.PreparedImage | documents.PreparedDocument] = ()) -> Iterator[TurnEvent]:
        text = sanitize.clean_user_text(raw_text)
        files = [a for a in attachments if isinstance(a, documents.PreparedDocument)]
        attachments = [a for a in attachments if isinstance(a, images.PreparedImage)]
        problem = self._text_problem(text, with_images=bool(attachments or files)) \
            or self._image_problem(attachments)
        if problem:
            yield Refused(problem, text)
            return
        history = self.conversation.history_dicts()
        self._attached = {image.id: image for image in attachments}
        pictures = [image.part() for image in attachments] + [document.part() for document in files]
        request = [*self.conversation.api_messages(self.sees),
                   Message("user", text, parts=pictures).api_entry(self.sees)]
        grounding, trimmed, hold = self._prepare(request, text)
        if isinstance(hold, turns.Problem):
            yield Refused(self._documents_problem(hold, files), text)
            return
        try:
            user_message = self.conversation.add_user(text)
            user_message.parts.extend(pictures)
            self._mark_persona(user_message)
            self.saver.save_images(attachments)
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

    def _documents_problem(self, problem: turns.Problem,
                           files: Sequence[documents.PreparedDocument]) -> turns.Problem:
        """A message with documents that does not fit the context budget: the refusal says what they cost."""
        if not files or problem.kind != OVER_BUDGET:
            return problem
        return turns.Problem(OVER_BUDGET, "doc.over_budget", {
            "names": [f.name for f in files], "tokens": sum(f.tokens for f in files),
            "prompt_tokens": problem.params.get("prompt_tokens", 0), "budget": self.options.budget})

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
        grounding, trimmed, hold = self._prepare(conversation.api_messages(self.sees),
                                                 question.content if question else "")
        if isinstance(hold, turns.Problem):
            if leaf:
                conversation.switch_to(leaf)
            yield Refused(hold)
            return
        yield from attach(self._reply(trimmed, hold, mark_persona=True), grounding)

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
        pictures = [replace(p, data=dict(p.data)) for p in target.parts  # the question keeps its images and
                    if p.type in ("image", "file")]                       # documents
        grounding, trimmed, hold = self._prepare([*conversation.api_messages(self.sees),
                                                  Message("user", text, parts=pictures).api_entry(self.sees)], text)
        if isinstance(hold, turns.Problem):
            if leaf:
                conversation.switch_to(leaf)
            yield Refused(hold, text)
            return
        try:
            conversation.closed = False
            user_message = conversation.add_user(text)
            user_message.parts.extend(pictures)
            self._mark_persona(user_message)
            self.saver.save(conversation)
            yield UserAdded(user_message)
        except BaseException:  # a Stop while the history is painted: the reservation must not stay taken
            self.spending.settle(hold, 0)
            raise
        yield from attach(self._reply(trimmed, hold), grounding)

    # ---- the steps ---------------------------------------------------------------------------------------

    def _mark_persona(self, message: Message) -> None:
        """When the system prompt changed since the last turn (a persona was chosen, or the prompt edited),
        the first message sent with the new one carries a `persona` part: the switch shows in the chat. That
        is the new question, or for a regenerate the new reply (the question is shared with the older
        versions, which were sent with the prompt before)."""
        conversation = self.conversation
        if conversation.system_prompt != conversation.system_prompt_in_use():
            message.parts.append(Part("persona", self.options.persona_name, {"prompt": conversation.system_prompt}))

    def _text_problem(self, text: str, with_images: bool = False) -> turns.Problem | None:
        if self.conversation.closed:
            return turns.Problem("closed", "turn.closed")
        problem = turns.check_message(text)
        if problem and problem.kind == "empty" and with_images:  # a picture alone is a question too
            problem = None
        return problem or self.spending.check_text(text)

    def _image_problem(self, attachments: Sequence[images.PreparedImage]) -> turns.Problem | None:
        """The conversation's image cap, then a model that can see (or, with `auto_vision`, the switch to one
        for this turn)."""
        if not attachments:
            return None
        cap = self.spending.limits.max_image_bytes_per_conversation
        known = {p.data.get("id") for m in self.conversation.all_messages() for p in m.images}
        adding = sum({i.id: i.size for i in attachments if i.id not in known}.values())
        if cap and self.conversation.image_bytes() + adding > cap:
            return turns.Problem("images_full", "image.conversation_full",
                                 {"used": images.megabytes(self.conversation.image_bytes()),
                                  "adding": images.megabytes(adding), "limit": images.megabytes(cap)})
        if not self.sees:
            vision = self.options.vision_model or VISION_MODEL
            if not self.options.auto_vision:
                return turns.Problem("blind", "image.model_blind", {"model": self.options.model, "vision": vision})
            self.options = replace(self.options, model=vision)
        return None

    @property
    def sees(self) -> bool:
        """Whether the model of this turn takes images."""
        return lookup(self.options.model).vision

    def _image_bytes(self, image_id: str) -> bytes | None:
        attached = self._attached.get(image_id)
        return attached.data if attached is not None else self.saver.image(image_id)

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
        self._unground = (request, question)  # for a retry without tools (`_grounded_retry`)
        if self.retrieval is not None and not self.searches_itself:
            history = [m for m in request[:-1] if m.get("role") != "system"]
            found = self.retrieval.ground(request, question, history)
            if isinstance(found, turns.Problem):
                return None, fit_to_budget([], self.options.model, self.options.budget), found
            grounding, request = found, found.request
        trimmed, hold = self._admit(request)
        return grounding, trimmed, hold

    @property
    def searches_itself(self) -> bool:
        """With the `search_knowledge_base` tool offered, the model looks things up when it decides to: the
        automatic grounding step is skipped (otherwise, e.g. for a model without function calling, it runs)."""
        return "search_knowledge_base" in self.tools

    def _admit(self, request: list[dict], *, counts_as_message: bool = True) -> tuple[Trimmed, Hold | turns.Problem]:
        """The request as it will be sent (the tools' schemas count in its prompt), and the limits' answer."""
        schema_tokens = count_tools(self.schemas, self.options.model)
        trimmed = fit_to_budget(request, self.options.model, max(0, self.options.budget - schema_tokens))
        trimmed = replace(trimmed, prompt_tokens=trimmed.prompt_tokens + schema_tokens)
        if self.sees:  # the images the budget kept, loaded now (only these): the request as it is sent
            trimmed = replace(trimmed, messages=images.resolve(trimmed.messages, self._image_bytes))
        if trimmed.too_large:
            return trimmed, turns.Problem(OVER_BUDGET, "turn.over_budget",
                                          {"prompt_tokens": trimmed.prompt_tokens, "budget": self.options.budget})
        return trimmed, self.spending.reserve(trimmed.prompt_tokens, self._reserve_output(),
                                              counts_as_message=counts_as_message)

    def _reserve_output(self) -> int:
        generation = self.generation()
        # A thinking model may also think up to its budget before writing: reserve that too.
        return (generation.max_tokens or 0) + (generation.thinking_budget or 0)

    # ---- tools ---------------------------------------------------------------------------------------------

    @property
    def tools(self) -> dict[str, registry.Tool]:
        """The tools offered this turn: none for a model without function calling, or once a server refused
        them."""
        if self._tools is None:
            names = self.options.tools
            self._tools = registry.chosen(names, self.options.tool_context) \
                if names and lookup(self.options.model).tools and self._refusal_key() not in self.options.tools_refused \
                else {}
        return self._tools

    def _refusal_key(self) -> str:
        settings = getattr(self.provider, "settings", None)
        return f"{getattr(settings, 'base_url', '')}|{self.options.model}"

    @property
    def schemas(self) -> list[dict[str, Any]]:
        return [tool.schema() for tool in self.tools.values()]

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

    def _reply(self, trimmed: Trimmed, hold: Hold, *, mark_persona: bool = False) -> Iterator[TurnEvent]:
        conversation, options = self.conversation, self.options
        message = conversation.start_reply(options.model)
        if mark_persona:  # a regenerate: no new question to carry the persona note
            self._mark_persona(message)
        conversation.mark_context_start(trimmed.dropped)
        recorder = ReplyRecorder(message)
        turn = _Round(trimmed.messages, trimmed.prompt_tokens, hold)
        unsure = False  # tools were dropped after a 400 that did not say why: a refusal only if the retry works
        try:
            yield ReplyStarted(message)
            number = 1
            while True:
                calls = yield from self._stream_round(message, recorder, turn, may_refuse=number == 1)
                if number == 1 and self._tools_refused(recorder, turn):  # (a later round: the server took them)
                    searched = self.searches_itself
                    self._tools = {}
                    unsure = not recorder.error.names_tools
                    retry: _Round | turns.Problem = _Round(
                        turn.request, turn.prompt_tokens - count_tools(turn.schemas, options.model), turn.hold)
                    if searched and self.retrieval is not None:
                        # the knowledge base was to be searched by the tool: without it, the automatic step
                        retry = self._grounded_retry(message, turn)
                    if not unsure:  # the server said it takes no tools
                        yield self._remember_refusal(message)
                    if isinstance(retry, turns.Problem):  # the turn ends with round 1's error and why
                        message.parts.append(steps.notice("tools.note.ungrounded", reason=retry.id,
                                                          **dict(retry.params)))
                        yield Noticed(message, message.parts[-1])
                        break
                    recorder.begin_round()
                    turn = retry
                    continue
                if unsure:
                    # The request without tools was answered: the 400 was about them. Failing too, the 400
                    # was about the request itself (the user's temperature, say): its error is the turn's,
                    # and tools stay on.
                    unsure = False
                    if message.status != FAILED:
                        yield self._remember_refusal(message)
                self._settle_round(message, recorder, turn)
                if not calls or message.status != COMPLETE:
                    break
                at = len(message.content)
                message.parts.extend(steps.call_part(call, number, at) for call in calls)
                if number >= options.tool_limits.max_rounds:
                    steps.close_unanswered(message, runner.ROUND_LIMIT)
                    message.parts.append(steps.notice("tools.note.round_limit", rounds=number))
                    yield Noticed(message, message.parts[-1])
                    break
                recorder.begin_round()
                results = []
                for call in calls:
                    result = yield from self._run_tool(message, call, number)
                    results.append(result)
                request = [*turn.request, *steps.round_messages(message.content[turn.text_from:at], calls, results)]
                next_hold = self._reserve_round(request)
                if isinstance(next_hold, turns.Problem):
                    message.status = COMPLETE
                    message.parts.append(steps.notice("tools.note.limits", reason=next_hold.id,
                                                      **dict(next_hold.params)))
                    yield Noticed(message, message.parts[-1])
                    break
                number += 1
                turn = _Round(request, next_hold.prompt_tokens, next_hold.hold, text_from=at,
                              reasoning_from=len(message.reasoning))
        finally:
            turn.close()
            steps.close_unanswered(message, runner.STOPPED)
            recorder.finish()
            self._settle_round(message, recorder, turn)
            self.saver.save_message(conversation, message, force=True)
            self.saver.save(conversation)
        yield ReplyEnded(message)

    def _stream_round(self, message: Message, recorder: ReplyRecorder, turn: "_Round", *,
                      may_refuse: bool = False) -> Generator[TurnEvent, None, list[ToolCall]]:
        """One request, streamed into `message`; returns the tool calls it ended with (empty for none). A 400
        that `_reply` retries without tools (`may_refuse`: round 1) is neither saved nor shown: the chat would
        paint its error box next to the retried answer."""
        turn.schemas = self.schemas
        calls: tuple[ToolCall, ...] = ()
        turn.events = self.provider.stream_chat(turn.request, **self._request_options(turn.schemas))
        last = self.clock()
        turn.sent = True  # from here the request is on its way: a stop still costs its prompt
        for event in turn.events:
            if isinstance(event, ToolCallsReady):
                calls = event.calls
                turn.call_text = "".join(c.name + c.arguments for c in calls)
                continue
            recorder.feed(event)
            now = self.clock()
            if recorder.done or now - last >= self.pace():
                recorder.flush()
                if recorder.done and may_refuse and self._tools_refused(recorder, turn):
                    continue
                self.saver.save_message(self.conversation, message)
                yield ReplyProgress(message)
                last = now
            elif type(event).__name__ == "Heartbeat":
                yield Waiting()
        turn.close()
        return list(calls)

    def _grounded_retry(self, message: Message, refused: "_Round") -> "_Round | turns.Problem":
        """The request again without tools, grounded like a turn without the search tool: the automatic
        retrieval step (its rewrite and search pass the limits), then the request admitted anew. Round 1's
        reservation is settled (nothing was written; the message counts once), the retry holds its own."""
        request, question = self._unground
        history = [m for m in request[:-1] if m.get("role") != "system"]
        found = self.retrieval.ground(request, question, history)
        if isinstance(found, turns.Problem):
            return found
        trimmed, hold = self._admit(found.request, counts_as_message=False)
        if isinstance(hold, turns.Problem):
            return hold
        self.spending.settle(refused.hold, 0)
        message.parts.extend(found.parts)
        self.conversation.mark_context_start(trimmed.dropped)
        return _Round(trimmed.messages, trimmed.prompt_tokens, hold)

    def _remember_refusal(self, message: Message) -> Noticed:
        """This server and model take no tools: not offered them again this session, and the reply says so."""
        self.options.tools_refused.add(self._refusal_key())
        message.parts.append(steps.notice("tools.note.refused", model=self.options.model))
        return Noticed(message, message.parts[-1])

    def _tools_refused(self, recorder: ReplyRecorder, turn: "_Round") -> bool:
        """A server that answered 400 to a request with tools, before writing anything: it may take no tools
        (it does when the retry without them is answered, or when its error names them)."""
        error = recorder.error
        return bool(turn.schemas) and error is not None and recorder.message.status == FAILED \
            and error.kind in (errors.BAD_REQUEST, errors.UNKNOWN) and error.status in (400, 422) \
            and recorder.round_usage is None

    def _run_tool(self, message: Message, call: ToolCall,
                  number: int) -> Generator[TurnEvent, None, runner.ToolResult]:
        """Run one call, painting-friendly: `Waiting` while it runs, so a Stop can act; returns its result."""
        call_part = next(p for p in message.parts if p.type == "tool_call" and p.data.get("id") == call.id)
        yield ToolStarted(message, call_part)
        handle = runner.start(call, self.tools, self.options.tool_context, self.options.tool_limits)
        while not handle.wait(0.25):
            yield Waiting()
        result = handle.result()
        message.parts.append(steps.result_part(result, number))
        drain = getattr(self.options.tool_context.search, "drain", None)
        if drain is not None:  # the knowledge base's passages, numbered as the model saw them
            message.parts.extend(drain())
        self.saver.save_message(self.conversation, message, force=True)
        yield ToolFinished(message, message.parts[-1])
        return result

    def _reserve_round(self, request: list[dict]) -> "_Admitted | turns.Problem":
        """The next round's reservation: its real prompt (history, tool calls and results, the schemas)."""
        prompt = count_prompt(request, self.options.model, self.schemas)
        hold = self.spending.reserve(prompt, self._reserve_output())
        return hold if isinstance(hold, turns.Problem) else _Admitted(prompt, hold)

    def _settle_round(self, message: Message, recorder: ReplyRecorder, turn: "_Round") -> None:
        """Count what this round used (the API's usage, else a local estimate) and settle its reservation."""
        if turn.hold.settled:
            return
        if recorder.round_usage is None:
            text = message.content[turn.text_from:]
            reasoning = message.reasoning[turn.reasoning_from:]
            if text or reasoning or turn.call_text:
                model = message.model
                thought = count_completion(reasoning, model) if reasoning else 0
                written = count_completion(text + turn.call_text, model) + thought
                recorder.add_round_usage(Usage(turn.prompt_tokens, written, turn.prompt_tokens + written,
                                               reasoning_tokens=thought, estimated=True))
            elif turn.sent and (message.status == STOPPED or message.error in BILLED_FAILURES):
                # Nothing came back, but the server may have read (and billed) the prompt: count it.
                recorder.add_round_usage(Usage(turn.prompt_tokens, 0, turn.prompt_tokens, estimated=True))
        used = recorder.round_usage.total_tokens if recorder.round_usage else 0
        self.spending.settle(turn.hold, used)

    def _request_options(self, schemas: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        options: dict[str, Any] = {"model": self.options.model, "thinking": self.thinking,
                                   "params": self.generation()}
        if schemas:
            options["tools"] = schemas
        return options


@dataclass
class _Round:
    """One request of a reply: what was sent, its reservation, and where its text began in the message."""

    request: list[dict]
    prompt_tokens: int
    hold: Hold
    text_from: int = 0
    reasoning_from: int = 0
    schemas: list[dict[str, Any]] = field(default_factory=list)
    events: Any = None
    sent: bool = False
    call_text: str = ""  # the names and arguments of its tool calls, for an estimate of what it wrote

    def close(self) -> None:
        if self.events is not None:
            self.events.close()
            self.events = None


@dataclass(frozen=True)
class _Admitted:
    prompt_tokens: int
    hold: Hold


# Failures after the request reached the server: its prompt may be billed. (An HTTP error status is not.)
BILLED_FAILURES = (errors.TIMEOUT, errors.DEADLINE, errors.INTERRUPTED)
