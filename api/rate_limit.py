"""How many /v1 requests a token, and a member across all their tokens, may make a minute.

Every authenticated request takes a place here before it is read: `API_RATE_PER_MINUTE` per token
and `API_RATE_PER_MINUTE_PER_MEMBER` for all of one member's tokens together (0: no limit). Over
either, the request is answered 429 with `Retry-After` (api/endpoints.py) and not counted, so the
refusal ends as soon as the oldest request leaves the window. The window slides: no 60 seconds
ever hold more than the limit, not even across the turn of a minute.

Counting and deciding are one step, serialised per member (team/locks.py: SQLite's write lock, a
PostgreSQL advisory lock), so requests sent at the same moment, to any web process on any
machine, never get more than the limit through. The table, not the cache: the default cache is
the database's table, whose `incr` is a read and a write that two processes can interleave.
"""

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from api.models import ApiRequest, ApiToken
from team import locks

WINDOW = timedelta(minutes=1)


class RateLimited(Exception):
    """Over a limit: `retry_after` seconds until a request may go through again."""

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


def _free_at(times: list[datetime], limit: int) -> datetime | None:
    """When fewer than `limit` of these request times are left in the window; None: now."""
    if not limit or len(times) < limit:
        return None
    times = sorted(times)
    return times[len(times) - limit] + WINDOW


def request_admit(*, token: ApiToken) -> None:
    """Count one request made with `token`, or raise RateLimited, counting nothing. Call it
    outside a transaction: the count is committed (and the lock let go) before the request is
    read."""
    per_token = settings.API_RATE_PER_MINUTE
    per_member = settings.API_RATE_PER_MINUTE_PER_MEMBER
    if not per_token and not per_member:
        return
    with transaction.atomic():
        locks.serialise(f"api rate member {token.user_id}")
        now = timezone.now()
        recent = ApiRequest.objects.filter(user_id=token.user_id, at__gt=now - WINDOW)
        by_member = list(recent.values_list("token_id", "at"))
        token_free = _free_at([at for t, at in by_member if t == token.pk], per_token)
        member_free = _free_at([at for _, at in by_member], per_member)
        if token_free or member_free:
            raise _refusal(token_free, member_free, now=now)
        ApiRequest.objects.create(user_id=token.user_id, token=token, at=now)
        ApiRequest.objects.filter(at__lte=now - WINDOW).delete()


def _refusal(token_free, member_free, *, now: datetime) -> RateLimited:
    free = max(t for t in (token_free, member_free) if t is not None)
    seconds = max(1, math.ceil((free - now).total_seconds()))
    if member_free == free:
        what = (
            f"Your API tokens together may make {settings.API_RATE_PER_MINUTE_PER_MEMBER} "
            "requests a minute"
        )
    else:
        what = f"This API token may make {settings.API_RATE_PER_MINUTE} requests a minute"
    unit = "second" if seconds == 1 else "seconds"
    return RateLimited(f"{what}. Try again in {seconds} {unit}.", retry_after=seconds)
