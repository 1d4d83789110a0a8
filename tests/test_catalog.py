"""The catalog: the data file, the merge with the gateway's model list, and per-model mapping."""

import time
from datetime import timedelta

import pytest

from gallery import catalog
from gallery.catalog import Choice, Controls


def spec(model_id):
    return catalog.known_models()[model_id]


def test_every_model_in_the_data_file_is_well_formed():
    models = catalog.known_models()
    assert len(models) >= 15
    for model in models.values():
        assert model.label
        assert model.aspect_ratios or model.sizes, model.id
        assert not model.default_size or model.default_size in model.sizes, model.id
        assert not model.default_resolution or model.default_resolution in model.resolutions
        assert not model.default_quality or model.default_quality in model.qualities
        assert set(model.resolutions) <= set(catalog.RESOLUTION_ORDER), model.id


def test_offline_mode_offers_only_the_offline_renderer(settings):
    settings.LLM_GATEWAY_API_KEY = ""
    models = catalog.available_models()
    assert list(models) == ["offline/aurora", "offline/mosaic", "offline/blueprint"]
    assert all(m.offline for m in models.values())


def test_online_catalog_follows_the_gateway_list_and_keeps_unknown_image_models(fake_gateway):
    fake_gateway.models = [
        {"id": "gpt-image-2", "name": "GPT Image 2",
         "architecture": {"input_modalities": ["text"], "output_modalities": ["image"]}},
        {"id": "google/gemini-3-pro-image-preview", "name": "Gemini 3 Pro",
         "architecture": {"input_modalities": ["text", "image"], "output_modalities": ["text", "image"]}},
        {"id": "acme/brand-new-painter", "name": "Brand New Painter",
         "architecture": {"input_modalities": ["text", "image"], "output_modalities": ["image"]}},
        {"id": "some-chat-model", "name": "Chat",
         "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]}},
    ]  # fmt: skip
    models = catalog.available_models()
    # Catalog order for known models (an alias maps to its catalog entry), then unknown ones.
    assert list(models) == ["gemini-3-pro-image-preview", "gpt-image-2", "acme/brand-new-painter"]
    unknown = models["acme/brand-new-painter"]
    assert not unknown.known
    assert unknown.label == "Brand New Painter"
    assert unknown.aspect_ratios  # generic controls
    assert unknown.accepts_images
    assert not any(m.offline for m in models.values())


@pytest.mark.parametrize("fault", ["404", "not_json", "down"])
def test_a_gateway_without_a_model_list_falls_back_to_the_catalog(fake_gateway, settings, fault):
    if fault == "404":
        fake_gateway.add_rule(path="models", status=404)
    elif fault == "not_json":
        fake_gateway.add_rule(path="models", response="not_json")
    else:
        settings.LLM_GATEWAY_BASE_URL = "http://127.0.0.1:9/v1"  # nothing listens on port 9
    models = catalog.available_models()
    assert "gpt-image-2" in models and "bytedance/seedream-4-5" in models
    assert not any(m.offline for m in models.values())
    # The catalog alone offers no model deactivated by now (older images keep their names).
    assert "alibaba/qwen-image-edit-plus" not in models and "reve/reve-create" not in models
    assert not [m.id for m in models.values() if m.is_deactivated()]
    assert catalog.label_for("alibaba/qwen-image-edit-plus") == "Qwen Image Edit Plus"


def test_a_model_is_offered_until_its_deactivation_day(fake_gateway, settings, monkeypatch):
    fake_gateway.add_rule(path="models", status=404)
    spec = catalog.known_models()["reve/reve-create"]
    assert spec.deactivated is not None
    assert not spec.is_deactivated(today=spec.deactivated - timedelta(days=1))
    assert spec.is_deactivated(today=spec.deactivated)
    assert "reve/reve-create" not in catalog.available_models()


def test_a_model_the_gateway_still_lists_is_offered_past_its_date(fake_gateway):
    """The gateway's live list is the word on what exists now (another OpenAI-compatible API,
    or a deactivation that moved): what it lists is offered."""
    fake_gateway.models = [
        {"id": "alibaba/qwen-image-edit-plus", "name": "Qwen Image Edit Plus",
         "architecture": {"input_modalities": ["text", "image"], "output_modalities": ["image"]}},
    ]  # fmt: skip
    assert list(catalog.available_models()) == ["alibaba/qwen-image-edit-plus"]


def test_the_model_list_is_cached_so_a_slow_gateway_costs_one_call(fake_gateway):
    catalog.available_models()
    catalog.available_models()
    assert len(fake_gateway.calls(path="models")) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("fault", ["nested_json", "gzip_bomb", "hang"])
def test_a_broken_model_list_falls_back_and_is_not_fetched_again(
    signed_in, fake_gateway, settings, fault
):
    settings.GATEWAY_MODELS_TIMEOUT = 1.0  # generous: a loaded machine parses slowly
    fake_gateway.add_rule(path="models", response=fault)
    first = signed_in.get("/")
    second = signed_in.get("/")
    assert first.status_code == second.status_code == 200
    # The catalog alone: a model the gateway's default list does not name is offered.
    assert b'value="bytedance/seedream-4-5"' in first.content
    # The failure is remembered like any other, so the second page load does not ask again.
    assert len(fake_gateway.calls(path="models")) == 1


@pytest.mark.django_db
def test_a_trickling_model_list_does_not_hold_the_page(signed_in, fake_gateway, settings):
    # A byte every 0.4 s never trips the read timeout; the models timeout is the total.
    settings.GATEWAY_MODELS_TIMEOUT = 1.0
    fake_gateway.add_rule(path="models", body={"data": []}, trickle=(1, 0.4))
    started = time.perf_counter()
    response = signed_in.get("/")
    assert time.perf_counter() - started < 2
    assert response.status_code == 200
    assert b'value="gpt-image-2"' in response.content


def test_a_hanging_model_list_does_not_hold_the_page_for_long(fake_gateway, settings):
    settings.GATEWAY_MODELS_TIMEOUT = 0.3
    fake_gateway.add_rule(path="models", response="hang")
    started = time.perf_counter()
    models = catalog.available_models()
    assert time.perf_counter() - started < 2
    assert "gpt-image-2" in models


def test_controls_for_one_model_are_exactly_its_own():
    controls = Controls.for_models([spec("gpt-image-2")])
    assert controls.sizes == tuple(
        sorted(spec("gpt-image-2").sizes, key=catalog.controls._size_sort_key)
    )
    assert controls.aspect_ratios == ()
    assert controls.resolutions == ()
    assert controls.qualities == ("auto", "low", "medium", "high")
    assert controls.default_quality == "low"

    gemini = Controls.for_models([spec("gemini-3-pro-image-preview")])
    assert gemini.resolutions == ("1K", "2K", "4K")
    assert "21:9" in gemini.aspect_ratios and gemini.sizes == ()


def test_controls_in_compare_mode_make_sense_for_all_models():
    controls = Controls.for_models(
        [spec("gemini-3.1-flash-image-preview"), spec("alibaba/qwen-image"), spec("gpt-image-2")]
    )
    # Mixed ratio and pixel-size models: a ratio for everyone, no pixel sizes.
    assert "16:9" in controls.aspect_ratios
    assert controls.sizes == ()
    assert controls.resolutions == ("0.5K", "1K", "2K", "4K")
    assert controls.qualities and controls.quality_models == ("GPT Image 2",)

    pixel_only = Controls.for_models([spec("alibaba/qwen-image"), spec("zai/cogview-4")])
    assert pixel_only.sizes and pixel_only.aspect_ratios == ()


def test_each_model_is_sent_the_nearest_setting_it_supports():
    choice = Choice(aspect_ratio="16:9", resolution="2K", quality="high")
    gemini = catalog.request_for(spec("gemini-3.1-flash-image-preview"), choice)
    assert gemini.params == {"aspect_ratio": "16:9", "image_size": "2K"}
    assert gemini.width > gemini.height

    qwen = catalog.request_for(spec("alibaba/qwen-image"), choice)
    assert qwen.params == {"size": "1280x720"}
    assert (qwen.width, qwen.height) == (1280, 720)

    gpt = catalog.request_for(spec("gpt-image-2"), choice)
    assert gpt.params == {"size": "2048x1152", "quality": "high"}

    seedream = catalog.request_for(spec("bytedance/seedream-4-5"), Choice("21:9", "0.5K"))
    assert seedream.params == {"aspect_ratio": "21:9", "image_size": "2K"}

    # A ratio the model lacks goes to its nearest one.
    lite = catalog.request_for(spec("bytedance/seedream-4-0"), Choice("5:4", "2K"))
    assert lite.params["aspect_ratio"] == "4:3"


def test_quality_maps_to_the_nearest_rank():
    assert catalog.nearest_quality("hd", ("low", "medium", "high")) == "high"
    assert catalog.nearest_quality("standard", ("auto", "low", "high")) in ("auto",)


def test_expected_dimensions_follow_ratio_and_tier():
    w, h = catalog.dimensions_for("16:9", "1K")
    assert abs(w / h - 16 / 9) < 0.02
    assert 0.9e6 < w * h < 1.2e6
    w4, h4 = catalog.dimensions_for("1:1", "4K")
    assert (w4, h4) == (4096, 4096)


def test_prices_follow_the_resolution_tier():
    flash = spec("gemini-3.1-flash-image-preview")
    assert str(catalog.estimated_price(flash, {"image_size": "4K"})) == "0.151"
    assert str(catalog.estimated_price(flash, {"image_size": "0.5K"})) == "0.045"
    assert str(catalog.estimated_price(spec("zai/cogview-4"), {"size": "1024x1024"})) == "0.01"
