"""Rate-limiting sign-ins, per username and per address, in the database.

Every credential check takes an attempt here first, and checks the credential only if it was
given one. The studio's authentication backend (team/backends.py) does this for every username
and password, whichever form they came from (the sign-in page, Django's admin, a test client), so
no way of signing in skips the limit. A later check of an API token must do the same, keyed by
the token's prefix (a colon is never in a username, so the two never share a counter):

    signin_limit.signin_attempt(username=f"token:{prefix}", address=client_address(request))
    ...check the token; if it matches:
    signin_limit.signin_succeeded(username=f"token:{prefix}")

A username is refused after USERNAME_FAILURES failures within WINDOW, and an address after
ADDRESS_FAILURES (higher: a whole office may share one address). While refused, the credential is
not checked at all and the attempt is not counted, so the refusal ends WINDOW after the failures
that caused it. Signing in clears that username's failures, not the address's: one good account
must not reset the counter for guessing others.

Counting and deciding are one step, serialised per username and per address (team/locks.py), and
the attempt is recorded as a failure in that step, before the slow password check; a success
then clears it. So attempts sent at the same moment check at most the limit's worth of
passwords. The table, not the cache: the cache is per process, and the limit must hold across
every web process.
"""

import math
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from team import locks
from team.models import LoginAttempt

WINDOW = timedelta(minutes=15)
USERNAME_FAILURES = 5
ADDRESS_FAILURES = 20
KEPT = timedelta(days=1)


class SigninRefused(PermissionDenied):
    """Too many recent failures: refused without checking the credential. A PermissionDenied,
    so Django's `authenticate()` stops there instead of trying another backend.
    `retry_after`: seconds until the refusal lifts (an API answer's Retry-After)."""

    def __init__(self, message: str, *, retry_after: int = 0):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


def client_address(request) -> str | None:
    """The connecting address. Behind a reverse proxy this is the proxy's, which makes the
    per-address limit team-wide: the per-username limit still applies per person."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def _normal(username: str) -> str:
    return username.strip().lower()[:150]


def _blocked_until(failures, limit: int) -> datetime | None:
    times = sorted(failures.values_list("attempted_at", flat=True))
    if len(times) < limit:
        return None
    # The refusal lifts once fewer than `limit` failures are left inside the window.
    return times[len(times) - limit] + WINDOW


def _refusal(*, username: str, address: str | None, now: datetime) -> SigninRefused | None:
    """The refusal of this attempt, or None if it may go ahead."""
    recent = LoginAttempt.objects.filter(attempted_at__gt=now - WINDOW)
    until = [_blocked_until(recent.filter(username=username), USERNAME_FAILURES)]
    if address:
        until.append(_blocked_until(recent.filter(ip=address), ADDRESS_FAILURES))
    latest = max((u for u in until if u is not None), default=None)
    if latest is None:
        return None
    seconds = max(1, math.ceil((latest - now).total_seconds()))
    minutes = math.ceil(seconds / 60)
    unit = "minute" if minutes == 1 else "minutes"
    return SigninRefused(
        f"Too many failed sign-in attempts. Try again in {minutes} {unit}.", retry_after=seconds
    )


def signin_attempt(*, username: str, address: str | None) -> None:
    """Take one attempt for `username` from `address`, counted as a failure until
    `signin_succeeded` clears it; or raise SigninRefused, writing nothing.

    Call it outside a transaction, so the attempt is committed (and the lock let go) before the
    credential is checked: concurrent attempts then wait only for this count, not for hashing.
    """
    name = _normal(username)
    keys = [f"signin username {name}"] + ([f"signin address {address}"] if address else [])
    with transaction.atomic():
        locks.serialise(*keys)
        now = timezone.now()
        if refusal := _refusal(username=name, address=address, now=now):
            raise refusal
        LoginAttempt.objects.create(username=name, ip=address, attempted_at=now)
        LoginAttempt.objects.filter(attempted_at__lt=now - KEPT).delete()


def signin_succeeded(*, username: str) -> None:
    LoginAttempt.objects.filter(username=_normal(username)).delete()
