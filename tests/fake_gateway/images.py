"""The fake's pictures: real PNGs made in microseconds, sized as the request asks, and
photo-like ones as big and slow to decode as a real 4K answer (`photo_png`).

Also the hostile ones the canned answers send: a decompression bomb and a gzip bomb.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import io
import math
import os
import re
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Any

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Pixel side of a square image at each resolution tier (1K is about one megapixel).
TIER_SIDES = {"0.5K": 512, "1K": 1024, "2K": 2048, "4K": 4096}
MAX_SIDE = 8192
GZIP_BOMB_BYTES = 512 * 1024 * 1024


def image_size_for(params: dict[str, Any]) -> tuple[int, int]:
    """Pixel size for a request: aspect_ratio (+ image_size tier) wins over size, as upstream."""
    ratio = str(params.get("aspect_ratio") or "")
    tier = str(params.get("image_size") or "")
    if match := re.fullmatch(r"(\d+):(\d+)", ratio):
        across, down = int(match[1]), int(match[2])
        if across and down:
            area = TIER_SIDES.get(tier, 1024) ** 2
            width = math.sqrt(area * across / down)
            return _clamp(width, width * down / across)
    if match := re.fullmatch(r"(\d+)x(\d+)", str(params.get("size") or "")):
        return _clamp(int(match[1]), int(match[2]))
    side = TIER_SIDES.get(tier, 1024)
    return side, side


def _clamp(width: float, height: float) -> tuple[int, int]:
    # Multiples of 8 like real models, and never big enough to exhaust the test machine.
    def side(value: float) -> int:
        return min(MAX_SIDE, max(8, round(value / 8) * 8))

    return side(width), side(height)


def colour_for(model: str, prompt: str) -> tuple[int, int, int]:
    digest = hashlib.sha256(f"{model}\n{prompt}".encode()).digest()
    return digest[0], digest[1], digest[2]


def png_bytes(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    """A real one-colour PNG, made in microseconds so hundreds of calls cost nothing.

    It is an indexed PNG: every pixel is palette entry 0, so the compressed pixel rows depend
    only on the size (cached) and the colour lives in the 3-byte palette.
    """
    header = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)  # 8-bit, indexed colour
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"PLTE", bytes(colour))
        + _chunk(b"IDAT", _blank_rows(width, height))
        + _chunk(b"IEND", b"")
    )


@functools.lru_cache(maxsize=32)
def _blank_rows(width: int, height: int) -> bytes:
    return zlib.compress(bytes(1 + width) * height)  # per row: filter type 0, then index 0s


def png_b64(width: int, height: int, colour: tuple[int, int, int]) -> str:
    return base64.b64encode(png_bytes(width, height, colour)).decode("ascii")


@functools.cache
def bomb_png(width: int = 30_000, height: int = 30_000) -> bytes:
    """A valid-looking PNG of a few hundred bytes whose header declares width x height pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(bytes(1 + width * 3) * 4)  # a few rows; a decoder would want the rest
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", rows) + _chunk(b"IEND", b"")


@functools.cache
def gzip_bomb(size: int = GZIP_BOMB_BYTES) -> bytes:
    """A gzip body that inflates to an image answer of about `size` bytes, its b64_json all "A".

    Made in a fraction of a second rather than by compressing `size` bytes: after a full flush
    the compressor starts afresh, so every 1 MB block of "A"s compresses to the same bytes and
    one compressed block can simply be repeated. The gzip trailer's CRC is computed alongside.
    """
    head, tail, block = b'{"data": [{"b64_json": "', b'"}]}', b"A" * (1024 * 1024)
    blocks = (size - len(head) - len(tail)) // len(block)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)  # raw deflate: we add the frame
    start = deflate.compress(head) + deflate.flush(zlib.Z_FULL_FLUSH)
    middle = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    end = deflate.compress(tail) + deflate.flush()
    crc = zlib.crc32(head)
    for _ in range(blocks):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(tail, crc)
    length = len(head) + blocks * len(block) + len(tail)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # gzip, deflate, no name, no time
    trailer = struct.pack("<II", crc, length & 0xFFFFFFFF)
    return header + start + middle * blocks + end + trailer


@functools.cache
def photo_png(width: int, height: int) -> bytes:
    """A photo-sized, photo-weight PNG: smooth gradients under coarse and fine noise, so it
    compresses about as badly as a photograph (3840x2160: ~17 MB; 4096x4096: ~35 MB) and
    decodes as slowly. Made once (seconds) and kept on disk in the temporary folder, so
    benchmark runs after the first start at once."""
    cache = Path(tempfile.gettempdir()) / f"fake-gateway-photo-v1-{width}x{height}.png"
    with contextlib.suppress(OSError):
        return cache.read_bytes()
    from PIL import Image, ImageChops  # only here: the fake's other images need no Pillow

    red = Image.linear_gradient("L").resize((width, height))
    green = Image.radial_gradient("L").resize((width, height))
    blue = red.transpose(Image.Transpose.ROTATE_180)
    coarse = Image.merge(
        "RGB", [Image.effect_noise((width // 2, height // 2), 24) for _ in range(3)]
    ).resize((width, height), Image.Resampling.BILINEAR)
    fine = Image.merge("RGB", [Image.effect_noise((width, height), 2) for _ in range(3)])
    picture = ImageChops.add(Image.merge("RGB", (red, green, blue)), coarse, offset=-128)
    picture = ImageChops.add(picture, fine, offset=-128)
    buffer = io.BytesIO()
    picture.save(buffer, "PNG", compress_level=1)
    data = buffer.getvalue()
    partial = cache.with_suffix(f".{os.getpid()}.part")
    with contextlib.suppress(OSError):
        partial.write_bytes(data)
        partial.replace(cache)  # atomic: a concurrent reader sees all of it or nothing
    return data


@functools.cache
def photo_b64(width: int, height: int) -> bytes:
    return base64.b64encode(photo_png(width, height))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
