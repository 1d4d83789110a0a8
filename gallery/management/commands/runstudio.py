"""Start the whole studio: the web server (uvicorn, studio/web_server.py) and the task workers,
watched together.

`--web-workers` web processes share the port, `--workers` worker processes share the queue
(defaults WEB_PROCESSES=2 and WORKER_PROCESSES=1 from the environment). A worker that dies is
restarted; Ctrl+C (or SIGTERM) stops everything, letting the workers finish what they are doing
first (for up to WORKER_STOP_GRACE_SECONDS; the rest goes back to the queue).

On several machines, run it on each (or `studio_worker` alone where only workers should run):
they share the database, the cache and the queue.
"""

import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from studio.web_server import web_command

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")
# How long the web server takes to close its streams and stop, after its SIGTERM.
WEB_STOP_SECONDS = 30


class Command(BaseCommand):
    help = "Run the web server (uvicorn) and the task workers together."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--web-workers",
            type=int,
            default=settings.WEB_PROCESSES,
            help="Web server processes (default WEB_PROCESSES, 2).",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=settings.WORKER_PROCESSES,
            help="Task worker processes (default WORKER_PROCESSES, 1; 0 for none here).",
        )

    def handle(self, *, host, port, web_workers, workers, **options) -> None:
        if web_workers < 1:
            raise CommandError("--web-workers must be at least 1.")
        if workers < 0:
            raise CommandError("--workers must be 0 or more.")
        # The shared cache's table, if the cache is the database's (a no-op otherwise).
        call_command("createcachetable", verbosity=0)
        web_cmd = web_command(host=host, port=port, workers=web_workers)
        worker_cmd = [sys.executable, MANAGE, "studio_worker"]
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)

        web = subprocess.Popen(web_cmd, cwd=settings.BASE_DIR)
        pool = [subprocess.Popen(worker_cmd, cwd=settings.BASE_DIR) for _ in range(workers)]
        self.stdout.write(
            self.style.SUCCESS(
                f"Image Studio is running at http://{host}:{port}/ with {web_workers} web and "
                f"{workers} worker process(es)  (Ctrl+C stops it)"
            )
        )
        try:
            while not stopping:
                time.sleep(0.5)
                if web.poll() is not None:
                    self.stderr.write(f"The web server exited (code {web.returncode}).")
                    break
                for index, worker in enumerate(pool):
                    if worker.poll() is not None and not stopping:
                        self.stderr.write(
                            f"Worker {worker.pid} exited (code {worker.returncode}); restarting it."
                        )
                        time.sleep(1)
                        pool[index] = subprocess.Popen(worker_cmd, cwd=settings.BASE_DIR)
        finally:
            _stop_all(web, pool)
        if web.returncode not in (0, None, -signal.SIGTERM) and not stopping:
            sys.exit(1)


def _stop_all(web: subprocess.Popen, pool: list[subprocess.Popen]) -> None:
    """SIGTERM to everyone at once; the workers get their grace period (and a little more to hand
    back what is unfinished) before they are killed."""
    processes = [web, *pool]
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + max(WEB_STOP_SECONDS, settings.WORKER_STOP_GRACE_SECONDS + 15)
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
