"""What a turn tells the chat view, in order: a closed set of events that the view only paints.

    for event in engine.send(text):
        match event:
            case Refused(problem, text): ...     # nothing was sent; `text` is kept for the user to copy
            case UserAdded(message): ...         # the user's message is in the conversation (and saved)
            case Closed(farewell): ...           # the end detector closed the conversation
            case ReplyStarted(message): ...      # a reply is streaming into `message`
            case ReplyProgress(message): ...     # `message` has new text: repaint it
            case Waiting(): ...                  # nothing new yet: touch the page so Stop can act
            case ReplyEnded(message): ...        # the reply reached its final status

A refused turn yields exactly one `Refused` and nothing else. Every `ReplyStarted` is followed by exactly
one `ReplyEnded`, unless the consumer stops iterating (Stop, a rerun): the reply is then finished, counted
and saved by the engine as it closes.
"""

from __future__ import annotations

from dataclasses import dataclass

from qwenchat.conversation import Message
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


TurnEvent = Refused | UserAdded | Judged | Closed | ReplyStarted | ReplyProgress | Waiting | ReplyEnded
