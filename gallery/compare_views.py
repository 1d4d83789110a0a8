"""The compare viewer: two to four images side by side, zoomed and panned together
(static/js/compare.js), or two under a slider. Without JavaScript it is a page of plain images."""

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from gallery import selectors
from gallery.models import Image
from studio.params import BadParameter, parse_id_list
from studio.responses import bad_request

COMPARE_MIN = 2
COMPARE_MAX = 4
TOO_FEW = "Pick two to four images to compare; got {count}."


def images_for_compare(*, image_ids: list[int], viewer) -> list[Image]:
    """The images in the order asked, each one the viewer may see (the lightbox's own check,
    selectors.image_for_display, in one query). Image.DoesNotExist if any is not."""
    found = {
        image.pk: image
        for image in Image.objects.select_related("run__created_by")
        .filter(
            selectors.in_visible_run(viewer),
            status=Image.Status.SUCCEEDED,
            deleted_at__isnull=True,
        )
        .filter(pk__in=image_ids)
    }
    if len(found) != len(image_ids):
        raise Image.DoesNotExist("An image to compare is not here.")
    return [found[pk] for pk in image_ids]


@require_GET
def compare(request):
    """/compare/?images=4,9: the images side by side, in the order given."""
    try:
        image_ids = list(dict.fromkeys(parse_id_list(request.GET.get("images", ""), what="image")))
    except BadParameter as exc:
        return bad_request(request, exc.message)
    if not COMPARE_MIN <= len(image_ids) <= COMPARE_MAX:
        return bad_request(request, TOO_FEW.format(count=len(image_ids)))
    try:
        images = images_for_compare(image_ids=image_ids, viewer=request.user)
    except Image.DoesNotExist:
        raise Http404("One of these images is not here (deleted, private or never made).") from None
    return render(request, "gallery/compare.html", {"images": images, "slider": len(images) == 2})
