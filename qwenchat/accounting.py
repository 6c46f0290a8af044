"""Token accounting of a conversation: the next request's size, the last reply, per-turn rows and the cost.

Owns what the sidebar's usage panel and the Usage page show, so that they only draw it:
- the next request's prompt, counted locally as `fit_to_budget` would send it (system prompt + history,
  before the user's next message), against the model's context window and the budget;
- billed usage, read from the messages: an assistant message's `usage` is its reply's (the API's, or a
  local count marked `estimated` when the stream was stopped or cut); a user message's `usage` is what the
  end-of-conversation judge spent on it, priced as the judge's model. The totals and the per-turn rows count
  every message of the tree, hidden branches too (a regenerated reply or an edited question was paid for, as
  `Conversation.total_usage` and the quota count it); the next request and the last reply are the visible
  branch's, since that is what is sent next and what is shown;
- a grounded reply's `retrieval` part (qwenchat.chat.retrieval): the query rewrite, the embeddings and the
  rerank its knowledge-base search paid for, counted with the reply and priced as their own models;
- costs, ESTIMATED from `qwenchat.pricing`'s dated table. A call whose model (or input tier) is not in the
  table is counted as unpriced, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qwenchat.budget import fit_to_budget
from qwenchat.catalog import lookup
from qwenchat.conversation import Conversation, Message, Usage
from qwenchat.judge import (
    JUDGE_MODEL,  # a judge's tokens are priced as the model it asks
)
from qwenchat.pricing import estimate_cost
from qwenchat.tokens import count_tools, is_exact

# ---------------------------------------------------------------------------------------------------------
# Cost


@dataclass(frozen=True)
class Cost:
    """An estimated cost in CNY: the sum over priced calls, and which calls could not be priced."""

    cny: float = 0.0
    priced: int = 0  # calls with a price
    unpriced: int = 0  # calls whose model or input tier is not in the price table
    missing: frozenset[str] = field(default_factory=frozenset)  # their models

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.cny + other.cny, self.priced + other.priced, self.unpriced + other.unpriced,
                    self.missing | other.missing)

    @property
    def known(self) -> bool:
        """Whether there is a figure to show: at least one call was priced."""
        return self.priced > 0

    @property
    def complete(self) -> bool:
        return self.unpriced == 0


def call_cost(model: str, usage: Usage | None, thinking: bool = False) -> Cost:
    """The estimated cost of one call; no usage, no call."""
    if usage is None:
        return Cost()
    value = estimate_cost(model, usage.prompt_tokens, usage.completion_tokens, thinking)
    if value is None:
        return Cost(unpriced=1, missing=frozenset({model or "?"}))
    return Cost(value, priced=1)


def message_cost(message: Message, fallback_model: str = "", judge_model: str = JUDGE_MODEL) -> Cost:
    """A reply priced as its model (thinking prices when it reasoned); a user message's judge tokens priced
    as the judge's model."""
    if message.role == "user":
        return call_cost(judge_model, message.usage)
    usage = message.usage
    thinking = bool(message.reasoning) or bool(usage and usage.reasoning_tokens)
    return call_cost(message.model or fallback_model, usage, thinking) + retrieval_cost(message)


def retrieval_usage(message: Message) -> Usage:
    """The tokens a reply's knowledge-base search paid for: the rewrite's prompt and output, embeddings, rerank."""
    total = Usage()
    for part in message.parts:
        if part.type == "retrieval":
            data = part.data
            prompt = sum(_count(data.get(k)) for k in ("rewrite_prompt_tokens", "embedding_tokens", "rerank_tokens"))
            completion = _count(data.get("rewrite_completion_tokens"))
            total = total + Usage(prompt, completion, prompt + completion)
    return total


def retrieval_cost(message: Message) -> Cost:
    cost = Cost()
    for part in message.parts:
        if part.type == "retrieval":
            data = part.data
            unpriced = [str(m) for m in data.get("unpriced") or [] if isinstance(m, str)]
            value = data.get("cost")
            value = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0
            cost = cost + Cost(value, priced=1, unpriced=len(unpriced), missing=frozenset(unpriced))
    return cost


