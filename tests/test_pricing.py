"""pricing.estimate, the one place a price is worked out, and the places that show or store it
agreeing: the prompt box's estimate line, each queued tile's estimated cost, the cost stored when
the gateway reports none."""

import html
from decimal import Decimal

import pytest

from gallery import catalog, pricing, runner
from gallery.models import Image

pytestmark = pytest.mark.django_db

FLASH = "gemini-3.1-flash-image-preview"  # $0.151 an image at 4K, $0.067 at 1K
GPT = "gpt-image-2"  # $0.04 an image


def spec(model_id: str) -> catalog.ModelSpec:
    return catalog.known_models()[model_id]


def test_an_estimate_prices_each_image_model_by_model_and_totals_them():
    cost = pricing.estimate(
        sent=[(spec(FLASH), {"image_size": "4K"}), (spec(GPT), {"size": "1024x1024"})], count=2
    )
    assert [(s.id, price) for s, price in cost.images] == [
        (FLASH, Decimal("0.151")),
        (FLASH, Decimal("0.151")),
        (GPT, Decimal("0.04")),
        (GPT, Decimal("0.04")),
    ]
    assert cost.total == cost.known_cost == Decimal("0.382")
    assert cost.unpriced == [] and [s.id for s in cost.models] == [FLASH, GPT]


def test_one_unknown_price_makes_the_total_unknown_but_not_the_known_part():
    photon = catalog.generic_spec("acme/photon-1", "Acme Photon")
    cost = pricing.estimate(sent=[(spec(GPT), {}), (photon, {})], count=3)
    assert cost.total is None
    assert cost.known_cost == Decimal("0.12")
    assert cost.unpriced == ["Acme Photon"]  # named once, not once an image


def test_nothing_to_price_is_free():
    assert pricing.estimate(sent=[]).total == Decimal(0)


@pytest.mark.django_db(transaction=True)
def test_the_estimate_line_the_queued_tiles_and_the_stored_cost_agree(signed_in, fake_gateway):
    fake_gateway.cost = None  # no usage.cost: the runner stores the catalog's price
    run = {"model": [FLASH, GPT], "compare": "on", "aspect_ratio": "16:9", "resolution": "4K"}
    run["count"] = "2"
    line = html.unescape(signed_in.get("/estimate/", run).content.decode())
    assert "≈ $0.382" in line

    assert signed_in.post("/generate/", {**run, "prompt": "two lighthouses"}).status_code == 302
    images = list(Image.objects.order_by("column", "position"))
    assert [i.estimated_cost for i in images] == [Decimal("0.151")] * 2 + [Decimal("0.04")] * 2
    assert sum(i.estimated_cost for i in images) == Decimal("0.382")

    runner.make_images(run_id=images[0].run_id)
    for image in images:
        image.refresh_from_db()
        assert image.status == "succeeded", image.error
        assert image.cost == image.estimated_cost and not image.cost_from_gateway
