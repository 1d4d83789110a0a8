"""The image models on offer and their controls.

`catalog.toml` describes the models the studio knows (controls, prices). The gateway's
`GET /v1/models` says which models exist right now; an image model it lists that the data file does
not know still appears, with generic controls. A gateway that is down or lacks `/v1/models` does not
break anything: the data file alone is used. With no gateway key, only the offline renderer is
offered.
"""

import logging
import math
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path

from django.conf import settings
from django.core.cache import cache as django_cache

from gallery import gateway

logger = logging.getLogger(__name__)

CATALOG_PATH = Path(__file__).parent.with_name("catalog.toml")
RESOLUTION_ORDER = ("0.5K", "1K", "2K", "4K")
# Long side, in pixels, of a square image at each tier (the pixel budget is its square).
RESOLUTION_SIDE = {"0.5K": 512, "1K": 1024, "2K": 2048, "4K": 4096}
RATIO_ORDER = (
    "auto", "1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "5:4", "4:5", "21:9",
    "1:4", "4:1", "1:8", "8:1",
)  # fmt: skip
QUALITY_RANK = {"low": 0, "standard": 1, "medium": 1, "auto": 1, "high": 2, "hd": 2}
EDIT_MODES = ("no", "yes", "only")
# Settings only edits take, and the choices the gateway accepts for each.
EDIT_PARAMS = {
    "background": ("auto", "transparent", "opaque"),
    "input_fidelity": ("high", "low"),
    "output_format": ("png", "jpeg", "webp"),
}
COMPRESSION_FORMATS = ("jpeg", "webp")


@dataclass(frozen=True)
class ModelSpec:
    id: str
    label: str
    provider: str = ""
    aspect_ratios: tuple[str, ...] = ()
    resolutions: tuple[str, ...] = ()
    default_resolution: str = ""
    sizes: tuple[str, ...] = ()
    default_size: str = ""
    qualities: tuple[str, ...] = ()
    default_quality: str = ""
    edits: str = "no"
    max_input_images: int = 0
    price: Decimal | None = None
    prices: dict[str, Decimal] = field(default_factory=dict)
    price_note: str = ""
    aliases: tuple[str, ...] = ()
    edit_params: tuple[str, ...] = ()
    offline: bool = False
    known: bool = True

    @property
    def uses_sizes(self) -> bool:
        """A pixel-size model: it takes `size` (WxH) rather than an aspect ratio."""
        return bool(self.sizes) and not self.aspect_ratios

    @property
    def generates(self) -> bool:
        return self.edits != "only"

    @property
    def accepts_images(self) -> bool:
        return self.edits in ("yes", "only")

    def price_for(self, resolution: str = "") -> Decimal | None:
        return self.prices.get(resolution, self.price)


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
    # The first input image's shape, for "auto" when editing (the result keeps its proportions).
    source_size: tuple[int, int] | None = None


@dataclass(frozen=True)
class ModelRequest:
    """What one model is actually sent, and the shape its image should have."""

    params: dict
    width: int
    height: int


# --- loading --------------------------------------------------------------------------------------


def _spec_from_toml(model_id: str, raw: dict) -> ModelSpec:
    def money(value) -> Decimal | None:
        return None if value is None else Decimal(str(value))

    edits = raw.get("edits", "no")
    if edits not in EDIT_MODES:
        raise ValueError(f"catalog.toml: {model_id}: edits must be one of {EDIT_MODES}")
    return ModelSpec(
        id=model_id,
        label=raw.get("label", model_id),
        provider=raw.get("provider", ""),
        aspect_ratios=tuple(raw.get("aspect_ratios", ())),
        resolutions=tuple(raw.get("resolutions", ())),
        default_resolution=raw.get("default_resolution", ""),
        sizes=tuple(raw.get("sizes", ())),
        default_size=raw.get("default_size", ""),
        qualities=tuple(raw.get("qualities", ())),
        default_quality=raw.get("default_quality", ""),
        edits=edits,
        max_input_images=int(raw.get("max_input_images", 0)),
        price=money(raw.get("price")),
        prices={tier: money(p) for tier, p in raw.get("prices", {}).items()},
        price_note=raw.get("price_note", ""),
        aliases=tuple(raw.get("aliases", ())),
        edit_params=tuple(raw.get("edit_params", ())),
        offline=bool(raw.get("offline", False)),
    )


