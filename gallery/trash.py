"""The Trash: deleted runs and images, kept DELETED_RETENTION_DAYS until `purge_deleted`
removes them. Everyone sees the runs they made (and the images deleted from them); admins see
everyone's. Restoring and "Delete forever" call the services that own them (services.py), after
the checks in permissions.py."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet

from gallery.models import Image, Run

# Each list shows this many, the most recently deleted first.
SHOWN = 100
THUMBNAILS_PER_RUN = 4


def _theirs(viewer, rows: QuerySet, *, through: str = "") -> QuerySet:
    return rows if viewer.is_staff else rows.filter(**{f"{through}created_by": viewer})


def runs_in_trash(viewer) -> QuerySet:
    return _theirs(viewer, Run.objects.filter(deleted_at__isnull=False))


def images_in_trash(viewer) -> QuerySet:
    """Images deleted on their own (a deleted run's images are shown with their run)."""
    images = Image.objects.filter(deleted_at__isnull=False, run__deleted_at__isnull=True)
    return _theirs(viewer, images, through="run__")


def thumbnail_in_trash(*, viewer, image_id: int) -> Image:
    """A finished image in the viewer's Trash, on its own or with its run; raises
    Image.DoesNotExist otherwise."""
    trashed = Q(deleted_at__isnull=False) | Q(run__deleted_at__isnull=False)
    images = _theirs(viewer, Image.objects.filter(trashed), through="run__")
    return images.get(pk=image_id, status=Image.Status.SUCCEEDED)


def purge_at(deleted_at: datetime) -> datetime:
    """When `purge_deleted` (run daily) removes what was deleted at `deleted_at`."""
    return deleted_at + timedelta(days=settings.DELETED_RETENTION_DAYS)


@dataclass
class TrashView:
    runs: list[Run]
    images: list[Image]
    more_runs: bool
    more_images: bool
    everyone: bool  # an admin's Trash: everyone's

    @property
    def retention_days(self) -> float:
        return settings.DELETED_RETENTION_DAYS

    @property
    def is_empty(self) -> bool:
        return not self.runs and not self.images


def trash_for(viewer) -> TrashView:
    """The viewer's Trash, newest deleted first, for the page (a fixed number of queries)."""
    finished = Image.objects.filter(status=Image.Status.SUCCEEDED).order_by("column", "position")
    runs = list(
        runs_in_trash(viewer)
        .select_related("created_by")
        .prefetch_related(Prefetch("images", queryset=finished, to_attr="finished"))
        .order_by("-deleted_at", "-pk")[: SHOWN + 1]
    )
    images = list(
        images_in_trash(viewer)
        .select_related("run", "run__created_by")
        .order_by("-deleted_at", "-pk")[: SHOWN + 1]
    )
    for run in runs:
        run.purge_at = purge_at(run.deleted_at)
        run.thumbnails = run.finished[:THUMBNAILS_PER_RUN]
    for image in images:
        image.purge_at = purge_at(image.deleted_at)
    return TrashView(
        runs=runs[:SHOWN],
        images=images[:SHOWN],
        more_runs=len(runs) > SHOWN,
        more_images=len(images) > SHOWN,
        everyone=viewer.is_staff,
    )
