"""Select many: what a selection is (picked ids, or everything the gallery's filters show) and
the images it names for each action. The actions themselves are the single actions' services
(services.images_*), under the same permission rules (permissions.py)."""

from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet

from gallery import permissions, selectors
from gallery.models import Image


class SelectionRefused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Selection:
    """Either `ids` (tiles picked one by one) or `query` ("Select all": whatever the filters
    show, on every page, not just the loaded ones)."""

    ids: tuple[int, ...] = ()
    query: selectors.GalleryQuery | None = None


def most() -> int:
    return settings.SELECTION_MAX_IMAGES


def shown(*, viewer, selection: Selection) -> QuerySet:
    """The selected images the viewer sees in the gallery (not deleted, in a visible run)."""
    images = Image.objects.filter(deleted_at__isnull=True).filter(selectors.in_visible_run(viewer))
    if selection.query is not None:
        runs = selectors.runs_matching(viewer=viewer, query=selection.query)
        images = selectors.images_in_view(images, selection.query)
        return images.filter(run__in=runs.values("pk"))
    return images.filter(pk__in=selection.ids)


def checked(*, viewer, selection: Selection) -> QuerySet:
    """shown(), refused with a clear message when it is more than SELECTION_MAX_IMAGES."""
    if len(selection.ids) > most():
        raise SelectionRefused(_too_many(len(selection.ids)))
    images = shown(viewer=viewer, selection=selection)
    if selection.query is not None:
        count = images.count()
        if count > most():
            raise SelectionRefused(_too_many(count))
    return images


def _too_many(count: int) -> str:
    return (
        f"That is {count:,} images; act on at most {most():,} at a time. Narrow the filters "
        "(a date range, a model, a person) and try again."
    )


def finished(images: QuerySet) -> QuerySet:
    """The ones with a picture: what Star and Download act on (as for one image)."""
    return images.filter(status=Image.Status.SUCCEEDED)


def deletable(*, viewer, images: QuerySet) -> QuerySet:
    return permissions.changeable_images(viewer, images)


def deleted_ones(*, viewer, ids: list[int]) -> QuerySet:
    """What Undo of a Delete restores: these deleted images the viewer may change."""
    images = Image.objects.filter(pk__in=ids, deleted_at__isnull=False).filter(
        selectors.in_visible_run(viewer)
    )
    return permissions.changeable_images(viewer, images)
