"""Thin `django.tasks` wrappers: they take ids and call a service."""

from django.tasks import task

from gallery import edits, runner


@task()
def run_generation(generation_id: int, image_ids: list[int] | None = None) -> None:
    runner.generation_run(generation_id=generation_id, image_ids=image_ids)


@task()
def fetch_upload(upload_id: int) -> None:
    edits.upload_fetch(upload_id=upload_id)
