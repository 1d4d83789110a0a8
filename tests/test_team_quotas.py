"""Quotas, the budget and the model allowlist: the arithmetic at its boundaries, on real rows."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from gallery import catalog
from gallery.models import Image, Run
from gallery.pricing import Estimate
from team import selectors, services
from team.models import TeamPolicy
from team.services import QuotaExceeded
from tests.factories import make_run

pytestmark = pytest.mark.django_db


def run_of(
    user,
    count: int,
    *,
    estimated: str | None = "0.10",
    cost: str | None = None,
    status: str = Image.Status.SUCCEEDED,
    model: str = "gpt-image-2",
    created_at: datetime | None = None,
) -> Run:
    """A run of `count` images at a price, as the gallery writes it, with an explicit time."""
    run = make_run(user, models=[model], count=count)
    run.images.update(
        status=status,
        estimated_cost=None if estimated is None else Decimal(estimated),
        cost=None if cost is None else Decimal(cost),
    )
    if created_at is not None:
        Run.objects.filter(pk=run.pk).update(created_at=created_at)
    return run


def set_policy(**fields) -> TeamPolicy:
    policy = TeamPolicy.current()
    for name, value in fields.items():
        setattr(policy, name, value)
    policy.save()
    return policy


def reserve(user, count: int, cost: str = "0") -> None:
    """Ask to queue `count` images of a catalog model costing `cost` in all."""
    spec = catalog.known_models()["gpt-image-2"]
    permit(user, [(spec, Decimal(cost) / count)] * count)


def permit(user, images) -> None:
    """Ask to queue images priced as given: one (model, price) pair each."""
    with transaction.atomic():
        services.run_permit(user=user, estimate=Estimate(images=tuple(images)))


def local_midnight() -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate(), datetime.min.time()))


def month_start() -> datetime:
    return timezone.make_aware(
        datetime.combine(timezone.localdate().replace(day=1), datetime.min.time())
    )


# --- the daily image limit ------------------------------------------------------------------------


def test_no_limits_by_default(user):
    run_of(user, 4, estimated="100")
    reserve(user, 1000, "1000000")  # nothing raised
    assert TeamPolicy.current().daily_image_limit is None


def test_exactly_reaching_the_daily_limit_passes_and_one_more_is_refused(user):
    set_policy(daily_image_limit=5)
    run_of(user, 3)
    reserve(user, 2)  # 3 + 2 == 5: allowed
    with pytest.raises(QuotaExceeded) as refused:
        reserve(user, 3)
    assert refused.value.message == (
        "This run needs 3 images but you have 2 left today (limit 5 a day)."
    )


def test_at_the_limit_even_one_image_is_refused_with_when_it_resets(user):
    set_policy(daily_image_limit=5)
    run_of(user, 4)
    run_of(user, 1, status=Image.Status.QUEUED)  # still being made: counts
    with pytest.raises(QuotaExceeded) as refused:
        reserve(user, 1)
    assert refused.value.message == (
        "This run needs 1 image but you have none left today (limit 5 a day). "
        "The limit resets at midnight."
    )


def test_a_zero_limit_pauses_making_images(user):
    set_policy(daily_image_limit=0)
    with pytest.raises(QuotaExceeded, match="you have none left today"):
        reserve(user, 1)


def test_failed_and_interrupted_images_do_not_count_towards_the_day(user):
    set_policy(daily_image_limit=4)
    run_of(user, 4, status=Image.Status.FAILED)
    run_of(user, 4, status=Image.Status.INTERRUPTED)
    run_of(user, 2, status=Image.Status.RUNNING)
    reserve(user, 2)
    with pytest.raises(QuotaExceeded, match="you have 2 left today"):
        reserve(user, 3)


def test_deleted_images_and_runs_still_count_they_were_made(user):
    set_policy(daily_image_limit=4)
    deleted_run = run_of(user, 2)
    Run.objects.filter(pk=deleted_run.pk).update(deleted_at=timezone.now())
    image = run_of(user, 1).images.get()
    Image.objects.filter(pk=image.pk).update(deleted_at=timezone.now())
    with pytest.raises(QuotaExceeded, match="you have 1 left today"):
        reserve(user, 2)


def test_the_day_is_per_person_and_starts_at_local_midnight(user, other_user):
    set_policy(daily_image_limit=3)
    run_of(other_user, 3)  # someone else's day
    run_of(user, 3, created_at=local_midnight() - timedelta(seconds=1))  # yesterday
    run_of(user, 1, created_at=local_midnight())  # the first instant of today
    reserve(user, 2)
    with pytest.raises(QuotaExceeded, match="you have 2 left today"):
        reserve(user, 3)


def test_local_midnight_follows_the_time_zone(user, settings):
    settings.TIME_ZONE = "Pacific/Auckland"
    set_policy(daily_image_limit=2)
    midnight = local_midnight()
    assert midnight.utcoffset() != timedelta(0)
    run_of(user, 2, created_at=midnight - timedelta(minutes=1))  # yesterday in Auckland
    reserve(user, 2)
    run_of(user, 1, created_at=midnight + timedelta(minutes=1))
    with pytest.raises(QuotaExceeded):
        reserve(user, 2)


# --- the monthly budget ---------------------------------------------------------------------------


def test_exactly_reaching_the_budget_passes_and_a_cent_over_is_refused(user, other_user):
    set_policy(monthly_budget_usd=Decimal("1.00"))
    run_of(user, 3, estimated="0.10")  # $0.30
    run_of(other_user, 3, estimated="0.10")  # the budget is the team's: $0.60 spent
    reserve(user, 4, "0.40")  # exactly $1.00
    with pytest.raises(QuotaExceeded) as refused:
        reserve(user, 4, "0.41")
    assert refused.value.message == (
        "This run would cost about $0.41 but only $0.40 of this month's $1.00 budget is left."
    )


def test_a_used_up_budget_says_so(user):
    set_policy(monthly_budget_usd=Decimal("50"))
    run_of(user, 1, estimated=None, cost="50.00")
    with pytest.raises(QuotaExceeded) as refused:
        reserve(user, 4, "0.536")
    assert refused.value.message == (
        "This run would cost about $0.536 but this month's $50.00 budget is used up."
    )
    reserve(user, 2, "0")  # the offline renderer is free: still allowed


def test_the_gateway_cost_replaces_the_estimate(user):
    set_policy(monthly_budget_usd=Decimal("1.00"))
    run_of(user, 2, estimated="0.40", cost="0.05")  # estimated $0.80, charged $0.10
    reserve(user, 1, "0.90")
    with pytest.raises(QuotaExceeded, match=r"only \$0.90 of this month's"):
        reserve(user, 1, "0.91")


def test_failed_calls_are_not_charged(user):
    set_policy(monthly_budget_usd=Decimal("1.00"))
    run_of(user, 4, estimated="0.25", status=Image.Status.FAILED)
    run_of(user, 4, estimated="0.25", status=Image.Status.INTERRUPTED)
    reserve(user, 4, "1.00")


def test_pending_images_reserve_their_estimate(user):
    set_policy(monthly_budget_usd=Decimal("1.00"))
    run_of(user, 2, estimated="0.30", status=Image.Status.QUEUED)
    with pytest.raises(QuotaExceeded, match=r"only \$0.40"):
        reserve(user, 1, "0.50")


def test_only_this_calendar_month_counts(user):
    set_policy(monthly_budget_usd=Decimal("1.00"))
    start = month_start()
    run_of(user, 1, estimated="0.90", created_at=start - timedelta(seconds=1))  # last month
    run_of(user, 1, estimated="0.25", created_at=start)  # the first instant of this month
    reserve(user, 1, "0.75")
    with pytest.raises(QuotaExceeded, match=r"only \$0.75"):
        reserve(user, 1, "0.76")


def test_the_daily_limit_is_checked_before_the_budget(user):
    set_policy(daily_image_limit=1, monthly_budget_usd=Decimal("0"))
    with pytest.raises(QuotaExceeded, match="needs 2 images"):
        reserve(user, 2, "0.20")


def test_an_unpriced_model_runs_while_budget_is_left_but_not_once_it_is_used_up(user):
    unpriced = catalog.generic_spec("acme/photon-1", "Acme Photon")
    permit(user, [(unpriced, None)] * 4)  # no budget: nothing to guard
    set_policy(monthly_budget_usd=Decimal("0.10"))
    run_of(user, 1, estimated="0.09")
    permit(user, [(unpriced, None)] * 4)  # $0.01 left: it may run, and counts once priced
    run_of(user, 1, estimated=None, cost="0.01")  # what the gateway charged for one
    with pytest.raises(QuotaExceeded) as refused:
        permit(user, [(unpriced, None)])
    assert refused.value.message == (
        "Acme Photon has no known price and this month's $0.10 budget is used up, so this run "
        "can't start. An admin can raise the budget on the Team page, or give the model a price "
        "in gallery/catalog.toml."
    )
    offline = catalog.known_models()["offline/aurora"]
    permit(user, [(offline, Decimal(0))])  # a known price of nothing still runs


def test_a_run_with_priced_and_unpriced_models_names_those_without_a_price(user):
    set_policy(monthly_budget_usd=Decimal("0"))
    gpt = catalog.known_models()["gpt-image-2"]
    photon = catalog.generic_spec("acme/photon-1", "Acme Photon")
    nova = catalog.generic_spec("acme/nova", "Acme Nova")
    with pytest.raises(QuotaExceeded, match=r"about \$0.04 but this month's \$0.00 budget"):
        permit(user, [(gpt, Decimal("0.04")), (photon, None)])
    with pytest.raises(QuotaExceeded) as refused:
        permit(user, [(photon, None), (nova, None), (photon, None)])
    assert refused.value.message.startswith(
        "Acme Photon and Acme Nova have no known price and this month's $0.00 budget is used up"
    )
    assert refused.value.message.endswith("or give them a price in gallery/catalog.toml.")


def test_quota_status_reports_what_is_left(user, other_user):
    assert selectors.quota_status(user=user) == {
        "images_left_today": None,
        "daily_limit": None,
        "budget_left": None,
        "budget": None,
        "spent": Decimal("0"),
    }
    set_policy(daily_image_limit=10, monthly_budget_usd=Decimal("2.00"))
    run_of(user, 3, estimated="0.10", cost="0.20")
    run_of(other_user, 4, estimated="0.10")
    status = selectors.quota_status(user=user)
    assert status["images_left_today"] == 7
    assert status["daily_limit"] == 10
    assert status["spent"] == Decimal("1.00")
    assert status["budget_left"] == Decimal("1.00")
    assert status["budget"] == Decimal("2.00")
    run_of(other_user, 30, estimated="0.10")
    assert selectors.quota_status(user=user)["budget_left"] == Decimal("0")


def test_the_reads_are_the_selectors_alone():
    """team.services writes (and checks before it writes); what it reads it asks team.selectors
    for, by that name, and it hands none of the selectors' reads out as its own."""
    reads = {
        name
        for name, value in vars(selectors).items()
        if getattr(value, "__module__", None) == "team.selectors"
    }
    assert {"quota_status", "usage_for_month", "UsageReport"} <= reads
    assert reads.isdisjoint(vars(services))


