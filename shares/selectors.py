"""Reads for share links: the live link a token stands for, and the images it covers.

What a link may show is decided here, once, for the page and for every file: the images of its
run, its one image, or its board, that its maker could see as a member of the team (the
gallery's rule, gallery.selectors.in_visible_run, asked for the maker without admin rights, so
an admin's link never carries another member's private run), finished and not deleted."""

import copy

from django.db.models import QuerySet

from boards import selectors as boards_selectors
from gallery import selectors as gallery_selectors
from gallery.models import Image
from shares.models import ShareLink

TOKEN_MAX = 100


def link_for_token(token: str) -> ShareLink | None:
    """The link, if it still works: not revoked, not expired, its maker still active. Looked up
    by the token's SHA-256, so the database never compares the token itself."""
    if not token or len(token) > TOKEN_MAX:
        return None
    link = (
        ShareLink.objects.select_related("created_by", "board", "run", "image__run")
        .filter(token_hash=ShareLink.hash_token(token))
        .first()
    )
    if link is None or not link.is_live or not link.created_by.is_active:
        return None
    return link


def _as_member(user):
    """The maker as the gallery sees a member: an admin's link shows what a member would see."""
    member = copy.copy(user)
    member.is_staff = False
    return member


def link_images(link: ShareLink) -> QuerySet:
    """The images the link shows, in the order its page shows them."""
    maker = _as_member(link.created_by)
    images = Image.objects.filter(
        gallery_selectors.in_visible_run(maker),
        status=Image.Status.SUCCEEDED,
        deleted_at__isnull=True,
    ).select_related("run")
    if link.kind == ShareLink.Kind.IMAGE:
        return images.filter(pk=link.image_id)
    if link.kind == ShareLink.Kind.RUN:
        return images.filter(run_id=link.run_id).order_by("column", "position")
    if not boards_selectors.boards_visible_to(maker).filter(pk=link.board_id).exists():
        return images.none()
    return images.filter(board_entries__board_id=link.board_id).order_by("-pk")


def links_for(*, viewer) -> QuerySet:
    """The Share links list: the viewer's own links; an admin, everyone's."""
    links = ShareLink.objects.select_related("created_by", "run", "image__run", "board")
    links = links.order_by("-created_at", "-pk")
    return links if viewer.is_staff else links.filter(created_by=viewer)
