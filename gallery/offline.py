"""The offline renderer: deterministic, prompt-seeded pictures drawn locally with Pillow.

It stands in for a model when no gateway key is set, so a newcomer sees the whole studio work.
Everything is seeded from a hash of the arguments, so the same request gives the same bytes.
Soft layers (skies, glows, aurora curtains) are painted on a small canvas and enlarged, which
keeps a 4096x2304 picture well under a second; crisp layers (ridges, tiles, lines, text) are
drawn at full size, at 2x and folded back down when the picture is small enough for that to be
cheap, which is how Pillow's unsmoothed shapes get soft edges.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import itertools
import math
import random
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont, ImageOps

from gallery.imaging import ImageRejected, image_size_from_bytes

STYLES = ("aurora", "mosaic", "blueprint")
LABEL = "OFFLINE PREVIEW"
MAX_SIDE = 8192
MAX_SOURCE_PIXELS = 50_000_000

RGB = tuple[int, int, int]
Draw = Callable[[ImageDraw.ImageDraw, int], None]

_DETAIL = {"low": 0.6, "medium": 1.0, "high": 1.5}
_SOFT_SIDE = 480  # long side of the canvas soft layers are painted on
_SUPERSAMPLE_MAX_PIXELS = 2_500_000


def _word_table(*groups: tuple[float, str]) -> dict[str, float]:
    return {word: value for value, words in groups for word in words.split()}


# Words that pick the key hue (the first one in the prompt wins) ...
_HUES = _word_table(
    (0.04, "sunset sunrise dawn dusk fire flame lava autumn warm ember amber orange red"),
    (0.04, "desert copper rust"),
    (0.11, "sun sunny gold golden lemon yellow honey sand"),
    (0.33, "forest jungle tree trees leaf leaves moss garden meadow spring green nature"),
    (0.33, "fern emerald"),
    (0.47, "teal turquoise lagoon tropical mint"),
    (0.59, "ocean sea water wave waves lake river night ice winter snow sky rain blue"),
    (0.59, "arctic glacier moon"),
    (0.76, "dream dreamy galaxy space cosmic nebula magic purple violet lavender neon"),
    (0.93, "rose roses flower flowers blossom cherry love pink candy"),
)
# ... and words that shift lightness (added up) and saturation (multiplied).
_LIGHTNESS = _word_table(
    (-0.05, "night midnight dark space storm noir shadow"),
    (0.08, "pastel soft morning mist misty fog foggy bright light"),
)
_SATURATION = _word_table(
    (1.3, "neon cyber vivid electric"),
    (0.6, "pastel mist misty fog foggy muted"),
    (0.12, "monochrome noir grey gray"),
)


@dataclass(frozen=True)
class _Palette:
    deep: RGB  # top of the sky, darkest background
    mid: RGB
    horizon: RGB  # where the light comes from
    glows: tuple[RGB, RGB, RGB]  # bright, for light on dark
    tiles: tuple[RGB, ...]  # calmer, for flat shapes side by side
    light: RGB
    dark: RGB
    key_hue: float


def render(
    *,
    prompt: str,
    width: int,
    height: int,
    style: str,
    variant: int = 0,
    quality: str | None = None,
) -> bytes:
    """A PNG of exactly width x height; the same arguments always give the same bytes."""
    _check(width=width, height=height, style=style)
    return _png(_label(_paint(prompt, width, height, style, variant, quality)))


def edit(
    *, prompt: str, sources: list[bytes], width: int, height: int, style: str, variant: int = 0
) -> bytes:
    """A visible, deterministic reworking of sources[0] (others become insets), as a PNG."""
    _check(width=width, height=height, style=style)
    if not sources:
        raise ValueError("edit needs at least one source image")
    palette = _palette(prompt)
    rng = _rng("edit", prompt, style, variant)
    base = _cover(_decode(sources[0], palette, max(width, height)), width, height)
    im = _EDITORS[style](prompt, base, palette, rng)
    others = [_decode(source, palette, max(width, height) // 4) for source in sources[1:4]]
    _insets(im, others, palette)
    return _png(_label(im))


def encode_as(png: bytes, *, image_format: str = "png", compression: int | None = None) -> bytes:
    """Re-encode a rendered PNG as the edit's requested output format (png, jpeg or webp).
    `compression` is OpenAI's output_compression, 0-100, where 100 keeps the most quality."""
    if image_format not in ("jpeg", "webp"):
        return png
    quality = 90 if compression is None else min(100, max(1, compression))
    with Image.open(io.BytesIO(png)) as im:
        out = io.BytesIO()
        im.convert("RGB").save(out, "JPEG" if image_format == "jpeg" else "WEBP", quality=quality)
    return out.getvalue()


