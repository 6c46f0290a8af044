"""Saving a conversation as a turn goes, without ever letting the store break the chat.

A store that is away (a locked or read-only database, a disk gone) or a conversation deleted in another
tab must not lose what the user typed or received: the conversation stays in memory, `status` says why it
is not saved, and the next save tries again (the whole conversation, so nothing written meanwhile is
missed). A streaming reply is saved at most once per `every` seconds, so a crash loses about that much.
Attached images go the same way: kept in `SaveState.unsaved_images` while the store is away (only then do
their bytes live in the session), written before the next save of the conversation, and read back through
`image()` whichever place holds them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from qwenchat import store as store_module
from qwenchat.conversation import Conversation, Message

log = logging.getLogger(__name__)

SAVED = "saved"
UNAVAILABLE = "unavailable"  # the store could not be reached: kept in memory, saved when it is back
DELETED = "deleted"          # deleted in another tab: not re-created; the user may save a copy
CONFLICT = "conflict"        # another tab wrote too: both sides were kept


@dataclass
class SaveState:
    """Lives in the session state: how the last save went."""

    status: str = SAVED
    pending: bool = False  # something is not in the store yet
    unsaved_images: dict[str, Any] = field(default_factory=dict)  # id -> image (qwenchat.images.PreparedImage)
    unsaved_deletes: dict[str, list[str]] = field(default_factory=dict)  # conversation id -> message ids


class Saver:
    def __init__(self, store: object, owner: str, state: SaveState, *, enabled: bool = True,
                 every: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.store, self.owner, self.state = store, owner, state
        self.enabled, self.every, self.clock = enabled, every, clock
        self._last = float("-inf")

    def save_images(self, images: Iterable[Any]) -> None:
        """Keep attached images (before the message that shows them is saved)."""
        for image in images:
            self.state.unsaved_images[image.id] = image
        self._flush_images()

    def _flush_images(self) -> bool:
        if not self.enabled or not self.state.unsaved_images:
            return True
        try:
            self.store.save_images(self.owner, list(self.state.unsaved_images.values()))
        except Exception as exc:  # noqa: BLE001 - the images stay in the session until the store is back
            self._failed(exc)
            return False
        self.state.unsaved_images.clear()
        return True

    def image(self, image_id: str) -> bytes | None:
        """An image's bytes, from this session's unsaved ones or the store; None when neither has it now."""
        unsaved = self.state.unsaved_images.get(image_id)
        if unsaved is not None:
            return unsaved.data
        try:
            return self.store.load_image(self.owner, image_id)
        except Exception:  # noqa: BLE001 - a store that is away: the request says [image] instead
            return None

    def save(self, conversation: Conversation) -> None:
        """Save the whole conversation (after a turn, a close, a rename); empty ones are not kept."""
        if not self.enabled or not conversation.messages or self.state.status == DELETED:
            return
        if not self._flush_images() or not self._flush_deletes(conversation):
            return
        try:
            result = self.store.save_conversation(self.owner, conversation)
        except Exception as exc:  # noqa: BLE001 - no store failure may break the chat
            self._failed(exc)
            return
        self.state.pending = False
        if getattr(result, "conflict", False):
            self.state.status = CONFLICT
            self._take_in_the_other_side(conversation)
        elif self.state.status != CONFLICT:  # the note stays until the conversation is left
            self.state.status = SAVED

    def _take_in_the_other_side(self, conversation: Conversation) -> None:
        """Another tab saved this conversation meanwhile: show what it wrote too, as other branches of the
        tree, keeping this tab's own message objects (a turn may be holding them) and its visible branch."""
        try:
            stored = self.store.load(self.owner, conversation.id)
        except Exception:  # noqa: BLE001 - nothing is lost: both sides are in the store
            return
        if stored is None:
            return
        mine = {m.id: m for m in conversation.all_messages()}
        leaf = conversation.messages[-1].id if conversation.messages else None
        conversation.show_tree([mine.get(m.id, m) for m in stored.all_messages()], leaf)
        conversation.version = stored.version

    def save_message(self, conversation: Conversation, message: Message, *, force: bool = False) -> None:
        """Save one message of a streaming reply, at most once per `every` seconds unless `force`d."""
        if not self.enabled or self.state.status == DELETED:
            return
        now = self.clock()
        if not force and now - self._last < self.every:
            return
        self._last = now
        if self.state.pending:  # catch up on everything the store missed while it was away
            self.save(conversation)
            return
        try:
            self.store.save_message(self.owner, conversation.id, message)
        except Exception as exc:  # noqa: BLE001
            self._failed(exc)

    def delete_messages(self, conversation: Conversation, ids: list[str]) -> None:
        """Remove messages from the stored conversation; while the store is away they are remembered and
        removed before the next save (or that save would be the last word, and the pair would come back on
        the next load). One emptied by it is written once more, as it is now: no messages and no title, or
        History would go on listing it under the words just deleted."""
        if not self.enabled or not ids:
            return
        self.state.unsaved_deletes.setdefault(conversation.id, []).extend(ids)
        if not self._flush_deletes(conversation):
            return
        if not conversation.messages and not conversation.hidden and self.state.status != DELETED:
            try:
                self.store.save_conversation(self.owner, conversation)
            except Exception as exc:  # noqa: BLE001
                self._failed(exc)

    def _flush_deletes(self, conversation: Conversation) -> bool:
        ids = self.state.unsaved_deletes.get(conversation.id)
        if not ids:
            return True
        try:
            self.store.delete_messages(self.owner, conversation.id, ids)
        except Exception as exc:  # noqa: BLE001 - kept, and tried again before the next save
            self._failed(exc)
            return False
        del self.state.unsaved_deletes[conversation.id]
        return True

    def _failed(self, exc: Exception) -> None:
        self.state.pending = True
        deleted = getattr(store_module, "ConversationDeleted", None)
        if deleted is not None and isinstance(exc, deleted):
            self.state.status = DELETED
        else:
            self.state.status = UNAVAILABLE
            log.warning("conversation not saved: %s", type(exc).__name__)
