"""An image's life, owned by Image.objects: each move only from the states it may come from,
the ids that moved returned, and one sentence per reason an image was given up on."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from gallery.models import Image, Interruption, Run
from tests.factories import make_run

pytestmark = pytest.mark.django_db


def status_of(image) -> str:
    return Image.objects.values_list("status", flat=True).get(pk=image.pk)


def set_status(image, status: str) -> None:
    Image.objects.filter(pk=image.pk).update(status=status)


def test_claim_takes_only_queued_tiles_once_and_beats_the_runs_heartbeat(user):
    run = make_run(user, count=3)
    first, second, third = run.images.all()
    set_status(third, "failed")

    assert sorted(Image.objects.claim(run.pk)) == [first.pk, second.pk]
    assert Image.objects.claim(run.pk) == []  # a second task for the run finds none
    assert [status_of(i) for i in (first, second, third)] == ["running", "running", "failed"]
    assert Image.objects.get(pk=first.pk).started_at
    assert Run.objects.get(pk=run.pk).heartbeat_at  # so the reaper leaves it


def test_claim_of_named_tiles_leaves_the_others_queued(user):
    run = make_run(user, count=2)
    first, second = run.images.all()
    assert Image.objects.claim(run.pk, [second.pk]) == [second.pk]
    assert (status_of(first), status_of(second)) == ("queued", "running")


def test_succeed_lands_on_a_running_or_interrupted_tile_but_never_twice(user):
    run = make_run(user, count=3)
    running, interrupted, failed = run.images.all()
    set_status(running, "running")
    Image.objects.filter(pk=interrupted.pk).update(status="interrupted", error="Interrupted")
    set_status(failed, "failed")

    assert Image.objects.succeed(running.pk, width=10, cost=Decimal("0.01"))
    assert Image.objects.succeed(interrupted.pk, width=10)  # a late, paid-for answer
    assert not Image.objects.succeed(failed.pk, width=10)
    assert not Image.objects.succeed(running.pk, width=20)  # already done
    landed = Image.objects.get(pk=interrupted.pk)
    assert (landed.status, landed.error, landed.width) == ("succeeded", "", 10)
    assert landed.finished_at
    assert Image.objects.get(pk=running.pk).width == 10
    assert status_of(failed) == "failed"


def test_fail_moves_only_a_running_tile(user):
    run = make_run(user, count=2)
    running, queued = run.images.all()
    set_status(running, "running")
    assert Image.objects.fail(running.pk, "The provider failed (502).")
    assert not Image.objects.fail(queued.pk, "The provider failed (502).")
    failed = Image.objects.get(pk=running.pk)
    assert (failed.status, failed.error) == ("failed", "The provider failed (502).")
    assert status_of(queued) == "queued"


def test_requeue_takes_back_a_failed_or_interrupted_tile_only(user):
    run = make_run(user, count=3)
    failed, interrupted, running = run.images.all()
    Image.objects.filter(pk=failed.pk).update(
        status="failed", error="No.", finished_at=timezone.now()
    )
    set_status(interrupted, "interrupted")
    set_status(running, "running")

    assert Image.objects.requeue(failed.pk, estimated_cost=Decimal("0.04"))
    assert Image.objects.requeue(interrupted.pk, estimated_cost=None)
    assert not Image.objects.requeue(running.pk, estimated_cost=None)
    assert not Image.objects.requeue(failed.pk, estimated_cost=None)  # a double click
    again = Image.objects.get(pk=failed.pk)
    assert (again.status, again.error, again.finished_at) == ("queued", "", None)
    assert again.estimated_cost == Decimal("0.04")
    assert status_of(running) == "running"


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        (Interruption.STOPPED, "the worker was stopped"),
        (Interruption.WORKER_LOST, "the worker stopped while this image was being made"),
        (Interruption.CRASHED, "Interrupted before the image was stored"),
    ],
)
def test_interrupt_gives_up_on_running_tiles_with_the_reasons_sentence(user, reason, words):
    run = make_run(user, count=3)
    running, queued, done = run.images.all()
    set_status(running, "running")
    set_status(done, "succeeded")

    assert run.images.interrupt(reason) == [running.pk]
    interrupted = Image.objects.get(pk=running.pk)
    assert interrupted.status == "interrupted"
    assert words in interrupted.error and "Retry" in interrupted.error
    assert interrupted.finished_at
    assert (status_of(queued), status_of(done)) == ("queued", "succeeded")


def test_reap_stale_interrupts_what_no_worker_looks_after(user, other_user, settings):
    settings.WORKER_STALE_SECONDS = 45
    settings.QUEUE_TIMEOUT_SECONDS = 900
    now = timezone.now()
    dead = make_run(user, count=2)  # its worker stopped beating a minute ago
    alive = make_run(other_user, count=2)  # beating
    waiting = make_run(user, count=2)  # queued, one of them for too long
    Run.objects.filter(pk=dead.pk).update(heartbeat_at=now - timedelta(seconds=60))
    Run.objects.filter(pk=alive.pk).update(heartbeat_at=now - timedelta(seconds=5))
    dead.images.update(status="running")
    alive.images.update(status="running")
    old, new = waiting.images.all()
    Image.objects.filter(pk=old.pk).update(queued_at=now - timedelta(seconds=901))

    reaped = Image.objects.reap_stale(now=now)

    lost = sorted(dead.images.values_list("pk", flat=True))
    assert reaped == {Interruption.WORKER_LOST: lost, Interruption.NEVER_PICKED_UP: [old.pk]}
    assert set(dead.images.values_list("status", flat=True)) == {"interrupted"}
    assert set(alive.images.values_list("status", flat=True)) == {"running"}
    assert (status_of(old), status_of(new)) == ("interrupted", "queued")
    assert "no worker picked this image up within 15 minutes" in Image.objects.get(pk=old.pk).error
    assert Image.objects.reap_stale(now=now) == {
        Interruption.WORKER_LOST: [],
        Interruption.NEVER_PICKED_UP: [],
    }


def test_a_running_tile_of_a_run_that_never_beat_is_stale(user):
    run = make_run(user)
    run.images.update(status="running")
    assert Image.objects.reap_stale()[Interruption.WORKER_LOST] == [run.images.get().pk]


def test_beat_keeps_a_run_fresh(user):
    run = make_run(user)
    run.images.update(status="running")
    Run.objects.beat(run.pk)
    assert Image.objects.reap_stale()[Interruption.WORKER_LOST] == []
