"""Start the whole studio: the web server (uvicorn, studio/web_server.py) and the task worker,
watched together.

The worker is restarted if it dies; Ctrl+C (or SIGTERM) stops both, letting the worker finish
what it is doing first.
"""

import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from studio.web_server import web_command

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")


class Command(BaseCommand):
    help = "Run the web server (uvicorn) and the task worker together."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--web-workers", type=int, default=2, help="Web server processes (default 2)."
        )

    def handle(self, *, host, port, web_workers, **options) -> None:
        web_cmd = web_command(host=host, port=port, workers=web_workers, access_log=True)
        worker_cmd = [sys.executable, MANAGE, "studio_worker"]
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)

        web = subprocess.Popen(web_cmd, cwd=settings.BASE_DIR)
        worker = subprocess.Popen(worker_cmd, cwd=settings.BASE_DIR)
        self.stdout.write(
            self.style.SUCCESS(
                f"Image Studio is running at http://{host}:{port}/  (Ctrl+C stops it)"
            )
        )
        try:
            while not stopping:
                time.sleep(0.5)
                if web.poll() is not None:
                    self.stderr.write(f"The web server exited (code {web.returncode}).")
                    break
                if worker.poll() is not None:
                    self.stderr.write(
                        f"The worker exited (code {worker.returncode}); restarting it."
                    )
                    time.sleep(1)
                    worker = subprocess.Popen(worker_cmd, cwd=settings.BASE_DIR)
        finally:
            for process in (web, worker):
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in (web, worker):
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
        if web.returncode not in (0, None, -signal.SIGTERM) and not stopping:
            sys.exit(1)
