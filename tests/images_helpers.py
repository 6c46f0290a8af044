"""Pictures for the image tests, made with Pillow in memory: a photo with GPS and a sideways orientation in
its EXIF, a screenshot-like PNG, an animated GIF."""

from __future__ import annotations

import io

from PIL import ExifTags, Image

GPS_LATITUDE = ((39, 1), (54, 1), (27, 1))  # Beijing, as a camera writes it


def photo_with_gps(width: int = 4000, height: int = 3000, orientation: int = 6) -> bytes:
    """A JPEG whose EXIF holds a GPS position and an orientation (6: shown rotated 90° clockwise)."""
    image = Image.new("RGB", (width, height), (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, width // 2, height // 4))  # a blue block at the top left
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "QwenCam"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (39.0, 54.0, 27.0)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80, exif=exif.tobytes())
    return buffer.getvalue()


def png(width: int = 640, height: int = 480, color=(20, 120, 220), mode: str = "RGB") -> bytes:
    image = Image.new(mode, (width, height), color)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("P", (64, 48), i) for i in (1, 2, 3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