@cache
def known_models() -> dict[str, ModelSpec]:
    """Every model in catalog.toml, by id, in file order."""
    with CATALOG_PATH.open("rb") as f:
        data = tomllib.load(f)
    return {model_id: _spec_from_toml(model_id, raw) for model_id, raw in data["models"].items()}


@cache
def _generic_ratios() -> tuple[str, ...]:
    with CATALOG_PATH.open("rb") as f:
        return tuple(tomllib.load(f)["defaults"]["aspect_ratios"])


def generic_spec(model_id: str, name: str = "", *, accepts_images: bool = False) -> ModelSpec:
    """Controls for an image model the gateway lists but the catalog does not know."""
    return ModelSpec(
        id=model_id,
        label=name or model_id,
        provider="Gateway",
        aspect_ratios=_generic_ratios(),
        edits="yes" if accepts_images else "no",
        max_input_images=1 if accepts_images else 0,
        known=False,
    )


def label_for(model_id: str) -> str:
    """A model's name for people; its id when the catalog does not know it."""
    spec = known_models().get(model_id)
    return spec.label if spec else model_id


def is_offline(model_id: str) -> bool:
    spec = known_models().get(model_id)
    return spec is not None and spec.offline


def offline_mode() -> bool:
    return not settings.LLM_GATEWAY_API_KEY


def _gateway_image_models() -> list[dict] | None:
    """The gateway's image models, cached; None when the gateway cannot say."""
    cache_key = f"gateway-image-models:{settings.LLM_GATEWAY_BASE_URL}"
    listed = django_cache.get(cache_key)
    if listed is None:
        try:
            listed = gateway.list_image_models(gateway.GatewayConfig.from_settings())
        except gateway.GatewayError as exc:
            logger.warning("Model list unavailable, using the catalog alone: %s", exc.message)
            listed = []
        # A failure is cached too (shorter), so a down gateway does not slow every page.
        timeout = settings.GATEWAY_MODELS_CACHE_SECONDS if listed else 60
        django_cache.set(cache_key, listed, timeout)
    return listed or None


def available_models() -> dict[str, ModelSpec]:
    """The models people can pick now, by id, in display order."""
    if offline_mode():
        return {m.id: m for m in known_models().values() if m.offline}
    online = [m for m in known_models().values() if not m.offline]
    listed = _gateway_image_models()
    if listed is None:
        return {m.id: m for m in online}
    by_name: dict[str, ModelSpec] = {}
    for spec in online:
        for name in (spec.id, *spec.aliases):
            by_name[name] = spec
    chosen: dict[str, ModelSpec] = {}
    unknown: dict[str, ModelSpec] = {}
    for entry in listed:
        model_id = entry["id"]
        spec = by_name.get(model_id)
        if spec is not None:
            chosen.setdefault(spec.id, spec)
        elif model_id not in unknown:
            unknown[model_id] = generic_spec(
                model_id,
                entry.get("name", ""),
                accepts_images="image" in entry.get("input_modalities", ()),
            )
    # Keep the catalog's order for known models, then the unknown ones by name.
    ordered = {m.id: m for m in online if m.id in chosen}
    ordered.update(dict(sorted(unknown.items(), key=lambda kv: kv[1].label.lower())))
    return ordered


def usable(spec: ModelSpec, *, edit: bool) -> bool:
    """Can this model take part: in an edit (it accepts images), or a generation (no image)?"""
    return spec.accepts_images if edit else spec.generates


def default_model_ids(
    models: dict[str, ModelSpec], count: int = 1, *, edit: bool = False
) -> list[str]:
    return [m.id for m in models.values() if usable(m, edit=edit)][:count]