def _check(*, width: int, height: int, style: str) -> None:
    if style not in STYLES:
        raise ValueError(f"unknown offline style {style!r}; expected one of {STYLES}")
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise ValueError(f"size {width}x{height} is outside 1..{MAX_SIDE} pixels a side")


def _paint(
    prompt: str, width: int, height: int, style: str, variant: int, quality: str | None
) -> Image.Image:
    """The picture without its label."""
    detail = _DETAIL.get(quality or "medium", 1.0)
    rng = _rng("render", prompt, style, variant, quality)
    return _PAINTERS[style](prompt, width, height, _palette(prompt), rng, detail)


# --- colour and shared helpers ---------------------------------------------------------


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _hls(hue: float, lightness: float, saturation: float) -> RGB:
    r, g, b = colorsys.hls_to_rgb(hue % 1.0, min(max(lightness, 0.0), 1.0), min(saturation, 1.0))
    return round(r * 255), round(g * 255), round(b * 255)


def _palette(prompt: str) -> _Palette:
    rng = _rng("palette", prompt)
    words = re.findall(r"[a-z]+", prompt.lower())
    key = next((_HUES[word] for word in words if word in _HUES), None)
    key = rng.random() if key is None else key + rng.uniform(-0.03, 0.03)
    lift = min(max(sum(_LIGHTNESS.get(word, 0.0) for word in words), -0.06), 0.16)
    sat = min(math.prod(_SATURATION.get(word, 1.0) for word in words), 1.3)
    sky = key + rng.choice((-0.14, 0.12, 0.5, 0.62, 0.72))
    third = key + rng.choice((-0.09, 0.08, 0.33, -0.33))
    return _Palette(
        deep=_hls(sky, 0.08 + lift * 0.6, 0.6 * sat),
        mid=_hls(sky + 0.04, 0.24 + lift, 0.55 * sat),
        horizon=_hls(key, 0.6 + lift * 0.8, 0.75 * sat),
        glows=(_hls(key, 0.55, 0.9 * sat), _hls(third, 0.52, 0.85 * sat), _hls(sky, 0.5, sat)),
        tiles=(
            _hls(sky, 0.16 + lift, 0.45 * sat),
            _hls(sky, 0.34 + lift, 0.4 * sat),
            _hls(key, 0.56 + lift / 2, 0.68 * sat),
            _hls(third, 0.64 + lift / 2, 0.5 * sat),
            _hls(key + 0.05, 0.9, 0.45 * sat),
        ),
        light=_hls(key + 0.03, 0.93, 0.6 * sat),
        dark=_hls(sky, 0.05, 0.45 * sat),
        key_hue=key % 1.0,
    )


def _shade(colour: RGB, factor: float) -> RGB:
    r, g, b = (min(255, max(0, round(channel * factor))) for channel in colour)
    return r, g, b


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    r, g, b_ = (round(x + (y - x) * t) for x, y in zip(a, b, strict=True))
    return r, g, b_


