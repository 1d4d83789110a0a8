"""Select many: one POST acts on the picked images (`ids`) or on everything the gallery's
filters show (`all=1` with the filters), calling the single actions' services under the same
rules: Star and Download take the finished images anyone may see, Delete only the ones the person
may change (their own; an admin's, anyone's)."""

from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRefresh, trigger_client_event

from gallery import downloads, selection, services
from gallery.forms import GalleryFilterForm
from gallery.image_views import zip_response
from gallery.models import Image
from gallery.views import _gallery_query
from studio import params
from studio.responses import bad_request

ACTIONS = ("star", "unstar", "delete", "restore", "download")


def _selection(request, data) -> selection.Selection:
    """The selection a request names; raises SelectionRefused with what is wrong."""
    if data.get("all") == "1":
        filters = GalleryFilterForm(data)
        if not filters.is_valid():
            raise selection.SelectionRefused(filters.error_message())
        try:
            return selection.Selection(query=_gallery_query(request, filters))
        except ValueError as exc:
            raise selection.SelectionRefused(str(exc)) from None
    try:
        ids = params.parse_id_list(data.get("ids", ""), what="image")
    except params.BadParameter as exc:
        raise selection.SelectionRefused(exc.message) from None
    if not ids:
        raise selection.SelectionRefused("Select one or more images first.")
    return selection.Selection(ids=tuple(dict.fromkeys(ids)))


@require_GET
def selection_count(request):
    """How many images "Select all" takes with the filters in the query string."""
    data = request.GET.copy()
    data["all"] = "1"
    try:
        images = selection.shown(viewer=request.user, selection=_selection(request, data))
    except selection.SelectionRefused as exc:
        return bad_request(request, exc.message)
    return JsonResponse({"count": images.count(), "max": selection.most()})


@require_POST
def selection_act(request):
    action = request.POST.get("action", "")
    if action not in ACTIONS:
        return bad_request(request, "Choose what to do with the selected images.")
    try:
        images = selection.checked(viewer=request.user, selection=_selection(request, request.POST))
    except selection.SelectionRefused as exc:
        return bad_request(request, exc.message)

    if action == "download":
        try:
            to = downloads.target_format(request.POST.get("as", ""), original="")
        except downloads.UnknownFormat as exc:
            return bad_request(request, str(exc))
        return zip_response(
            request,
            selection.finished(images).order_by("-run_id", "column", "position"),
            filename="selected-images.zip",
            to=to,
            nothing="None of the selected images is finished, so there is nothing to download.",
        )
    if action in ("star", "unstar"):
        ids = list(selection.finished(images).values_list("pk", flat=True))
        starred = action == "star"
        services.images_set_starred(images=selection.finished(images), starred=starred)
        word = "Starred" if starred else "Unstarred"
        return _done(request, f"{word} {_images(len(ids))}.", "starsChanged", ids, starred=starred)
    if action == "restore":
        return _restore(request)
    allowed = selection.deletable(viewer=request.user, images=images)
    ids = list(allowed.values_list("pk", flat=True))
    services.images_delete(images=Image.objects.filter(pk__in=ids))
    left = images.count()  # someone else's, left as they were
    if not request.htmx:
        return redirect("studio")
    context = {"ids": ",".join(map(str, ids)), "count": len(ids), "left": left}
    response = render(request, "gallery/selection_deleted.html", context)
    return trigger_client_event(response, "imagesDeleted", {"ids": ids})


def _restore(request):
    """Undo a Delete of the selection: the same ids, those the person may change."""
    try:
        ids = params.parse_id_list(request.POST.get("ids", ""), what="image")
    except params.BadParameter as exc:
        return bad_request(request, exc.message)
    if len(ids) > selection.most():
        return bad_request(request, "That is more images than one action takes.")
    services.images_restore(images=selection.deleted_ones(viewer=request.user, ids=ids))
    if not request.htmx:
        return redirect("studio")
    return HttpResponseClientRefresh()


def _images(count: int) -> str:
    return f"{count:,} image{'s' if count != 1 else ''}"


def _done(request, message: str, event: str, ids: list[int], **detail):
    if not request.htmx:
        return redirect("studio")
    response = render(request, "gallery/selection_done.html", {"message": message})
    return trigger_client_event(response, event, {"ids": ids, **detail})
