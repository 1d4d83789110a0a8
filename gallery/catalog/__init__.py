"""The image models on offer and their controls.

`gallery/catalog.toml` describes the models the studio knows (controls, prices). The gateway's
`GET /v1/models` says which models exist right now; an image model it lists that the data file does
not know still appears, with generic controls. A gateway that is down or lacks `/v1/models` does not
break anything: the data file alone is used. With no gateway key, only the offline renderer is
offered. Callers import from `gallery.catalog`; its parts, read top-down:

    specs      catalog.toml read into a ModelSpec per model; generic specs for unknown ones
    available  the models on offer now: the data file merged with the gateway's list, cached
    controls   the controls shown for a set of models, and the choices each offers
    mapping    a person's Choice mapped onto one model (ModelRequest), and its estimated price
"""

from gallery.catalog.available import (
    available_models,
    catalog_models,
    default_model_ids,
    offline_mode,
    usable,
)
from gallery.catalog.controls import EDIT_PARAMS, MODERATION_LEVELS, SERVICE_TIER_ORDER, Controls
from gallery.catalog.mapping import (
    COMPRESSION_FORMATS,
    QUALITY_RANK,
    RESOLUTION_SIDE,
    Choice,
    ModelRequest,
    dimensions_for,
    estimated_price,
    nearest_quality,
    nearest_ratio,
    nearest_size,
    nearest_tier,
    parse_size,
    ratio_value,
    request_for,
)
from gallery.catalog.specs import (
    CATALOG_PATH,
    EDIT_MODES,
    RATIO_ORDER,
    RESOLUTION_ORDER,
    ModelSpec,
    generic_spec,
    is_offline,
    known_models,
    label_for,
)

__all__ = [
    "CATALOG_PATH",
    "COMPRESSION_FORMATS",
    "EDIT_MODES",
    "EDIT_PARAMS",
    "MODERATION_LEVELS",
    "QUALITY_RANK",
    "RATIO_ORDER",
    "RESOLUTION_ORDER",
    "RESOLUTION_SIDE",
    "SERVICE_TIER_ORDER",
    "Choice",
    "Controls",
    "ModelRequest",
    "ModelSpec",
    "available_models",
    "catalog_models",
    "default_model_ids",
    "dimensions_for",
    "estimated_price",
    "generic_spec",
    "is_offline",
    "known_models",
    "label_for",
    "nearest_quality",
    "nearest_ratio",
    "nearest_size",
    "nearest_tier",
    "offline_mode",
    "parse_size",
    "ratio_value",
    "request_for",
    "usable",
]
