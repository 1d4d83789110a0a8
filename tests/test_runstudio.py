"""`manage.py runstudio`: the web server and N worker processes, watched together and stopped
together (what `./studio.sh run` starts: two web processes and one worker by default)."""

import signal
import subprocess
import sys

import httpx
import pytest
from django.core.management import CommandError, call_command

from gallery.management.commands import runstudio
from gallery.models import WorkerBeat
from tests.browser import BASE_DIR, children_database_url
from tests.processes import free_port, process_env, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def health(port: int) -> dict | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return None


def test_runstudio_starts_the_web_server_and_n_workers_and_stops_them_all(settings):
    port = free_port()
    env = process_env(settings, children_database_url(), DEBUG="1")
    studio = subprocess.Popen(
        [sys.executable, "manage.py", "runstudio", "--port", str(port), "--web-workers", "1",
         "--workers", "3"],
        cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert wait_until(
            lambda: (health(port) or {}).get("worker", {}).get("alive") == 3, timeout=30
        ), health(port)
        assert health(port)["status"] == "ok"
        assert len(set(WorkerBeat.objects.values_list("pid", flat=True))) == 3
        studio.send_signal(signal.SIGTERM)
        studio.wait(timeout=30)
    finally:
        if studio.poll() is None:
            studio.kill()
        output = studio.stdout.read()
    assert "with 1 web and 3 worker process(es)" in output
    # Each worker stopped cleanly (and said so by removing its heartbeat).
    assert WorkerBeat.objects.count() == 0, output
    assert health(port) is None


def test_runstudio_defaults_come_from_the_environment(settings):
    parser = runstudio.Command().create_parser("manage.py", "runstudio")
    defaults = vars(parser.parse_args([]))
    assert defaults["web_workers"] == settings.WEB_PROCESSES == 2
    assert defaults["workers"] == settings.WORKER_PROCESSES == 1


def test_runstudio_refuses_a_negative_number_of_workers():
    with pytest.raises(CommandError, match="--workers must be 0 or more"):
        call_command("runstudio", "--workers", "-1")
