"""Making and revoking share links, and the Share links list (members: their own; admins:
everyone's). Who may share what is the owners' rule: a run or an image, its author or an admin
(gallery.permissions); a board, its owner or an admin (boards.permissions); something private,
its owner alone (can_share: a link shows what its maker sees as a member)."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from boards import permissions as board_permissions
from gallery import permissions as gallery_permissions
from shares import selectors, services
from studio import params
from studio.responses import bad_request

NEW = "shares/new.html"
LIST = "shares/links.html"


class _NoTarget(ValueError):
    pass


def _target(request, data) -> dict:
    """What is to be shared, from `run`, `image` or `board` (exactly one), if the person may."""
    named = [name for name in ("run", "image", "board") if data.get(name)]
    if len(named) != 1:
        raise _NoTarget("Share one run, one image or one board.")
    name = named[0]
    try:
        pk = params.parse_id(data[name], what=name)
    except params.NoSuchId:
        raise Http404(f"No such {name}.") from None
    except params.BadParameter as exc:
        raise _NoTarget(exc.message) from None
    if name == "board":
        board = board_permissions.board_for_change(request, pk)
        if not board_permissions.can_share(request.user, board):
            raise PermissionDenied(board_permissions.PRIVATE_NOT_YOURS)
        return {"board": board}
    if name == "run":
        run = thing = gallery_permissions.run_for_change(request, pk)
    else:
        thing = gallery_permissions.image_for_change(request, pk)
        if not thing.is_done:
            raise _NoTarget("Only a finished image can be shared.")
        run = thing.run
    if not gallery_permissions.can_share(request.user, run):
        raise PermissionDenied(gallery_permissions.PRIVATE_NOT_YOURS)
    return {name: thing}


@require_http_methods(["GET", "POST"])
def share_new(request):
    """GET: the "Share link" form for a run, an image or a board (a fragment for htmx, else a
    page). POST: make the link, and show it, once."""
    data = request.POST if request.method == "POST" else request.GET
    try:
        target = _target(request, data)
    except _NoTarget as exc:
        return bad_request(request, str(exc))
    name, thing = next(iter(target.items()))
    context = {"name": name, "thing": thing, "in_dialog": bool(request.htmx)}
    if request.method == "POST":
        try:
            link, token = services.link_create(
                user=request.user,
                expires=data.get("expires", ""),
                include_prompt=data.get("include_prompt") == "on",
                **target,
            )
        except ValueError as exc:
            return bad_request(request, str(exc))
        url = request.build_absolute_uri(reverse("shared_page", args=[token]))
        context.update(link=link, url=url)
    if request.htmx:
        return render(request, f"{NEW}#share_form", context)
    return render(request, NEW, context)


@require_GET
def share_links(request):
    return render(request, LIST, {"links": selectors.links_for(viewer=request.user)})


@require_POST
def share_revoke(request, pk: int):
    link = selectors.links_for(viewer=request.user).filter(pk=pk).first()
    if link is None:
        raise Http404("No such link.")
    services.link_revoke(actor=request.user, link=link)
    if not request.htmx:
        return redirect("share_links")
    response = render(
        request, f"{LIST}#links_table", {"links": selectors.links_for(viewer=request.user)}
    )
    return trigger_client_event(response, "toast", {"message": "Link revoked."})
