"""Writes: starting a run, retrying an image, remembering prompts, deleting and sharing.

An image's status changes only through Image.objects (claim, succeed, fail, interrupt,
An image's status changes only through Image.objects (claim, succeed, fail, interrupt,
cancel, reap_stale, requeue, hand_back): see gallery/models.py."""

from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from gallery import catalog, edits, files, pricing
from gallery.catalog import Choice, ModelSpec
from gallery.edits import Source
from gallery.models import Event, Image, PromptHistory, Run, Upload
from team import services as team_services

RECENT_PROMPTS_KEPT = 20


def run_start(
    *,
    user,
    prompt: str,
    specs: list[ModelSpec],
    choice: Choice,
    count: int,
    compare: bool,
    sources: list[Source] = (),
    private: bool = False,
    api_token_name: str = "",
) -> Run:
    """Write the run and one queued image per model × count, then hand it to the worker.

    With `sources` (attached input images) the run is an edit of them. `api_token_name`: the run
    came through the studio's API with that token (the gallery says "via API")."""
    from gallery.tasks import make_run_images

    edit = bool(sources)
    requests = [catalog.request_for(spec, choice, edit=edit) for spec in specs]
    cost = pricing.estimate(
        sent=[(spec, request.params) for spec, request in zip(specs, requests, strict=True)],
        count=count,
    )
    slots = [(column, position) for column in range(len(specs)) for position in range(count)]
    with transaction.atomic():
        run = Run.objects.create(
            created_by=user,
            kind=Run.Kind.EDIT if edit else Run.Kind.GENERATE,
            prompt=prompt,
            compare=compare,
            model_ids=[spec.id for spec in specs],
            count=count,
            is_private=private,
            api_token_name=api_token_name,
            settings=_settings_of(choice, edit=edit),
        )
        # Refuses (rolling all of this back) before anything is queued if a model is no longer
        # allowed or the run would go over the person's daily images or the team's monthly
        # budget; concurrent runs queue here.
        team_services.run_permit(user=user, estimate=cost)
        Image.objects.bulk_create(
            Image(
                run=run,
                model=spec.id,
                column=column,
                position=position,
                request=requests[column].params,
                expected_width=requests[column].width,
                expected_height=requests[column].height,
                estimated_cost=price,
            )
            for (column, position), (spec, price) in zip(slots, cost.images, strict=True)
        )
        if edit:
            edits.sources_record(run=run, sources=sources)
        prompt_remember(user=user, prompt=prompt)
        Event.objects.record(Event.Kind.RUN_CREATED, run.pk)
        transaction.on_commit(lambda: make_run_images.enqueue(run.pk))
    return run


def _settings_of(choice: Choice, *, edit: bool) -> dict:
    """What the person chose, kept with the run (for its summary and "Reuse settings")."""
    settings_ = {
        "aspect_ratio": choice.aspect_ratio,
        "resolution": choice.resolution,
        "size": choice.size,
        "quality": choice.quality,
    }
    # Only when chosen, so a run's settings read as before for models without them.
    for name in ("moderation", "service_tier"):
        if value := getattr(choice, name):
            settings_[name] = value
    if edit:
        settings_.update(
            background=choice.background,
            input_fidelity=choice.input_fidelity,
            output_format=choice.output_format,
            output_compression=choice.output_compression,
        )
    return settings_


def image_retry(*, image: Image) -> Image:
    """Queue a failed or interrupted image again, in a task of its own.

    It is checked exactly as a new run is, against the model as the studio offers it now: the
    allowlist or the gateway may have dropped it, or its price changed, since the image was made.
    """
    from gallery.tasks import make_run_images

    spec = catalog.available_models().get(image.model)
    if spec is None:
        raise team_services.ModelNotAllowed(
            f"{catalog.label_for(image.model)} is not offered any more, so it can't run again."
        )
    cost = pricing.estimate(sent=[(spec, image.request)])
    with transaction.atomic():
        # A failed image cost nothing; queued again, it counts against the quotas once more.
        team_services.run_permit(user=image.run.created_by, estimate=cost)
        if Image.objects.requeue(image.pk, estimated_cost=cost.total):
            transaction.on_commit(lambda: make_run_images.enqueue(image.run_id, [image.pk]))
    image.refresh_from_db()
    return image


def images_hand_back(*, image_ids: list[int]) -> dict[int, list[int]]:
    """Queue these running images again for another worker: their worker is stopping before it
    could finish them (gallery/worker.py). One task per run; returns the ids queued, by run.
    No quota check: these images were already allowed and counted."""
    from gallery.tasks import make_run_images

    by_run: dict[int, list[int]] = {}
    with transaction.atomic():
        queued = Image.objects.filter(pk__in=image_ids).hand_back()
        for pk, run_id in Image.objects.filter(pk__in=queued).values_list("pk", "run_id"):
            by_run.setdefault(run_id, []).append(pk)
        for run_id, ids in by_run.items():
            transaction.on_commit(
                lambda run_id=run_id, ids=ids: make_run_images.enqueue(run_id, sorted(ids))
            )
    return by_run


def run_cancel(*, run: Run) -> list[int]:
    """Cancel the run's images still queued or being made (see Image.objects.cancel)."""
    return Image.objects.filter(run_id=run.pk).cancel()


def image_cancel(*, image: Image) -> list[int]:
    return Image.objects.filter(pk=image.pk).cancel()


