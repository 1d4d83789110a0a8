"""Edits: a visible, deterministic reworking of a source picture in each style.

The first source is decoded and fitted to the requested size, then reworked; further sources
become small framed insets along the top-right edge.
"""

from __future__ import annotations

import io
import random

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps

from gallery.imaging import ImageRejected, image_size_from_bytes
from gallery.offline.aurora import curtains
from gallery.offline.blueprint import INK, Sheet
from gallery.offline.canvas import SOFT_SIDE, draw_fine, enlarge, soft_size
from gallery.offline.mosaic import low_poly
from gallery.offline.palette import Palette, hls

MAX_SOURCE_PIXELS = 50_000_000


def decode_source(data: bytes, pal: Palette, side: int) -> Image.Image:
    """An upright RGB copy of a source; JPEGs decode at 1/2..1/8 scale if still >= side."""
    width, height = image_size_from_bytes(data)  # raises ImageRejected for non-images
    if width * height > MAX_SOURCE_PIXELS:
        raise ImageRejected(f"The image is over {MAX_SOURCE_PIXELS // 1_000_000} megapixels.")
    try:
        im = Image.open(io.BytesIO(data))
        im.draft("RGB", (side, side))
        im = ImageOps.exif_transpose(im)
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageRejected("The image file is incomplete or damaged.") from error
    if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
        ground = Image.new("RGBA", im.size, (*pal.dark, 255))
        return Image.alpha_composite(ground, im.convert("RGBA")).convert("RGB")
    return im.convert("RGB")


def cover(im: Image.Image, w: int, h: int) -> Image.Image:
    return ImageOps.fit(im, (w, h), Image.Resampling.BICUBIC)


def edit_aurora(prompt: str, base: Image.Image, pal: Palette, rng: random.Random) -> Image.Image:
    """Toned in the prompt's colours, with aurora light washed over it."""
    grey = ImageOps.autocontrast(base.convert("L"), cutoff=1)
    toned = Image.blend(base, ImageOps.colorize(grey, pal.dark, pal.light, mid=pal.glows[0]), 0.7)
    light = curtains(soft_size(*base.size, SOFT_SIDE // 2), pal, rng, 1.0, 0.9)
    return ImageChops.screen(toned, enlarge(light, base.size))


def edit_mosaic(prompt: str, base: Image.Image, pal: Palette, rng: random.Random) -> Image.Image:
    """The picture rebuilt from flat triangles in a slightly reduced, tinted palette."""
    field = ImageOps.posterize(base.resize(soft_size(*base.size), Image.Resampling.BOX), 4)
    tint = ImageOps.colorize(field.convert("L"), pal.dark, pal.light, mid=pal.glows[0])
    return low_poly(Image.blend(field, tint, 0.25), base.width, base.height, rng, 2.4, jitter=0.04)


def edit_blueprint(prompt: str, base: Image.Image, pal: Palette, rng: random.Random) -> Image.Image:
    """A cyanotype of the picture with its edges inked in, on a drawing sheet."""
    grey = ImageOps.autocontrast(base.convert("L"), cutoff=1)
    im = ImageOps.colorize(
        grey, hls(0.6, 0.14, 0.75), hls(0.57, 0.86, 0.7), mid=hls(0.6, 0.42, 0.6)
    )
    edges = grey.filter(ImageFilter.FIND_EDGES).point(lambda v: min(255, v * 3))
    im.paste(INK, (0, 0), edges.point(lambda v: v * 3 // 5))
    sheet = Sheet(rng, base.width, base.height, title=prompt)

    def draw(d: ImageDraw.ImageDraw, f: int) -> None:
        sheet.grid(d, f)
        sheet.title_block(d, f)

    draw_fine(im, draw, blend=True)
    return im


def insets(im: Image.Image, others: list[Image.Image], pal: Palette) -> None:
    """Small framed copies of the extra sources along the top-right edge."""
    side = max(8, round(min(im.size) * 0.22))
    margin = max(2, round(min(im.size) * 0.025))
    border = max(1, round(side * 0.025))
    draw = ImageDraw.Draw(im, "RGBA")
    for i, other in enumerate(others):
        x1 = im.width - margin - i * (side + margin)
        x0, y0 = x1 - side, margin
        if x0 < margin:
            break
        shadow = border * 2
        draw.rectangle(
            (x0 + shadow, y0 + shadow, x1 + shadow, y0 + side + shadow), fill=(0, 0, 0, 80)
        )
        draw.rectangle(
            (x0 - border, y0 - border, x1 + border - 1, y0 + side + border - 1), fill=pal.light
        )
        im.paste(cover(other, side, side), (x0, y0))
