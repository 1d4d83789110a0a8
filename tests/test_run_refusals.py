"""A run or a Retry the team's rules refuse, through the views: before any row is written and
any call goes upstream, with a sentence that says why and what can be done.

The rules themselves (limits, budget arithmetic) are pinned in test_team_quotas.py; here the
model with no known price (one the gateway lists but the catalog cannot price) and a model an
admin took off the allowlist, for a new run and for a Retry alike."""

import html
import json
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from gallery import runner
from gallery.models import Image, Run
from team.models import TeamPolicy
from team.selectors import spent_in_month
from tests.conftest import htmx_headers
from tests.factories import make_run

pytestmark = pytest.mark.django_db

UNPRICED = {
    "id": "acme/photon-1",
    "name": "Acme Photon",
    "architecture": {"input_modalities": ["text"], "output_modalities": ["image"]},
}
UNPRICED_REFUSAL = (
    "Acme Photon has no known price and this month's $0.00 budget is used up, so this run "
    "can't start. An admin can raise the budget on the Team page, or give the model a price "
    "in gallery/catalog.toml."
)


@pytest.fixture
def unpriced_gateway(fake_gateway):
    """The loopback gateway also listing an image model the catalog does not know."""
    fake_gateway.models.append(dict(UNPRICED))
    return fake_gateway


def set_policy(**fields) -> None:
    TeamPolicy.objects.update_or_create(pk=1, defaults=fields)


def unpriced_run(**overrides) -> dict:
    data = {"prompt": "a brass owl", "model": [UNPRICED["id"]], "aspect_ratio": "1:1", "count": "1"}
    data.update(overrides)
    return data


def failed_tile(user, model: str) -> Image:
    image = make_run(user, models=[model]).images.get()
    Image.objects.filter(pk=image.pk).update(status="failed", error="The provider failed (502).")
    return image


def text(response) -> str:
    """The response as a person reads it (entities such as &#x27; decoded)."""
    return html.unescape(response.content.decode())


def toast(response) -> str:
    return json.loads(response["HX-Trigger"])["toast"]["message"]


# --- a model with no known price ------------------------------------------------------------------


def test_an_unpriced_model_is_refused_once_the_budget_is_used_up(signed_in, unpriced_gateway):
    set_policy(monthly_budget_usd=Decimal("0"))
    response = signed_in.post("/generate/", unpriced_run())
    assert response.status_code == 400
    assert UNPRICED_REFUSAL in text(response)
    htmx = signed_in.post("/generate/", unpriced_run(), headers=htmx_headers())
    assert htmx.status_code == 422
    assert UNPRICED_REFUSAL in text(htmx)
    assert not Run.objects.exists() and not Image.objects.exists()
    assert not unpriced_gateway.calls(path="images/generations")


def test_the_estimate_says_an_unpriced_run_cannot_start_when_the_budget_is_used_up(
    signed_in, unpriced_gateway
):
    set_policy(monthly_budget_usd=Decimal("0"))
    line = text(signed_in.get("/estimate/", unpriced_run()))
    assert "Price unknown" in line and UNPRICED_REFUSAL in line
    assert "$0.00 of $0.00 left" not in line
    # With budget left the unpriced model may run: the line says what is left, as before.
    set_policy(monthly_budget_usd=Decimal("5"))
    line = text(signed_in.get("/estimate/", unpriced_run()))
    assert "Price unknown" in line and "$5.00 of $5.00 left" in line
    assert "can't start" not in line


@pytest.mark.django_db(transaction=True)
def test_an_unpriced_model_runs_while_budget_is_left_and_counts_at_the_gateway_cost(
    signed_in, unpriced_gateway
):
    set_policy(monthly_budget_usd=Decimal("0.25"))
    unpriced_gateway.cost = 0.25
    assert signed_in.post("/generate/", unpriced_run()).status_code == 302
    image = Image.objects.get()
    assert image.model == UNPRICED["id"] and image.estimated_cost is None

    runner.make_images(run_id=image.run_id)
    image.refresh_from_db()
    assert image.status == "succeeded", image.error
    assert image.cost == Decimal("0.25") and image.cost_from_gateway
    now = timezone.localtime()
    assert spent_in_month(year=now.year, month=now.month) == Decimal("0.25")

    # That used the budget up: the next unpriced run cannot slip past it.
    refused = signed_in.post("/generate/", unpriced_run())
    assert refused.status_code == 400
    assert "has no known price and this month's $0.25 budget is used up" in text(refused)
    assert Image.objects.count() == 1
    assert len(unpriced_gateway.calls(path="images/generations")) == 1


