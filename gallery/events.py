"""The log of changes open pages catch up from: the live stream (gallery/push/stream.py) reads
it, drawing what changed with gallery/live.py; Image.objects and the run services write it, in
the same transaction as each change. Defined here to keep gallery/models.py short; it is one of
the gallery's models (gallery.models imports it)."""

from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from gallery import push
from team.locks import serialise


class EventQuerySet(models.QuerySet):
    """The log open pages catch up from (gallery/live.py reads it, gallery/push wakes them)."""

    def record(self, kind: str, run_id: int, *, using: str = "default") -> None:
        """Note that a run appeared, changed or went (see Event.Kind), with the change."""
        self._write([Event(kind=kind, run_id=run_id)], using=using)

    def record_images(self, changed: list[tuple[int, int]], *, using: str = "default") -> None:
        """Note each image (id, run id) whose status changed, with the change."""
        events = [Event(kind=Event.Kind.IMAGE, run_id=run, image_id=pk) for pk, run in changed]
        self._write(events, using=using)

    def _write(self, events: list["Event"], *, using: str) -> None:
        """Inside the change's transaction: the events commit with it or not at all. Their ids
        must become visible in order, or a page that has read up to id 12 would never see an 11
        committed after it: SQLite has one writer at a time; on PostgreSQL the writers of
        events take turns (the lock is held until commit). Pages are woken after the commit."""
        if not events:
            return
        with transaction.atomic(using=using):
            serialise("gallery-events")
            written = self.using(using).bulk_create(events)
            newest = max(event.pk for event in written)
            transaction.on_commit(lambda: push.announce(newest), using=using)

    def newest_id(self) -> int:
        """The id of the newest event (0 when there is none): what a page has seen when drawn."""
        return self.order_by("-pk").values_list("pk", flat=True).first() or 0

    def prune(self, *, now=None) -> int:
        """Forget events older than PUSH_EVENTS_KEEP_HOURS; a page away that long is asked to
        reload. The newest is kept however old: a page of a quiet studio still finds the event
        it was drawn at, so it knows it missed nothing."""
        now = now or timezone.now()
        cutoff = now - timedelta(hours=settings.PUSH_EVENTS_KEEP_HOURS)
        old = self.filter(created_at__lt=cutoff).exclude(pk=self.newest_id())
        deleted, _ = old.delete()
        return deleted


class Event(models.Model):
    """Something open pages should redraw: an image's status changed, or a run appeared,
    changed or was deleted. The id is the Server-Sent Events id a page catches up from; what
    a page is sent is drawn from the rows as they are then, for the person looking."""

    class Kind(models.TextChoices):
        IMAGE = "image", "Image changed"
        RUN_CREATED = "run_created", "Run created"
        RUN_CHANGED = "run_changed", "Run shared or restored"
        RUN_DELETED = "run_deleted", "Run deleted"

    # Plain ids, not foreign keys: an event outlives nothing and must never hold up a purge.
    run_id = models.BigIntegerField()
    image_id = models.BigIntegerField(null=True, blank=True)
    kind = models.CharField(max_length=16, choices=Kind)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = EventQuerySet.as_manager()

    def __str__(self) -> str:
        return f"event {self.pk}: {self.kind} run {self.run_id}"