def prompt_remember(*, user, prompt: str) -> None:
    """Put the prompt at the top of the person's recent prompts, keeping the newest 20."""
    now = timezone.now()
    PromptHistory.objects.update_or_create(
        user=user,
        prompt_hash=PromptHistory.hash_prompt(prompt),
        defaults={"prompt": prompt, "used_at": now},
    )
    stale = PromptHistory.objects.filter(user=user).order_by("-used_at", "-id")[
        RECENT_PROMPTS_KEPT:
    ]
    stale_ids = list(stale.values_list("id", flat=True))
    if stale_ids:
        PromptHistory.objects.filter(id__in=stale_ids).delete()


def run_delete(*, run: Run) -> None:
    """Hide the run at once; it can be restored until `purge_deleted` removes it."""
    _run_update(run, Event.Kind.RUN_DELETED, deleted_at=timezone.now())


def run_share(*, run: Run) -> None:
    _run_update(run, Event.Kind.RUN_CHANGED, is_private=False)


def run_restore(*, run: Run) -> None:
    _run_update(run, Event.Kind.RUN_CHANGED, deleted_at=None)


def _run_update(run: Run, kind: str, **fields) -> None:
    """Change the run, and tell the pages showing the gallery (teammates' too) with it."""
    with transaction.atomic():
        Run.objects.filter(pk=run.pk).update(**fields)
        Event.objects.record(kind, run.pk)


def image_delete(*, image: Image) -> None:
    images_delete(images=Image.objects.filter(pk=image.pk))


def image_restore(*, image: Image) -> None:
    images_restore(images=Image.objects.filter(pk=image.pk))


def image_set_starred(*, image: Image, starred: bool) -> None:
    images_set_starred(images=Image.objects.filter(pk=image.pk), starred=starred)
    image.starred = starred


def images_delete(*, images) -> int:
    """Hide the images at once (one UPDATE however many); Undo and the Trash restore them."""
    return images.filter(deleted_at__isnull=True).update(deleted_at=timezone.now())


def images_restore(*, images) -> int:
    return images.filter(deleted_at__isnull=False).update(deleted_at=None)


def images_set_starred(*, images, starred: bool) -> int:
    return images.update(starred=starred)


def prompt_forget(*, user, prompt_id: int) -> None:
    PromptHistory.objects.filter(user=user, pk=prompt_id).delete()


def deleted_purge(*, older_than: timedelta) -> dict[str, int]:
    """Remove runs and images deleted longer ago than `older_than`, with their files."""
    cutoff = timezone.now() - older_than
    return _purge(
        images=Image.objects.filter(Q(deleted_at__lt=cutoff) | Q(run__deleted_at__lt=cutoff)),
        runs=Run.objects.filter(deleted_at__lt=cutoff),
    )


def uploads_purge(*, older_than: timedelta) -> dict[str, int]:
    """Remove the images attached for edits longer ago than `older_than` that no run used (an
    attachment removed from the prompt box, or never sent), with their files. An upload whose
    files the storage would not delete keeps its row, for the next purge."""
    cutoff = timezone.now() - older_than
    unused = Upload.objects.filter(created_at__lt=cutoff, edits__isnull=True)
    deleted_files, kept = _delete_files(unused)
    _, deleted = Upload.objects.filter(pk__in=unused.values("pk")).exclude(pk__in=kept).delete()
    return {"uploads": deleted.get("gallery.Upload", 0), "files": deleted_files, "kept": len(kept)}


def run_purge(*, run: Run) -> bool:
    """ "Delete forever" from the Trash: a deleted run, its images and their files, now. False
    when the storage would not delete some files (the rows stay, for another try)."""
    return not _purge(
        images=Image.objects.filter(run_id=run.pk),
        runs=Run.objects.filter(pk=run.pk, deleted_at__isnull=False),
    )["kept"]


def image_purge(*, image: Image) -> bool:
    """ "Delete forever" from the Trash: a deleted image and its files, now (see run_purge)."""
    images = Image.objects.filter(pk=image.pk, deleted_at__isnull=False)
    return not _purge(images=images, runs=None)["kept"]


def _purge(*, images, runs) -> dict[str, int]:
    """Delete the files of `images`, then the rows of `images` and `runs`. An image whose files
    the storage would not delete keeps its row (and its run), for the next purge to try again:
    a row is never removed while its files may still be there."""
    deleted_files, kept = _delete_files(images)
    _, deleted_images = images.exclude(pk__in=kept).delete()
    deleted_runs = {}
    if runs is not None:
        _, deleted_runs = runs.exclude(images__pk__in=kept).delete()
    return {
        "runs": deleted_runs.get("gallery.Run", 0),
        "images": deleted_images.get("gallery.Image", 0),
        "files": deleted_files,
        "kept": len(kept),
    }


def _delete_files(rows) -> tuple[int, list[int]]:
    """Delete the stored file and thumbnail of each of `rows` (images or uploads); returns how
    many files went and the ids of the rows whose files the storage would not delete."""
    deleted_files = 0
    kept: list[int] = []
    for pk, file_name, thumb_name in rows.values_list("pk", "file", "thumbnail").iterator():
        try:
            for name in (file_name, thumb_name):
                if name:
                    files.delete(name)
                    deleted_files += 1
        except files.StorageError:
            kept.append(pk)
    return deleted_files, kept
