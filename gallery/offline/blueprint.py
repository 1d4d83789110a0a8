"""Blueprint: a drawing sheet with a machine part, its section, dimensions and a title block."""

from __future__ import annotations

import math
import random

from PIL import Image, ImageDraw, ImageFont, ImageOps

from gallery.offline.canvas import default_font, draw_fine, enlarge, soft_size
from gallery.offline.palette import Palette, hls


def paint(
    prompt: str, w: int, h: int, pal: Palette, rng: random.Random, detail: float
) -> Image.Image:
    """A machine part on a drawing sheet, w x h, before the label."""
    hue = 0.6 + (pal.key_hue - 0.6) * 0.08
    vignette = Image.radial_gradient("L").resize(soft_size(w, h), Image.Resampling.BILINEAR)
    ground = ImageOps.colorize(vignette, hls(hue, 0.37, 0.62), hls(hue, 0.2, 0.7))
    im = enlarge(ground, (w, h))
    part = _MachinePart(rng, w, h, detail)
    sheet = Sheet(rng, w, h, title=prompt)

    def draw(d: ImageDraw.ImageDraw, f: int) -> None:
        sheet.grid(d, f)
        part.draw(d, f)
        sheet.title_block(d, f)

    draw_fine(im, draw, blend=True)
    return im


INK = (235, 244, 255)


def ink(alpha: int) -> tuple[int, int, int, int]:
    return (*INK, alpha)


class Sheet:
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
            d.line((x, 0, x, self.h * f), fill=ink(48 if i % 5 == 0 else 20), width=width)
        for i in range(int(self.h / self.minor) + 1):
            y = round(i * self.minor * f)
            d.line((0, y, self.w * f, y), fill=ink(48 if i % 5 == 0 else 20), width=width)

    def title_block(self, d: ImageDraw.ImageDraw, f: int) -> None:
        u = self.unit * f
        width, height = min(max(170 * u, self.w * f * 0.28), 360 * u), 64 * u
        margin = min(self.w, self.h) * f * 0.02
        x1, y1 = self.w * f - margin, self.h * f - margin
        x0, y0 = x1 - width, y1 - height
        split_x, split_y = x0 + width * 0.55, y0 + height * 0.55
        line = max(1, round(1.5 * u))
        d.rectangle((x0, y0, x1, y1), fill=(10, 30, 70, 140), outline=ink(220), width=line)
        d.line((x0, split_y, x1, split_y), fill=ink(160), width=line)
        d.line((split_x, split_y, split_x, y1), fill=ink(160), width=line)
        big, small = default_font(max(5, round(15 * u))), default_font(max(5, round(11 * u)))
        pad = 8 * u
        title = _fit_text(self.title, big, width - 2 * pad)
        d.text((x0 + pad, (y0 + split_y) / 2), title, font=big, fill=INK, anchor="lm")
        low = (split_y + y1) / 2
        d.text((x0 + pad, low), f"SCALE 1:{self.scale}", font=small, fill=INK, anchor="lm")
        d.text(
            (split_x + pad, low), f"SHEET {self.sheet}  REV A", font=small, fill=INK, anchor="lm"
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
            d.polygon(points, outline=ink(255), width=bold)
        else:
            _circle(d, x, y, r, ink(255), bold)
        for k in self.rings:
            _circle(
                d,
                x,
                y,
                r * k,
                ink(255 if k == self.rings[0] else 200),
                bold if k == self.rings[0] else thin,
            )
        pitch = r * 0.7
        _circle(d, x, y, pitch, ink(110), thin)
        for i in range(self.holes):
            angle = math.tau * (i + 0.5) / self.holes
            _circle(
                d,
                x + pitch * math.cos(angle),
                y + pitch * math.sin(angle),
                r * 0.07,
                ink(255),
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
        d.line((*hole, lx - 40 * u, ly, lx, ly), fill=ink(200), width=thin)
        text = f"{self.holes}x M{self.thread}"
        d.text(
            (lx + 4 * u, ly), text, font=default_font(max(5, round(16 * u))), fill=INK, anchor="lm"
        )
        if self.section:
            self._draw_section(d, f, bold, thin)

    def _draw_section(self, d: ImageDraw.ImageDraw, f: int, bold: int, thin: int) -> None:
        u = self.unit * f
        x0, y0, x1, y1 = (v * f for v in self.section_box)
        d.rectangle((x0, y0, x1, y1), outline=ink(255), width=bold)
        x, y, font = self.cx * f, self.cy * f, default_font(max(5, round(14 * u)))
        for k in self.rings:  # the bores show as hidden lines across the section
            offset = self.r * k * f
            if self.beside:
                d.line((x0, y - offset, x1, y - offset), fill=ink(120), width=thin)
                d.line((x0, y + offset, x1, y + offset), fill=ink(120), width=thin)
            else:
                d.line((x - offset, y0, x - offset, y1), fill=ink(120), width=thin)
                d.line((x + offset, y0, x + offset, y1), fill=ink(120), width=thin)
        if self.beside:
            _centre_line(d, (x0 - 14 * u, y), (x1 + 14 * u, y), thin, 6 * u)
            _dimension(d, (x0, y1 + self.r * f * 0.3), x1, f"{self.diameter // 6}", u)
            d.text(((x0 + x1) / 2, y0 - 12 * u), "SECTION A-A", font=font, fill=INK, anchor="md")
        else:
            _centre_line(d, (x, y0 - 14 * u), (x, y1 + 14 * u), thin, 6 * u)
            d.text((x, y1 + 26 * u), "SECTION A-A", font=font, fill=INK, anchor="mt")


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
                fill=ink(170),
                width=width,
            )
        pos, i = end, i + 1


def _dimension(d: ImageDraw.ImageDraw, a: tuple, x1: float, text: str, u: float) -> None:
    """A horizontal dimension line from a to (x1, a.y) with arrowheads, witness lines, text."""
    x0, y = a
    thin, arrow = max(1, round(u)), 10 * u
    d.line((x0, y, x1, y), fill=ink(210), width=thin)
    for x, sign in ((x0, 1), (x1, -1)):
        d.polygon(
            [(x, y), (x + sign * arrow, y - arrow * 0.3), (x + sign * arrow, y + arrow * 0.3)],
            fill=ink(230),
        )
        d.line((x, y - 16 * u, x, y + 6 * u), fill=ink(150), width=thin)
    d.text(
        ((x0 + x1) / 2, y - 5 * u),
        text,
        font=default_font(max(5, round(16 * u))),
        fill=INK,
        anchor="md",
    )
