"""Which controls the prompt box shows for a set of models, and the choices each offers."""

from dataclasses import dataclass, field

from gallery.catalog.mapping import nearest_ratio, parse_size
from gallery.catalog.specs import RATIO_ORDER, RESOLUTION_ORDER, ModelSpec

# `moderation` levels, for the models that take it (catalog.toml `moderation = true`).
MODERATION_LEVELS = ("auto", "low")
# `service_tier` values in the order they are offered; the standard tier is sending none.
SERVICE_TIER_ORDER = ("flex", "priority")

# Settings only edits take, and the choices the gateway accepts for each.
EDIT_PARAMS = {
    "background": ("auto", "transparent", "opaque"),
    "input_fidelity": ("high", "low"),
    "output_format": ("png", "jpeg", "webp"),
}


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
    # Labels of the models that take `moderation` (MODERATION_LEVELS); none: no control.
    moderation_models: tuple[str, ...] = ()
    # The `service_tier` values any of the models has, and the labels of those with any.
    service_tiers: tuple[str, ...] = ()
    service_tier_models: tuple[str, ...] = ()

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
            moderation_models=tuple(s.label for s in specs if s.moderation),
            service_tiers=_ordered({t for s in specs for t in s.service_tiers}, SERVICE_TIER_ORDER),
            service_tier_models=tuple(s.label for s in specs if s.service_tiers),
        )


def _ordered(values: set[str], order: tuple[str, ...]) -> tuple[str, ...]:
    known = [v for v in order if v in values]
    return tuple(known + sorted(values - set(order)))


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
