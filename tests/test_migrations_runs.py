"""Upgrading to runs called runs (gallery 0006): a database made before it keeps every run, image
and edit source, and what was queued before the upgrade still runs after it."""

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import IntegrityError, connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from gallery.models import EditSource, Image, Run
from gallery.tasks import run_generation
from gallery.worker import ConcurrentWorker
from tests.factories import make_run

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = "0005_upload_fetching_links"


def _old_apps():
    """The models as they were at BEFORE (Generation, with `generation` foreign keys)."""
    return MigrationExecutor(connection).loader.project_state(("gallery", BEFORE)).apps


def test_rows_made_before_the_rename_are_all_there_after_it():
    call_command("migrate", "gallery", BEFORE, verbosity=0)
    try:
        old = _old_apps()
        User = old.get_model("auth", "User")
        Generation = old.get_model("gallery", "Generation")
        OldImage = old.get_model("gallery", "Image")
        OldSource = old.get_model("gallery", "EditSource")
        OldPermission = old.get_model("auth", "Permission")
        ada = User.objects.create(username="ada")
        first = Generation.objects.create(created_by=ada, prompt="a fox", model_ids=["a"])
        edit = Generation.objects.create(
            created_by=ada, prompt="the fox at night", kind="edit", is_private=True
        )
        source_image = OldImage.objects.create(generation=first, model="a", status="succeeded")
        OldImage.objects.create(generation=first, model="a", position=1)
        OldImage.objects.create(generation=edit, model="a")
        OldSource.objects.create(generation=edit, position=0, image=source_image)
        ada.user_permissions.add(OldPermission.objects.get(codename="view_generation"))
    finally:
        # Every app forward again: going back also unapplied the apps that depend on gallery's
        # later migrations (boards, shares).
        call_command("migrate", verbosity=0)

    assert list(Run.objects.order_by("pk").values_list("pk", "prompt", "kind", "is_private")) == [
        (first.pk, "a fox", "generate", False),
        (edit.pk, "the fox at night", "edit", True),
    ]
    assert sorted(Image.objects.values_list("run_id", "position")) == [
        (first.pk, 0),
        (first.pk, 1),
        (edit.pk, 0),
    ]
    source = EditSource.objects.get()
    assert (source.run_id, source.image_id) == (edit.pk, source_image.pk)
    user = Run.objects.get(pk=first.pk).created_by
    assert sorted(user.runs.values_list("pk", flat=True)) == [first.pk, edit.pk]
    # The permissions follow the model's new name, and who had them still has them.
    assert list(user.user_permissions.values_list("codename", flat=True)) == ["view_run"]
    assert not Permission.objects.filter(codename__endswith="_generation").exists()
    # The unique slot still holds on the renamed column.
    with pytest.raises(IntegrityError):
        Image.objects.create(run_id=first.pk, model="a", position=1)


def test_a_task_queued_under_the_old_name_still_runs_after_the_upgrade(user):
    """Tasks are stored by import path: a run (or a Retry) queued as gallery.tasks.run_generation
    before the upgrade is run by the worker afterwards, through the deprecated alias."""
    whole, retried = make_run(user, count=2), make_run(user, count=2)
    again, untouched = retried.images.all()
    Image.objects.filter(pk=untouched.pk).update(status="failed", finished_at=timezone.now())
    queued = [run_generation.enqueue(whole.pk), run_generation.enqueue(retried.pk, [again.pk])]
    assert {task.task.module_path for task in queued} == {"gallery.tasks.run_generation"}

    ConcurrentWorker(
        concurrency=2,
        queue_names=["default"],
        excluded_queue_names=[],
        interval=0.01,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
    ).run()

    assert set(whole.images.values_list("status", flat=True)) == {"succeeded"}
    assert Image.objects.get(pk=again.pk).status == "succeeded"
    assert Image.objects.get(pk=untouched.pk).status == "failed"  # only the named image ran
    for task in queued:
        task.refresh()
        assert task.status == "SUCCESSFUL"