# --- controls for a set of models -----------------------------------------------------------------


def _ordered(values: set[str], order: tuple[str, ...]) -> tuple[str, ...]:
    known = [v for v in order if v in values]
    return tuple(known + sorted(values - set(order)))


@dataclass(frozen=True)
class Controls:
    """Which controls to show for the selected models, and the choices each offers."""

    aspect_ratios: tuple[str, ...]
    resolutions: tuple[str, ...]
    sizes: tuple[str, ...]
    qualities: tuple[str, ...]
    default_aspect_ratio: str
    default_resolution: str
    default_size: str
    default_quality: str
    quality_models: tuple[str, ...]  # labels of the models Quality applies to (compare mode)
    # Edits only: background, input_fidelity, output_format -> choices; plus compression.
    edit_options: dict[str, tuple[str, ...]] = field(default_factory=dict)
    compression: bool = False

    @classmethod
    def for_models(cls, specs: list[ModelSpec], *, edit: bool = False) -> "Controls":
        """Single model: exactly its choices. Several: choices that make sense for all of them,
        each model later sent the nearest setting it supports."""
        all_sizes = all(s.uses_sizes for s in specs)
        ratios: set[str] = set()
        if not all_sizes:
            for s in specs:
                ratios.update(s.aspect_ratios)
            if any(s.uses_sizes for s in specs):
                ratios.update(r for r in _ratios_of_sizes(specs) if r in RATIO_ORDER)
        resolutions = {r for s in specs for r in s.resolutions}
        sizes = {z for s in specs for z in s.sizes} if all_sizes else set()
        qualities = {q for s in specs for q in s.qualities}
        aspect_ratios = _ordered(ratios, RATIO_ORDER)
        resolution_list = _ordered(resolutions, RESOLUTION_ORDER)
        size_list = tuple(sorted(sizes, key=_size_sort_key))
        quality_list = _ordered(qualities, ("auto", "low", "medium", "high", "standard", "hd"))
        first = specs[0]
        return cls(
            aspect_ratios=aspect_ratios,
            resolutions=resolution_list,
            sizes=size_list,
            qualities=quality_list,
            default_aspect_ratio="1:1" if "1:1" in aspect_ratios else next(iter(aspect_ratios), ""),
            default_resolution=(
                first.default_resolution
                if first.default_resolution in resolution_list
                else ("1K" if "1K" in resolution_list else next(iter(resolution_list), ""))
            ),
            default_size=(
                first.default_size if first.default_size in size_list else next(iter(size_list), "")
            ),
            default_quality=next(
                (s.default_quality for s in specs if s.default_quality in quality_list),
                next(iter(quality_list), ""),
            ),
            quality_models=tuple(s.label for s in specs if s.qualities),
            edit_options=(
                {
                    name: choices
                    for name, choices in EDIT_PARAMS.items()
                    if any(name in s.edit_params for s in specs)
                }
                if edit
                else {}
            ),
            compression=edit and any("output_compression" in s.edit_params for s in specs),
        )


def _size_sort_key(size: str) -> tuple[int, int]:
    parsed = parse_size(size)
    return (0, 0) if parsed is None else (parsed[0] * parsed[1], parsed[0])


def _ratios_of_sizes(specs: list[ModelSpec]) -> set[str]:
    out = set()
    for s in specs:
        for size in s.sizes:
            parsed = parse_size(size)
            if parsed:
                out.add(nearest_ratio(parsed[0] / parsed[1], RATIO_ORDER[1:]))
    return out


# --- mapping a choice onto one model --------------------------------------------------------------


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
    if edit:
        params.update(_edit_params(spec, choice))
    return ModelRequest(params=params, width=width, height=height)


def _edit_params(spec: ModelSpec, choice: Choice) -> dict:
    params = {}
    for name in ("background", "input_fidelity", "output_format"):
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
    return spec.price_for(params.get("image_size", ""))
