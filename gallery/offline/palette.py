"""The prompt's colours, and the seeded randomness every picture is drawn from.

Words in the prompt pick the key hue and nudge lightness and saturation; everything else comes
from a random generator seeded by a hash, so the same prompt always gives the same palette.
"""

from __future__ import annotations

import colorsys
import hashlib
import math
import random
import re
from dataclasses import dataclass

RGB = tuple[int, int, int]


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
class Palette:
    deep: RGB  # top of the sky, darkest background
    mid: RGB
    horizon: RGB  # where the light comes from
    glows: tuple[RGB, RGB, RGB]  # bright, for light on dark
    tiles: tuple[RGB, ...]  # calmer, for flat shapes side by side
    light: RGB
    dark: RGB
    key_hue: float


def seeded(*parts: object) -> random.Random:
    """A generator seeded by the parts, so the same arguments draw the same picture."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def palette_for(prompt: str) -> Palette:
    rng = seeded("palette", prompt)
    words = re.findall(r"[a-z]+", prompt.lower())
    key = next((_HUES[word] for word in words if word in _HUES), None)
    key = rng.random() if key is None else key + rng.uniform(-0.03, 0.03)
    lift = min(max(sum(_LIGHTNESS.get(word, 0.0) for word in words), -0.06), 0.16)
    sat = min(math.prod(_SATURATION.get(word, 1.0) for word in words), 1.3)
    sky = key + rng.choice((-0.14, 0.12, 0.5, 0.62, 0.72))
    third = key + rng.choice((-0.09, 0.08, 0.33, -0.33))
    return Palette(
        deep=hls(sky, 0.08 + lift * 0.6, 0.6 * sat),
        mid=hls(sky + 0.04, 0.24 + lift, 0.55 * sat),
        horizon=hls(key, 0.6 + lift * 0.8, 0.75 * sat),
        glows=(hls(key, 0.55, 0.9 * sat), hls(third, 0.52, 0.85 * sat), hls(sky, 0.5, sat)),
        tiles=(
            hls(sky, 0.16 + lift, 0.45 * sat),
            hls(sky, 0.34 + lift, 0.4 * sat),
            hls(key, 0.56 + lift / 2, 0.68 * sat),
            hls(third, 0.64 + lift / 2, 0.5 * sat),
            hls(key + 0.05, 0.9, 0.45 * sat),
        ),
        light=hls(key + 0.03, 0.93, 0.6 * sat),
        dark=hls(sky, 0.05, 0.45 * sat),
        key_hue=key % 1.0,
    )


def hls(hue: float, lightness: float, saturation: float) -> RGB:
    r, g, b = colorsys.hls_to_rgb(hue % 1.0, min(max(lightness, 0.0), 1.0), min(saturation, 1.0))
    return round(r * 255), round(g * 255), round(b * 255)


def shade(colour: RGB, factor: float) -> RGB:
    r, g, b = (min(255, max(0, round(channel * factor))) for channel in colour)
    return r, g, b


def mix(a: RGB, b: RGB, t: float) -> RGB:
    r, g, b_ = (round(x + (y - x) * t) for x, y in zip(a, b, strict=True))
    return r, g, b_
