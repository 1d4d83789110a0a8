"""Personal API tokens: made, listed, revoked, and checked on every API request.

A token reads `isk_<10 hex>_<secret>`. Its first 14 characters are the visible prefix, stored as
is; the whole token is stored only as its SHA-256. Every check of a presented token goes through
the sign-in rate limit first (team/signin_limit.py), keyed by the prefix, exactly as a password is
through team/backends.py: guessing tokens is guessing passwords.
"""

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.utils import timezone

from api.models import ApiToken
from team import signin_limit

PREFIX_START = "isk_"
PREFIX_LENGTH = len(PREFIX_START) + 10
# last_used_at is written at most this often per token: a busy script is not a write per call.
LAST_USED_GRANULARITY = timedelta(seconds=60)
EXPIRY_DAYS = (7, 30, 90, 365)


class TokenRefused(Exception):
    """A request whose token cannot be used. `rate_limited`: too many failures lately (429,
    `retry_after` seconds); otherwise the token is missing, wrong, revoked or expired (401)."""

    def __init__(self, message: str, *, code: str, rate_limited: bool = False, retry_after=0):
        super().__init__(message)
        self.message = message
        self.code = code
        self.rate_limited = rate_limited
        self.retry_after = retry_after


def token_create(
    *, user, name: str, expires_in_days: int | None = None, private_runs: bool = False
) -> tuple[ApiToken, str]:
    """A new token for `user`, and the token itself: returned only here, never stored."""
    name = name.strip()
    if not name:
        raise ValueError("Give the token a name, so you know later where it is used.")
    if expires_in_days is not None and expires_in_days not in EXPIRY_DAYS:
        raise ValueError(f"A token expires after one of {EXPIRY_DAYS} days, or never.")
    prefix = PREFIX_START + secrets.token_hex(5)
    token = f"{prefix}_{secrets.token_urlsafe(32)}"
    expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
    api_token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        prefix=prefix,
        secret_hash=ApiToken.hash_secret(token),
        expires_at=expires_at,
        private_runs=private_runs,
    )
    return api_token, token


def can_manage(actor, token: ApiToken) -> bool:
    """Members manage their own tokens; admins anyone's."""
    return actor.is_active and (actor.is_staff or token.user_id == actor.pk)


def token_revoke(*, actor, token: ApiToken) -> None:
    """Stop the token working at once; the row stays (the list shows it revoked)."""
    if not can_manage(actor, token):
        raise PermissionDenied("Only its owner or an admin can revoke a token.")
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def tokens_for(*, viewer):
    """The tokens the viewer sees on the API page: their own; an admin, everyone's."""
    tokens = ApiToken.objects.select_related("user")
    return tokens if viewer.is_staff else tokens.filter(user=viewer)


def presented_token(headers) -> str:
    """The token a request carries: `Authorization: Bearer <token>` or `x-api-key: <token>`."""
    authorization = headers.get("Authorization", "")
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return headers.get("X-Api-Key", "").strip()


@dataclass(frozen=True)
class Caller:
    """Who an API request is from: the token's owner, and the token."""

    user: object
    token: ApiToken


PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]{1,512}")


def token_authenticate(*, presented: str, address: str | None) -> Caller:
    """The caller a presented token stands for, or TokenRefused. Call it outside a transaction
    (the rate limit commits its count before the token is checked)."""
    if not presented:
        raise TokenRefused(
            "No API token: send `Authorization: Bearer <token>` (or `x-api-key`). Make a token "
            "on the studio's API page.",
            code="missing_api_key",
        )
    if not PRINTABLE_ASCII.fullmatch(presented):
        # No token has such characters (a NUL, a space, non-ASCII): it can never match, and it
        # must not reach the database (PostgreSQL refuses NUL in text) as a rate-limit key.
        raise TokenRefused("Incorrect API token provided.", code="invalid_api_key")
    prefix = presented[:PREFIX_LENGTH]
    limit_key = f"token:{prefix}"
    try:
        signin_limit.signin_attempt(username=limit_key, address=address)
    except signin_limit.SigninRefused as refused:
        raise TokenRefused(
            refused.message, code="rate_limit_exceeded", rate_limited=True,
            retry_after=refused.retry_after,
        ) from None  # fmt: skip
    now = timezone.now()
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    matches = token is not None and hmac.compare_digest(
        token.secret_hash, ApiToken.hash_secret(presented)
    )
    if not matches:
        raise TokenRefused("Incorrect API token provided.", code="invalid_api_key")
    if token.revoked_at is not None:
        raise TokenRefused("This API token was revoked.", code="invalid_api_key")
    if token.expires_at is not None and token.expires_at <= now:
        raise TokenRefused("This API token has expired.", code="invalid_api_key")
    if not token.user.is_active:
        raise TokenRefused("This API token's owner is deactivated.", code="invalid_api_key")
    signin_limit.signin_succeeded(username=limit_key)
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_GRANULARITY)
    ).update(last_used_at=now)
    return Caller(user=token.user, token=token)
