"""Waking the pages that show what changed, the moment it commits.

The database is the source of truth: every change a page should see is an Event row
(gallery.models), written in the same transaction as the change. This package only carries a
wake-up, "events up to id N exist", from the process that committed (the worker, a web process)
to every web process, where `hub` hands it to the open streams (`stream`), which read what is new
from the database. A lost wake-up costs at most a heartbeat's delay, never a change.

Backends, chosen by the environment (settings.PUSH_BACKEND, else by what is configured):
- local: one machine (SQLite). Each web process binds a Unix datagram socket in one folder, and
  announcing sends a datagram to every socket there. Instant, no polling, nothing to install.
- postgres: LISTEN/NOTIFY on the studio's own database, for several machines.
- redis: pub/sub on REDIS_URL, for several machines on any database.
"""

import functools
import logging

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

logger = logging.getLogger(__name__)

BACKENDS = ("local", "postgres", "redis")


def backend_name() -> str:
    """The configured backend, or the one the configuration implies."""
    name = settings.PUSH_BACKEND.lower()
    if name:
        if name not in BACKENDS:
            raise ImproperlyConfigured(
                f"PUSH_BACKEND must be one of {', '.join(BACKENDS)} (or empty); got {name!r}."
            )
        return name
    if settings.REDIS_URL:
        return "redis"
    if connection.vendor == "postgresql":
        return "postgres"
    return "local"


@functools.cache
def backend():
    """This process's backend (one instance, built on first use)."""
    name = backend_name()
    if name == "redis":
        from gallery.push.redis_pubsub import RedisBackend

        if not settings.REDIS_URL:
            raise ImproperlyConfigured("PUSH_BACKEND=redis needs REDIS_URL.")
        return RedisBackend(url=settings.REDIS_URL, channel=settings.PUSH_CHANNEL)
    if name == "postgres":
        from gallery.push.postgres import PostgresBackend

        return PostgresBackend(channel=settings.PUSH_CHANNEL)
    from gallery.push.local import LocalBackend

    return LocalBackend.for_database()


# The wake-up that means "a task was queued": it wakes the workers (gallery/worker.py), and the
# web processes' hubs ignore it (no event id is 0).
WORK_QUEUED = 0


def announce_work() -> None:
    """Wake every worker listening: a task was queued (django.tasks' task_enqueued, connected
    in gallery/apps.py). Lost or failed, it costs a worker one poll interval, never the task."""
    announce(WORK_QUEUED)


def announce(event_id: int) -> None:
    """Wake every web process: events up to `event_id` are committed. Called after the commit
    (Event.objects); a failure here is logged, never raised into the change that was made."""
    try:
        backend().send(event_id)
    except Exception:  # the change is committed; pages catch up at a heartbeat
        logger.warning("Could not announce event %s to open pages", event_id, exc_info=True)
