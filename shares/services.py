"""Writes for share links: make one (the token returned once, only its hash kept), revoke one."""

import secrets
from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.utils import timezone

from shares.models import ShareLink

# The choices offered, in days; None: never expires.
EXPIRY_CHOICES = {"1": 1, "7": 7, "30": 30, "never": None}


def link_create(
    *, user, run=None, image=None, board=None, expires: str, include_prompt: bool
) -> tuple[ShareLink, str]:
    """A new link to exactly one of run, image or board, and its token (never stored)."""
    if expires not in EXPIRY_CHOICES:
        raise ValueError("Choose when the link expires: in 1, 7 or 30 days, or never.")
    days = EXPIRY_CHOICES[expires]
    token = secrets.token_urlsafe(32)
    kind = ShareLink.Kind.RUN if run else ShareLink.Kind.IMAGE if image else ShareLink.Kind.BOARD
    link = ShareLink.objects.create(
        created_by=user,
        kind=kind,
        run=run,
        image=image,
        board=board,
        token_hash=ShareLink.hash_token(token),
        include_prompt=include_prompt,
        expires_at=timezone.now() + timedelta(days=days) if days else None,
    )
    return link, token


def can_manage(actor, link: ShareLink) -> bool:
    return actor.is_staff or link.created_by_id == actor.pk


def link_revoke(*, actor, link: ShareLink) -> None:
    """The link stops working at once, for its page and every file."""
    if not can_manage(actor, link):
        raise PermissionDenied("Only the person who made this link, or an admin, can revoke it.")
    ShareLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