# --- the model allowlist --------------------------------------------------------------------------


def test_an_empty_allowlist_allows_every_model():
    models = catalog.known_models()
    assert services.allowed_models(models) == models


def test_the_allowlist_filters_the_catalog_and_keeps_the_offline_renderer():
    set_policy(allowed_models=["gpt-image-2", "zai/cogview-4"])
    allowed = services.allowed_models(catalog.known_models())
    online = [m for m, spec in allowed.items() if not spec.offline]
    assert online == ["gpt-image-2", "zai/cogview-4"]  # in the catalog's order
    assert {"offline/aurora", "offline/mosaic", "offline/blueprint"} <= set(allowed)


def test_a_model_the_catalog_does_not_know_is_hidden_once_an_allowlist_is_set():
    models = {"brand-new": catalog.generic_spec("brand-new")}
    assert services.allowed_models(models) == models
    set_policy(allowed_models=["gpt-image-2"])
    assert services.allowed_models(models) == {}


def test_a_model_taken_off_the_allowlist_is_refused_before_any_limit(user):
    set_policy(allowed_models=["zai/cogview-4"], daily_image_limit=0)
    gpt = catalog.known_models()["gpt-image-2"]
    with pytest.raises(services.ModelNotAllowed) as refused:
        permit(user, [(gpt, Decimal("0.04"))])
    assert refused.value.message == (
        "An admin has removed GPT Image 2 from the team's models, so it can't run any more."
    )
    set_policy(daily_image_limit=None)
    permit(user, [(catalog.known_models()["zai/cogview-4"], Decimal("0.01"))])
    permit(user, [(catalog.known_models()["offline/mosaic"], Decimal(0))])  # always allowed
