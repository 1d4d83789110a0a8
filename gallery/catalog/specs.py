"""The models the studio knows: `catalog.toml` read into a ModelSpec per model.

The data file says, for each model, which controls it takes (aspect ratios, resolution tiers or
pixel sizes, qualities, edit settings), whether it edits, and its price. A model the gateway lists
that the file does not know gets a generic spec.
"""

import tomllib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path

# gallery/catalog.toml, beside this package: where the README and the studio's own messages send
# whoever edits models and prices.
CATALOG_PATH = Path(__file__).parents[1] / "catalog.toml"
RESOLUTION_ORDER = ("0.5K", "1K", "2K", "4K")
RATIO_ORDER = (
    "auto", "1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "5:4", "4:5", "21:9",
    "1:4", "4:1", "1:8", "8:1",
)  # fmt: skip
EDIT_MODES = ("no", "yes", "only")


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
    # Takes `moderation` (auto/low): the gateway passes it on only to models that do.
    moderation: bool = False
    # `service_tier` values it takes (flex, priority), each with its price multiplier.
    service_tiers: dict[str, Decimal] = field(default_factory=dict)
    # The day the gateway stopped offering it (gallery/catalog.toml says why it is kept).
    deactivated: date | None = None
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

    def price_for(self, resolution: str = "", service_tier: str = "") -> Decimal | None:
        price = self.prices.get(resolution, self.price)
        if price is not None and service_tier in self.service_tiers:
            price = price * self.service_tiers[service_tier]
        return price

    def is_deactivated(self, *, today: date | None = None) -> bool:
        return self.deactivated is not None and self.deactivated <= (today or date.today())


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
        moderation=bool(raw.get("moderation", False)),
        service_tiers={tier: money(m) for tier, m in raw.get("service_tiers", {}).items()},
        deactivated=raw.get("deactivated"),
        offline=bool(raw.get("offline", False)),
    )


# Per process, and right to be: catalog.toml is part of the code, the same in every process
# until a deploy restarts them all. (The gateway's live list is shared: catalog/available.py.)
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
