"""The catalog against the gateway's own model package: a snapshot of npm `@llmgateway/models`'s
image models (gallery/catalog/gateway_image_models.json, taken by `./studio.sh manage
catalog_snapshot <version>`). Every image model the gateway has is known to the catalog, by id or
alias, with the same price, the same service tiers and, once the gateway deactivated it, the same
deactivation date; a model that needs an input image is edit-only. A failure names what to change
in gallery/catalog.toml."""

import json
from datetime import date
from decimal import Decimal

import pytest

from gallery import catalog
from gallery.catalog import ModelSpec
from gallery.management.commands.catalog_snapshot import SNAPSHOT_PATH

SNAPSHOT = json.loads(SNAPSHOT_PATH.read_text())
UPSTREAM = {model["id"]: model for model in SNAPSHOT["image_models"]}


def by_any_name() -> dict[str, ModelSpec]:
    names = {}
    for spec in catalog.known_models().values():
        for name in (spec.id, *spec.aliases):
            names[name] = spec
    return names


def deactivated_on(model: dict) -> date | None:
    """The day the last of its providers stopped; None while any still serves it."""
    days = [p["deactivated_at"] for p in model["providers"]]
    if model["deactivated_at"]:
        return date.fromisoformat(model["deactivated_at"])
    if None in days:
        return None
    return max(date.fromisoformat(day) for day in days)


def serving(model: dict) -> list[dict]:
    """The providers to read prices from: those not deactivated (all of them when none is)."""
    active = [p for p in model["providers"] if p["deactivated_at"] is None]
    return active or model["providers"]


def prices(model: dict) -> dict[str, Decimal] | None:
    """USD an image by resolution tier ("" = the default), or None when the package prices the
    model by tokens the catalog cannot count (GPT Image: they depend on size and quality)."""
    provider = serving(model)[0]
    if per_image := provider["per_image_price"]:
        found = {"" if tier == "default" else tier: Decimal(price)
                 for tier, price in per_image.items() if "/" not in tier}  # fmt: skip
        if "" not in found:  # only quality/tier pairs: the default is the medium one
            found[""] = Decimal(per_image["default"])
        return found
    if provider["request_price"] and Decimal(provider["request_price"]) > 0:
        return {"": Decimal(provider["request_price"])}
    if provider["image_output_price"] and provider["image_output_tokens"]:
        per_token = Decimal(provider["image_output_price"])
        return {
            "" if tier == "default" else tier: per_token * tokens
            for tier, tokens in provider["image_output_tokens"].items()
        }
    return None


def service_tiers(model: dict) -> dict[str, Decimal]:
    tiers: dict[str, Decimal] = {}
    for provider in serving(model):
        for tier in provider["service_tiers"]:
            tiers.setdefault(tier["id"], Decimal(str(tier["multiplier"])))
    return tiers


def test_the_snapshot_is_the_package_the_issue_names():
    assert SNAPSHOT["package"] == "@llmgateway/models" and SNAPSHOT["version"] == "1.324.0"
    assert len(UPSTREAM) == 29


@pytest.mark.parametrize("model_id", sorted(UPSTREAM))
def test_every_gateway_image_model_is_in_the_catalog_as_the_gateway_has_it(model_id):
    model = UPSTREAM[model_id]
    spec = by_any_name().get(model_id)
    assert spec is not None, f"catalog.toml does not know {model_id} ({model['name']})"
    assert spec.deactivated == deactivated_on(model), (
        f"{spec.id}: deactivated = {deactivated_on(model)} upstream"
    )
    assert (spec.edits == "only") == model["image_input_required"], spec.id
    assert spec.service_tiers == service_tiers(model), f"{spec.id}: service_tiers"
    expected = prices(model)
    if expected is None:
        assert spec.price_note, f"{spec.id} is token-priced upstream: say so in price_note"
        return
    for tier, price in expected.items():
        if tier and spec.resolutions and tier not in spec.resolutions:
            continue  # a tier the studio never asks this model for
        assert spec.price_for(tier) == pytest.approx(price, abs=Decimal("0.0005")), (
            f"{spec.id}: price at {tier or 'default'} is {price} upstream"
        )


def test_a_deactivated_model_is_not_offered_when_the_gateway_lists_what_it_has(
    fake_gateway, settings
):
    """The gateway lists what it serves; the catalog's deactivated models are never among it."""
    fake_gateway.models = [
        {"id": model_id, "name": model["name"],
         "architecture": {"input_modalities": ["text"], "output_modalities": ["image"]}}
        for model_id, model in UPSTREAM.items()
        if deactivated_on(model) is None or deactivated_on(model) > date.today()
    ]  # fmt: skip
    offered = catalog.available_models()
    assert "alibaba/qwen-image-3.0" in offered and "zai/glm-image" in offered
    assert not [spec.id for spec in offered.values() if spec.is_deactivated()]
    # The GA ids and the -preview ids are one model each.
    assert "gemini-3-pro-image-preview" in offered and "gemini-3-pro-image" not in offered


def test_a_service_tier_is_sent_where_the_model_has_it_and_priced_by_its_multiplier():
    pro = catalog.known_models()["gemini-3-pro-image-preview"]
    flex = catalog.request_for(pro, catalog.Choice(resolution="1K", service_tier="flex"))
    assert flex.params["service_tier"] == "flex"
    assert catalog.estimated_price(pro, flex.params) == Decimal("0.067")  # 0.134 x 0.5
    qwen = catalog.known_models()["alibaba/qwen-image-3.0"]
    plain = catalog.request_for(qwen, catalog.Choice(service_tier="flex"))
    assert "service_tier" not in plain.params
    assert catalog.estimated_price(qwen, plain.params) == Decimal("0.03")
