"""Images a user attaches: checked, cleaned and shrunk before they are kept or sent, and what they cost.

    prepared = prepare_image(data, "screenshot.png", "qwen-vl-plus")   # PreparedImage | Problem
    prepared.part()                 # the message's `image` Part: id, mime, width, height, bytes (no pixels)
    estimate_image_tokens(w, h, model)  # what DashScope will bill for it, before sending

Preparing an image: refuse a file over `MAX_UPLOAD_BYTES`, anything Pillow does not recognise as PNG, JPEG,
WebP or GIF, a header that claims more than `MAX_SOURCE_PIXELS` (a decompression bomb is refused before a
pixel is decoded) and a file that does not decode to the end (truncated, corrupt). Then take the first frame
(a GIF's), turn it upright by its EXIF orientation, shrink it (aspect kept) to the model's pixel limit, and
re-encode it from its pixels alone, so no EXIF (GPS, camera), XMP or text chunk survives. PNG and GIF become
PNG, JPEG stays JPEG, WebP stays WebP. An image is identified by the SHA-256 of the bytes that come out:
the same picture attached twice is stored once.

Tokens (DashScope's rule for Qwen-VL, from its vision guide; the billed usage is the truth): each side is
rounded to a multiple of the patch (28 px for Qwen2.5-VL models such as qwen-vl-plus/max, 32 px for Qwen3-VL
and the multimodal Qwen3.5/3.6), the area is brought within [4, max] patches by scaling with the aspect
kept, and the image costs one token per patch plus 2 for its start and end markers. `max` is 1,280 patches
(28 px) or 2,560 (32 px) by default, 16,384 with `vl_high_resolution_images`.

Requests: a message's image goes into the request "planned" (`planned_part`: its id and size, no pixels),
so the sidebar and the budget can count it on every rerun for free; `resolve` swaps the planned parts that
survived the budget for `image_url` parts with a base64 data URL, loading only those images.

No Streamlit here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from PIL import Image, ImageOps, UnidentifiedImageError

from qwenchat.conversation import IMAGE_KEY, Part
from qwenchat.turns import Problem

MAX_UPLOAD_BYTES = 20 * 2**20         # a file larger than this is refused before it is read as an image
MAX_PER_MESSAGE = 10                  # files (images and documents) attached to one message
MAX_SOURCE_PIXELS = 50_000_000        # a header claiming more is refused before decoding (a bomb)
MAX_DATA_URL_BYTES = 10 * 2**20       # DashScope: a base64 image in a request must stay under 10 MB
MIN_SIDE = 10                         # DashScope refuses images with a side of 10 px or less
MAX_ASPECT = 200                      # ... and an aspect ratio over 200:1
HIGH_RESOLUTION_MAX_TOKENS = 16_384   # per image with vl_high_resolution_images
PLACEHOLDER = "[image]"               # what a text-only model reads in place of an image

# Pillow's format name -> what we write.
_OUTPUT = {"PNG": "PNG", "GIF": "PNG", "JPEG": "JPEG", "WEBP": "WEBP"}
_MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
MIMES = tuple(_MIME.values())
FILE_TYPES = ("png", "jpg", "jpeg", "webp", "gif")  # what the chat input offers to attach
_PLANNED = IMAGE_KEY  # the key of a planned part's image data (never sent: `resolve` replaces it)


@dataclass(frozen=True)
class VisionLimits:
    patch: int       # pixels per side of one token's patch
    max_tokens: int  # patches per image by default

    @property
    def max_pixels(self) -> int:
        return self.max_tokens * self.patch * self.patch


_QWEN25_VL = VisionLimits(28, 1_280)
_QWEN3_VL = VisionLimits(32, 2_560)
# Snapshots that DashScope lists as 32-pixel models although their family is older.
_THIRTY_TWO = ("qwen3-vl", "qwen3.5", "qwen3.6", "qwen-vl-max-2025-08-13", "qwen-vl-plus-2025-08-15",
               "qwen-vl-plus-2025-07-10")


def vision_limits(model: str) -> VisionLimits:
    """The patch size and default per-image maximum for a model (Qwen2.5-VL's when unknown)."""
    name = (model or "").strip().lower()
    return _QWEN3_VL if name.startswith(_THIRTY_TWO) else _QWEN25_VL


def estimate_image_tokens(width: int, height: int, model: str, *, high_resolution: bool = False) -> int:
    """Tokens DashScope bills for one image of this size sent to `model` (markers included)."""
    limits = vision_limits(model)
    patch = limits.patch
    max_tokens = HIGH_RESOLUTION_MAX_TOKENS if high_resolution else limits.max_tokens
    width, height = max(1, int(width)), max(1, int(height))
    min_pixels, max_pixels = 4 * patch * patch, max_tokens * patch * patch
    h_bar = max(patch, round(height / patch) * patch)
    w_bar = max(patch, round(width / patch) * patch)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = max(patch, math.floor(height / beta / patch) * patch)
        w_bar = max(patch, math.floor(width / beta / patch) * patch)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / patch) * patch
        w_bar = math.ceil(width * beta / patch) * patch
    return h_bar * w_bar // (patch * patch) + 2


