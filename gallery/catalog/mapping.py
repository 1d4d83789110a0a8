"""Mapping what a person picked onto one model: the nearest settings it supports, and the price.

In compare mode one choice goes to models that take different things (an aspect ratio and a
resolution tier, or a pixel size); each is sent the nearest setting it supports, and told the
shape its image should have.
"""

import math
from dataclasses import dataclass
from decimal import Decimal

from gallery.catalog.specs import RATIO_ORDER, ModelSpec

# Long side, in pixels, of a square image at each tier (the pixel budget is its square).
RESOLUTION_SIDE = {"0.5K": 512, "1K": 1024, "2K": 2048, "4K": 4096}
QUALITY_RANK = {"low": 0, "standard": 1, "medium": 1, "auto": 1, "high": 2, "hd": 2}
COMPRESSION_FORMATS = ("jpeg", "webp")


@dataclass(frozen=True)
class Choice:
    """What the person picked, before it is mapped onto each model."""

    aspect_ratio: str = ""
    resolution: str = ""
    size: str = ""
    quality: str = ""
    # Edits only:
    background: str = ""
    input_fidelity: str = ""
    output_format: str = ""
    output_compression: int | None = None
    # Sent where the model takes them (the prompt box shows them only for such models):
    moderation: str = ""  # auto / low
    service_tier: str = ""  # flex / priority, where the model has them (priced accordingly)
    style: str = ""  # vivid / natural: the gateway adds words to the prompt (API only)
    # The first input image's shape, for "auto" when editing (the result keeps its proportions).
    source_size: tuple[int, int] | None = None


@dataclass(frozen=True)
class ModelRequest:
    """What one model is actually sent, and the shape its image should have."""

    params: dict
    width: int
    height: int


def request_for(spec: ModelSpec, choice: Choice, *, edit: bool = False) -> ModelRequest:
    """Map what the person picked onto the nearest settings this model supports."""
    params: dict = {}
    ratio = choice.aspect_ratio if choice.aspect_ratio not in ("", "auto") else ""
    auto_shape = edit and not ratio and not choice.size and choice.source_size
    if choice.size and not ratio:
        parsed = parse_size(choice.size)
        if parsed:
            ratio = nearest_ratio(parsed[0] / parsed[1], RATIO_ORDER[1:])
    tier = choice.resolution or spec.default_resolution or "1K"

    if spec.uses_sizes:
        if choice.size in spec.sizes:
            size = choice.size
        elif ratio or choice.resolution:
            side = RESOLUTION_SIDE.get(tier, 1024) if choice.resolution else None
            size = nearest_size(
                tuple(s for s in spec.sizes if s != "auto"),
                ratio=ratio_value(ratio) or 1.0,
                pixels=side * side if side else None,
            )
        else:
            size = spec.default_size or spec.sizes[0]
        params["size"] = size
        width, height = parse_size(size) or (1024, 1024)
    else:
        width, height = dimensions_for(ratio or "1:1", tier)
        if spec.aspect_ratios and ratio:
            sent_ratio = (
                ratio
                if ratio in spec.aspect_ratios
                else nearest_ratio(
                    ratio_value(ratio), [r for r in spec.aspect_ratios if r != "auto"]
                )
            )
            params["aspect_ratio"] = sent_ratio
            width, height = dimensions_for(sent_ratio, tier)
        if spec.resolutions:
            sent_tier = nearest_tier(tier, spec.resolutions)
            params["image_size"] = sent_tier
            width, height = dimensions_for(params.get("aspect_ratio", "1:1"), sent_tier)

    if auto_shape and not spec.uses_sizes:
        # No ratio asked for: the model keeps the input's proportions; so does the placeholder.
        source_w, source_h = choice.source_size
        side = RESOLUTION_SIDE.get(params.get("image_size", tier), 1024)
        scale = side / math.sqrt(source_w * source_h)
        width = max(16, round(source_w * scale / 16) * 16)
        height = max(16, round(source_h * scale / 16) * 16)
    if spec.qualities:
        params["quality"] = nearest_quality(
            choice.quality or spec.default_quality or spec.qualities[0], spec.qualities
        )
    params.update(_output_params(spec, choice, edit=edit))
    if choice.moderation and spec.moderation:
        params["moderation"] = choice.moderation
    if choice.style:
        params["style"] = choice.style
    if choice.service_tier in spec.service_tiers:
        params["service_tier"] = choice.service_tier
    return ModelRequest(params=params, width=width, height=height)


def _output_params(spec: ModelSpec, choice: Choice, *, edit: bool) -> dict:
    """Background and output format (and input fidelity, for an edit), where the model takes
    them. The prompt box offers them only for edits; the API for generations too."""
    params = {}
    names = (
        ("background", "input_fidelity", "output_format")
        if edit
        else ("background", "output_format")
    )
    for name in names:
        value = getattr(choice, name)
        if value and name in spec.edit_params:
            params[name] = value
    if (
        choice.output_compression is not None
        and "output_compression" in spec.edit_params
        and params.get("output_format") in COMPRESSION_FORMATS
    ):
        params["output_compression"] = choice.output_compression
    return params


def estimated_price(spec: ModelSpec, params: dict) -> Decimal | None:
    """The catalog's price for one image sent with these params (None when unknown)."""
    return spec.price_for(params.get("image_size", ""), params.get("service_tier", ""))


def parse_size(size: str) -> tuple[int, int] | None:
    try:
        w, h = (int(part) for part in size.lower().split("x"))
    except ValueError:
        return None
    return (w, h) if w > 0 and h > 0 else None


def ratio_value(ratio: str) -> float | None:
    try:
        a, b = (float(part) for part in ratio.split(":"))
    except ValueError:
        return None
    return a / b if a > 0 and b > 0 else None


def nearest_ratio(value: float, ratios) -> str:
    candidates = [(r, ratio_value(r)) for r in ratios]
    candidates = [(r, v) for r, v in candidates if v]
    return min(candidates, key=lambda rv: abs(math.log(rv[1] / value)))[0]


def nearest_tier(tier: str, tiers: tuple[str, ...]) -> str:
    want = RESOLUTION_SIDE.get(tier, 1024)
    return min(tiers, key=lambda t: abs(math.log(RESOLUTION_SIDE.get(t, 1024) / want)))


def dimensions_for(ratio: str, tier: str) -> tuple[int, int]:
    """Pixel size of an image at an aspect ratio and resolution tier (multiples of 16)."""
    side = RESOLUTION_SIDE.get(tier, 1024)
    value = ratio_value(ratio) or 1.0
    pixels = side * side
    width = math.sqrt(pixels * value)
    height = math.sqrt(pixels / value)
    return max(16, round(width / 16) * 16), max(16, round(height / 16) * 16)


def nearest_size(sizes: tuple[str, ...], *, ratio: float, pixels: int | None) -> str:
    """The size closest in shape, then closest in pixel count."""
    parsed = [(s, parse_size(s)) for s in sizes]
    parsed = [(s, wh) for s, wh in parsed if wh]

    def distance(item):
        _, (w, h) = item
        shape = round(abs(math.log((w / h) / ratio)), 2)
        area = abs(math.log((w * h) / pixels)) if pixels else 0
        return (shape, area)

    return min(parsed, key=distance)[0]


def nearest_quality(quality: str, qualities: tuple[str, ...]) -> str:
    if quality in qualities:
        return quality
    rank = QUALITY_RANK.get(quality, 1)
    return min(qualities, key=lambda q: abs(QUALITY_RANK.get(q, 1) - rank))
