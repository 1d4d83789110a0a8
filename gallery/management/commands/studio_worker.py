"""The task worker: django-tasks-db's `db_worker`, but running many tasks at the same time.

`db_worker` runs one task after another, so one slow run (a model taking minutes) would queue
every other person's run behind it. This worker claims tasks the same way (a locked row, so many
workers on many machines can share one database) and runs up to WORKER_CONCURRENCY of them in
threads. It also marks tiles whose worker died as interrupted, every few seconds.
"""

import logging
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection, connections
from django.db.utils import OperationalError
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from gallery import services
from gallery.models import Image

logger = logging.getLogger("gallery.worker")

REAP_EVERY_SECONDS = 5.0
RUN_GENERATION = "gallery.tasks.run_generation"


class ConcurrentWorker(Worker):
    def __init__(self, *, concurrency: int, **kwargs):
        super().__init__(**kwargs)
        self.concurrency = concurrency
        self._slots = threading.Semaphore(concurrency)
        self._in_flight: dict[str, int | None] = {}
        self._lock = threading.Lock()
        self._last_reap = 0.0

    def shutdown(self, signum, frame) -> None:
        if not self.running:
            logger.warning("Stopping now; unfinished tiles are marked interrupted.")
            self._interrupt_in_flight()
            os._exit(1)
        logger.warning(
            "Received %s: finishing %d running task(s) first (press Ctrl+C again to stop now).",
            signal.strsignal(signum),
            len(self._in_flight),
        )
        self.running = False

    def run(self) -> None:
        logger.info(
            "Worker %s started: up to %d runs at once, polling every %.2fs.",
            self.worker_id,
            self.concurrency,
            self.interval,
        )
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="studio-task") as pool:
            while self.running:
                self._reap_if_due()
                if not self._slots.acquire(timeout=max(self.interval, 0.05)):
                    continue
                if self._in_flight:
                    # Several worker processes share the queue: a busy one waits a moment, in
                    # proportion to its load, so an idle one takes the next run and the CPU
                    # work of storing images spreads over the machine's cores.
                    time.sleep(min(self.interval, 0.01 * len(self._in_flight)))
                task_result = self._claim_next()
                if task_result is None:
                    self._slots.release()
                    if self.batch:
                        break
                    time.sleep(self.interval)
                    continue
                pool.submit(self._run_in_thread, task_result)
        close_old_connections()
        logger.info("Worker %s stopped.", self.worker_id)

    def _claim_next(self) -> DBTaskResult | None:
        # The polling thread keeps one connection open: reopening it 20 times a second cost more
        # than the query. (close_old_connections() would close it every time: CONN_MAX_AGE=0.)
        tasks = DBTaskResult.objects.ready().filter(backend_name=self.backend_name)
        if not self.process_all_queues:
            tasks = tasks.filter(queue_name__in=self.queue_names)
        # Look before locking: on SQLite claiming takes the database's write lock, which an idle
        # worker polling 20 times a second must not keep taking from the web server.
        if not tasks.exists():
            return None
        try:
            with exclusive_transaction(tasks.db):
                task_result = tasks.get_locked()
                if task_result is not None:
                    task_result.claim(self.worker_id)
        except OperationalError as exc:
            if not is_locked_database_exception(exc):
                # The database went away (a restart, a network blip): reconnect on the next poll.
                logger.warning("Could not poll for tasks: %s", exc)
                connection.close()
            return None
        return task_result

    def _run_in_thread(self, task_result: DBTaskResult) -> None:
        # The run's id, so a second Ctrl+C can mark its tiles interrupted (other tasks, such as
        # fetching a link, take other ids).
        args = task_result.args_kwargs.get("args") or [None]
        run_id = args[0] if task_result.task_path == RUN_GENERATION else None
        with self._lock:
            self._in_flight[str(task_result.id)] = run_id
        try:
            close_old_connections()
            self.run_task(task_result)
        except Exception:
            logger.exception("Task %s crashed the worker thread", task_result.id)
        finally:
            with self._lock:
                self._in_flight.pop(str(task_result.id), None)
            connections.close_all()
            self._slots.release()

    def _reap_if_due(self) -> None:
        now = time.monotonic()
        if now - self._last_reap < REAP_EVERY_SECONDS:
            return
        self._last_reap = now
        try:
            reaped = services.images_reap_stale()
        except OperationalError as exc:
            if not is_locked_database_exception(exc):
                raise
            return
        if reaped:
            logger.warning("Marked %d stuck tile(s) as interrupted.", reaped)

    def _interrupt_in_flight(self) -> None:
        generation_ids = [g for g in self._in_flight.values() if isinstance(g, int)]
        if generation_ids:
            Image.objects.filter(
                generation_id__in=generation_ids, status=Image.Status.RUNNING
            ).update(
                status=Image.Status.INTERRUPTED,
                error="Interrupted: the worker was stopped. Retry to try again.",
                finished_at=timezone.now(),
            )


class Command(BaseCommand):
    help = "Run the studio's task worker (many runs at once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--concurrency", type=int, default=settings.WORKER_CONCURRENCY)
        parser.add_argument("--interval", type=float, default=settings.WORKER_POLL_INTERVAL)
        parser.add_argument("--batch", action="store_true", help="Run what is queued, then exit.")

    def handle(self, *, concurrency, interval, batch, verbosity, **options) -> None:
        level = logging.WARNING if verbosity == 0 else logging.INFO
        logging.getLogger("gallery").setLevel(level)
        worker = ConcurrentWorker(
            concurrency=concurrency,
            queue_names=["default"],
            interval=interval,
            batch=batch,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id=get_random_string(32),
            excluded_queue_names=[],
        )
        worker.configure_signals()
        worker.run()
