"""`manage.py reap_stale`: what cron runs so that no tile stays pending, even with no worker."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from gallery.models import Image, Run
from tests.factories import make_run

pytestmark = pytest.mark.django_db


def reap() -> str:
    out = io.StringIO()
    call_command("reap_stale", stdout=out)
    return out.getvalue()


def test_it_interrupts_stuck_tiles_and_says_which(user, settings):
    settings.QUEUE_TIMEOUT_SECONDS = 600
    stale = timezone.now() - timedelta(seconds=settings.WORKER_STALE_SECONDS + 1)
    running = make_run(user, count=2)
    Run.objects.filter(pk=running.pk).update(heartbeat_at=stale)
    running.images.update(status="running")
    queued = make_run(user).images.get()
    Image.objects.filter(pk=queued.pk).update(queued_at=timezone.now() - timedelta(minutes=11))
    first, second = sorted(running.images.values_list("pk", flat=True))

    output = reap()

    assert f"Interrupted 2 image(s), worker lost: {first}, {second}." in output
    assert f"Interrupted 1 image(s), never picked up: {queued.pk}." in output
    assert set(Image.objects.values_list("status", flat=True)) == {"interrupted"}
    assert "within 10 minutes" in Image.objects.get(pk=queued.pk).error
    assert reap() == "No stuck images.\n"


def test_it_leaves_work_in_progress_alone(user):
    run = make_run(user, count=2)
    running = run.images.first()
    Image.objects.filter(pk=running.pk).update(status="running")
    Run.objects.beat(run.pk)
    assert reap() == "No stuck images.\n"
    assert list(run.images.values_list("status", flat=True)) == ["running", "queued"]
