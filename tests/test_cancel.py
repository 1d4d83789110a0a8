"""Cancel: Image.objects.cancel owns it; a queued image is never sent, an upstream call in
flight is abandoned (its connection closed), the tile says Cancelled with Retry, and a cancelled
image costs nothing unless the gateway already charged."""

import threading
import time
from decimal import Decimal

import pytest
from django.urls import reverse

from gallery import runner
from gallery.models import CANCELLED_MESSAGE, Event, Image
from team import selectors as team_selectors
from tests.browser import start_worker, stop_worker
from tests.conftest import htmx_headers
from tests.factories import make_run

pytestmark = pytest.mark.django_db(transaction=True)


def wait_until(condition, *, timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


def statuses(run) -> list[str]:
    return list(run.images.order_by("column", "position").values_list("status", flat=True))


# --- the owner --------------------------------------------------------------------------------


def test_cancel_moves_only_pending_images_and_announces_each(user):
    run = make_run(user, count=4)
    queued, running, failed, succeeded = run.images.all()
    Image.objects.filter(pk=running.pk).update(status="running")
    Image.objects.filter(pk=failed.pk).update(status="failed", error="no")
    Image.objects.filter(pk=succeeded.pk).update(status="succeeded")
    before = Event.objects.newest_id()

    cancelled = Image.objects.filter(run=run).cancel()

    assert sorted(cancelled) == [queued.pk, running.pk]
    assert statuses(run) == ["cancelled", "cancelled", "failed", "succeeded"]
    assert Image.objects.get(pk=queued.pk).error == CANCELLED_MESSAGE
    assert Image.objects.get(pk=queued.pk).finished_at is not None
    events = Event.objects.filter(pk__gt=before)
    assert sorted(events.values_list("image_id", flat=True)) == [queued.pk, running.pk]
    assert Image.objects.filter(run=run).cancel() == []  # a second press moves nothing


def test_a_cancelled_image_is_never_claimed_nor_succeeds_but_can_be_retried(user):
    run = make_run(user, count=2)
    first, second = run.images.all()
    Image.objects.filter(pk=first.pk).cancel()
    assert Image.objects.claim(run.pk) == [second.pk]
    Image.objects.filter(pk=second.pk).cancel()
    assert not Image.objects.succeed(second.pk, width=1)  # a late answer does not undo it
    assert Image.objects.get(pk=first.pk).can_retry
    assert Image.objects.requeue(first.pk, estimated_cost=Decimal("0.04"))
    assert Image.objects.get(pk=first.pk).status == "queued"


def test_a_cancelled_image_costs_nothing_unless_the_gateway_charged(user):
    run = make_run(user, models=["gpt-image-2"], count=2)
    Image.objects.filter(run=run).update(estimated_cost=Decimal("0.04"))
    charged, free = run.images.all()
    assert team_selectors.images_today(user=user) == 2
    Image.objects.filter(run=run).cancel()
    assert team_selectors.images_today(user=user) == 0
    assert Image.objects.keep_charge(charged.pk, cost=Decimal("0.02"), from_gateway=True)
    assert team_selectors.images_today(user=user) == 1
    today = run.created_at
    spent = team_selectors.spent_in_month(year=today.year, month=today.month)
    assert spent == Decimal("0.02")
    # Only a cancelled image keeps a charge this way.
    Image.objects.filter(pk=free.pk).update(status="queued")
    assert not Image.objects.keep_charge(free.pk, cost=Decimal("1"), from_gateway=True)


# --- the runner -------------------------------------------------------------------------------


def test_a_queued_image_cancelled_is_never_sent(user, fake_gateway):
    run = make_run(user, models=["gpt-image-2"], count=2)
    first, _ = run.images.all()
    Image.objects.filter(pk=first.pk).cancel()
    runner.make_images(run_id=run.pk)
    assert len(fake_gateway.calls(path="images/generations")) == 1
    assert statuses(run) == ["cancelled", "succeeded"]


def test_an_upstream_call_in_flight_is_abandoned_and_its_connection_closed(
    user, fake_gateway, settings
):
    fake_gateway.add_rule(model="gpt-image-2", response="hang")
    run = make_run(user, models=["gpt-image-2", "alibaba/qwen-image-plus"])
    hanging, quick = run.images.all()
    making = threading.Thread(target=runner.make_images, kwargs={"run_id": run.pk})
    making.start()
    try:
        assert wait_until(lambda: Image.objects.get(pk=quick.pk).is_done, timeout=10)
        assert wait_until(lambda: len(fake_gateway.calls(model="gpt-image-2")) == 1, timeout=5)
        cancelled_at = time.perf_counter()
        assert Image.objects.filter(pk=hanging.pk).cancel() == [hanging.pk]
        assert wait_until(lambda: fake_gateway.abandoned(), timeout=5)
        [(request, closed_at)] = fake_gateway.abandoned()
        assert request.model == "gpt-image-2"
        assert closed_at - cancelled_at < settings.WORKER_CANCEL_CHECK_SECONDS + 1.0
        making.join(timeout=5)
        assert not making.is_alive()  # the run is over: nothing waits on the hanging call
    finally:
        fake_gateway.reset()
        making.join(timeout=5)
    assert statuses(run) == ["cancelled", "succeeded"]
    assert Image.objects.get(pk=hanging.pk).cost is None  # nothing was charged


def test_an_answer_that_arrives_after_cancel_keeps_its_cost_not_its_image(user, fake_gateway):
    """The answer was paid for: the cost stays (and counts); the tile stays Cancelled."""
    fake_gateway.add_rule(model="gpt-image-2", delay=0.3)
    run = make_run(user, models=["gpt-image-2"])
    [image] = run.images.all()
    original = runner._store_files

    def cancelled_while_storing(image, result):
        Image.objects.filter(pk=image.pk).cancel()
        return original(image, result)

    runner._store_files = cancelled_while_storing
    try:
        runner.make_images(run_id=run.pk)
    finally:
        runner._store_files = original
    image.refresh_from_db()
    assert image.status == "cancelled"
    assert image.cost == Decimal("0.01") and image.cost_from_gateway
    assert not image.file  # the stored files were removed again


# --- the views --------------------------------------------------------------------------------


def test_cancel_a_run_htmx_and_plain(client, user):
    client.force_login(user)
    run = make_run(user, count=2)
    url = reverse("run_cancel", args=[run.pk])

    response = client.post(url, headers=htmx_headers())
    assert response.status_code == 200
    assert statuses(run) == ["cancelled", "cancelled"]
    html = response.content.decode()
    assert html.count("cancelled</strong>") == 2 and html.count(">Retry</button>") == 2
    assert "0 of 2 ready, 2 cancelled" in html
    assert 'aria-label="Cancel this run"' not in html  # nothing left to cancel

    other = make_run(user)
    plain = client.post(reverse("run_cancel", args=[other.pk]))
    assert plain.status_code == 302 and plain["Location"].endswith(f"#run-{other.pk}")
    assert statuses(other) == ["cancelled"]


def test_a_pending_tile_has_a_cancel_button_and_cancelling_one_leaves_the_others(client, user):
    client.force_login(user)
    run = make_run(user, count=2)
    first, _ = run.images.all()
    page = client.get(reverse("run_detail", args=[run.pk])).content.decode()
    assert page.count('aria-label="Cancel this image"') == 2
    assert 'aria-label="Cancel this run"' in page

    response = client.post(reverse("image_cancel", args=[first.pk]), headers=htmx_headers())
    assert response.status_code == 200
    assert statuses(run) == ["cancelled", "queued"]
    html = response.content.decode()
    assert html.count('aria-label="Cancel this image"') == 1
    assert "0 of 2 ready, 1 cancelled" in html


@pytest.mark.parametrize("htmx", [False, True])
def test_only_the_author_or_an_admin_may_cancel(client, user, other_user, admin_user, htmx):
    run = make_run(user)
    [image] = run.images.all()
    headers = htmx_headers() if htmx else {}
    client.force_login(other_user)
    for url in (reverse("run_cancel", args=[run.pk]), reverse("image_cancel", args=[image.pk])):
        assert client.post(url, headers=headers).status_code == 403
    assert statuses(run) == ["queued"]
    assert (
        client.get(reverse("run_detail", args=[run.pk])).content.decode().count("Cancel this") == 0
    )
    private = make_run(user)
    private.is_private = True
    private.save()
    assert client.post(reverse("run_cancel", args=[private.pk]), headers=headers).status_code == 404

    client.force_login(admin_user)
    response = client.post(reverse("image_cancel", args=[image.pk]), headers=headers)
    assert response.status_code in (200, 302)
    assert statuses(run) == ["cancelled"]


def test_cancel_is_post_only(client, user):
    client.force_login(user)
    run = make_run(user)
    assert client.get(reverse("run_cancel", args=[run.pk])).status_code == 405
    assert statuses(run) == ["queued"]


# --- the real worker process ------------------------------------------------------------------


def test_the_worker_abandons_a_cancelled_call_and_the_tile_says_cancelled(
    client, user, fake_gateway, settings
):
    from gallery.tasks import make_run_images

    fake_gateway.add_rule(model="gpt-image-2", response="hang")
    run = make_run(user, models=["gpt-image-2"], count=2)
    make_run_images.enqueue(run.pk)
    # Polling for cancels only every 30 s: the push wake-up the cancel sends must do it.
    worker = start_worker(settings, WORKER_CANCEL_CHECK_SECONDS="30")
    try:
        assert wait_until(lambda: len(fake_gateway.calls(model="gpt-image-2")) == 2, timeout=15)
        client.force_login(user)
        cancelled_at = time.perf_counter()
        response = client.post(reverse("run_cancel", args=[run.pk]), headers=htmx_headers())
        assert response.status_code == 200
        assert wait_until(lambda: len(fake_gateway.abandoned()) == 2, timeout=5)
        closed = max(at for _, at in fake_gateway.abandoned())
        assert closed - cancelled_at < 2.0, closed - cancelled_at
        tile = client.get(reverse("run_detail", args=[run.pk]), headers=htmx_headers())
        assert tile.content.decode().count("cancelled</strong>") == 2
    finally:
        output = stop_worker(worker)
    assert statuses(run) == ["cancelled", "cancelled"]
    assert "Traceback" not in output, output
