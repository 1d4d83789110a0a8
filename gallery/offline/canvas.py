"""Painting helpers every style shares, and the finishing touches: the label and the PNG.

Soft layers (skies, glows, aurora curtains) are painted on a small canvas and enlarged, which
keeps a 4096x2304 picture well under a second; crisp layers (ridges, tiles, lines, text) are
drawn at full size, at 2x and folded back down when the picture is small enough for that to be
cheap, which is how Pillow's unsmoothed shapes get soft edges.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable
from functools import cache

from PIL import Image, ImageChops, ImageDraw, ImageFont

from gallery.offline.palette import RGB

LABEL = "OFFLINE PREVIEW"
SOFT_SIDE = 480  # long side of the canvas soft layers are painted on

Draw = Callable[[ImageDraw.ImageDraw, int], None]

_SUPERSAMPLE_MAX_PIXELS = 2_500_000


def soft_size(width: int, height: int, side: int = SOFT_SIDE) -> tuple[int, int]:
    scale = min(1.0, side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def enlarge(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    # Bilinear is smooth enough for a 2-3x enlargement of soft layers and a third cheaper.
    small = size[0] * size[1] <= _SUPERSAMPLE_MAX_PIXELS
    return im.resize(size, Image.Resampling.BILINEAR if small else Image.Resampling.BICUBIC)


def vertical(size: tuple[int, int]) -> Image.Image:
    return Image.linear_gradient("L").resize(size, Image.Resampling.BILINEAR)


@cache
def _glow_mask() -> Image.Image:
    # radial_gradient is 0 at the centre and 181 mid-edge; make it a soft disc that fades
    # to 0 exactly at the edge of its box.
    return Image.radial_gradient("L").point(lambda v: round(255 * max(0.0, 1 - v / 181) ** 2.2))


def add_glow(layer: Image.Image, colour: RGB, centre: tuple[float, float], radii: tuple) -> None:
    """Adds a soft elliptical glow of colour to an RGB layer."""
    (cx, cy), (rx, ry) = centre, radii
    glow = Image.new("RGB", layer.size)
    mask = _glow_mask().resize((max(1, round(2 * rx)), max(1, round(2 * ry))))
    glow.paste(colour, (round(cx - rx), round(cy - ry)), mask)
    layer.paste(ImageChops.add(layer, glow))


def draw_fine(im: Image.Image, draw: Draw, *, top: int = 0, blend: bool = False) -> None:
    """Runs draw(d, factor) on the part of im below `top`, at 2x when that is cheap enough.

    Coordinates passed to d must be multiplied by factor and measured from `top`. With blend,
    d draws RGBA colours translucently (slower, so only where needed).
    """
    w, h = im.width, im.height - top
    factor = 2 if w * h <= _SUPERSAMPLE_MAX_PIXELS else 1
    band = im.crop((0, top, im.width, im.height))
    if factor > 1:
        band = band.resize((w * factor, h * factor), Image.Resampling.NEAREST)
    draw(ImageDraw.Draw(band, "RGBA" if blend else None), factor)
    im.paste(band.reduce(factor) if factor > 1 else band, (0, top))


def default_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Not cached: loading takes ~0.1 ms, and a FreeType face must not be shared by threads.
    return ImageFont.load_default(size=size)


def add_label(im: Image.Image) -> Image.Image:
    """Marks the bottom-left corner, so nobody mistakes this for a model's picture."""
    side = min(im.size)
    size = max(7, min(40, round(side * 0.018)))
    margin = max(2, round(side * 0.02))
    font = default_font(size)
    left, top, right, bottom = font.getbbox(LABEL)
    pad_x, pad_y = round(size * 0.75), round(size * 0.5)
    x0, y0 = margin, im.height - margin - (bottom - top + 2 * pad_y)
    x1, y1 = x0 + right - left + 2 * pad_x, im.height - margin
    draw = ImageDraw.Draw(im, "RGBA")
    draw.rounded_rectangle((x0, y0, x1, y1), radius=(y1 - y0) // 2, fill=(8, 10, 16, 135))
    draw.text((x0 + pad_x - left, y0 + pad_y - top), LABEL, font=font, fill=(240, 242, 245))
    return im


def encode_png(im: Image.Image) -> bytes:
    # Run-length deflate after PNG's row filters: on these smooth pictures about as small as
    # the default and several times faster.
    buffer = io.BytesIO()
    im.save(buffer, "PNG", compress_level=1, compress_type=zlib.Z_RLE)
    return buffer.getvalue()
