"""GET /healthz: no sign-in, no secrets; 200 when the database, storage and a worker are there,
503 naming what is down (each dependency taken away in turn)."""

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from gallery.models import WorkerBeat
from gallery.tasks import make_run_images
from tests.browser import start_worker, stop_worker
from tests.factories import make_run
from tests.processes import free_port, process_env, start_web_process, stop, wait_until

pytestmark = pytest.mark.django_db


def health(client):
    response = client.get("/healthz")
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    return response.status_code, response.json()


def test_healthy_with_a_worker_beating(client, user, fake_gateway):
    WorkerBeat.objects.beat("worker-1")
    run = make_run(user, count=3)
    make_run_images.enqueue(run.pk)
    status, body = health(client)  # not signed in
    assert status == 200, body
    assert body["status"] == "ok"
    assert body["database"]["ok"] and body["storage"]["ok"] and body["worker"]["ok"]
    assert 0 <= body["worker"]["heartbeat_age_seconds"] < 5
    assert body["worker"]["alive"] == 1
    assert body["queue"] == {
        "ok": True,
        "tasks_ready": 1,
        "images_queued": 3,
        "images_running": 0,
        "ms": body["queue"]["ms"],
    }
    # No secrets: not the gateway key, not where the database or the gateway is.
    text = str(body)
    assert fake_gateway.api_key not in text and "sqlite" not in text and "127.0.0.1" not in text


def test_healthz_answers_before_the_first_account_exists(client):
    WorkerBeat.objects.beat("worker-1")
    status, body = health(client)
    assert status == 200, body


def test_no_worker_ever_is_unavailable(client):
    status, body = health(client)
    assert status == 503
    assert body["status"] == "unavailable"
    assert body["database"]["ok"] and body["storage"]["ok"]
    assert body["worker"]["ok"] is False
    assert body["worker"]["heartbeat_age_seconds"] is None


def test_a_worker_silent_past_the_bound_is_unavailable(client, settings):
    settings.WORKER_STALE_SECONDS = 45
    WorkerBeat.objects.beat("worker-1", now=timezone.now() - timedelta(seconds=50))
    status, body = health(client)
    assert status == 503
    assert body["worker"]["ok"] is False
    assert 50 <= body["worker"]["heartbeat_age_seconds"] < 55
    assert body["worker"]["alive"] == 0
    WorkerBeat.objects.beat("worker-1")
    assert health(client)[0] == 200


def test_storage_that_cannot_be_written_is_unavailable(client, settings, tmp_path):
    WorkerBeat.objects.beat("worker-1")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the media folder should be")
    settings.MEDIA_ROOT = blocker / "media"
    # The media folder as the storage, also in CI's bucket pass (a failing bucket: test_files_s3).
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    status, body = health(client)
    assert status == 503
    assert body["storage"] == {
        "ok": False,
        "error": body["storage"]["error"],
        "ms": body["storage"]["ms"],
    }
    assert body["storage"]["error"] in {"NotADirectoryError", "FileExistsError", "OSError"}
    assert body["database"]["ok"] and body["worker"]["ok"]


def test_storage_probe_leaves_nothing_behind(client, settings):
    WorkerBeat.objects.beat("worker-1")
    assert health(client)[0] == 200
    probes = settings.MEDIA_ROOT / "healthz"
    assert not probes.exists() or not any(probes.iterdir())


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_process_keeps_the_studio_healthy(client, settings):
    assert health(client)[0] == 503
    worker = start_worker(settings)
    try:
        assert wait_until(lambda: health(client)[0] == 200, timeout=15)
    finally:
        output = stop_worker(worker)
    # A worker that stops cleanly is no longer counted.
    assert health(client)[0] == 503, output


def test_a_database_that_refuses_connections_is_unavailable(settings):
    """The web server up, its database not: a PostgreSQL address where nothing listens."""
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/studio"
    port = free_port()
    web = start_web_process(process_env(settings, dead), port)
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=15)
        page = httpx.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=15)
    finally:
        output = stop(web)
    assert response.status_code == 503
    body = response.json()
    assert body["database"]["ok"] is False
    assert body["database"]["error"] == "OperationalError"
    assert body["storage"]["ok"] is True
    assert body["worker"] == {
        "ok": False,
        "error": "database unavailable",
        "heartbeat_age_seconds": None,
    }
    assert "127.0.0.1" not in response.text and "postgres" not in response.text
    assert page.status_code >= 500  # pages cannot work without it; /healthz says why
    assert "Health check _database failed: OperationalError" in output
