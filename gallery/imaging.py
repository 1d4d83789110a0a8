"""Validating, sanitizing and thumbnailing image bytes.

Two entry points with different trust levels:

* ``process_generated`` takes what a model returned: the bytes are stored as they are, so it
  only has to prove they are a complete PNG/JPEG/WebP/GIF of sane size and make a thumbnail.
* ``sanitize_upload`` takes what a person uploaded: the bytes are re-encoded so that nothing
  but pixels (and a valid, reasonably sized ICC profile) survives — no EXIF, GPS location, XMP
  or comments — and a file that would decode to far more than its size suggests is refused.

Both open images only inside the process's decode budget (gallery.memory), so however many
arrive at once, only so many megabytes of decoded pixels are held at a time. Thumbnails are
converted to sRGB with the image's profile and carry none themselves.

Formats and dimensions come from our own reading of the file header (gallery.image_header),
never from a name or a declared content type, and are checked before Pillow is allowed to
allocate anything. Pillow's global settings (MAX_IMAGE_PIXELS, LOAD_TRUNCATED_IMAGES) are left
alone; its own bomb guard stays as a second line of defence.
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from PIL import ExifTags, Image, JpegImagePlugin

from gallery import colour, media, memory
from gallery.image_header import (
    DAMAGED,
    Header,
    ImageRejected,
    file_header,
    image_size_from_bytes,
    read_header,
)

__all__ = [
    "ImageBusy",
    "ImageRejected",
    "ProcessedImage",
    "SanitizedUpload",
    "image_size_from_bytes",
    "process_generated",
    "sanitize_upload",
]

# Register every Pillow plugin now: done lazily, the first save in each of many threads would
# queue them all on Python's import lock at the moment a batch of images lands.
Image.init()

# Images at least this big once decoded (4 megapixels of colour) take a decode slot.
BIG_DECODE_BYTES = 16_000_000

_PILLOW_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP", "gif": "GIF"}

_BUSY = "The studio is busy opening other large images. Please try again in a minute."

# An upload is refused as a decompression bomb when holding it would take over 64 MB and over
# 1000 times its file size. Measured as counted here (_decoded_bytes / file size): photos and
# every PNG, GIF and JPEG found on a Linux machine at most 210:1; JPEG cannot pass ~256:1 even
# for a blank canvas; a 6000x4000 line diagram 370:1; flat 4096x4096 RGBA masks 800-890:1.
# Deflate itself stops near 1030:1, which is where a PNG of nothing but zeros sits (the
# 7000x7000 RGBA bomb: 196 MB from 190 KB), while one-colour palette, 1-bit, GIF and lossless
# WebP files reach 5,000-100,000:1. Under 64 MB (a blank 4K UHD canvas, a grey 4096x4096 mask)
# nothing is refused: the decode budget keeps those cheap, as it does a bomb padded to pass.
# Model outputs are not held to this: the gateway may well send flat-colour pictures.
_BOMB_MIN_BYTES = 64_000_000
_BOMB_RATIO = 1000

# EXIF orientation -> the transpose that makes the pixels upright (as ImageOps.exif_transpose).
_ORIENTATION_FIX = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class ImageBusy(ImageRejected):
    """The image may be fine, but the decode budget did not free up within the wait allowed."""

    def __init__(self) -> None:
        super().__init__(_BUSY)


@dataclass(frozen=True)
class ProcessedImage:
    format: str
    width: int  # as displayed, i.e. after EXIF orientation
    height: int
    thumbnail: bytes  # in media.THUMBNAIL_FORMAT
    thumb_width: int
    thumb_height: int


@dataclass(frozen=True)
class SanitizedUpload:
    data: bytes
    format: str
    width: int
    height: int


def process_generated(
    source: bytes | str | os.PathLike,
    *,
    max_pixels: int = 50_000_000,
    thumb_max_side: int = 512,
    wait: float | None = None,
) -> ProcessedImage:
    """Check that a model's output is a complete image of sane size and make its thumbnail.

    `source`: the bytes, or the path of a file holding them (a big answer streamed to disk is
    read from there a piece at a time, never whole). `wait`: seconds to wait for the decode
    budget before ImageBusy; None waits as long as it takes."""
    with _reading(source) as file:
        header = file_header(file)
        _check_pixels(header, max_pixels)
        with _decoding(header, wait), _open(file, header) as im:
            if header.format == "jpeg":
                # Let libjpeg decode at 1/2, 1/4 or 1/8 scale; still twice the thumbnail
                # (Pillow's reducing_gap idea) so the final resample has detail to work with.
                im.draft(None, _fit(im.size, 2 * thumb_max_side))
            _load(im)
            orientation = _orientation(im)
            thumb = _thumbnail(im, thumb_max_side)
    if orientation in _ORIENTATION_FIX:
        thumb = thumb.transpose(_ORIENTATION_FIX[orientation])

    buffer = io.BytesIO()
    # method 2 encodes ~2x faster than the default 4 for ~3% more bytes. No ICC profile: the
    # pixels are sRGB already, and a profile could outweigh the thumbnail many times over.
    thumb.save(buffer, _PILLOW_FORMATS[media.THUMBNAIL_FORMAT], quality=80, method=2)
    width, height = header.width, header.height
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return ProcessedImage(
        format=header.format,
        width=width,
        height=height,
        thumbnail=buffer.getvalue(),
        thumb_width=thumb.width,
        thumb_height=thumb.height,
    )


@contextlib.contextmanager
def _reading(source: bytes | str | os.PathLike) -> Iterator[BinaryIO]:
    if isinstance(source, bytes):
        yield io.BytesIO(source)
    else:
        with open(source, "rb") as file:
            yield file


def sanitize_upload(
    data: bytes,
    *,
    max_bytes: int = 20 * 1024 * 1024,
    max_pixels: int = 50_000_000,
    wait: float | None = None,
) -> SanitizedUpload:
    """Validate a person's upload and re-encode it upright, keeping only pixels and a valid ICC
    profile. `wait` is as for process_generated."""
    if len(data) > max_bytes:
        raise ImageRejected(f"The file is over {max_bytes / (1024 * 1024):g} MB.")
    header = read_header(data)
    _check_pixels(header, max_pixels)
    _check_proportion(header, len(data))
    with _decoding(header, wait), _open(io.BytesIO(data), header) as opened:
        subsampling = JpegImagePlugin.get_sampling(opened) if header.format == "jpeg" else -1
        _load(opened)
        orientation = _orientation(opened)
        im: Image.Image = opened
        if orientation in _ORIENTATION_FIX:
            im = im.transpose(_ORIENTATION_FIX[orientation])
        # Everything else in info (exif, xmp, comment, text chunks, GIF extensions) is dropped
        # here; some encoders would otherwise copy it from info into the new file.
        kept = {"transparency": im.info["transparency"]} if "transparency" in im.info else {}
        if colour.usable_profile(im) is not None:
            kept["icc_profile"] = im.info["icc_profile"]
        im.info = kept

        buffer = io.BytesIO()
        out_format = header.format
        if header.format == "jpeg":
            if im.mode not in ("L", "RGB"):
                # CMYK/YCCK: store RGB, which every model and browser reads the same way; the
                # CMYK profile would no longer describe the pixels.
                im = im.convert("RGB")
                im.info = {}
            options = {"quality": 95, "icc_profile": im.info.get("icc_profile")}
            if subsampling >= 0:
                options["subsampling"] = subsampling
            im.save(buffer, "JPEG", **options)
        elif header.format == "webp":
            quality = {"lossless": True} if header.lossless else {"quality": 95}
            im.save(buffer, "WEBP", method=4, icc_profile=im.info.get("icc_profile"), **quality)
        else:
            # PNG stays PNG; a GIF becomes a PNG of its first frame. Level 1 deflate is about
            # four times faster than the default 6, for ~20% more bytes on photographic images.
            out_format = "png"
            im.save(buffer, "PNG", optimize=False, compress_level=1)
    return SanitizedUpload(
        data=buffer.getvalue(),
        format=out_format,
        width=im.width,
        height=im.height,
    )


def _check_pixels(header: Header, max_pixels: int) -> None:
    if header.width * header.height > max_pixels:
        raise ImageRejected(
            f"The image is {header.width}x{header.height} pixels, "
            f"over {max_pixels / 1_000_000:g} megapixels."
        )


def _decoded_bytes(header: Header) -> int:
    return header.width * header.height * header.bytes_per_pixel


def _check_proportion(header: Header, file_size: int) -> None:
    decoded = _decoded_bytes(header)
    if decoded > _BOMB_MIN_BYTES and decoded > _BOMB_RATIO * file_size:
        raise ImageRejected(
            f"This image would take {decoded / 1_000_000:.0f} MB of memory to open but is only "
            f"{_file_size(file_size)}: it looks like a decompression bomb, so it was refused."
        )


def _file_size(nbytes: int) -> str:
    if nbytes >= 100_000:
        return f"{nbytes / 1_000_000:.1f} MB"
    return f"{max(1, round(nbytes / 1000))} KB"


@contextlib.contextmanager
def _decoding(header: Header, wait: float | None) -> Iterator[None]:
    """Hold this image's share of the process's decode budget while it is open: twice its
    decoded size, since making the thumbnail or the upright upload may take a second full-size
    copy (Pillow premultiplies RGBA before resizing; a palette is widened to colour). The
    7000x7000 RGBA bomb, 196 MB decoded, peaked at 375 MB in process_generated.

    A big image also takes one of the process's IMAGE_DECODE_CONCURRENCY decode slots first
    (gallery.memory.DecodeSlots): small ones decode side by side, unlimited but by the budget."""
    decoded = _decoded_bytes(header)
    try:
        with contextlib.ExitStack() as held:
            if decoded >= BIG_DECODE_BYTES:
                started = time.monotonic()
                held.enter_context(memory.decode_slots().take(wait=wait))
                if wait is not None:
                    wait = max(0.0, wait - (time.monotonic() - started))
            held.enter_context(memory.decode_budget().reserve(2 * decoded, wait=wait))
            yield
    except memory.BudgetTimeout:
        raise ImageBusy() from None


def _open(file: BinaryIO, header: Header) -> Image.Image:
    try:
        im = Image.open(file, formats=[_PILLOW_FORMATS[header.format]])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Only reachable when max_pixels is set above Pillow's own limit.
        raise ImageRejected("The image is too large to open safely.") from None
    except (OSError, SyntaxError, ValueError, struct.error):
        raise ImageRejected(DAMAGED) from None
    # A GIF frame or an APNG may be larger than the header said; never trust only the header.
    if im.size != (header.width, header.height):
        im.close()
        raise ImageRejected(DAMAGED)
    return im


def _load(im: Image.Image) -> None:
    try:
        im.load()
    except (OSError, SyntaxError, ValueError, EOFError, struct.error):
        raise ImageRejected(DAMAGED) from None


def _orientation(im: Image.Image) -> int:
    # A broken EXIF block must not reject an otherwise good picture.
    try:
        return int(im.getexif().get(ExifTags.Base.Orientation, 1))
    except Exception:
        return 1


def _fit(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    width, height = size
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _thumbnail(im: Image.Image, max_side: int) -> Image.Image:
    """A small sRGB or sRGBA copy with no profile, longest side <= max_side, never enlarged."""
    profile = colour.usable_profile(im)
    if im.mode in ("P", "PA") or (im.mode in ("1", "L", "RGB") and "transparency" in im.info):
        # Palettes resize only with NEAREST; a tRNS colour key would be lost by resampling.
        im = im.convert("RGBA" if im.has_transparency_data else "RGB")
    elif im.mode == "1":
        im = im.convert("L")
    elif im.mode.startswith("I"):
        # 16-bit grey: resize in 32-bit, then scale 0..65535 down to 0..255.
        im = im.convert("I")
    # Resizing in the source mode is cheaper than converting the full-size image first.
    # reduce() does the integer part of the shrinking by box averaging (an area average, so no
    # aliasing), an antialiased BICUBIC the last step of less than 2x (at that factor it looks
    # like LANCZOS and costs 35% less). 4-5x faster than LANCZOS with reducing_gap=2.0, which
    # matters when dozens of images land at the same moment.
    thumb = im.resize(_fit(im.size, max_side), Image.Resampling.BICUBIC, reducing_gap=1.0)
    if thumb.mode in ("I", "F"):
        thumb = thumb.point(lambda value: value * (1 / 256)).convert("L")
    if profile is not None:
        thumb = colour.to_srgb(thumb, profile)
    if thumb.mode not in ("RGB", "RGBA"):
        thumb = thumb.convert("RGBA" if "A" in thumb.mode else "RGB")
    thumb.info = {}
    return thumb


# "Download as": the formats an original may be converted to, each with its encoder options.
CONVERSIONS = {
    "png": {"compress_level": 6},
    "jpeg": {"quality": 92},
    "webp": {"quality": 90, "method": 4},
}


def convert(source: BinaryIO, out: BinaryIO, *, to: str, wait: float | None = None) -> None:
    """Write the stored image `source` to `out` in the format `to` (one of CONVERSIONS), inside
    the decode budget (`wait`: seconds before ImageBusy). Its colour profile goes with it; JPEG
    has no transparency, so transparent parts turn white."""
    header = file_header(source)
    with _decoding(header, wait), _open(source, header) as im:
        _load(im)
        profile = im.info.get("icc_profile")
        if to == "jpeg" and im.mode not in ("RGB", "L", "CMYK"):
            rgba = im.convert("RGBA")
            picture = Image.new("RGB", im.size, (255, 255, 255))
            picture.paste(rgba, mask=rgba.getchannel("A"))
        elif to == "webp" and im.mode not in ("RGB", "RGBA"):
            picture = im.convert("RGBA" if im.has_transparency_data else "RGB")
        else:
            picture = im
        options = dict(CONVERSIONS[to])
        if profile:
            options["icc_profile"] = profile
        picture.save(out, _PILLOW_FORMATS[to], **options)
