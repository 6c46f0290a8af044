"""Preparing an attached image (refusals, orientation, metadata, shrinking) and its token estimate."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from qwenchat import images
from qwenchat.images import PreparedImage, estimate_image_tokens, prepare_image
from qwenchat.turns import Problem
from tests.images_helpers import animated_gif, opened, photo_with_gps, png

# ---- the estimate, against DashScope's documented rule and examples ----------------------------------

def test_an_image_already_on_the_patch_grid_costs_one_token_per_patch_plus_two_markers():
    # 224 x 448 is 8 x 16 patches of 28 px: 128 tokens, plus <vision_start> and <vision_end>.
    assert estimate_image_tokens(448, 224, "qwen-vl-plus") == 130


def test_a_large_image_is_counted_at_the_models_maximum_not_its_full_size():
    # 1024 x 1024 rounds to 1036 x 1036 (1,369 patches), over 1,280: scaled down to 980 x 980 = 1,225.
    assert estimate_image_tokens(1024, 1024, "qwen-vl-max") == 1225 + 2
    # A 4000 x 3000 photo stays under the default maximum of 1,280 patches.
    assert estimate_image_tokens(4000, 3000, "qwen-vl-plus") <= 1280 + 2


def test_a_tiny_image_costs_the_minimum_of_four_patches():
    assert estimate_image_tokens(12, 12, "qwen-vl-plus") == 4 + 2


def test_qwen3_vl_counts_32_pixel_patches_up_to_2560_and_high_resolution_up_to_16384():
    assert estimate_image_tokens(1024, 1024, "qwen3-vl-plus") == 32 * 32 + 2
    assert estimate_image_tokens(8000, 8000, "qwen3-vl-plus") <= 2560 + 2
    assert estimate_image_tokens(8000, 8000, "qwen-vl-plus", high_resolution=True) > 1280 + 2
    assert estimate_image_tokens(8000, 8000, "qwen-vl-plus", high_resolution=True) <= 16384 + 2


# ---- preparing ----------------------------------------------------------------------------------------

def test_a_phone_photo_is_turned_upright_shrunk_and_loses_its_gps_and_camera_data():
    prepared = prepare_image(photo_with_gps(4000, 3000, orientation=6), "IMG_0001.jpg", "qwen-vl-plus")
    assert isinstance(prepared, PreparedImage)
    image = opened(prepared.data)
    assert image.format == "JPEG" and prepared.mime == "image/jpeg"
    # Orientation 6: the 4000 x 3000 sensor image is shown portrait; aspect kept within a pixel.
    assert image.size == (prepared.width, prepared.height) and image.height > image.width
    assert abs(image.width / image.height - 3000 / 4000) < 0.01
    assert image.width * image.height <= images.vision_limits("qwen-vl-plus").max_pixels
    assert not image.getexif()  # no GPS, no orientation, no camera make
    assert b"QwenCam" not in prepared.data and b"Exif" not in prepared.data
    # The blue block was at the top left of the sensor image: after turning clockwise it is at the top right.
    assert image.getpixel((image.width - 5, 5))[2] > 150


def test_a_screenshot_stays_a_png_of_the_same_size_and_the_same_picture_gets_the_same_id():
    data = png(800, 600)
    first, second = prepare_image(data, "shot.png"), prepare_image(data, "again.png")
    assert isinstance(first, PreparedImage) and isinstance(second, PreparedImage)
    assert (first.mime, first.width, first.height) == ("image/png", 800, 600)
    assert first.id == second.id and len(first.id) == 64
    assert first.part().data == {"id": first.id, "mime": "image/png", "width": 800, "height": 600,
                                 "bytes": first.size}


def test_a_gif_is_sent_as_its_first_frame_in_png():
    prepared = prepare_image(animated_gif(), "anim.gif")
    assert isinstance(prepared, PreparedImage)
    image = opened(prepared.data)
    assert image.format == "PNG" and getattr(image, "n_frames", 1) == 1 and image.size == (64, 48)


def test_a_webp_stays_webp_and_transparency_is_kept():
    buffer = io.BytesIO()
    Image.new("RGBA", (100, 80), (10, 20, 30, 0)).save(buffer, "WEBP")
    prepared = prepare_image(buffer.getvalue(), "sticker.webp")
    assert isinstance(prepared, PreparedImage) and prepared.mime == "image/webp"
    assert opened(prepared.data).mode == "RGBA"


# ---- refusals, each with the file's name and a reason ------------------------------------------------

def test_a_text_file_renamed_png_is_refused_as_not_an_image():
    problem = prepare_image(b"just some notes, not pixels", "notes.png")
    assert isinstance(problem, Problem) and problem.kind == "unsupported"
    assert "notes.png" in problem.message("en") and "PNG, JPEG, WebP or GIF" in problem.message("en")


def test_a_truncated_photo_is_refused_as_unreadable():
    data = photo_with_gps(800, 600)
    problem = prepare_image(data[: len(data) // 2], "half.jpg")
    assert isinstance(problem, Problem) and problem.kind == "unreadable"
    assert "half.jpg" in problem.message("zh")


def _png_header_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header claims a huge canvas: the body is a few bytes of zlib that inflate to it."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    rows = zlib.compress(b"\x00" * (width // 8 + 1) * 64, 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", rows) + chunk(b"IEND", b""))


def test_a_decompression_bomb_is_refused_before_its_pixels_are_decoded():
    bomb = _png_header_claiming(60_000, 60_000)  # 3.6 gigapixels in a file of a few hundred bytes
    assert len(bomb) < 10_000
    problem = prepare_image(bomb, "bomb.png")
    assert isinstance(problem, Problem) and problem.kind == "too_many_pixels"
    assert "50,000,000" in problem.message("en")


def test_a_file_over_the_upload_limit_is_refused_without_reading_it():
    problem = prepare_image(b"\0" * (images.MAX_UPLOAD_BYTES + 1), "huge.png")
    assert isinstance(problem, Problem) and problem.kind == "file_too_large"
    assert "20 MB" in problem.message("en")


@pytest.mark.parametrize("size", [(8, 400), (2300, 11)])
def test_a_sliver_or_a_dot_is_refused_as_dashscope_would(size):
    problem = prepare_image(png(*size), "line.png")
    assert isinstance(problem, Problem) and problem.kind == "bad_shape"


def test_a_stored_image_is_verified_by_its_declared_type():
    prepared = prepare_image(png(50, 40), "a.png")
    assert images.verify_stored(prepared.data, "image/png") == (50, 40)
    assert images.verify_stored(prepared.data, "image/jpeg") is None
    assert images.verify_stored(b"nope", "image/png") is None