def _soft_size(width: int, height: int, side: int = _SOFT_SIDE) -> tuple[int, int]:
    scale = min(1.0, side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _enlarge(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    # Bilinear is smooth enough for a 2-3x enlargement of soft layers and a third cheaper.
    small = size[0] * size[1] <= _SUPERSAMPLE_MAX_PIXELS
    return im.resize(size, Image.Resampling.BILINEAR if small else Image.Resampling.BICUBIC)


def _vertical(size: tuple[int, int]) -> Image.Image:
    return Image.linear_gradient("L").resize(size, Image.Resampling.BILINEAR)


@cache
def _glow_mask() -> Image.Image:
    # radial_gradient is 0 at the centre and 181 mid-edge; make it a soft disc that fades
    # to 0 exactly at the edge of its box.
    return Image.radial_gradient("L").point(lambda v: round(255 * max(0.0, 1 - v / 181) ** 2.2))


def _add_glow(layer: Image.Image, colour: RGB, centre: tuple[float, float], radii: tuple) -> None:
    """Adds a soft elliptical glow of colour to an RGB layer."""
    (cx, cy), (rx, ry) = centre, radii
    glow = Image.new("RGB", layer.size)
    mask = _glow_mask().resize((max(1, round(2 * rx)), max(1, round(2 * ry))))
    glow.paste(colour, (round(cx - rx), round(cy - ry)), mask)
    layer.paste(ImageChops.add(layer, glow))


def _draw_fine(im: Image.Image, draw: Draw, *, top: int = 0, blend: bool = False) -> None:
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


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Not cached: loading takes ~0.1 ms, and a FreeType face must not be shared by threads.
    return ImageFont.load_default(size=size)


def _label(im: Image.Image) -> Image.Image:
    """Marks the bottom-left corner, so nobody mistakes this for a model's picture."""
    side = min(im.size)
    size = max(7, min(40, round(side * 0.018)))
    margin = max(2, round(side * 0.02))
    font = _font(size)
    left, top, right, bottom = font.getbbox(LABEL)
    pad_x, pad_y = round(size * 0.75), round(size * 0.5)
    x0, y0 = margin, im.height - margin - (bottom - top + 2 * pad_y)
    x1, y1 = x0 + right - left + 2 * pad_x, im.height - margin
    draw = ImageDraw.Draw(im, "RGBA")
    draw.rounded_rectangle((x0, y0, x1, y1), radius=(y1 - y0) // 2, fill=(8, 10, 16, 135))
    draw.text((x0 + pad_x - left, y0 + pad_y - top), LABEL, font=font, fill=(240, 242, 245))
    return im


def _png(im: Image.Image) -> bytes:
    # Run-length deflate after PNG's row filters: on these smooth pictures about as small as
    # the default and several times faster.
    buffer = io.BytesIO()
    im.save(buffer, "PNG", compress_level=1, compress_type=zlib.Z_RLE)
    return buffer.getvalue()


# --- aurora -----------------------------------------------------------------------------


def _aurora(
    prompt: str, w: int, h: int, pal: _Palette, rng: random.Random, detail: float
) -> Image.Image:
    # Sky, glows and curtains are all blur: a 240-pixel canvas holds everything they show.
    size = sw, sh = _soft_size(w, h, _SOFT_SIDE // 2)
    horizon = rng.uniform(0.62, 0.82) if w >= h else rng.uniform(0.72, 0.86)
    sky = ImageOps.colorize(
        _vertical(size),
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
        _add_glow(light, _shade(colour, 0.55), centre, radii)
    light = ImageChops.add(light, _curtains(size, pal, rng, detail, horizon))
    im = _enlarge(ImageChops.screen(sky, light), (w, h))
    _stars(im, pal, rng, detail, horizon)
    _ridges(im, pal, rng, detail, horizon)
    return im


def _curtains(
    size: tuple[int, int], pal: _Palette, rng: random.Random, detail: float, horizon: float
) -> Image.Image:
    """Aurora curtains: wavy bands, bright at the lower edge, fading upwards, with rays."""
    sw, sh = size
    tint = ImageOps.colorize(_vertical(size), pal.glows[1], pal.glows[0], midpoint=90)
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
    im: Image.Image, pal: _Palette, rng: random.Random, detail: float, horizon: float
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
    im: Image.Image, pal: _Palette, rng: random.Random, detail: float, horizon: float
) -> None:
    w, h = im.size
    count = 2 + (detail > 1)
    ridges = []
    for i in range(count):
        level = horizon + (1 - horizon) * (0.05 + 0.3 * i)
        colour = _mix(pal.mid, pal.dark, 0.45 + 0.55 * (i + 1) / count)
        ridges.append((colour, _ridge(rng, w, h, level, rng.uniform(0.04, 0.09) / (1 + i * 0.4))))
    top = max(0, math.floor(min(y for _, points in ridges for _, y in points)) - 1)

    def draw(d: ImageDraw.ImageDraw, f: int) -> None:
        for colour, points in ridges:
            outline = [(x * f, (y - top) * f) for x, y in points]
            d.polygon([*outline, (w * f, (h - top) * f), (0, (h - top) * f)], fill=colour)

    _draw_fine(im, draw, top=top)


# --- mosaic -----------------------------------------------------------------------------


def _mosaic(
    prompt: str, w: int, h: int, pal: _Palette, rng: random.Random, detail: float
) -> Image.Image:
    if rng.random() < 0.5:
        return _tiles(w, h, pal, rng, detail)
    field = ImageOps.colorize(
        _vertical((24, 24)).rotate(rng.uniform(-50, 50), Image.Resampling.BILINEAR, fillcolor=128),
        pal.deep,
        pal.horizon,
        mid=pal.mid,
    )
    for colour in pal.glows:
        radius = rng.uniform(6, 14)
        _add_glow(
            field, _shade(colour, 0.6), (rng.uniform(0, 24), rng.uniform(0, 24)), (radius,) * 2
        )
    return _low_poly(field, w, h, rng, detail)


def _low_poly(
    field: Image.Image, w: int, h: int, rng: random.Random, detail: float, jitter: float = 0.1
) -> Image.Image:
    """Triangles on a jittered grid, each coloured from the field under its centre."""
    cell = min(w, h) / max(3, round(9 * detail))
    cols, rows = max(1, round(w / cell)), max(1, round(h / cell))

    def point(c: int, r: int) -> tuple[float, float]:
        dx = rng.uniform(-0.38, 0.38) if 0 < c < cols else 0  # the border stays straight
        dy = rng.uniform(-0.38, 0.38) if 0 < r < rows else 0
        return w * (c + dx) / cols, h * (r + dy) / rows

    grid = [[point(c, r) for c in range(cols + 1)] for r in range(rows + 1)]
    fw, fh = field.size
    im = Image.new("RGB", (w, h))
    draw = ImageDraw.Draw(im)
    for r in range(rows):
        for c in range(cols):
            a, b, d, e = grid[r][c], grid[r][c + 1], grid[r + 1][c], grid[r + 1][c + 1]
            pair = ((a, b, e), (a, e, d)) if rng.random() < 0.5 else ((a, b, d), (b, e, d))
            for facet, triangle in zip((1.06, 0.94), pair, strict=True):
                cx, cy = sum(p[0] for p in triangle) / 3, sum(p[1] for p in triangle) / 3
                colour = field.getpixel((min(fw - 1, cx * fw / w), min(fh - 1, cy * fh / h)))
                colour = _shade(colour, facet * rng.uniform(1 - jitter, 1 + jitter))
                draw.polygon(triangle, fill=colour, outline=colour)  # outline closes seams
    return im


def _tiles(w: int, h: int, pal: _Palette, rng: random.Random, detail: float) -> Image.Image:
    """Geometric tiles: quarter and half discs, rings, triangles, dots, in a small palette."""
    cell = min(w, h) / max(3, round(6 * detail))
    cols, rows = math.ceil(w / cell), math.ceil(h / cell)
    left, top = (w - cols * cell) / 2, (h - rows * cell) / 2
    motifs = [rng.randrange(6) for _ in range(cols * rows)]
    colours = [rng.sample(pal.tiles, 2) for _ in range(cols * rows)]
    turns = [rng.randrange(4) for _ in range(cols * rows)]
    im = Image.new("RGB", (w, h), pal.dark)

    def draw(d: ImageDraw.ImageDraw, f: int) -> None:
        for i in range(cols * rows):
            r, c = divmod(i, cols)
            x0, y0 = (left + c * cell) * f, (top + r * cell) * f
            box = (x0, y0, x0 + cell * f, y0 + cell * f)
            d.rectangle(box, fill=colours[i][0])
            _tile_motif(d, motifs[i], turns[i], box, *colours[i])
        # Grout last: it trims the motifs' edges, so none spills or leaves a sliver.
        grout = max(1.0, cell * f * 0.011)
        for c in range(cols + 1):
            x = (left + c * cell) * f
            d.rectangle((x - grout, 0, x + grout, h * f), fill=pal.dark)
        for r in range(rows + 1):
            y = (top + r * cell) * f
            d.rectangle((0, y - grout, w * f, y + grout), fill=pal.dark)

    _draw_fine(im, draw)
    return im


def _tile_motif(
    d: ImageDraw.ImageDraw, kind: int, turn: int, box: tuple, ground: RGB, ink: RGB
) -> None:
    x0, y0, x1, y1 = box
    s, angle = x1 - x0, turn * 90
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    if kind == 0:  # quarter disc from a corner
        cx, cy = corners[turn]
        d.pieslice((cx - s, cy - s, cx + s, cy + s), angle, angle + 90, fill=ink)
    elif kind == 1:  # half disc on an edge
        (ax, ay), (bx, by) = corners[turn], corners[(turn + 1) % 4]
        cx, cy = (ax + bx) / 2, (ay + by) / 2
        d.pieslice((cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2), angle, angle + 180, fill=ink)
    elif kind == 2:  # ring
        d.ellipse((x0 + s * 0.14, y0 + s * 0.14, x1 - s * 0.14, y1 - s * 0.14), fill=ink)
        d.ellipse((x0 + s * 0.32, y0 + s * 0.32, x1 - s * 0.32, y1 - s * 0.32), fill=ground)
    elif kind == 3:  # diagonal half
        d.polygon([p for i, p in enumerate(corners) if i != turn], fill=ink)
    elif kind == 4:  # dot
        d.ellipse((x0 + s * 0.3, y0 + s * 0.3, x1 - s * 0.3, y1 - s * 0.3), fill=ink)
    # kind 5: a plain tile, the calm between busy ones


# --- blueprint --------------------------------------------------------------------------


def _blueprint(
    prompt: str, w: int, h: int, pal: _Palette, rng: random.Random, detail: float
) -> Image.Image:
    hue = 0.6 + (pal.key_hue - 0.6) * 0.08
    vignette = Image.radial_gradient("L").resize(_soft_size(w, h), Image.Resampling.BILINEAR)
    ground = ImageOps.colorize(vignette, _hls(hue, 0.37, 0.62), _hls(hue, 0.2, 0.7))
    im = _enlarge(ground, (w, h))
    part = _MachinePart(rng, w, h, detail)
    sheet = _Sheet(rng, w, h, title=prompt)

    def draw(d: ImageDraw.ImageDraw, f: int) -> None:
        sheet.grid(d, f)
        part.draw(d, f)
        sheet.title_block(d, f)

    _draw_fine(im, draw, blend=True)
    return im


_INK = (235, 244, 255)


def _ink(alpha: int) -> tuple[int, int, int, int]:
    return (*_INK, alpha)


class _Sheet:
    """Grid and title block of a drawing sheet."""

    def __init__(self, rng: random.Random, w: int, h: int, *, title: str) -> None:
        self.w, self.h, self.unit = w, h, min(w, h) / 1000
        self.minor = min(w, h) / rng.choice((24, 30, 36))
        self.scale, self.sheet = rng.choice((2, 5, 10)), rng.randrange(1, 9)
        self.title = " ".join(title.upper().split()) or "UNTITLED"

    def grid(self, d: ImageDraw.ImageDraw, f: int) -> None:
        width = max(1, round(self.unit * f))
        for i in range(int(self.w / self.minor) + 1):
            x = round(i * self.minor * f)
            d.line((x, 0, x, self.h * f), fill=_ink(48 if i % 5 == 0 else 20), width=width)
        for i in range(int(self.h / self.minor) + 1):
            y = round(i * self.minor * f)
            d.line((0, y, self.w * f, y), fill=_ink(48 if i % 5 == 0 else 20), width=width)

    def title_block(self, d: ImageDraw.ImageDraw, f: int) -> None:
        u = self.unit * f
        width, height = min(max(170 * u, self.w * f * 0.28), 360 * u), 64 * u
        margin = min(self.w, self.h) * f * 0.02
        x1, y1 = self.w * f - margin, self.h * f - margin
        x0, y0 = x1 - width, y1 - height
        split_x, split_y = x0 + width * 0.55, y0 + height * 0.55
        line = max(1, round(1.5 * u))
        d.rectangle((x0, y0, x1, y1), fill=(10, 30, 70, 140), outline=_ink(220), width=line)
        d.line((x0, split_y, x1, split_y), fill=_ink(160), width=line)
        d.line((split_x, split_y, split_x, y1), fill=_ink(160), width=line)
        big, small = _font(max(5, round(15 * u))), _font(max(5, round(11 * u)))
        pad = 8 * u
        title = _fit_text(self.title, big, width - 2 * pad)
        d.text((x0 + pad, (y0 + split_y) / 2), title, font=big, fill=_INK, anchor="lm")
        low = (split_y + y1) / 2
        d.text((x0 + pad, low), f"SCALE 1:{self.scale}", font=small, fill=_INK, anchor="lm")
        d.text(
            (split_x + pad, low), f"SHEET {self.sheet}  REV A", font=small, fill=_INK, anchor="lm"
        )


class _MachinePart:
    """A flange with bolt holes (and perhaps gear teeth), its side view and dimensions."""

    def __init__(self, rng: random.Random, w: int, h: int, detail: float) -> None:
        side = min(w, h)
        self.unit = side / 1000
        self.holes = rng.choice((4, 5, 6, 8))
        self.teeth = rng.choice((0, 18, 24, 32)) if detail >= 1 else 0
        self.rings = sorted(rng.sample((0.28, 0.42, 0.55, 0.82), 2 + (detail > 1)))
        self.diameter, self.thread = rng.randrange(60, 480, 2), rng.choice((6, 8, 10, 12))
        self.section = detail >= 1
        self.beside = w >= h * 1.2  # the section goes beside the front view, else below it
        thickness = rng.uniform(0.45, 0.7)
        if self.beside:
            self.r = side * rng.uniform(0.24, 0.3)
            # Centre the assembly (front view from -1.1r, section up to 1.45r + thickness).
            self.cx = w * rng.uniform(0.45, 0.5) - self.r * (0.35 + thickness) / 2
            self.cy = h * rng.uniform(0.42, 0.48)
            left, top = self.cx + self.r * 1.45, self.cy - self.r
            self.section_box = (left, top, left + self.r * thickness, top + 2 * self.r)
        else:
            self.r = side * rng.uniform(0.2, 0.25)
            # Centre the whole assembly (front view, dimension, section) on the sheet.
            height = (3.1 if self.section else 2.4) * self.r
            self.cx = w * rng.uniform(0.46, 0.54)
            self.cy = h * 0.47 - height / 2 + 1.1 * self.r
            top = self.cy + 1.62 * self.r
            self.section_box = (self.cx - self.r, top, self.cx + self.r, top + self.r * thickness)

    def draw(self, d: ImageDraw.ImageDraw, f: int) -> None:
        u = self.unit * f
        bold, thin = max(1, round(2.2 * u)), max(1, round(u))
        x, y, r = self.cx * f, self.cy * f, self.r * f
        if self.teeth:
            # Each tooth: root land, flank up, tip land, flank down into the next root.
            profile = ((1.0, 0.0), (1.0, 0.42), (1.09, 0.54), (1.09, 0.88))
            points = [
                (x + r * k * math.cos(angle), y + r * k * math.sin(angle))
                for tooth in range(self.teeth)
                for k, phase in profile
                for angle in [math.tau * (tooth + phase) / self.teeth]
            ]
            d.polygon(points, outline=_ink(255), width=bold)
        else:
            _circle(d, x, y, r, _ink(255), bold)
        for k in self.rings:
            _circle(
                d,
                x,
                y,
                r * k,
                _ink(255 if k == self.rings[0] else 200),
                bold if k == self.rings[0] else thin,
            )
        pitch = r * 0.7
        _circle(d, x, y, pitch, _ink(110), thin)
        for i in range(self.holes):
            angle = math.tau * (i + 0.5) / self.holes
            _circle(
                d,
                x + pitch * math.cos(angle),
                y + pitch * math.sin(angle),
                r * 0.07,
                _ink(255),
                bold,
            )
        _centre_line(d, (x - r * 1.25, y), (x + r * 1.25, y), thin, 8 * u)
        _centre_line(d, (x, y - r * 1.25), (x, y + r * 1.25), thin, 8 * u)
        _dimension(d, (x - r, y + r * 1.3), x + r, f"DIA {self.diameter}", u)
        # A leader from the bolt hole nearest the upper right, naming the thread.
        nearest = min(
            (math.tau * (i + 0.5) / self.holes for i in range(self.holes)),
            key=lambda a: abs(math.remainder(a + math.pi / 4, math.tau)),
        )
        edge = pitch + r * 0.07
        hole = x + edge * math.cos(nearest), y + edge * math.sin(nearest)
        lx, ly = x + r * 0.95, y - r * 1.12
        d.line((*hole, lx - 40 * u, ly, lx, ly), fill=_ink(200), width=thin)
        text = f"{self.holes}x M{self.thread}"
        d.text((lx + 4 * u, ly), text, font=_font(max(5, round(16 * u))), fill=_INK, anchor="lm")
        if self.section:
            self._draw_section(d, f, bold, thin)

    def _draw_section(self, d: ImageDraw.ImageDraw, f: int, bold: int, thin: int) -> None:
        u = self.unit * f
        x0, y0, x1, y1 = (v * f for v in self.section_box)
        d.rectangle((x0, y0, x1, y1), outline=_ink(255), width=bold)
        x, y, font = self.cx * f, self.cy * f, _font(max(5, round(14 * u)))
        for k in self.rings:  # the bores show as hidden lines across the section
            offset = self.r * k * f
            if self.beside:
                d.line((x0, y - offset, x1, y - offset), fill=_ink(120), width=thin)
                d.line((x0, y + offset, x1, y + offset), fill=_ink(120), width=thin)
            else:
                d.line((x - offset, y0, x - offset, y1), fill=_ink(120), width=thin)
                d.line((x + offset, y0, x + offset, y1), fill=_ink(120), width=thin)
        if self.beside:
            _centre_line(d, (x0 - 14 * u, y), (x1 + 14 * u, y), thin, 6 * u)
            _dimension(d, (x0, y1 + self.r * f * 0.3), x1, f"{self.diameter // 6}", u)
            d.text(((x0 + x1) / 2, y0 - 12 * u), "SECTION A-A", font=font, fill=_INK, anchor="md")
        else:
            _centre_line(d, (x, y0 - 14 * u), (x, y1 + 14 * u), thin, 6 * u)
            d.text((x, y1 + 26 * u), "SECTION A-A", font=font, fill=_INK, anchor="mt")


def _fit_text(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: float) -> str:
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _circle(d: ImageDraw.ImageDraw, x: float, y: float, r: float, fill: tuple, width: int) -> None:
    d.ellipse((x - r, y - r, x + r, y + r), outline=fill, width=width)


def _centre_line(d: ImageDraw.ImageDraw, a: tuple, b: tuple, width: int, dash: float) -> None:
    """The long-dash, short-dash line drafters use for axes of symmetry."""
    (x0, y0), (x1, y1) = a, b
    total = math.hypot(x1 - x0, y1 - y0)
    if total == 0 or dash <= 0:
        return
    ux, uy = (x1 - x0) / total, (y1 - y0) / total
    pattern = ((dash * 3, True), (dash * 0.6, False), (dash * 0.5, True), (dash * 0.6, False))
    pos, i = 0.0, 0
    while pos < total:
        length, inked = pattern[i % 4]
        end = min(total, pos + length)
        if inked:
            d.line(
                (x0 + ux * pos, y0 + uy * pos, x0 + ux * end, y0 + uy * end),
                fill=_ink(170),
                width=width,
            )
        pos, i = end, i + 1


def _dimension(d: ImageDraw.ImageDraw, a: tuple, x1: float, text: str, u: float) -> None:
    """A horizontal dimension line from a to (x1, a.y) with arrowheads, witness lines, text."""
    x0, y = a
    thin, arrow = max(1, round(u)), 10 * u
    d.line((x0, y, x1, y), fill=_ink(210), width=thin)
    for x, sign in ((x0, 1), (x1, -1)):
        d.polygon(
            [(x, y), (x + sign * arrow, y - arrow * 0.3), (x + sign * arrow, y + arrow * 0.3)],
            fill=_ink(230),
        )
        d.line((x, y - 16 * u, x, y + 6 * u), fill=_ink(150), width=thin)
    d.text(
        ((x0 + x1) / 2, y - 5 * u), text, font=_font(max(5, round(16 * u))), fill=_INK, anchor="md"
    )


# --- edits ------------------------------------------------------------------------------


def _decode(data: bytes, pal: _Palette, side: int) -> Image.Image:
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


def _cover(im: Image.Image, w: int, h: int) -> Image.Image:
    return ImageOps.fit(im, (w, h), Image.Resampling.BICUBIC)


def _edit_aurora(prompt: str, base: Image.Image, pal: _Palette, rng: random.Random) -> Image.Image:
    """Toned in the prompt's colours, with aurora light washed over it."""
    grey = ImageOps.autocontrast(base.convert("L"), cutoff=1)
    toned = Image.blend(base, ImageOps.colorize(grey, pal.dark, pal.light, mid=pal.glows[0]), 0.7)
    curtains = _curtains(_soft_size(*base.size, _SOFT_SIDE // 2), pal, rng, 1.0, 0.9)
    return ImageChops.screen(toned, _enlarge(curtains, base.size))


def _edit_mosaic(prompt: str, base: Image.Image, pal: _Palette, rng: random.Random) -> Image.Image:
    """The picture rebuilt from flat triangles in a slightly reduced, tinted palette."""
    field = ImageOps.posterize(base.resize(_soft_size(*base.size), Image.Resampling.BOX), 4)
    tint = ImageOps.colorize(field.convert("L"), pal.dark, pal.light, mid=pal.glows[0])
    return _low_poly(Image.blend(field, tint, 0.25), base.width, base.height, rng, 2.4, jitter=0.04)


def _edit_blueprint(
    prompt: str, base: Image.Image, pal: _Palette, rng: random.Random
) -> Image.Image:
    """A cyanotype of the picture with its edges inked in, on a drawing sheet."""
    grey = ImageOps.autocontrast(base.convert("L"), cutoff=1)
    im = ImageOps.colorize(
        grey, _hls(0.6, 0.14, 0.75), _hls(0.57, 0.86, 0.7), mid=_hls(0.6, 0.42, 0.6)
    )
    edges = grey.filter(ImageFilter.FIND_EDGES).point(lambda v: min(255, v * 3))
    im.paste(_INK, (0, 0), edges.point(lambda v: v * 3 // 5))
    sheet = _Sheet(rng, base.width, base.height, title=prompt)

    def draw(d: ImageDraw.ImageDraw, f: int) -> None:
        sheet.grid(d, f)
        sheet.title_block(d, f)

    _draw_fine(im, draw, blend=True)
    return im


def _insets(im: Image.Image, others: list[Image.Image], pal: _Palette) -> None:
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
        im.paste(_cover(other, side, side), (x0, y0))


_PAINTERS = {"aurora": _aurora, "mosaic": _mosaic, "blueprint": _blueprint}
_EDITORS = {"aurora": _edit_aurora, "mosaic": _edit_mosaic, "blueprint": _edit_blueprint}
