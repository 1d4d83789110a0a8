"""Select many: one POST acts on the picked images (`ids`, comma-separated or repeated, as a
permalink page's checkboxes post them) or on everything the gallery's filters show (`all=1` with
the filters), calling the single actions' services under the same rules: Star, Download and Add
to board take the finished images the person may see, Delete only the ones they may change
(their own; an admin's, anyone's). A plain POST goes back to the page it came from (`next`)."""

from django.contrib import messages
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import (
    HttpResponseClientRedirect,
    HttpResponseClientRefresh,
    trigger_client_event,
)

from boards import permissions as board_permissions
from boards import services as board_services
from gallery import downloads, selection, services
from gallery.compare_views import COMPARE_MAX, COMPARE_MIN, TOO_FEW
from gallery.forms import GalleryFilterForm
from gallery.image_views import zip_response
from gallery.models import Image
from gallery.views import _gallery_query
from studio import params
from studio.responses import bad_request, redirect_back

ACTIONS = ("star", "unstar", "delete", "restore", "download", "board", "compare")


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
        ids = params.parse_id_fields(data, "ids", what="image")
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
    if action == "board":
        return _add_to_board(request, selection.finished(images))
    if action == "compare":
        return _compare(request)
    allowed = selection.deletable(viewer=request.user, images=images)
    ids = list(allowed.values_list("pk", flat=True))
    services.images_delete(images=Image.objects.filter(pk__in=ids))
    left = images.count()  # someone else's, left as they were
    if not request.htmx:
        messages.success(request, f"{_images(len(ids))} deleted; find them in the Trash.")
        return _back(request)
    context = {"ids": ",".join(map(str, ids)), "count": len(ids), "left": left}
    response = render(request, "gallery/selection_deleted.html", context)
    return trigger_client_event(response, "imagesDeleted", {"ids": ids})


def _restore(request):
    """Undo a Delete of the selection: the same ids, those the person may change."""
    try:
        ids = params.parse_id_fields(request.POST, "ids", what="image")
    except params.BadParameter as exc:
        return bad_request(request, exc.message)
    if len(ids) > selection.most():
        return bad_request(request, "That is more images than one action takes.")
    services.images_restore(images=selection.deleted_ones(viewer=request.user, ids=ids))
    if not request.htmx:
        return _back(request)
    return HttpResponseClientRefresh()


def _add_to_board(request, images):
    """Add to board: the finished ones of the selection onto a board the person sees (a 404
    for any other), or onto a new board named `new_board` when `to_board` is "new". The board's
    own rule (board_add_images) decides which images may go on it."""
    ids = list(images.values_list("pk", flat=True))
    if not ids:
        return bad_request(request, "None of the selected images is finished; nothing was added.")
    choice = request.POST.get("to_board", "")  # "board" is the gallery's Board filter
    try:
        if choice == "new":
            board, added = board_services.board_create_with_images(
                owner=request.user,
                name=request.POST.get("new_board", ""),
                shared=request.POST.get("shared", "on") == "on",
                image_ids=ids,
            )
        elif choice:
            board = board_permissions.board_for_view(request, _board_id(choice))
            added = board_services.board_add_images(board=board, viewer=request.user, image_ids=ids)
        else:
            raise board_services.BoardRefused("Choose a board, or “New board…” and a name.")
    except (params.BadParameter, board_services.BoardRefused) as exc:
        return bad_request(request, exc.message)
    message = added.sentence(board)
    return _done(request, message, "addedToBoard", ids, board=board.pk, name=board.name)


def _board_id(text: str) -> int:
    try:
        return params.parse_id(text, what="board")
    except params.NoSuchId:
        raise Http404("No such board.") from None


def _compare(request):
    """Compare from a form's ticks: the compare viewer with the picked images, in their order
    (the viewer checks who may see them)."""
    if request.POST.get("all") == "1":
        return bad_request(request, "Compare takes two to four images picked one by one.")
    ids = list(dict.fromkeys(params.parse_id_fields(request.POST, "ids", what="image")))
    if not COMPARE_MIN <= len(ids) <= COMPARE_MAX:
        return bad_request(request, TOO_FEW.format(count=len(ids)))
    url = f"{reverse('compare')}?images={','.join(map(str, ids))}"
    return HttpResponseClientRedirect(url) if request.htmx else HttpResponseRedirect(url)


def _back(request):
    return redirect_back(request, reverse("studio"))


def _images(count: int) -> str:
    return f"{count:,} image{'s' if count != 1 else ''}"


def _done(request, message: str, event: str, ids: list[int], **detail):
    if not request.htmx:
        messages.success(request, message)
        return _back(request)
    response = render(request, "gallery/selection_done.html", {"message": message})
    return trigger_client_event(response, event, {"ids": ids, **detail})
