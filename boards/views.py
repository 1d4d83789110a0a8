"""The Boards page, a board's page, and the controls that change boards. Each view answers a
plain request with a page or a redirect and an htmx request with the fragment it targets (or a
toast); who may do what is boards/permissions.py."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from boards import permissions, selectors, services
from gallery import downloads
from gallery.image_views import _visible_image, zip_response
from studio import params
from studio.responses import (
    bad_request,
    confirm_page,
    confirmed,
    message_response,
    redirect_back,
)

BOARDS = "boards/boards.html"
BOARD = "boards/board.html"
PICKER = "boards/image_boards.html"


def _toast(response: HttpResponse, message: str) -> HttpResponse:
    return trigger_client_event(response, "toast", {"message": message})


def _boards_context(request, **extra) -> dict:
    return {
        "boards": selectors.boards_with_counts(viewer=request.user),
        "viewer": request.user,
        **extra,
    }


@require_GET
def boards_page(request):
    if request.htmx and request.htmx.target == "boards":
        return render(request, f"{BOARDS}#boards_list", _boards_context(request))
    return render(request, BOARDS, _boards_context(request))


@require_POST
def board_create(request):
    """A new board (shared with the team unless "shared" is off). With `image` ids it starts
    with those images: what the select-many bar calls."""
    try:
        board, added = services.board_create_with_images(
            owner=request.user,
            name=request.POST.get("name", ""),
            shared=request.POST.get("shared", "on") == "on",
            image_ids=params.parse_id_fields(request.POST, "image", what="image"),
        )
    except (params.BadParameter, services.BoardRefused) as exc:
        return bad_request(request, exc.message)
    count = added.new  # a new board had none on it
    message = f"Board “{board.name}” made" + (
        f" with {count:,} image{'s' if count != 1 else ''}." if count else "."
    )
    if not request.htmx:
        return redirect("board_detail", board.pk)
    return _toast(render(request, f"{BOARDS}#boards_list", _boards_context(request)), message)


@require_GET
def board_detail(request, pk: int):
    board = permissions.board_for_view(request, pk)
    try:
        before = params.parse_cursor(request.GET["before"]) if request.GET.get("before") else None
    except params.BadParameter as exc:
        return bad_request(request, exc.message)
    page = selectors.board_images(board=board, viewer=request.user, before_id=before)
    images = page[: selectors.BOARD_PAGE_SIZE]
    context = {
        "board": board,
        "images": images,
        "more_before": images[-1].pk if len(page) > len(images) else None,
        "can_change": permissions.can_change(request.user, board),
        "can_share": permissions.can_share(request.user, board),
        "boards": selectors.boards_visible_to(request.user).only("pk", "name"),  # "Add to board"
    }
    if request.htmx and request.htmx.target == "board-more":
        return render(request, f"{BOARD}#board_page", context)
    return render(request, BOARD, context)


@require_POST
def board_rename(request, pk: int):
    board = permissions.board_for_change(request, pk)
    try:
        services.board_rename(
            board=board,
            name=request.POST.get("name", ""),
            shared=request.POST.get("shared") == "on" if "visibility" in request.POST else None,
        )
    except services.BoardRefused as exc:
        return bad_request(request, exc.message)
    if not request.htmx:
        return redirect("board_detail", board.pk)
    return _toast(HttpResponseClientRedirect(reverse("board_detail", args=[board.pk])), "Saved.")


@require_POST
def board_delete(request, pk: int):
    """Asks first (the browser's dialog with JavaScript, a page without), then says it is done
    on the Boards page."""
    board = permissions.board_for_change(request, pk)
    if not confirmed(request):
        return confirm_page(
            request,
            title="Delete this board?",
            question=f"Delete the board “{board.name}”? Its images stay in the gallery; only the "
            "board and its order go, and this cannot be undone.",
            button="Delete board",
            back=reverse("board_detail", args=[board.pk]),
            back_label="Keep the board",
        )
    services.board_delete(board=board)
    messages.success(request, f"Board “{board.name}” deleted; its images are still in the gallery.")
    if not request.htmx:
        return redirect("boards_page")
    return HttpResponseClientRedirect(reverse("boards_page"))


@require_POST
def board_move(request, pk: int):
    """Move up / Move down in the boards list (the keyboard's way to reorder)."""
    board = permissions.board_for_view(request, pk)
    direction = request.POST.get("direction", "")
    if direction not in ("up", "down"):
        return bad_request(request, "Move a board “up” or “down”.")
    services.board_move(board=board, viewer=request.user, direction=direction)
    if not request.htmx:
        return redirect("boards_page")
    context = _boards_context(request, moved=board.pk, direction=direction)
    return render(request, f"{BOARDS}#boards_list", context)


@require_POST
def boards_reorder(request):
    """The boards list in a new order (dragged): `board` ids, first to last."""
    try:
        services.boards_reorder(
            viewer=request.user,
            board_ids=params.parse_id_fields(request.POST, "board", what="board"),
        )
    except (params.BadParameter, services.BoardRefused) as exc:
        return bad_request(request, exc.message)
    if not request.htmx:
        return redirect("boards_page")
    return render(request, f"{BOARDS}#boards_list", _boards_context(request))


@require_POST
def board_images_add(request, pk: int):
    """Put images on the board: `image` ids (repeated, or comma-separated). Ids of images the
    person may not see are ignored. The select-many bar's "Add to board" calls this."""
    board = permissions.board_for_view(request, pk)
    try:
        image_ids = params.parse_id_fields(request.POST, "image", what="image")
        if not image_ids:
            raise services.BoardRefused("Choose the images to add.")
        added = services.board_add_images(board=board, viewer=request.user, image_ids=image_ids)
    except (params.BadParameter, services.BoardRefused) as exc:
        return bad_request(request, exc.message)
    if not added:
        return message_response(
            request, title="Nothing added", message="Those images are not there.", status=404
        )
    message = added.sentence(board)
    if not request.htmx:
        return redirect_back(request, reverse("board_detail", args=[board.pk]))
    return _toast(HttpResponse(status=204), message)


@require_POST
def board_images_remove(request, pk: int):
    """Take images off the board (they stay in the gallery)."""
    board = permissions.board_for_view(request, pk)
    try:
        image_ids = params.parse_id_fields(request.POST, "image", what="image")
        removed = services.board_remove_images(
            board=board, viewer=request.user, image_ids=image_ids
        )
    except (params.BadParameter, services.BoardRefused) as exc:
        return bad_request(request, exc.message)
    if not request.htmx:
        return redirect_back(request, reverse("board_detail", args=[board.pk]))
    message = f"Took {removed} image{'s' if removed != 1 else ''} off “{board.name}”."
    # The tile's own form targets the tile, which goes.
    return _toast(HttpResponse(""), message)


@require_GET
def board_download(request, pk: int):
    """The board's images the person may see as one zip (with `?as=`, each converted), streamed
    as it is made."""
    board = permissions.board_for_view(request, pk)
    try:
        to = downloads.target_format(request.GET.get("as", ""), original="")
    except downloads.UnknownFormat as exc:
        return bad_request(request, str(exc))
    images = selectors.images_shown(request.user).filter(board_entries__board=board)
    return zip_response(
        request,
        images.order_by("-pk"),
        filename=downloads.zip_name_for_board(board),
        to=to,
        nothing="This board has no images yet, so there is nothing to download.",
    )


def _picker_context(request, image, **extra) -> dict:
    return {
        "image": image,
        "boards": list(selectors.boards_visible_to(request.user)),
        "on": selectors.boards_of_image(image=image, viewer=request.user),
        **extra,
    }


@require_GET
def image_boards(request, pk: int):
    """The "Add to board" picker for one image: the boards, ticked where the image is on them,
    and a field for a new board. A fragment for the tile's dialog and the lightbox, or a page."""
    image = _visible_image(request, pk)
    context = _picker_context(request, image, in_dialog=bool(request.htmx))
    if request.htmx:
        return render(request, f"{PICKER}#picker", context)
    return render(request, PICKER, context)


@require_POST
def image_boards_save(request, pk: int):
    """Put the image on exactly the ticked boards (of those the person sees), and on a new
    board when a name is given."""
    image = _visible_image(request, pk)
    try:
        board_ids = set(params.parse_id_fields(request.POST, "board", what="board"))
        if name := request.POST.get("new_board", "").strip():
            board = services.board_create(
                owner=request.user, name=name, shared=request.POST.get("new_shared") == "on"
            )
            board_ids.add(board.pk)
    except (params.BadParameter, services.BoardRefused) as exc:
        return bad_request(request, exc.message)
    services.image_set_boards(image=image, viewer=request.user, board_ids=board_ids)
    on = selectors.boards_of_image(image=image, viewer=request.user)
    message = f"On {len(on)} board{'s' if len(on) != 1 else ''}." if on else "On no boards."
    if not request.htmx:
        return redirect_back(request, reverse("image_detail", args=[image.pk]))
    context = _picker_context(request, image, in_dialog=True, saved=message)
    response = render(request, f"{PICKER}#picker", context)
    return trigger_client_event(_toast(response, message), "boardsSaved", {"id": image.pk})