def _count(value: object) -> int:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def format_cny(cost: Cost) -> str:
    """'¥0.000123', '≥¥0.0123' when some calls are unpriced, '–' when none is priced; '¥0' before any call."""
    if not cost.known:
        return "–" if cost.unpriced else "¥0"
    value = cost.cny
    if value <= 0:
        text = "¥0"
    elif value < 0.000001:
        text = "<¥0.000001"
    elif value < 0.01:
        text = f"¥{value:.6f}"
    elif value < 1:
        text = f"¥{value:.4f}"
    else:
        text = f"¥{value:,.2f}"
    if cost.complete:
        return text
    return "≥¥0" if text.startswith("<") else "≥" + text


def format_share(fraction: float) -> str:
    """'12.3%', '<0.1%' for a small non-zero share (a 1M window holds a long chat in a sliver)."""
    if 0 < fraction < 0.001:
        return "<0.1%"
    return f"{fraction:.1%}"


def format_tokens(count: int, estimated: bool = False) -> str:
    """'1,234', or '≈1,234' for a local estimate."""
    return f"{'≈' if estimated else ''}{count:,}"


# ---------------------------------------------------------------------------------------------------------
# The next request


@dataclass(frozen=True)
class NextRequest:
    """The prompt the next request will carry before the user's next message is added (a local count)."""

    model: str
    prompt_tokens: int
    budget: int
    context_window: int
    dropped: int  # older history messages the budget leaves out
    too_large: bool  # even the system prompt and the newest message exceed the budget
    exact: bool  # False for models that are not Qwen: counted with the Qwen vocabulary as an estimate

    @property
    def window_fraction(self) -> float:
        return _fraction(self.prompt_tokens, self.context_window)

    @property
    def budget_fraction(self) -> float:
        return _fraction(self.prompt_tokens, self.budget)


def _fraction(part: int, whole: int) -> float:
    return min(1.0, part / whole) if whole > 0 else 1.0


def next_request(conversation: Conversation, model: str, budget: int, tools: list[dict] | None = None) -> NextRequest:
    """The next request's prompt as the engine will count it: the tools' schemas (when the model takes
    them) are part of it."""
    schema_tokens = count_tools(tools, model) if tools and lookup(model).tools else 0
    trimmed = fit_to_budget(conversation.api_messages(lookup(model).vision), model, max(0, budget - schema_tokens))
    return NextRequest(model, trimmed.prompt_tokens + schema_tokens, budget, lookup(model).context_window,
                       trimmed.dropped, trimmed.too_large, is_exact(model))


# ---------------------------------------------------------------------------------------------------------
# The last reply and the conversation's totals


@dataclass(frozen=True)
class LastReply:
    usage: Usage
    model: str
    cost: Cost

    @property
    def estimated(self) -> bool:
        return self.usage.estimated


def last_reply(conversation: Conversation) -> LastReply | None:
    """The newest assistant message that has a usage (billed, or estimated), as `Conversation.last_usage`."""
    for message in reversed(conversation.messages):
        if message.role == "assistant" and message.usage:
            return LastReply(message.usage, message.model or conversation.model,
                             message_cost(message, conversation.model))
    return None


@dataclass(frozen=True)
class Totals:
    usage: Usage  # every call of the conversation, hidden branches included: replies and judge
    judge: Usage  # of which the end-of-conversation judge
    cost: Cost
    calls: int
    retrieval: Usage = field(default_factory=Usage)  # of which knowledge-base searches (rewrite, embeddings, rerank)

    @property
    def estimated(self) -> bool:
        """Whether some of it is a local estimate."""
        return self.usage.estimated


def totals(conversation: Conversation, judge_model: str = JUDGE_MODEL) -> Totals:
    usage, judge, cost, calls, retrieval = Usage(), Usage(), Cost(), 0, Usage()
    for message in conversation.all_messages():  # a regenerated reply or an edited question was paid for
        searched = retrieval_usage(message)
        if searched.total_tokens:
            retrieval = retrieval + searched
            usage = usage + searched
        if message.usage is None:
            if searched.total_tokens:
                cost = cost + retrieval_cost(message)
            continue
        calls += 1
        usage = usage + message.usage
        if message.role == "user":
            judge = judge + message.usage
        cost = cost + message_cost(message, conversation.model, judge_model)
    return Totals(usage, judge, cost, calls, retrieval)


