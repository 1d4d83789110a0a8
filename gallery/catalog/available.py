"""The models people can pick right now: the catalog merged with the gateway's model list.

The gateway's `GET /v1/models` says which models exist right now; an image model it lists that the
data file does not know still appears, with generic controls. A gateway that is down or lacks
`/v1/models` does not break anything: the data file alone is used, less the models deactivated
by now. The list is cached, a failure for a shorter while. With no gateway key, only the offline
renderer is offered.
"""

import logging

from django.conf import settings
from django.core.cache import cache as django_cache

from gallery import gateway
from gallery.catalog.specs import ModelSpec, generic_spec, known_models

logger = logging.getLogger(__name__)


def offline_mode() -> bool:
    return not settings.LLM_GATEWAY_API_KEY


def catalog_models() -> dict[str, ModelSpec]:
    """The catalog's gateway models that may be offered, by id, in file order: not the offline
    renderer, and not a model deactivated by now (catalog.toml keeps those only so that older
    images keep their names). What the gallery offers when the gateway cannot list its models,
    and what the Team page's allowlist lists."""
    return {m.id: m for m in known_models().values() if not m.offline and not m.is_deactivated()}


def available_models() -> dict[str, ModelSpec]:
    """The models people can pick now, by id, in display order."""
    if offline_mode():
        return {m.id: m for m in known_models().values() if m.offline}
    listed = _gateway_image_models()
    if listed is None:
        return catalog_models()
    # The gateway's live list is the word on what exists now: a model it still lists is offered
    # even past catalog.toml's `deactivated` date (another OpenAI-compatible API, or a date that
    # moved); one it no longer lists is not.
    online = [m for m in known_models().values() if not m.offline]
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


def usable(spec: ModelSpec, *, edit: bool) -> bool:
    """Can this model take part: in an edit (it accepts images), or a generation (no image)?"""
    return spec.accepts_images if edit else spec.generates


def default_model_ids(
    models: dict[str, ModelSpec], count: int = 1, *, edit: bool = False
) -> list[str]:
    return [m.id for m in models.values() if usable(m, edit=edit)][:count]
