"""A turn with images, end to end through the real client and the fake DashScope: what is sent (decoded and
inspected), what it costs before and after, which model answers, and what the store keeps."""

from __future__ import annotations

import base64

import pytest

from qwenchat.accounting import next_request
from qwenchat.chat.engine import TurnOptions
from qwenchat.chat.events import Refused, ReplyEnded, UserAdded
from qwenchat.conversation import COMPLETE, Conversation
from qwenchat.images import PreparedImage, estimate_image_tokens, prepare_image
from qwenchat.quotas import Limits
from qwenchat.store import Store
from tests.images_helpers import opened, photo_with_gps, png
from tests.test_engine import Setup


@pytest.fixture(autouse=True)
def clean(fake):
    fake.reset()


def prepared(data: bytes, name: str = "photo.jpg", model: str = "qwen-vl-plus") -> PreparedImage:
    image = prepare_image(data, name, model)
    assert isinstance(image, PreparedImage), image
    return image


def sent_images(request: dict) -> list[bytes]:
    parts = [p for m in request["body"]["messages"] if isinstance(m["content"], list) for p in m["content"]
             if p["type"] == "image_url"]
    return [base64.b64decode(p["image_url"]["url"].split(",", 1)[1]) for p in parts]


def test_a_photo_reaches_a_vision_model_upright_shrunk_and_without_gps(fake):
    s = Setup(fake, options=TurnOptions("qwen-vl-plus"))
    photo = prepared(photo_with_gps(4000, 3000))
    events = list(s.engine.send("这张照片里是什么？", attachments=[photo]))
    assert isinstance(events[-1], ReplyEnded) and events[-1].message.status == COMPLETE
    request = s.chat_requests()[-1]
    user = request["body"]["messages"][-1]
    assert [p["type"] for p in user["content"]] == ["image_url", "text"]
    assert user["content"][0]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert user["content"][1]["text"] == "这张照片里是什么？"
    (sent,) = sent_images(request)
    image = opened(sent)
    assert image.format == "JPEG" and image.height > image.width  # turned upright
    assert image.width * image.height <= 1280 * 28 * 28  # within qwen-vl-plus's pixels
    assert not image.getexif() and b"QwenCam" not in sent
    # The fake bills the image by DashScope's rule; the app's estimate before sending said the same.
    usage = fake.usages[-1]
    assert usage["prompt_tokens_details"]["image_tokens"] == estimate_image_tokens(image.width, image.height,
                                                                                   "qwen-vl-plus")
    assert s.conversation.messages[-1].content == "收到：这张照片里是什么？"


def test_an_image_alone_is_a_question_too(fake):
    s = Setup(fake, options=TurnOptions("qwen-vl-plus"))
    events = list(s.engine.send("", attachments=[prepared(png(300, 200), "chart.png")]))
    assert isinstance(events[0], UserAdded) and isinstance(events[-1], ReplyEnded)
    assert [p["type"] for p in s.chat_requests()[-1]["body"]["messages"][-1]["content"]] == ["image_url"]


def test_a_model_that_cannot_see_is_not_sent_the_image_and_the_vision_model_is_offered(fake):
    s = Setup(fake, options=TurnOptions("qwen-plus"))
    events = list(s.engine.send("看看这张图", attachments=[prepared(png())]))
    assert len(events) == 1 and isinstance(events[0], Refused)
    refused = events[0]
    assert refused.problem.kind == "blind" and refused.text == "看看这张图"  # the typed text is kept
    assert "qwen-vl-plus" in refused.problem.message("en") and "qwen-plus" in refused.problem.message("en")
    assert s.chat_requests() == [] and s.conversation.messages == []


def test_with_auto_vision_the_vision_model_answers_that_turn_and_the_reply_says_which(fake):
    s = Setup(fake, options=TurnOptions("qwen-plus", auto_vision=True))
    list(s.engine.send("看看这张图", attachments=[prepared(png())]))
    assert s.chat_requests()[-1]["body"]["model"] == "qwen-vl-plus"
    assert s.conversation.messages[-1].model == "qwen-vl-plus"


