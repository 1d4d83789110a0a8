"""The event log open pages catch up from (gallery.Event): every change of an image's status
writes exactly one event per image that changed, in the same transaction (Image.objects is the
one place); runs write theirs when created, deleted, restored or shared; a refused run writes
none; old events are pruned, keeping the newest; the live stream's visibility rule for one run
is the gallery's."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from gallery import selectors, services
from gallery.models import Event, Image, Interruption, Run
from team.models import TeamPolicy
from tests.conftest import htmx_headers
from tests.factories import make_run

pytestmark = pytest.mark.django_db

GENERATE = {"prompt": "a fox", "model": ["offline/aurora"], "count": "2", "action": "generate"}


def events() -> list[tuple]:
    return list(Event.objects.order_by("pk").values_list("kind", "run_id", "image_id"))


def image_events(*images) -> list[tuple]:
    return [("image", image.run_id, image.pk) for image in images]


def test_each_transition_writes_one_event_per_image_that_changed(user):
    run = make_run(user, count=3)
    first, second, third = run.images.order_by("pk")

    Image.objects.claim(run.pk, [first.pk, second.pk])
    # One event per image that changed; within one transition, in no particular order (the
    # database returns updated rows as it likes: PostgreSQL and SQLite differ).
    assert sorted(events()) == image_events(first, second)
    Image.objects.claim(run.pk, [first.pk])  # already running: nothing moved, nothing written
    assert len(events()) == 2

    Image.objects.succeed(first.pk, width=10, cost=Decimal("0.01"))
    Image.objects.succeed(first.pk, width=10)  # twice: the second moves nothing
    Image.objects.fail(second.pk, "The model refused.")
    Image.objects.fail(third.pk, "Not running, so not failed.")
    assert events()[2:] == image_events(first, second)

    Image.objects.requeue(second.pk, estimated_cost=None)
    Image.objects.filter(run=run).interrupt(Interruption.NEVER_PICKED_UP)
    assert events()[4] == image_events(second)[0]  # the requeue, then the interruption
    assert sorted(events()[5:]) == image_events(second, third)


def test_reaping_writes_one_event_per_image_given_up_on_across_runs(user):
    lost = make_run(user, count=2)
    waiting = make_run(user, count=1)
    Image.objects.filter(run=lost).update(status="running")
    long_ago = timezone.now() - timedelta(hours=2)
    Image.objects.filter(run=waiting).update(queued_at=long_ago)

    reaped = Image.objects.reap_stale()

    assert sorted(
        reaped[Interruption.WORKER_LOST] + reaped[Interruption.NEVER_PICKED_UP]
    ) == sorted(Image.objects.values_list("pk", flat=True))
    assert sorted(events()) == sorted(image_events(*Image.objects.all()))


def test_an_event_commits_with_its_change_or_not_at_all(user):
    run = make_run(user)
    image = run.images.get()
    with pytest.raises(RuntimeError), transaction.atomic():
        Image.objects.claim(run.pk)
        raise RuntimeError("the change is rolled back")
    assert events() == []
    assert image.__class__.objects.get(pk=image.pk).status == "queued"


def test_runs_write_theirs_when_created_deleted_restored_and_shared(signed_in, user):
    response = signed_in.post(
        "/generate/",
        {**GENERATE, "private": "on"},
        headers=htmx_headers(),
    )
    assert response.status_code == 200
    run = Run.objects.get()
    assert events() == [("run_created", run.pk, None)]

    services.run_share(run=run)
    services.run_delete(run=run)
    services.run_restore(run=run)
    assert [kind for kind, _, _ in events()] == [
        "run_created",
        "run_changed",
        "run_deleted",
        "run_changed",
    ]
    assert {run_id for _, run_id, _ in events()} == {run.pk}


def test_a_refused_run_writes_no_event(signed_in):
    TeamPolicy.objects.update_or_create(pk=1, defaults={"daily_image_limit": 0})
    response = signed_in.post("/generate/", GENERATE, headers=htmx_headers())
    assert response.status_code == 422
    assert Run.objects.count() == 0
    assert events() == []


def test_pruning_forgets_old_events_but_keeps_the_newest(user, settings):
    settings.PUSH_EVENTS_KEEP_HOURS = 24
    run = make_run(user, count=3)
    Image.objects.claim(run.pk)
    old = timezone.now() - timedelta(hours=25)
    Event.objects.update(created_at=old)
    newest = Event.objects.newest_id()

    assert Event.objects.prune() == 2
    assert list(Event.objects.values_list("pk", flat=True)) == [newest]
    Image.objects.filter(run=run).interrupt(Interruption.WORKER_LOST)
    assert Event.objects.prune() == 1  # the one kept is not the newest any more
    assert Event.objects.count() == 3  # the new ones are young


def test_the_reaper_prunes_events(user, settings):
    settings.PUSH_EVENTS_KEEP_HOURS = 1
    run = make_run(user, count=2)
    Image.objects.claim(run.pk)
    Event.objects.update(created_at=timezone.now() - timedelta(hours=2))
    call_command("reap_stale", stdout=io.StringIO())
    assert Event.objects.count() == 1


@pytest.mark.parametrize("private", [False, True])
@pytest.mark.parametrize("deleted", [False, True])
def test_may_see_is_the_gallerys_rule(user, other_user, admin_user, private, deleted):
    run = make_run(user)
    Run.objects.filter(pk=run.pk).update(
        is_private=private, deleted_at=timezone.now() if deleted else None
    )
    run = Run.objects.get(pk=run.pk)
    for viewer in (user, other_user, admin_user):
        in_gallery = selectors.runs_visible_to(viewer).filter(pk=run.pk).exists()
        assert selectors.may_see(viewer, run) == in_gallery
        # A deleted run is taken off the pages of those who could see it while it was there.
        assert selectors.saw_before_deletion(viewer, run) == (
            deleted and (viewer != other_user or not private)
        )
