"""The context budget: which part of a conversation to send so that the prompt fits.

Owns the default budget for a model and the trimming rule: the system prompt and the newest message always
go; older turns are left out oldest first, a user message with the replies that follow it at a time, so the
history sent never starts with an orphan assistant reply.
"""

from __future__ import annotations

from dataclasses import dataclass

from qwenchat.tokens import count_message, count_prompt


@dataclass(frozen=True)
class Trimmed:
    messages: list[dict]  # what to send
    dropped: int  # history messages left out
    prompt_tokens: int  # count_prompt(messages)
    too_large: bool  # even system prompt + newest message exceed the budget: do not call the API


def default_budget(context_window: int, max_output_tokens: int, cap: int = 32000) -> int:
    """Room for the prompt: the context window less the reply's room, capped to keep calls cheap."""
    return max(0, min(context_window - max_output_tokens, cap))


def fit_to_budget(messages: list[dict], model: str, budget: int) -> Trimmed:
    """Keep the newest history that fits `budget` prompt tokens (counted as count_prompt counts)."""
    if not messages:
        return Trimmed([], 0, count_prompt([], model), False)
    head = messages[:1] if len(messages) > 1 and messages[0].get("role") == "system" else []
    history = messages[len(head):-1]
    newest = messages[-1]

    total = count_prompt(head + [newest], model)
    if total > budget:
        return Trimmed(head + [newest], len(history), total, True)

    sizes = [count_message(m, model) for m in history]
    total += sum(sizes)
    turn_starts = [i for i, m in enumerate(history) if m.get("role") == "user" and i > 0] + [len(history)]
    start = 0
    for nxt in turn_starts:
        if total <= budget:
            break
        total -= sum(sizes[start:nxt])
        start = nxt
    return Trimmed(head + history[start:] + [newest], start, total, False)
