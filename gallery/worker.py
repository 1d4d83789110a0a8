"""The task worker: django-tasks-db's `db_worker`, but running many tasks at the same time.

`db_worker` runs one task after another, so one slow run (a model taking minutes) would queue
every other person's run behind it. This worker claims tasks the same way (a locked row, so many
workers on many machines can share one database, and the same queue selection) and runs up to
WORKER_CONCURRENCY of them in threads. Every few seconds it also says it is alive (WorkerBeat,
read by /healthz), marks the images no worker is looking after as interrupted
(Image.objects.reap_stale) and forgets old events (Event.objects).

Any number of these may share one database, on any number of machines: a task is claimed with
SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL (SQLite's single writer on one machine), and an
image by its status (Image.objects.claim), so no image is ever made twice. A database that goes
away (a restart) costs a poll or two, not the worker: it reconnects on the next one.

Stopping: the first SIGTERM/SIGINT lets it finish what it is making, for up to
WORKER_STOP_GRACE_SECONDS; what is unfinished then is handed back to the queue for another
worker. A second signal stops it at once, marking its unfinished images interrupted.
"""

import contextlib
import logging
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, connections
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from gallery import gateway, runner, services
from gallery.models import Event, Image, Interruption, WorkerBeat
from gallery.push.work_wakeups import WorkWakeups
from studio import logs

logger = logging.getLogger("gallery.worker")

REAP_EVERY_SECONDS = 5.0


class ConcurrentWorker(Worker):
    def __init__(self, *, concurrency: int, **kwargs):
        super().__init__(**kwargs)
        self.concurrency = concurrency
        self._slots = threading.Semaphore(concurrency)
        self._tasks_running = 0
        self._task_ids: set = set()  # the tasks this process is running now
        self._lock = threading.Lock()
        self._last_reap = 0.0

    def shutdown(self, signum, frame) -> None:
        if not self.running:
            logger.warning("Stopping now; unfinished images are marked interrupted.")
            # Exactly the images this process's runs claimed, whatever else its tasks were doing.
            Image.objects.filter(pk__in=runner.images_in_flight()).interrupt(Interruption.STOPPED)
            self._end_tasks_left("The worker was stopped at once; its images were interrupted.")
            self._forget_beat()
            os._exit(1)
        logger.warning(
            "Received %s: finishing %d running task(s) first, for up to %.0fs (press Ctrl+C "
            "again to stop now).",
            signal.strsignal(signum),
            self._tasks_running,
            settings.WORKER_STOP_GRACE_SECONDS,
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
        self._beat()
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="studio-task")
        # A queued task is claimed at once, not at the next poll; a run in flight looks for
        # cancelled images at once (runner.wake_runs).
        wakeups = WorkWakeups(on_wake=runner.wake_runs).start()
        try:
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
                    wakeups.wait(self.interval)
                    continue
                with self._lock:
                    self._tasks_running += 1
                    self._task_ids.add(task_result.pk)
                pool.submit(self._run_in_thread, task_result)
            if self.batch:
                pool.shutdown(wait=True)
            else:
                self._finish_or_hand_back()
        finally:
            wakeups.stop()
            pool.shutdown(wait=False)
        self._forget_beat()
        close_old_connections()
        logger.info("Worker %s stopped.", self.worker_id)

    def _finish_or_hand_back(self) -> None:
        """Wait for the running tasks, up to the grace period; then hand back what is left."""
        deadline = time.monotonic() + settings.WORKER_STOP_GRACE_SECONDS
        while self._tasks_running and time.monotonic() < deadline:
            time.sleep(0.05)
        if not self._tasks_running:
            return
        handed = services.images_hand_back(image_ids=runner.images_in_flight())
        for run_id, ids in handed.items():
            logger.warning(
                "Run %s: %d unfinished image(s) handed back to the queue.", run_id, len(ids)
            )
        self._end_tasks_left("The worker stopped; its unfinished images were queued again.")
        self._forget_beat()
        # The threads still waiting on the gateway cannot be stopped; what they were making is
        # queued again for another worker, so this process just ends.
        os._exit(0)

    def _end_tasks_left(self, why: str) -> None:
        """Mark the tasks this process is abandoning as ended (failed, saying `why`), so no task
        row stays "running" for a worker that is gone; what they were making was handed back
        (a new task) or interrupted."""
        with self._lock:
            ids = list(self._task_ids)
        with contextlib.suppress(DatabaseError):
            DBTaskResult.objects.filter(pk__in=ids, status=TaskResultStatus.RUNNING).update(
                status=TaskResultStatus.FAILED,
                finished_at=timezone.now(),
                exception_class_path="gallery.worker.WorkerStopped",
                traceback=why,
            )

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
        try:
            # Look before locking: on SQLite claiming takes the database's write lock, which an
            # idle worker polling 20 times a second must not keep taking from the web server.
            if not tasks.exists():
                return None
            with exclusive_transaction(tasks.db):
                # SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL: workers never wait for each
                # other's claims, and never take the same task.
                task_result = tasks.get_locked()
                if task_result is not None:
                    task_result.claim(self.worker_id)
        except DatabaseError as exc:
            self._database_trouble("poll for tasks", exc)
            return None
        if task_result is not None:
            logger.info("Task %s claimed: %s", task_result.id, task_result.task_path)
        return task_result

    def _database_trouble(self, doing: str, exc: DatabaseError) -> None:
        """A locked SQLite database is normal: try again on the next poll. Anything else means
        the database went away (a restart, a network blip): drop the connection, so the next
        poll opens a new one, and go on."""
        if is_locked_database_exception(exc):
            return
        logger.warning("Could not %s (will reconnect): %s", doing, exc)
        connection.close()

    def _run_in_thread(self, task_result: DBTaskResult) -> None:
        try:
            close_old_connections()
            with logs.about(f"task-{task_result.id}"):
                self.run_task(task_result)
        except Exception:
            logger.exception("Task %s crashed the worker thread", task_result.id)
        finally:
            with self._lock:
                self._tasks_running -= 1
                self._task_ids.discard(task_result.pk)
            connections.close_all()
            self._slots.release()

    def _reap_if_due(self) -> None:
        now = time.monotonic()
        if now - self._last_reap < REAP_EVERY_SECONDS:
            return
        self._last_reap = now
        try:
            self._beat()
            reaped = Image.objects.reap_stale()
            Event.objects.prune()
            WorkerBeat.objects.prune()
        except DatabaseError as exc:
            self._database_trouble("look for stuck images", exc)
            return
        for reason, ids in reaped.items():
            if ids:
                logger.warning(
                    "Marked %d stuck image(s) interrupted (%s): %s",
                    len(ids),
                    reason.name,
                    ", ".join(map(str, ids)),
                )

    def _beat(self) -> None:
        """This worker is alive (read by /healthz); a database that is down is noticed later."""
        try:
            WorkerBeat.objects.beat(self.worker_id)
        except DatabaseError as exc:
            self._database_trouble("report the heartbeat", exc)

    def _forget_beat(self) -> None:
        # If the database is down its row just ages out: /healthz counts only recent beats.
        with contextlib.suppress(DatabaseError):
            WorkerBeat.objects.stopped(self.worker_id)
