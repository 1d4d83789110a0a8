"""The public side of share links, open without signing in (and nothing else is: see
tests/test_shares.py, which walks every URL signed out). A link that is revoked, expired or
unknown is a 404 for its page and for every file at once: each request asks
shares.selectors.link_for_token and link_images, never anything cached."""

from django.contrib.auth.decorators import login_not_required
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from gallery import downloads, media
from gallery.image_views import _file_response
from shares import selectors
from shares.models import ShareLink

NOINDEX = "noindex, nofollow, noarchive"


def _private(response):
    """Not for search engines, nor for any cache: a revoked link must stop working at once,
    and the link's address must not leak to other sites."""
    response["X-Robots-Tag"] = NOINDEX
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _live_link(token: str) -> ShareLink:
    link = selectors.link_for_token(token)
    if link is None:
        raise Http404("This link does not work: it may have expired or been revoked.")
    return link


@login_not_required
@require_GET
def shared_page(request, token: str):
    link = _live_link(token)
    images = list(selectors.link_images(link))
    if not images and link.kind != ShareLink.Kind.BOARD:
        raise Http404("What this link showed is no longer there.")
    if link.kind == ShareLink.Kind.BOARD:
        title = link.board.name
    elif link.include_prompt:
        title = images[0].run.prompt
    else:
        title = "Shared image" if link.kind == ShareLink.Kind.IMAGE else "Shared images"
    context = {"link": link, "token": token, "images": images, "title": title, "noindex": NOINDEX}
    return _private(render(request, "shares/shared.html", context))


def _shared_image(token: str, pk: int):
    image = selectors.link_images(_live_link(token)).filter(pk=pk).first()
    if image is None:
        raise Http404("No such image.")
    return image


@login_not_required
@require_GET
def shared_thumbnail(request, token: str, pk: int):
    image = _shared_image(token, pk)
    response = _file_response(
        request, image.thumbnail.name, content_type=media.THUMBNAIL_MIME, cache="no-store"
    )
    return _private(response)


@login_not_required
@require_GET
def shared_original(request, token: str, pk: int):
    image = _shared_image(token, pk)
    link = _live_link(token)
    # Without the prompt, the file name must not carry it either.
    name = (
        downloads.filename_for(image)
        if link.include_prompt
        else f"shared-image-{image.pk}.{media.extension(image.format)}"
    )
    response = _file_response(
        request,
        image.file.name,
        content_type=media.mime_type(image.format),
        cache="no-store",
        as_attachment="download" in request.GET,
        filename=name,
    )
    return _private(response)
