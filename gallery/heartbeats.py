"""Which worker processes are alive: each beats here every few seconds (gallery/worker.py), and
/healthz reads the newest beat. Defined here to keep gallery/models.py short; it is one of the
gallery's models (gallery.models imports it).

A run's own heartbeat (Run.heartbeat_at) says a run is still being made; this one says a worker
is polling the queue at all, busy or idle, on whichever machine."""

import os
import socket
from datetime import timedelta

from django.db import models
from django.utils import timezone

# A worker that stopped beating this long ago is forgotten (its row, not its work: reap_stale
# looks after that).
FORGET_AFTER = timedelta(days=1)


class WorkerBeatQuerySet(models.QuerySet):
    def beat(self, worker_id: str, *, now=None) -> None:
        """This worker is alive now."""
        now = now or timezone.now()
        updated = self.filter(worker_id=worker_id).update(beat_at=now)
        if not updated:
            self.update_or_create(
                worker_id=worker_id,
                defaults={
                    "beat_at": now,
                    "hostname": socket.gethostname()[:255],
                    "pid": os.getpid(),
                },
                create_defaults={
                    "beat_at": now,
                    "started_at": now,
                    "hostname": socket.gethostname()[:255],
                    "pid": os.getpid(),
                },
            )

    def stopped(self, worker_id: str) -> None:
        """This worker stopped cleanly: no longer counted as alive."""
        self.filter(worker_id=worker_id).delete()

    def newest_age(self, *, now=None) -> float | None:
        """Seconds since the newest beat of any worker; None if no worker has ever beaten."""
        newest = self.order_by("-beat_at").values_list("beat_at", flat=True).first()
        if newest is None:
            return None
        return max(0.0, ((now or timezone.now()) - newest).total_seconds())

    def alive(self, *, within: float, now=None) -> int:
        """How many workers have beaten within the last `within` seconds."""
        since = (now or timezone.now()) - timedelta(seconds=within)
        return self.filter(beat_at__gte=since).count()

    def prune(self, *, now=None) -> int:
        deleted, _ = self.filter(beat_at__lt=(now or timezone.now()) - FORGET_AFTER).delete()
        return deleted


class WorkerBeat(models.Model):
    """One worker process, seen alive at `beat_at`."""

    worker_id = models.CharField(max_length=64, unique=True)
    hostname = models.CharField(max_length=255, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    beat_at = models.DateTimeField(db_index=True)

    objects = WorkerBeatQuerySet.as_manager()

    def __str__(self) -> str:
        return f"worker {self.worker_id[:8]} on {self.hostname} (pid {self.pid})"