# --- Retry checks exactly what a new run checks ---------------------------------------------------


def test_retry_of_a_model_taken_off_the_allowlist_is_refused(
    signed_in, user, fake_gateway, django_capture_on_commit_callbacks
):
    failed = failed_tile(user, "gpt-image-2")
    set_policy(allowed_models=["zai/cogview-4"])
    message = "An admin has removed GPT Image 2 from the team's models, so it can't run any more."
    with django_capture_on_commit_callbacks(execute=True):
        plain = signed_in.post(f"/images/{failed.pk}/retry/")
        htmx = signed_in.post(f"/images/{failed.pk}/retry/", headers=htmx_headers())
    assert plain.status_code == 403 and message in text(plain)
    assert htmx.status_code == 403 and htmx["HX-Reswap"] == "none"
    assert toast(htmx) == message
    failed.refresh_from_db()
    assert failed.status == "failed" and failed.error == "The provider failed (502)."
    assert not DBTaskResult.objects.exists()
    assert not fake_gateway.calls(path="images/generations")


def test_retry_of_a_model_the_gateway_no_longer_offers_is_refused(signed_in, user, fake_gateway):
    failed = failed_tile(user, "gpt-image-2")
    fake_gateway.models = [m for m in fake_gateway.models if m["id"] != "gpt-image-2"]
    response = signed_in.post(f"/images/{failed.pk}/retry/", headers=htmx_headers())
    assert toast(response) == "GPT Image 2 is not offered any more, so it can't run again."
    failed.refresh_from_db()
    assert failed.status == "failed"
    assert not DBTaskResult.objects.exists()


def test_retry_of_an_unpriced_model_is_refused_once_the_budget_is_used_up(
    signed_in, user, unpriced_gateway
):
    failed = failed_tile(user, UNPRICED["id"])
    set_policy(monthly_budget_usd=Decimal("0"))
    response = signed_in.post(f"/images/{failed.pk}/retry/", headers=htmx_headers())
    assert toast(response) == UNPRICED_REFUSAL
    failed.refresh_from_db()
    assert failed.status == "failed"
    assert not DBTaskResult.objects.exists()


def test_retry_over_the_budget_is_refused_with_what_is_left(signed_in, user, fake_gateway):
    failed = failed_tile(user, "gpt-image-2")  # $0.04 an image
    set_policy(monthly_budget_usd=Decimal("0.03"))
    plain = signed_in.post(f"/images/{failed.pk}/retry/")
    assert plain.status_code == 403
    assert (
        "This run would cost about $0.04 but only $0.03 of this month's $0.03 budget is left."
        in text(plain)
    )
    failed.refresh_from_db()
    assert failed.status == "failed"
    assert not DBTaskResult.objects.exists()


def test_retry_over_the_daily_limit_is_refused(signed_in, user, fake_gateway):
    failed = failed_tile(user, "gpt-image-2")
    set_policy(daily_image_limit=0)
    response = signed_in.post(f"/images/{failed.pk}/retry/", headers=htmx_headers())
    assert toast(response).startswith("This run needs 1 image but you have none left today")
    failed.refresh_from_db()
    assert failed.status == "failed"


def test_retry_of_an_allowed_model_prices_it_as_the_catalog_does_now(
    signed_in, user, fake_gateway, django_capture_on_commit_callbacks
):
    failed = failed_tile(user, "gpt-image-2")
    Image.objects.filter(pk=failed.pk).update(estimated_cost=Decimal("9.99"))  # an old price
    set_policy(allowed_models=["gpt-image-2"], monthly_budget_usd=Decimal("1"))
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(f"/images/{failed.pk}/retry/", headers=htmx_headers())
    assert response.status_code == 200 and "HX-Trigger" not in response
    failed.refresh_from_db()
    assert failed.status == "queued" and failed.estimated_cost == Decimal("0.04")
    assert DBTaskResult.objects.count() == 1
