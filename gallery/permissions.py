"""Who may change what. Checked in views (any fragment can be requested directly), never only by
hiding a button: members change their own runs and images, admins anyone's; a run someone may not
even see is a 404, one they see but may not change a 403."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from gallery import selectors
from gallery.models import Image, Run

NOT_YOURS = "Only the person who made this run, or an admin, can change it."
PRIVATE_NOT_YOURS = (
    "This run is private to the person who made it: only they can share it with a link."
)


def can_change(user, run: Run) -> bool:
    return user.is_staff or run.created_by_id == user.pk


def can_share(user, run: Run) -> bool:
    """Who may make a share link to a run or its images: who may change it, except that a
    private run is shared by its author alone (an admin's link shows what a member sees,
    shares.selectors, so it would show nothing)."""
    return can_change(user, run) and (not run.is_private or run.created_by_id == user.pk)


def changeable_images(user, images):
    """can_change's rule for many images at once (a selection): those of runs `user` may change."""
    return images if user.is_staff else images.filter(run__created_by=user)


def _runs(user, *, deleted: bool):
    if not deleted:
        return selectors.runs_visible_to(user)
    runs = Run.objects.filter(deleted_at__isnull=False)
    return runs if user.is_staff else runs.filter(created_by=user)


def run_for_change(request, pk: int, *, deleted: bool = False) -> Run:
    """The run, if the signed-in person may change it (a deleted one, for undo)."""
    run = _runs(request.user, deleted=deleted).filter(pk=pk).first()
    if run is None:
        raise Http404("No such run.")
    if not can_change(request.user, run):
        raise PermissionDenied(NOT_YOURS)
    return run


def image_for_change(request, pk: int, images=None, *, deleted: bool = False) -> Image:
    """An image of a visible run, if the signed-in person may change it (a deleted one, for
    undo and the Trash: only its author's or an admin's, else 404 like a deleted run)."""
    images = (
        (images if images is not None else Image.objects.all())
        .filter(
            deleted_at__isnull=not deleted,
        )
        .filter(selectors.in_visible_run(request.user))
    )
    if deleted:
        # Deleted, it is in its author's Trash, which nobody else sees: a 404, as for a run.
        images = changeable_images(request.user, images)
    image = images.select_related("run").filter(pk=pk).first()
    if image is None:
        raise Http404("No such image.")
    if not can_change(request.user, image.run):
        raise PermissionDenied(NOT_YOURS)
    return image


def image_for_star(request, pk: int) -> Image:
    """Stars are the team's: anyone who can see a finished image may star it."""
    image = (
        Image.objects.filter(
            status=Image.Status.SUCCEEDED,
            deleted_at__isnull=True,
        )
        .filter(selectors.in_visible_run(request.user))
        .filter(pk=pk)
        .first()
    )
    if image is None:
        raise Http404("No such image.")
    return image
