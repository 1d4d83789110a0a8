"""Rate-limiting failed sign-ins, per username and per address, in the database.

The cache is per process (LocMem), so it cannot count attempts across web processes; a small
table can. A username is refused after USERNAME_FAILURES failures within WINDOW, and an address
after ADDRESS_FAILURES (higher: a whole office may share one address). While refused, the
password is not checked at all and the attempt is not counted, so the refusal ends WINDOW after
the failures that caused it. Signing in clears that username's failures, not the address's: one
good account must not reset the counter for guessing others.
"""

import math
from datetime import datetime, timedelta

from django.utils import timezone

from team.models import LoginAttempt

WINDOW = timedelta(minutes=15)
USERNAME_FAILURES = 5
ADDRESS_FAILURES = 20
KEPT = timedelta(days=1)


def client_address(request) -> str | None:
    """The connecting address. Behind a reverse proxy this is the proxy's, which makes the
    per-address limit team-wide: the per-username limit still applies per person."""
    return request.META.get("REMOTE_ADDR") or None


def _normal(username: str) -> str:
    return username.strip().lower()[:150]


def _blocked_until(failures, limit: int) -> datetime | None:
    times = sorted(failures.values_list("attempted_at", flat=True))
    if len(times) < limit:
        return None
    # The refusal lifts once fewer than `limit` failures are left inside the window.
    return times[len(times) - limit] + WINDOW


def signin_refusal(*, username: str, address: str | None, now: datetime | None = None) -> str:
    """The message to refuse this sign-in with, or "" if it may go ahead."""
    now = now or timezone.now()
    recent = LoginAttempt.objects.filter(attempted_at__gt=now - WINDOW)
    until = [_blocked_until(recent.filter(username=_normal(username)), USERNAME_FAILURES)]
    if address:
        until.append(_blocked_until(recent.filter(ip=address), ADDRESS_FAILURES))
    latest = max((u for u in until if u is not None), default=None)
    if latest is None:
        return ""
    minutes = max(1, math.ceil((latest - now).total_seconds() / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed sign-in attempts. Try again in {minutes} {unit}."


def signin_failed(*, username: str, address: str | None) -> None:
    now = timezone.now()
    LoginAttempt.objects.create(username=_normal(username), ip=address, attempted_at=now)
    LoginAttempt.objects.filter(attempted_at__lt=now - KEPT).delete()


def signin_succeeded(*, username: str) -> None:
    LoginAttempt.objects.filter(username=_normal(username)).delete()
