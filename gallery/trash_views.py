"""The Trash page: Restore and "Delete forever" for deleted runs and images (gallery/trash.py).

Every action checks the person may change the run (permissions.py: someone else's is a 404, as
if it were not there) and calls the service that owns it. An htmx request gets the Trash's list
redrawn with a toast; a plain one a redirect back to the page. "Delete forever" asks first: the
browser's confirm with JavaScript, a page of its own without."""

from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from gallery import media, permissions, services, trash
from gallery.image_views import _file_response
from gallery.models import Image
from studio.responses import confirm_page, confirmed

TRASH = "gallery/trash.html"
STORAGE_REFUSED = (
    "The file storage would not delete the files just now, so it stays in the Trash. Try again "
    "in a moment."
)


@require_GET
def trash_page(request):
    return render(request, TRASH, {"trash": trash.trash_for(request.user)})


@require_POST
def run_restore(request, pk: int):
    run = permissions.run_for_change(request, pk, deleted=True)
    services.run_restore(run=run)
    return _done(request, "Run restored to the gallery.", link=f"{reverse('studio')}#run-{pk}")


@require_POST
def image_restore(request, pk: int):
    image = permissions.image_for_change(request, pk, deleted=True)
    services.image_restore(image=image)
    link = f"{reverse('studio')}#image-{pk}"
    return _done(request, "Image restored to the gallery.", link=link)


@require_POST
def run_purge(request, pk: int):
    run = permissions.run_for_change(request, pk, deleted=True)
    if not confirmed(request):
        return _confirm(request, what=f"the run “{run.prompt}” and its images")
    if not services.run_purge(run=run):
        return _done(request, STORAGE_REFUSED)
    return _done(request, "Run deleted forever.")


@require_POST
def image_purge(request, pk: int):
    image = permissions.image_for_change(request, pk, deleted=True)
    if not confirmed(request):
        return _confirm(request, what=f"this image of “{image.run.prompt}”")
    if not services.image_purge(image=image):
        return _done(request, STORAGE_REFUSED)
    return _done(request, "Image deleted forever.")


@require_GET
def thumbnail(request, pk: int):
    """A thumbnail on the Trash page (the gallery's own thumbnails stop at deletion)."""
    try:
        image = trash.thumbnail_in_trash(viewer=request.user, image_id=pk)
    except Image.DoesNotExist:
        raise Http404("No such image.") from None
    return _file_response(
        request, image.thumbnail.name, content_type=media.THUMBNAIL_MIME, cache="private, no-cache"
    )


def _confirm(request, *, what: str):
    """Without JavaScript there was no confirm dialog: ask on a page of its own."""
    return confirm_page(
        request,
        title="Delete forever?",
        question=f"Delete {what} forever? The files are removed too, and this cannot be undone.",
        button="Delete forever",
        back=reverse("trash"),
        back_label="Keep it in the Trash",
    )


def _done(request, message: str, *, link: str = ""):
    if not request.htmx:
        return redirect("trash")
    context = {"trash": trash.trash_for(request.user), "message": message, "link": link}
    return render(request, f"{TRASH}#trash", context)
