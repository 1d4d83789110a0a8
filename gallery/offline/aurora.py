"""Aurora: a night (or dusk) sky with glows, curtains of light, stars and layered hills."""

from __future__ import annotations

import itertools
import math
import random

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps

from gallery.offline.canvas import SOFT_SIDE, add_glow, draw_fine, enlarge, soft_size, vertical
from gallery.offline.palette import Palette, mix, shade


def paint(
    prompt: str, w: int, h: int, pal: Palette, rng: random.Random, detail: float
) -> Image.Image:
    """The sky, its lights and the hills, w x h, before the label."""
    # Sky, glows and curtains are all blur: a 240-pixel canvas holds everything they show.
    size = sw, sh = soft_size(w, h, SOFT_SIDE // 2)
    horizon = rng.uniform(0.62, 0.82) if w >= h else rng.uniform(0.72, 0.86)
    sky = ImageOps.colorize(
        vertical(size),
        pal.deep,
        pal.horizon,
        mid=pal.mid,
        midpoint=round(150 * horizon),
        whitepoint=round(255 * horizon) + 20,
    )
    light = Image.new("RGB", size)
    for colour in pal.glows[: 2 + round(detail)]:
        centre = rng.uniform(-0.1, 1.1) * sw, rng.uniform(0.45, 0.9) * horizon * sh
        radii = rng.uniform(0.35, 0.7) * sw, rng.uniform(0.25, 0.5) * sh
        add_glow(light, shade(colour, 0.55), centre, radii)
    light = ImageChops.add(light, curtains(size, pal, rng, detail, horizon))
    im = enlarge(ImageChops.screen(sky, light), (w, h))
    _stars(im, pal, rng, detail, horizon)
    _ridges(im, pal, rng, detail, horizon)
    return im


def curtains(
    size: tuple[int, int], pal: Palette, rng: random.Random, detail: float, horizon: float
) -> Image.Image:
    """Aurora curtains: wavy bands, bright at the lower edge, fading upwards, with rays."""
    sw, sh = size
    tint = ImageOps.colorize(vertical(size), pal.glows[1], pal.glows[0], midpoint=90)
    black = Image.new("RGB", size)
    layer = black
    xs = [sw * i / 64 for i in range(-1, 66)]
    for _ in range(max(1, round(rng.uniform(2, 3.5) * detail))):
        base, amp = rng.uniform(0.3, 0.85) * horizon * sh, rng.uniform(0.04, 0.12) * sh
        tall, strength = rng.uniform(0.18, 0.4) * sh, rng.uniform(0.6, 1.0)
        f1, f2, f3 = rng.uniform(0.6, 1.6), rng.uniform(2.0, 4.0), rng.uniform(0.8, 2.5)
        p1, p2, p3 = (rng.uniform(0, math.tau) for _ in range(3))
        ys = [
            base
            + amp * (math.sin(math.tau * f1 * x / sw + p1) + 0.3 * math.sin(f2 * 6 * x / sw + p2))
            for x in xs
        ]
        heights = [tall * (0.55 + 0.45 * math.sin(math.tau * f3 * x / sw + p3)) for x in xs]
        mask = Image.new("L", size)
        draw = ImageDraw.Draw(mask)
        bottom = [(x, y + sh * 0.012) for x, y in zip(xs, ys, strict=True)][::-1]
        steps = 10
        for k in range(steps, 0, -1):  # tallest and faintest first, bright lower edge last
            top = [(x, y - hh * k / steps) for x, y, hh in zip(xs, ys, heights, strict=True)]
            fill = round(240 * strength * (1 - (k - 1) / steps) ** 1.6)
            draw.polygon(top + bottom, fill=fill)
        mask = mask.filter(ImageFilter.GaussianBlur(sw * 0.012))
        rays = Image.frombytes("L", (max(2, sw // 4), 1), rng.randbytes(max(2, sw // 4)))
        rays = rays.resize(size, Image.Resampling.BICUBIC).point(lambda v: 70 + v * 185 // 255)
        layer = ImageChops.add(layer, Image.composite(tint, black, ImageChops.multiply(mask, rays)))
    return layer


def _stars(
    im: Image.Image, pal: Palette, rng: random.Random, detail: float, horizon: float
) -> None:
    if sum(pal.deep) > 150:
        return  # a bright sky has no stars
    w, h = im.size
    unit = max(1.0, min(w, h) / 900)
    draw = ImageDraw.Draw(im, "RGBA")
    for _ in range(min(700, round(w * h / 5000 * detail))):
        x, y = rng.uniform(0, w), h * horizon * rng.random() ** 1.6
        r = unit * rng.uniform(0.35, 1.3)
        alpha = round(rng.uniform(60, 230) * (1 - y / (h * horizon)) ** 0.5)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(*pal.light, alpha))


def _ridge(rng: random.Random, w: int, h: int, level: float, rough: float) -> list:
    """Midpoint displacement: a line that looks like hills rather than like a sine wave."""
    heights = [rng.uniform(-1, 1), rng.uniform(-1, 1)]
    spread = 1.0
    for _ in range(7):
        finer = [heights[0]]
        for a, b in itertools.pairwise(heights):
            finer += [(a + b) / 2 + rng.uniform(-spread, spread), b]
        heights, spread = finer, spread * 0.55
    step, amplitude = (
        w / (len(heights) - 1),
        min(w, h) * rough,
    )  # hills keep their size in tall frames
    return [(i * step, h * level - amplitude * v) for i, v in enumerate(heights)]


def _ridges(
    im: Image.Image, pal: Palette, rng: random.Random, detail: float, horizon: float
) -> None:
    w, h = im.size
    count = 2 + (detail > 1)
    ridges = []
    for i in range(count):
        level = horizon + (1 - horizon) * (0.05 + 0.3 * i)
        colour = mix(pal.mid, pal.dark, 0.45 + 0.55 * (i + 1) / count)
        ridges.append((colour, _ridge(rng, w, h, level, rng.uniform(0.04, 0.09) / (1 + i * 0.4))))
    top = max(0, math.floor(min(y for _, points in ridges for _, y in points)) - 1)

    def draw(d: ImageDraw.ImageDraw, f: int) -> None:
        for colour, points in ridges:
            outline = [(x * f, (y - top) * f) for x, y in points]
            d.polygon([*outline, (w * f, (h - top) * f), (0, (h - top) * f)], fill=colour)

    draw_fine(im, draw, top=top)