def test_older_images_reach_a_text_only_model_as_a_placeholder_never_a_400(fake):
    conversation = Conversation()
    s = Setup(fake, options=TurnOptions("qwen-vl-plus"), conversation=conversation)
    list(s.engine.send("图里有什么？", attachments=[prepared(png())]))
    later = Setup(fake, options=TurnOptions("qwen-plus"), store=s.store, conversation=conversation)
    events = later.send("那背景是什么颜色？")
    assert events[-1].message.status == COMPLETE
    body = later.chat_requests()[-1]["body"]
    assert all(isinstance(m["content"], str) for m in body["messages"])
    assert body["messages"][1]["content"] == "[image]\n图里有什么？"


def test_the_image_estimate_feeds_the_budget_and_the_reservation(fake):
    photo = prepared(png(1400, 1000), "big.png")
    tokens = estimate_image_tokens(photo.width, photo.height, "qwen-vl-plus")
    assert tokens > 1000
    tight = Setup(fake, options=TurnOptions("qwen-vl-plus", budget=tokens - 10))
    events = list(tight.engine.send("hi", attachments=[photo]))
    assert isinstance(events[0], Refused) and events[0].problem.kind == "over_budget"
    assert tight.chat_requests() == []
    # The session's token limit is checked with the image's tokens too.
    limited = Setup(fake, options=TurnOptions("qwen-vl-plus"),
                    limits=Limits(max_tokens_per_session=tokens + 500, max_output_tokens=600))
    events = list(limited.engine.send("hi", attachments=[photo]))
    assert isinstance(events[0], Refused) and events[0].problem.kind == "session_tokens"


def test_the_sidebar_counts_the_images_the_next_request_will_carry(fake):
    s = Setup(fake, options=TurnOptions("qwen-vl-plus"))
    photo = prepared(png(900, 700))
    list(s.engine.send("图", attachments=[photo]))
    seen = next_request(s.conversation, "qwen-vl-plus", 32_000).prompt_tokens
    blind = next_request(s.conversation, "qwen-plus", 32_000).prompt_tokens
    assert seen - blind >= estimate_image_tokens(photo.width, photo.height, "qwen-vl-plus") - 5


def test_a_conversation_over_its_image_cap_refuses_the_next_image(fake):
    first, second = prepared(png(800, 600, (1, 2, 3)), "a.png"), prepared(png(800, 600, (9, 9, 9)), "b.png")
    s = Setup(fake, options=TurnOptions("qwen-vl-plus"),
              limits=Limits(max_image_bytes_per_conversation=first.size + second.size - 1))
    assert isinstance(list(s.engine.send("one", attachments=[first]))[-1], ReplyEnded)
    assert isinstance(list(s.engine.send("same one again", attachments=[first]))[-1], ReplyEnded)  # stored once
    events = list(s.engine.send("two", attachments=[second]))
    assert isinstance(events[0], Refused) and events[0].problem.kind == "images_full"
    assert "Start a new conversation" in events[0].problem.message("en")


def test_images_are_stored_once_with_the_conversation_and_deleted_with_it(fake, tmp_path):
    store = Store(tmp_path / "chats.db")
    s = Setup(fake, options=TurnOptions("qwen-vl-plus"), store=store)
    photo = prepared(png(500, 400))
    list(s.engine.send("one", attachments=[photo]))
    list(s.engine.send("again", attachments=[photo]))
    loaded = store.load("alice", s.conversation.id)
    parts = [p for m in loaded.messages for p in m.images]
    assert [p.data["id"] for p in parts] == [photo.id, photo.id] and parts[0].text == "photo.jpg"
    assert store.load_image("alice", photo.id) == photo.data
    assert store.load_image("bob", photo.id) is None  # scoped to its owner
    rows = store._conn.execute("SELECT COUNT(*) FROM images").fetchone()[0]
    assert rows == 1
    # After a reload the next turn sends the stored image again.
    again = Setup(fake, options=TurnOptions("qwen-vl-plus"), store=store, conversation=loaded)
    again.send("and now?")
    assert len(sent_images(again.chat_requests()[-1])) == 2
    store.delete("alice", s.conversation.id)
    assert store.load_image("alice", photo.id) is None
    assert store._conn.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 0
    store.close()