@dataclass(frozen=True)
class PreparedImage:
    """An image ready to store and send: clean bytes and what the conversation records about them."""

    id: str     # SHA-256 of `data`, hex
    mime: str
    width: int
    height: int
    data: bytes
    name: str = ""

    @property
    def size(self) -> int:
        return len(self.data)

    def part(self) -> Part:
        return Part("image", self.name, {"id": self.id, "mime": self.mime, "width": self.width,
                                         "height": self.height, "bytes": self.size})

    def data_url(self) -> str:
        return data_url(self.mime, self.data)


def data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _problem(kind: str, name: str, **params: Any) -> Problem:
    return Problem(kind, f"image.{kind}", {"name": name or "?", **params})


def prepare_image(data: bytes, name: str = "", model: str = "") -> PreparedImage | Problem:
    """The image cleaned and shrunk for `model`, or why it cannot be sent (see the module docstring)."""
    if len(data) > MAX_UPLOAD_BYTES:
        return _problem("file_too_large", name, size=megabytes(len(data)), limit=megabytes(MAX_UPLOAD_BYTES))
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=tuple(_OUTPUT)) as probe:
                source_format, (width, height) = probe.format, probe.size
                if width * height > MAX_SOURCE_PIXELS:
                    return _problem("too_many_pixels", name, width=width, height=height,
                                    limit=MAX_SOURCE_PIXELS)
                probe.verify()
            with Image.open(io.BytesIO(data), formats=tuple(_OUTPUT)) as image:
                image.seek(0)
                image.load()
                upright = ImageOps.exif_transpose(image)
        except UnidentifiedImageError:
            return _problem("unsupported", name)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            return _problem("too_many_pixels", name, width=0, height=0, limit=MAX_SOURCE_PIXELS)
        except Exception:  # noqa: BLE001 - a truncated or corrupt file raises many kinds of error in decoders
            return _problem("unreadable", name)
    width, height = upright.size
    if min(width, height) <= MIN_SIDE or max(width, height) > MAX_ASPECT * min(width, height):
        return _problem("bad_shape", name, width=width, height=height)
    output = _OUTPUT[source_format or "PNG"]
    pixels = _normalised(upright, output)
    pixels = _shrunk(pixels, vision_limits(model).max_pixels)
    encoded = _encode(pixels, output)
    while len(data_url(_MIME[output], encoded)) > MAX_DATA_URL_BYTES:
        if min(pixels.size) // 2 <= MIN_SIDE:
            return _problem("still_too_large", name, limit=megabytes(MAX_DATA_URL_BYTES))
        output = "JPEG"  # photos saved as PNG: JPEG is far smaller; then halve the area until it fits
        pixels = _normalised(pixels, output)
        encoded = _encode(pixels, output)
        if len(data_url(_MIME[output], encoded)) > MAX_DATA_URL_BYTES:
            pixels = pixels.resize((max(1, int(pixels.width / 1.5)), max(1, int(pixels.height / 1.5))),
                                   Image.Resampling.LANCZOS)
            encoded = _encode(pixels, output)
    return PreparedImage(hashlib.sha256(encoded).hexdigest(), _MIME[output], pixels.width, pixels.height,
                         encoded, name)


def prepare_attachments(files: Sequence[tuple[str, bytes]], model: str) -> tuple[list[Any], Problem | None]:
    """Every file attached to one message, prepared: images (`PreparedImage`) and documents (PDF, DOCX, TXT,
    Markdown: `qwenchat.documents.PreparedDocument`); the first problem stops them all (the user fixes one
    file and sends again)."""
    from qwenchat import documents

    if len(files) > MAX_PER_MESSAGE:
        return [], Problem("too_many", "image.too_many", {"count": len(files), "limit": MAX_PER_MESSAGE})
    prepared = []
    for name, data in files:
        result = documents.prepare_document(name, data, model) if documents.is_document(name) \
            else prepare_image(data, name, model)
        if isinstance(result, Problem):
            return [], result
        prepared.append(result)
    return prepared, None


