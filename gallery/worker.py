"""The task worker: django-tasks-db's `db_worker`, but running many tasks at the same time.

`db_worker` runs one task after another, so one slow run (a model taking minutes) would queue
every other person's run behind it. This worker claims tasks the same way (a locked row, so many
workers on many machines can share one database, and the same queue selection) and runs up to
WORKER_CONCURRENCY of them in threads. Every few seconds it also marks the images no worker is
looking after as interrupted (Image.objects.reap_stale) and forgets old events (Event.objects).
"""

import logging
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections, connection, connections
from django.db.utils import OperationalError
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from gallery import gateway, runner
from gallery.models import Event, Image, Interruption

logger = logging.getLogger("gallery.worker")

REAP_EVERY_SECONDS = 5.0


class ConcurrentWorker(Worker):
    def __init__(self, *, concurrency: int, **kwargs):
        super().__init__(**kwargs)
        self.concurrency = concurrency
        self._slots = threading.Semaphore(concurrency)
        self._tasks_running = 0
        self._lock = threading.Lock()
        self._last_reap = 0.0

    def shutdown(self, signum, frame) -> None:
        if not self.running:
            logger.warning("Stopping now; unfinished images are marked interrupted.")
            # Exactly the images this process's runs claimed, whatever else its tasks were doing.
            Image.objects.filter(pk__in=runner.images_in_flight()).interrupt(Interruption.STOPPED)
            os._exit(1)
        logger.warning(
            "Received %s: finishing %d running task(s) first (press Ctrl+C again to stop now).",
            signal.strsignal(signum),
            self._tasks_running,
        )
        self.running = False

    def run(self) -> None:
        if removed := gateway.remove_stale_answers(settings.GATEWAY_TEMP_DIR):
            logger.warning("Removed %d answer file(s) left by a stopped worker.", removed)
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
                if self._tasks_running:
                    # Several worker processes share the queue: a busy one waits a moment, in
                    # proportion to its load, so an idle one takes the next run and the CPU
                    # work of storing images spreads over the machine's cores.
                    time.sleep(min(self.interval, 0.01 * self._tasks_running))
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

    def _ready_tasks(self):
        """The tasks this worker may take: its backend, its queues, none it was told to leave."""
        tasks = DBTaskResult.objects.ready().filter(backend_name=self.backend_name)
        if not self.process_all_queues:
            tasks = tasks.filter(queue_name__in=self.queue_names)
        if self.excluded_queue_names:
            tasks = tasks.exclude(queue_name__in=self.excluded_queue_names)
        return tasks

    def _claim_next(self) -> DBTaskResult | None:
        # The polling thread keeps one connection open: reopening it 20 times a second cost more
        # than the query. (close_old_connections() would close it every time: CONN_MAX_AGE=0.)
        tasks = self._ready_tasks()
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
        with self._lock:
            self._tasks_running += 1
        try:
            close_old_connections()
            self.run_task(task_result)
        except Exception:
            logger.exception("Task %s crashed the worker thread", task_result.id)
        finally:
            with self._lock:
                self._tasks_running -= 1
            connections.close_all()
            self._slots.release()

    def _reap_if_due(self) -> None:
        now = time.monotonic()
        if now - self._last_reap < REAP_EVERY_SECONDS:
            return
        self._last_reap = now
        try:
            reaped = Image.objects.reap_stale()
            Event.objects.prune()
        except OperationalError as exc:
            if not is_locked_database_exception(exc):
                raise
            return
        for reason, ids in reaped.items():
            if ids:
                logger.warning("Marked %d stuck image(s) interrupted (%s).", len(ids), reason.name)
