"""One browser session's state, in one typed place (the UI keeps it under one key of `st.session_state`).

Widgets keep their own values in `st.session_state` under their keys, but Streamlit drops a widget's value on
a run that does not draw it (another page): what the visitor chose in the settings is kept here too
(`Preferences`), and everything else a session holds. Shared, read-only things (the store, the tokenizer, the daily counter) are not: they are per process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qwenchat.budget import default_budget
from qwenchat.catalog import THINKING_ALWAYS, lookup
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


CUSTOM = "custom"  # the region or model picker's "type your own" choice


def budget_bounds(model: str) -> tuple[int, int]:
    """The context budget a user may choose for `model`: at least 256 tokens, at most the window less the
    reply's room."""
    info = lookup(model)
    return 256, max(256, info.context_window - min(info.max_output, info.context_window // 2))


@dataclass
class Preferences:
    """What the visitor chose on the Settings page and in the chat's sidebar, kept apart from the widgets so a
    choice outlives a visit to another page. Empty means the app's own setting."""

    api_key: str = field(default="", repr=False)  # typed by the visitor: used only with the region or URL chosen here
    region: str = ""  # a key of config.REGIONS, or CUSTOM; "" = the region of the app's own URL
    custom_base_url: str = ""
    model: str = ""  # the model picker's choice: a model name, or CUSTOM; "" = the app's default model
    custom_model: str = ""
    thinking: dict[str, bool] = field(default_factory=dict)  # per model, once switched
    budgets: dict[str, int] = field(default_factory=dict)  # the context budget per model, once changed
    farewell: str = ""  # "" = automatic, in the conversation's language
    judge: bool = False
    tools: dict[str, bool] = field(default_factory=dict)  # per tool, once switched (else its default)

    def thinking_for(self, model: str) -> bool:
        info = lookup(model)
        return info.thinking == THINKING_ALWAYS or self.thinking.get(model, info.thinks_by_default)

    def budget_for(self, model: str) -> int:
        """The chosen budget (within this model's bounds), else the model's default."""
        info = lookup(model)
        low, high = budget_bounds(model)
        chosen = self.budgets.get(model)
        return min(max(int(chosen), low), high) if chosen is not None else \
            min(max(default_budget(info.context_window, info.max_output), low), high)


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
    prefs: Preferences = field(default_factory=Preferences)  # not reset with the conversation
    tools_refused: set[str] = field(default_factory=set)  # "url|model" that refused tools (TurnOptions)

    def open(self, conversation: Conversation) -> None:
        """Show another conversation: its own verdicts, its own saving state, no half-done action."""
        self.conversation = conversation
        self.verdicts = []
        self.saving = SaveState()
        self.pending = None
        self.editing = ""
        self.copying = ""
        self.offer = None
