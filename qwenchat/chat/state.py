"""One browser session's state, in one typed place (the UI keeps it under one key of `st.session_state`).

Widgets keep their own values in `st.session_state` under their keys; everything else a session holds is
here. Shared, read-only things (the store, the tokenizer, the daily counter) are not: they are per process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qwenchat.chat.saving import SaveState
from qwenchat.conversation import Conversation
from qwenchat.ending import Verdict
from qwenchat.knowledge.uploads import UploadQueue
from qwenchat.quotas import SessionQuota


@dataclass(frozen=True)
class Action:
    """A request from a button, carried to the next run: regenerate | edit | delete | vision (send `text` and
    `images` again, answered by a model that sees)."""

    kind: str
    message_id: str
    text: str = ""
    images: tuple = ()  # qwenchat.images.PreparedImage, for "vision"


@dataclass(frozen=True)
class VisionOffer:
    """A message with images refused because the model cannot see: kept until the user takes the offer or
    sends something else (the only time image bytes sit in the session)."""

    text: str
    images: tuple  # qwenchat.images.PreparedImage
    model: str


@dataclass
class ChatSession:
    conversation: Conversation = field(default_factory=Conversation)
    # Not reset with the conversation, or starting a new one would bypass the limits.
    quota: SessionQuota = field(default_factory=SessionQuota)
    saving: SaveState = field(default_factory=SaveState)
    verdicts: list[Verdict] = field(default_factory=list)
    pending: Action | None = None
    editing: str = ""  # the id of the user message being edited
    copying: str = ""  # the id of the reply whose Markdown source is shown to copy
    all_controls: bool = False  # the controls of every message, not only the newest ones
    notes: list[str] = field(default_factory=list)
    offer: VisionOffer | None = None
    uploads: UploadQueue = field(default_factory=UploadQueue)  # files waiting for the knowledge page
    # The knowledge base chosen per conversation id (0: none) before a grounded reply records it.
    knowledge: dict[str, int] = field(default_factory=dict)

    def open(self, conversation: Conversation) -> None:
        """Show another conversation: its own verdicts, its own saving state, no half-done action."""
        self.conversation = conversation
        self.verdicts = []
        self.saving = SaveState()
        self.pending = None
        self.editing = ""
        self.copying = ""
        self.offer = None
