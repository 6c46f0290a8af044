"""Images in exports and imports: the JSON carries their pixels once, an import checks them and gives them
to the importing owner; the Markdown export notes them."""

from __future__ import annotations

import base64
import json

import pytest

from qwenchat.conversation import Conversation
from qwenchat.images import PreparedImage, prepare_image
from qwenchat.imports import ImportLimits, ImportRateLimiter, import_conversation
from qwenchat.transfer import InvalidImport, from_json_with_images, to_json, to_markdown
from tests.images_helpers import png


def picture(color=(200, 0, 0), name="red.png") -> PreparedImage:
    prepared = prepare_image(png(120, 80, color), name)
    assert isinstance(prepared, PreparedImage)
    return prepared


def with_image(image: PreparedImage) -> Conversation:
    conversation = Conversation(title="看图")
    conversation.add_user("这是什么？").parts.append(image.part())
    conversation.start_reply("qwen-vl-plus").content = "一块红色。"
    conversation.add_user("再看一次").parts.append(image.part())  # the same picture twice
    return conversation


def test_a_json_export_carries_each_image_once_and_an_import_gives_it_to_the_importer(store):
    image = picture()
    exported = to_json(with_image(image), {image.id: image.data}.get)
    data = json.loads(exported)
    assert data["version"] >= 3  # images came with version 3
    assert [i["id"] for i in data["conversation"]["images"]] == [image.id]
    assert base64.b64decode(data["conversation"]["images"][0]["data"]) == image.data

    imported = import_conversation(store, "bob", exported, ImportLimits(), ImportRateLimiter())
    loaded = store.load("bob", imported.id)
    parts = [p for m in loaded.messages for p in m.images]
    assert [p.data["id"] for p in parts] == [image.id, image.id] and parts[0].text == "red.png"
    assert store.load_image("bob", image.id) == image.data
    assert store.load_image("alice", image.id) is None


def test_an_import_believes_the_pixels_not_what_the_file_says_about_them():
    image = picture()
    data = json.loads(to_json(with_image(image), {image.id: image.data}.get))
    forged = "f" * 64
    data["conversation"]["images"][0]["id"] = forged
    for message in data["conversation"]["messages"]:
        for part in message["parts"]:
            part["data"].update(id=forged, width=99999, height=1, bytes=1)
    conversation, images = from_json_with_images(json.dumps(data))
    (kept,) = images
    assert kept.id == image.id and (kept.width, kept.height) == (120, 80)
    part = conversation.messages[0].images[0]
    assert part.data == {"id": image.id, "mime": "image/png", "width": 120, "height": 80, "bytes": image.size}


@pytest.mark.parametrize("payload, mime", [(base64.b64encode(b"not a png").decode(), "image/png"),
                                           ("@@not base64@@", "image/png"),
                                           (None, "image/jpeg")])
def test_an_image_that_is_not_what_it_claims_refuses_the_file(payload, mime):
    image = picture()
    data = json.loads(to_json(with_image(image), {image.id: image.data}.get))
    entry = data["conversation"]["images"][0]
    entry["mime"] = mime
    if payload is not None:
        entry["data"] = payload
    with pytest.raises(InvalidImport) as caught:
        from_json_with_images(json.dumps(data))
    assert "image 1 is not a valid" in caught.value.message("en")


def test_an_export_without_the_images_still_imports_and_shows_them_missing(store):
    image = picture()
    exported = to_json(with_image(image))  # no store to read them from
    assert json.loads(exported)["conversation"]["images"] == []
    imported = import_conversation(store, "bob", exported, ImportLimits(), ImportRateLimiter())
    assert store.load("bob", imported.id).messages[0].images[0].data["id"] == image.id
    assert store.load_image("bob", image.id) is None


def test_the_markdown_export_notes_each_image_with_its_name_and_size():
    md = to_markdown(with_image(picture(name="red.png")), lang="en")
    assert md.count("🖼 Image: red.png (120×80; in the JSON export)") == 2