def thumbnail(data: bytes, side: int = 320) -> bytes:
    """A small PNG or JPEG of stored image bytes, for the chat's history (the page carries no full images)."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        output = "JPEG" if image.format == "JPEG" else "PNG"
        small = _normalised(image, output)
    small.thumbnail((side, side), Image.Resampling.LANCZOS)
    return _encode(small, output)


def megabytes(count: int) -> str:
    """A size as the messages state it: "2.5 MB"."""
    return f"{count / 2**20:.1f}".removesuffix(".0") + " MB"


def _normalised(image: Image.Image, output: str) -> Image.Image:
    """The pixels in a mode the output format writes, alpha laid on white for JPEG; no metadata at all."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if output == "JPEG":
        if has_alpha:
            rgba = image.convert("RGBA")
            flat = Image.new("RGB", rgba.size, (255, 255, 255))
            flat.paste(rgba, mask=rgba.getchannel("A"))
            image = flat
        elif image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
    elif image.mode not in ("RGB", "RGBA", "L", "LA") or (output == "WEBP" and image.mode in ("L", "LA")):
        image = image.convert("RGBA" if has_alpha else "RGB")
    # A fresh image from the raw pixels: EXIF, XMP, ICC, comments and text chunks stay behind.
    return Image.frombytes(image.mode, image.size, image.tobytes())


def _shrunk(image: Image.Image, max_pixels: int) -> Image.Image:
    width, height = image.size
    if width * height <= max_pixels:
        return image
    scale = math.sqrt(max_pixels / (width * height))
    size = (max(1, math.floor(width * scale)), max(1, math.floor(height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _encode(image: Image.Image, output: str) -> bytes:
    buffer = io.BytesIO()
    if output == "JPEG":
        image.save(buffer, "JPEG", quality=90)
    elif output == "WEBP":
        image.save(buffer, "WEBP", quality=90)
    else:
        image.save(buffer, "PNG", compress_level=6)
    return buffer.getvalue()


def verify_stored(data: bytes, mime: str) -> tuple[int, int] | None:
    """Width and height of stored image bytes of this mime type, or None when they are not that (an import
    is checked with this before its images are kept)."""
    wanted = {v: k for k, v in _MIME.items()}.get(mime)
    if wanted is None or len(data) > MAX_DATA_URL_BYTES:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=(wanted,)) as image:
                size = image.size
                if size[0] * size[1] > MAX_SOURCE_PIXELS:
                    return None
                image.load()
        except Exception:  # noqa: BLE001 - whatever the decoder raises, the bytes are not a usable image
            return None
    return size


# ---- requests ----------------------------------------------------------------------------------------

def is_image_part(part: Any) -> bool:
    return isinstance(part, dict) and part.get("type") == "image_url"


def part_tokens(part: dict[str, Any], model: str) -> int:
    """The token estimate of one `image_url` part: planned (its recorded size) or resolved (its data URL's
    header); an image whose size cannot be told counts as the model's maximum."""
    info = part.get(_PLANNED)
    if isinstance(info, dict):
        size = (info.get("width"), info.get("height"))
    else:
        url = (part.get("image_url") or {}).get("url") if isinstance(part.get("image_url"), dict) else None
        size = _size_from_data_url(url) if isinstance(url, str) else None
    if not size or not all(isinstance(n, int) and n > 0 for n in size):
        return vision_limits(model).max_tokens + 2
    return estimate_image_tokens(size[0], size[1], model)


def _size_from_data_url(url: str) -> tuple[int, int] | None:
    head, _, payload = url.partition(",")
    if not head.startswith("data:image/") or not head.endswith(";base64"):
        return None
    prefix = payload[:87_380]  # 64 KB of bytes: far past the header of anything `prepare_image` writes
    prefix = prefix[: len(prefix) - len(prefix) % 4]
    try:
        with Image.open(io.BytesIO(base64.b64decode(prefix))) as image:
            return image.size
    except (binascii.Error, ValueError, OSError, SyntaxError):
        return None


def resolve(messages: list[dict], load: Callable[[str], bytes | None]) -> list[dict]:
    """The request as sent: each planned image part becomes an `image_url` part with a data URL, or the
    placeholder text when its bytes cannot be found (the store is away, an import without them)."""
    resolved = []
    for message in messages:
        content = message.get("content")
        if not isinstance(content, list) or not any(_PLANNED in p for p in content if isinstance(p, dict)):
            resolved.append(message)
            continue
        parts = []
        for part in content:
            info = part.get(_PLANNED) if isinstance(part, dict) else None
            if info is None:
                parts.append(part)
                continue
            data = load(str(info.get("id", "")))
            if data is None:
                parts.append({"type": "text", "text": PLACEHOLDER})
            else:
                parts.append({"type": "image_url", "image_url": {"url": data_url(str(info.get("mime")), data)}})
        resolved.append({**message, "content": parts})
    return resolved
