"""Images in every store backend: kept once per owner, read back only by that owner, and deleted with the
last message that shows them. And the Saver that keeps them in the session while the store is away."""

from __future__ import annotations

from qwenchat.chat.saving import UNAVAILABLE, Saver, SaveState
from qwenchat.conversation import Conversation
from qwenchat.images import PreparedImage, prepare_image
from qwenchat.store import StoreUnavailable
from tests.images_helpers import png


def image(color=(1, 2, 3)) -> PreparedImage:
    prepared = prepare_image(png(120, 90, color), "pic.png")
    assert isinstance(prepared, PreparedImage)
    return prepared


def conversation_showing(*pictures: PreparedImage) -> Conversation:
    conversation = Conversation()
    for picture in pictures:
        conversation.add_user("look").parts.append(picture.part())
        conversation.start_reply("qwen-vl-plus").content = "I see it"
    return conversation


def test_an_image_is_read_back_only_by_its_owner(store):
    picture = image()
    store.save_images("alice", [picture])
    store.save_images("alice", [picture])  # the same picture again: still one
    assert store.load_image("alice", picture.id) == picture.data
    assert store.load_image("mallory", picture.id) is None


def test_deleting_a_conversation_deletes_its_images_but_not_those_another_conversation_shows(store):
    shared, own = image((1, 1, 1)), image((2, 2, 2))
    first, second = conversation_showing(shared, own), conversation_showing(shared)
    store.save_images("alice", [shared, own])
    store.save_conversation("alice", first)
    store.save_conversation("alice", second)
    store.delete("alice", first.id)
    assert store.load_image("alice", own.id) is None
    assert store.load_image("alice", shared.id) == shared.data
    store.delete_all("alice")
    assert store.load_image("alice", shared.id) is None


def test_deleting_the_question_that_showed_an_image_deletes_the_image(store):
    picture = image()
    conversation = conversation_showing(picture)
    store.save_images("alice", [picture])
    store.save_conversation("alice", conversation)
    removed = conversation.delete_pair(conversation.messages[0].id)
    store.delete_messages("alice", conversation.id, removed)
    assert store.load_image("alice", picture.id) is None


def test_a_streamed_message_links_its_image_too(store):
    picture = image()
    conversation = Conversation()
    conversation.add_user("first")
    store.save_conversation("alice", conversation)
    message = conversation.add_user("look")
    message.parts.append(picture.part())
    store.save_images("alice", [picture])
    store.save_message("alice", conversation.id, message)
    store.delete("alice", conversation.id)
    assert store.load_image("alice", picture.id) is None


class Away:
    """A store that is away until it comes back."""

    def __init__(self, store):
        self.store, self.away = store, True

    def __getattr__(self, name):
        if self.away:
            def fail(*args, **kwargs):
                raise StoreUnavailable("chats.db", "database is locked")
            return fail
        return getattr(self.store, name)


def test_images_wait_in_the_session_while_the_store_is_away_and_are_saved_when_it_is_back(store):
    picture = image()
    conversation = conversation_showing(picture)
    away = Away(store)
    saver = Saver(away, "alice", SaveState())
    saver.save_images([picture])
    saver.save(conversation)
    assert saver.state.status == UNAVAILABLE and saver.image(picture.id) == picture.data
    away.away = False
    saver.save(conversation)
    assert saver.state.unsaved_images == {}
    assert store.load_image("alice", picture.id) == picture.data
    assert store.load("alice", conversation.id).messages[0].images[0].data["id"] == picture.id


def test_an_image_counts_in_the_stored_size_that_caps_imports(store):
    picture = image()
    before = store.stored_bytes()
    store.save_images("alice", [picture])
    assert store.stored_bytes() - before >= len(picture.data)


def test_an_id_no_image_has_reads_as_absent_on_every_backend(store):
    picture = image()
    store.save_images("alice", [picture])
    for odd in ("", "\x00", picture.id + "\x00", "\ue000" + picture.id):
        assert store.load_image("alice", odd) is None


def test_two_servers_deleting_the_last_two_conversations_showing_an_image_at_once_delete_it(pg_url):
    """Two tabs on two servers delete, at the same moment, the two conversations that show one picture: the
    picture must not outlive both (each delete must not count on the other's conversation still showing it)."""
    import threading

    from qwenchat.store_postgres import PostgresStore

    a, b = PostgresStore(pg_url, max_size=2), PostgresStore(pg_url, max_size=2)
    try:
        for attempt in range(25):
            picture = image((attempt, 7, 7))
            first, second = conversation_showing(picture), conversation_showing(picture)
            a.save_images("alice", [picture])
            a.save_conversation("alice", first)
            a.save_conversation("alice", second)
            start = threading.Barrier(2)

            def delete(server, conversation, start=start):
                start.wait()
                server.delete("alice", conversation.id)

            workers = [threading.Thread(target=delete, args=(a, first)),
                       threading.Thread(target=delete, args=(b, second))]
            for w in workers:
                w.start()
            for w in workers:
                w.join(timeout=30)
            assert a.load_image("alice", picture.id) is None, f"kept after attempt {attempt}"
    finally:
        a.close()
        b.close()