# ---------------------------------------------------------------------------------------------------------
# Per turn: a user message with the replies that follow it


@dataclass(frozen=True)
class TurnRow:
    number: int  # from 1
    question: str  # the user's message, shortened to one line
    model: str  # of the (last) reply; "" when the turn has no reply with usage
    prompt_tokens: int
    completion_tokens: int  # includes reasoning tokens, as DashScope reports them
    reasoning_tokens: int
    cached_tokens: int
    judge_tokens: int  # spent by the end-of-conversation judge on the user's message
    estimated: bool  # some of the turn's usage is a local estimate
    cost: Cost  # the turn's replies and judge
    running_cost: Cost  # this turn and all before it

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens + self.judge_tokens


def turn_rows(conversation: Conversation, judge_model: str = JUDGE_MODEL, question_chars: int = 30) -> list[TurnRow]:
    """One row per turn of the visible branch. A hidden branch counts in the turn it is an older version of
    (see `_turn_of_hidden`), so the last row's running cost is the conversation's total."""
    turns: list[list[Message]] = []
    turn_of: dict[str, int] = {}
    for message in conversation.messages:
        if message.role == "user" or not turns:
            turns.append([])
        turns[-1].append(message)
        turn_of[message.id] = len(turns) - 1
    older: list[list[Message]] = [[] for _ in turns]
    for message, index in _turn_of_hidden(conversation, turn_of):
        older[index].append(message)

    rows: list[TurnRow] = []
    running = Cost()
    for number, (messages, others) in enumerate(zip(turns, older), start=1):
        asked = messages[0] if messages[0].role == "user" else None
        shown_replies = [m for m in messages if m.role == "assistant" and m.usage]
        replies = shown_replies + [m for m in others if m.role == "assistant" and m.usage]
        reply = sum((m.usage for m in replies), Usage())
        judge = sum((m.usage for m in [*messages, *others] if m.role == "user" and m.usage), Usage())
        cost = sum((message_cost(m, conversation.model, judge_model) for m in [*messages, *others]), Cost())
        running = running + cost
        newest = shown_replies[-1] if shown_replies else replies[-1] if replies else None
        rows.append(TurnRow(
            number=number,
            question=_shorten(asked.content if asked else "", question_chars),
            model=(newest.model or conversation.model) if newest else "",
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
            reasoning_tokens=reply.reasoning_tokens,
            cached_tokens=reply.cached_tokens,
            judge_tokens=judge.prompt_tokens + judge.completion_tokens,
            estimated=reply.estimated or judge.estimated,
            cost=cost,
            running_cost=running,
        ))
    return rows


def _turn_of_hidden(conversation: Conversation, turn_of: dict[str, int]) -> list[tuple[Message, int]]:
    """Each hidden message with the visible turn (an index into the rows) it counts in: its branch leaves the
    visible one at a message whose parent is visible (or a root); that message is an older version of the
    visible one with the same parent and role (a regenerated reply, an edited question), so it counts in that
    one's turn; with no such version, in the parent's turn (the first turn for a root)."""
    if not turn_of:
        return []
    by_id = {m.id: m for m in conversation.all_messages()}
    version_of = {(m.parent_id, m.role): turn_of[m.id] for m in conversation.messages}
    found: list[tuple[Message, int]] = []
    for message in conversation.hidden:
        node, seen = message, {message.id}
        while node.parent_id and node.parent_id not in turn_of:
            parent = by_id.get(node.parent_id)
            if parent is None or parent.id in seen:  # a dangling or cyclic link: where the branch left is lost
                break
            node = parent
            seen.add(node.id)
        index = version_of.get((node.parent_id, node.role), turn_of.get(node.parent_id, 0))
        found.append((message, index))
    return found


def _shorten(text: str, limit: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
