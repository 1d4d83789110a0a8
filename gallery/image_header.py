"""An image file's header, read by the studio itself: format and size before any decoder runs.

Formats and dimensions come from our own reading of the first bytes, never from a name or a
declared content type, so that gallery.imaging can check them before Pillow is allowed to
allocate anything: a 50-byte PNG can declare 30000x30000 pixels, and a WebP decoder allocates
its canvas as soon as it is opened.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

NOT_AN_IMAGE = "The file is not an image we can read (PNG, JPEG, WebP or GIF)."
DAMAGED = "The image file is incomplete or damaged, so it cannot be read."
# How much of a file is read to find its header (format and size) before anything is decoded.
HEADER_BYTES = 256 * 1024

# JPEG start-of-frame markers: C0-CF except DHT (C4), JPG (C8) and DAC (CC).
_JPEG_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


class ImageRejected(Exception):
    """The bytes are not an image we accept; ``message`` says why, in words for a person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Header:
    format: str
    width: int
    height: int
    lossless: bool = False  # WebP only: the first frame is VP8L
    # Once decoded, Pillow holds colour in 4 bytes a pixel and 8-bit grey in 1; palettes and
    # 16-bit grey count as the 4-byte pixels they become for the thumbnail.
    bytes_per_pixel: int = 4


def image_size_from_bytes(data: bytes) -> tuple[int, int]:
    """Width and height as stored in the header (before EXIF orientation), without decoding."""
    header = read_header(data)
    return header.width, header.height


def file_header(file: BinaryIO) -> Header:
    """The header, read from the file's first HEADER_BYTES; only a JPEG with its frame header
    further in (megabytes of metadata first) needs more, and then gets the whole file."""
    head = file.read(HEADER_BYTES)
    try:
        return read_header(head)
    except ImageRejected:
        if len(head) < HEADER_BYTES:
            raise
        file.seek(0)
        return read_header(file.read())
    finally:
        file.seek(0)


def read_header(data: bytes) -> Header:
    if not data:
        raise ImageRejected("The file is empty.")
    try:
        if data.startswith(b"\x89PNG\r\n\x1a\n"):
            return _png_header(data)
        if data.startswith(b"\xff\xd8\xff"):
            return _jpeg_header(data)
        if data.startswith((b"GIF87a", b"GIF89a")):
            width, height = struct.unpack_from("<HH", data, 6)
            return _sized("gif", width, height)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp_header(data)
    except (struct.error, IndexError):
        raise ImageRejected(DAMAGED) from None
    if _looks_like_svg(data):
        raise ImageRejected(
            "SVG files are not accepted; please use a PNG, JPEG, WebP or GIF image."
        )
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"avif", b"avis"):
        raise ImageRejected(
            "HEIC and AVIF images are not supported; please convert it to JPEG or PNG first."
        )
    raise ImageRejected(NOT_AN_IMAGE)


def _sized(
    image_format: str,
    width: int,
    height: int,
    *,
    lossless: bool = False,
    bytes_per_pixel: int = 4,
) -> Header:
    if width <= 0 or height <= 0:
        raise ImageRejected(DAMAGED)
    return Header(image_format, width, height, lossless, bytes_per_pixel)


def _png_header(data: bytes) -> Header:
    length, chunk_type, width, height, depth, colour_type = struct.unpack_from(">I4sIIBB", data, 8)
    if chunk_type != b"IHDR" or length != 13:
        raise ImageRejected(DAMAGED)
    grey = colour_type == 0 and depth <= 8
    return _sized("png", width, height, bytes_per_pixel=1 if grey else 4)


def _jpeg_header(data: bytes) -> Header:
    # Walk the marker segments up to the first start-of-frame, which carries the size.
    pos = 2
    while True:
        while data[pos] != 0xFF:
            pos += 1  # tolerate stray bytes between segments, as libjpeg does
        while data[pos] == 0xFF:
            pos += 1  # fill bytes
        marker = data[pos]
        pos += 1
        if marker in (0x01, *range(0xD0, 0xD8)):
            continue  # TEM and RSTn stand alone
        if marker in (0xD9, 0xDA):
            raise ImageRejected(DAMAGED)  # image data or end before any frame header
        (length,) = struct.unpack_from(">H", data, pos)
        if marker in _JPEG_SOF_MARKERS:
            height, width, components = struct.unpack_from(">HHB", data, pos + 3)
            return _sized("jpeg", width, height, bytes_per_pixel=1 if components == 1 else 4)
        pos += length


def _webp_header(data: bytes) -> Header:
    chunk = data[12:16]
    if chunk == b"VP8 ":
        if data[23:26] != b"\x9d\x01\x2a":
            raise ImageRejected(DAMAGED)
        width, height = struct.unpack_from("<HH", data, 26)
        return _sized("webp", width & 0x3FFF, height & 0x3FFF)
    if chunk == b"VP8L":
        if data[20] != 0x2F:
            raise ImageRejected(DAMAGED)
        (bits,) = struct.unpack_from("<I", data, 21)
        return _sized("webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, lossless=True)
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return _sized("webp", width, height, lossless=_webp_first_frame_lossless(data))
    raise ImageRejected(DAMAGED)


def _webp_first_frame_lossless(data: bytes) -> bool:
    pos, end = 12, len(data)
    while pos + 8 <= end:
        fourcc = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        if fourcc in (b"VP8L", b"VP8 "):
            return fourcc == b"VP8L"
        if fourcc == b"ANMF":
            pos += 8 + 16  # descend into the first frame's own chunks
            continue
        pos += 8 + size + (size & 1)
    return False


def _looks_like_svg(data: bytes) -> bool:
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<?xml", b"<svg", b"<!doctype svg", b"<!--")) and b"<svg" in head
