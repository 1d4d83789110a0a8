"""`GET /healthz`: is this studio able to work? For load balancers, process managers and people.

No sign-in and no secrets: it says what is up and what is down, never why in words that could
carry a host, a user or a key (those go to the log, with the request id). 200 when the
database answers, storage takes a write and a worker has beaten within WORKER_STALE_SECONDS
(the bound after which its runs' images are given up on); 503 otherwise."""

import logging
import time
import uuid

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_tasks_db.models import DBTaskResult

from gallery.models import Image, WorkerBeat

logger = logging.getLogger("studio.health")

PROBE_FOLDER = "healthz"


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        result = {"ok": True, **(check() or {})}  # a check may say ok=False itself
    except Exception as exc:
        logger.warning("Health check %s failed: %s: %s", check.__name__, type(exc).__name__, exc)
        result = {"ok": False, "error": type(exc).__name__}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _storage() -> None:
    """Write, read back and delete a small file where images go (a folder or a bucket)."""
    body = uuid.uuid4().bytes
    name = default_storage.save(f"{PROBE_FOLDER}/{uuid.uuid4().hex}.probe", ContentFile(body))
    try:
        with default_storage.open(name, "rb") as probe:
            if probe.read() != body:
                raise OSError("the probe file read back differently")
    finally:
        default_storage.delete(name)


def _worker() -> dict:
    """How old the newest worker heartbeat is, and how many workers beat within the bound."""
    bound = settings.WORKER_STALE_SECONDS
    age = WorkerBeat.objects.newest_age()
    state = {
        "ok": age is not None and age <= bound,
        "heartbeat_age_seconds": None if age is None else round(age, 1),
        "alive": WorkerBeat.objects.alive(within=bound),
        "bound_seconds": bound,
    }
    if not state["ok"]:
        state["error"] = "no worker heartbeat within the bound"
    return state


def _queue() -> dict:
    return {
        "tasks_ready": DBTaskResult.objects.ready().count(),
        "images_queued": Image.objects.filter(status=Image.Status.QUEUED).count(),
        "images_running": Image.objects.filter(status=Image.Status.RUNNING).count(),
    }


@login_not_required
@never_cache
@require_GET
def healthz(request):
    database = _timed(_database)
    storage = _timed(_storage)
    if database["ok"]:
        worker = _timed(_worker)
        queue = _timed(_queue)
    else:
        worker = {"ok": False, "error": "database unavailable", "heartbeat_age_seconds": None}
        queue = {"ok": False, "error": "database unavailable"}
    healthy = database["ok"] and storage["ok"] and worker["ok"]
    body = {
        "status": "ok" if healthy else "unavailable",
        "database": database,
        "storage": storage,
        "worker": worker,
        "queue": queue,
    }
    response = JsonResponse(body, status=200 if healthy else 503)
    # A 503 here is an answer, not a server error: what failed was logged above as a warning.
    response._has_been_logged = True
    return response
