"""What a turn tells the chat view, in order: a closed set of events that the view only paints.

    for event in engine.send(text):
        match event:
            case Refused(problem, text): ...     # nothing was sent; `text` is kept for the user to copy
            case UserAdded(message): ...         # the user's message is in the conversation (and saved)
            case Closed(farewell): ...           # the end detector closed the conversation
            case ReplyStarted(message): ...      # a reply is streaming into `message`
            case ReplyProgress(message): ...     # `message` has new text: repaint it
            case Waiting(): ...                  # nothing new yet: touch the page so Stop can act
            case ToolStarted(message, call): ... # a tool call (a `tool_call` part of `message`) starts running
            case ToolFinished(message, result): ...  # its `tool_result` part is on `message`
            case Noticed(message, notice): ...   # a `notice` part: tools dropped, the round limit reached
            case ReplyEnded(message): ...        # the reply reached its final status

A refused turn yields exactly one `Refused` and nothing else. Every `ReplyStarted` is followed by exactly
one `ReplyEnded`, unless the consumer stops iterating (Stop, a rerun): the reply is then finished, counted
and saved by the engine as it closes. Tool events come between them, each round's after its text: the
steps are parts of the reply's message, so a painter may simply redraw them from `message.parts`.
"""

from __future__ import annotations

from dataclasses import dataclass

from qwenchat.conversation import Message, Part
from qwenchat.ending import Verdict
from qwenchat.turns import Problem


@dataclass(frozen=True)
class Refused:
    problem: Problem
    text: str = ""


@dataclass(frozen=True)
class UserAdded:
    message: Message


@dataclass(frozen=True)
class Judged:
    verdict: Verdict


@dataclass(frozen=True)
class Closed:
    farewell: Message


@dataclass(frozen=True)
class ReplyStarted:
    message: Message


@dataclass(frozen=True)
class ReplyProgress:
    message: Message


@dataclass(frozen=True)
class Waiting:
    pass


@dataclass(frozen=True)
class ReplyEnded:
    message: Message


@dataclass(frozen=True)
class ToolStarted:
    message: Message
    call: Part  # the `tool_call` part


@dataclass(frozen=True)
class ToolFinished:
    message: Message
    result: Part  # the `tool_result` part


@dataclass(frozen=True)
class Noticed:
    message: Message
    notice: Part  # the `notice` part


TurnEvent = (Refused | UserAdded | Judged | Closed | ReplyStarted | ReplyProgress | Waiting | ToolStarted
             | ToolFinished | Noticed | ReplyEnded)
