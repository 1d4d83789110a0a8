"""Mosaic: either geometric tiles in a small palette or a low-poly picture of triangles."""

from __future__ import annotations

import math
import random

from PIL import Image, ImageDraw, ImageOps

from gallery.offline.canvas import add_glow, draw_fine, vertical
from gallery.offline.palette import RGB, Palette, shade


def paint(
    prompt: str, w: int, h: int, pal: Palette, rng: random.Random, detail: float
) -> Image.Image:
    """Tiles or triangles (half the pictures each), w x h, before the label."""
    if rng.random() < 0.5:
        return _tiles(w, h, pal, rng, detail)
    field = ImageOps.colorize(
        vertical((24, 24)).rotate(rng.uniform(-50, 50), Image.Resampling.BILINEAR, fillcolor=128),
        pal.deep,
        pal.horizon,
        mid=pal.mid,
    )
    for colour in pal.glows:
        radius = rng.uniform(6, 14)
        add_glow(field, shade(colour, 0.6), (rng.uniform(0, 24), rng.uniform(0, 24)), (radius,) * 2)
    return low_poly(field, w, h, rng, detail)


def low_poly(
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
                colour = shade(colour, facet * rng.uniform(1 - jitter, 1 + jitter))
                draw.polygon(triangle, fill=colour, outline=colour)  # outline closes seams
    return im


def _tiles(w: int, h: int, pal: Palette, rng: random.Random, detail: float) -> Image.Image:
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

    draw_fine(im, draw)
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
