"""Thin `django.tasks` wrappers: they take ids and call a service."""

from django.tasks import task

from gallery import edits, runner


@task()
def make_run_images(run_id: int, image_ids: list[int] | None = None) -> None:
    runner.make_images(run_id=run_id, image_ids=image_ids)


@task()
def fetch_upload(upload_id: int) -> None:
    edits.upload_fetch(upload_id=upload_id)


# Deprecated: the name (and argument names) this task had before runs were called runs. A queued
# task is stored by its import path, so tasks queued by an older version still name this one; it
# stays so that they run after an upgrade. Nothing enqueues it any more.
@task()
def run_generation(generation_id: int, image_ids: list[int] | None = None) -> None:
    runner.make_images(run_id=generation_id, image_ids=image_ids)
