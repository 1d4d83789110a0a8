"""The prompt box's Moderation and Service tier: shown only for models whose catalog entry takes
them, checked by GenerateForm, sent to the gateway, and priced by pricing.estimate."""

from decimal import Decimal

import pytest

from gallery import catalog, pricing, runner
from gallery.models import Image, Run
from tests.conftest import htmx_headers

pytestmark = pytest.mark.django_db

FLEX = "Flex: cheaper, slower"
PRIORITY = "Priority: faster, costs more"


def controls(client, *models, **extra) -> str:
    params = {"model": list(models), **extra}
    if len(models) > 1:
        params["compare"] = "on"
    response = client.get("/controls/", params, headers=htmx_headers())
    assert response.status_code == 200
    return response.content.decode()


def estimate_line(client, **data) -> str:
    response = client.get("/estimate/", data, headers=htmx_headers())
    assert response.status_code == 200
    return " ".join(response.content.decode().split())


@pytest.fixture
def whole_catalog(fake_gateway):
    fake_gateway.models = []  # the gateway cannot list: the catalog's active models
    return fake_gateway


def test_the_controls_appear_only_for_models_that_take_them(signed_in, whole_catalog):
    gpt = controls(signed_in, "gpt-image-2")
    assert '<label for="moderation">Moderation</label>' in gpt
    assert "Low (less strict filtering)" in gpt and 'id="service_tier"' not in gpt

    pro = controls(signed_in, "gemini-3-pro-image-preview")
    assert '<label for="service_tier">Service tier</label>' in pro
    assert f'<option value="flex">{FLEX}</option>' in pro
    assert f'<option value="priority">{PRIORITY}</option>' in pro
    assert '<option value="" selected>Standard</option>' in pro
    assert 'id="moderation"' not in pro

    flash = controls(signed_in, "gemini-3.1-flash-image-preview")
    assert FLEX in flash and PRIORITY not in flash  # its one tier

    muse = controls(signed_in, "meta/muse-image-1.0")
    assert 'id="moderation"' not in muse and 'id="service_tier"' not in muse


def test_in_compare_mode_the_controls_say_which_models_they_apply_to(signed_in, whole_catalog):
    html = controls(signed_in, "gemini-3-pro-image-preview", "gpt-image-2")
    assert 'id="service_tier"' in html and 'id="moderation"' in html
    assert "Gemini 3 Pro Image only" in html and "GPT Image 2 only" in html


def test_the_controls_are_described_for_screen_readers(signed_in, whole_catalog):
    html = controls(signed_in, "gemini-3-pro-image-preview")
    assert 'aria-describedby="service_tier-help"' in html
    assert 'id="service_tier-help"' in html and "Flex costs less" in html


def test_the_estimate_line_prices_the_tier(signed_in, whole_catalog):
    base = {"model": "gemini-3-pro-image-preview", "resolution": "1K", "count": "2"}
    assert "≈ $0.268" in estimate_line(signed_in, **base)
    assert "≈ $0.134" in estimate_line(signed_in, **base, service_tier="flex")
    assert "≈ $0.482" in estimate_line(signed_in, **base, service_tier="priority")  # 0.2412 x 2
    # A tier the model does not have is not priced (nor sent).
    flash = {"model": "gemini-3.1-flash-image-preview", "resolution": "1K"}
    assert "≈ $0.067" in estimate_line(signed_in, **flash, service_tier="priority")


def test_pricing_estimate_prices_each_model_at_its_tier():
    pro = catalog.known_models()["gemini-3-pro-image-preview"]
    gpt = catalog.known_models()["gpt-image-2"]
    choice = catalog.Choice(resolution="4K", service_tier="priority")
    sent = [(spec, catalog.request_for(spec, choice).params) for spec in (pro, gpt)]
    estimate = pricing.estimate(sent=sent, count=1)
    assert [price for _, price in estimate.images] == [Decimal("0.432"), Decimal("0.04")]


@pytest.mark.django_db(transaction=True)
def test_the_values_reach_the_gateway_and_the_run(signed_in, whole_catalog, user):
    response = signed_in.post(
        "/generate/",
        {
            "prompt": "a lighthouse",
            "model": ["gemini-3-pro-image-preview", "gpt-image-2"],
            "compare": "on",
            "aspect_ratio": "16:9",
            "resolution": "1K",
            "quality": "low",
            "moderation": "low",
            "service_tier": "flex",
            "count": "1",
            "action": "generate",
        },
    )
    assert response.status_code in (200, 302)
    run = Run.objects.get()
    assert run.settings["moderation"] == "low" and run.settings["service_tier"] == "flex"
    estimated = dict(Image.objects.values_list("model", "estimated_cost"))
    assert estimated["gemini-3-pro-image-preview"] == Decimal("0.067")  # flex: half of 0.134
    runner.make_images(run_id=run.pk)
    bodies = {c.json["model"]: c.json for c in whole_catalog.calls(path="images/generations")}
    assert bodies["gemini-3-pro-image-preview"]["service_tier"] == "flex"
    assert "moderation" not in bodies["gemini-3-pro-image-preview"]
    assert bodies["gpt-image-2"]["moderation"] == "low"
    assert "service_tier" not in bodies["gpt-image-2"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("service_tier", "priority", "Service tier priority is not offered by Gemini 3.1 Flash"),
        ("service_tier", "turbo", "Choose one of: flex."),
    ],
)
def test_a_tier_the_model_lacks_is_named_under_its_field(
    signed_in, whole_catalog, field, value, message
):
    response = signed_in.post(
        "/generate/",
        {"prompt": "x", "model": ["gemini-3.1-flash-image-preview"], field: value},
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Run.objects.exists()


def test_a_bad_moderation_is_named_and_ignored_where_it_does_not_apply(signed_in, whole_catalog):
    response = signed_in.post(
        "/generate/", {"prompt": "x", "model": ["gpt-image-2"], "moderation": "none"}
    )
    assert response.status_code == 400
    assert "Moderation none is not offered by GPT Image 2. Choose one of: auto, low." in (
        response.content.decode()
    )
    # Left over from another model: a model without the control ignores it.
    signed_in.post(
        "/generate/", {"prompt": "x", "model": ["meta/muse-image-1.0"], "moderation": "low"}
    )
    assert "moderation" not in Run.objects.get().settings


def test_reuse_settings_brings_the_tier_back(signed_in, whole_catalog):
    signed_in.post(
        "/generate/",
        {"prompt": "x", "model": ["gemini-3-pro-image-preview"], "service_tier": "priority",
         "resolution": "1K"},
    )  # fmt: skip
    run = Run.objects.get()
    page = signed_in.get("/", {"reuse": run.pk}).content.decode()
    assert f'<option value="priority" selected>{PRIORITY}</option>' in page


def test_no_template_comment_is_drawn_as_text(signed_in, whole_catalog):
    """Django's {# #} is one line only: a comment broken over two lines is drawn as text (and
    piled up before the controls at every redraw)."""
    for html in (
        signed_in.get("/").content.decode(),
        controls(signed_in, "gpt-image-2"),
    ):
        assert "{#" not in html and "#}" not in html
