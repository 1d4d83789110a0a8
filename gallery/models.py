"""The studio's records: a run and its images, and the prompts people reuse."""

import enum
import hashlib
from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from gallery import catalog, gateway, links, media
from gallery.events import Event

# One of the gallery's models, defined in its own module (as Event is).
from gallery.heartbeats import WorkerBeat as WorkerBeat


class RunQuerySet(models.QuerySet):
    def beat(self, run_id: int, *, now=None) -> None:
        """The worker is still making this run: its images are not stale (see reap_stale)."""
        self.filter(pk=run_id).update(heartbeat_at=now or timezone.now())


class Run(models.Model):
    """One press of Generate: a prompt sent to one model, or to up to three in compare mode."""

    class Kind(models.TextChoices):
        GENERATE = "generate", "Generate"
        EDIT = "edit", "Edit"

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="runs"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    kind = models.CharField(max_length=16, choices=Kind, default=Kind.GENERATE)
    prompt = models.TextField()
    compare = models.BooleanField(default=False)
    # Model ids in column order; one column per model in compare mode.
    model_ids = models.JSONField(default=list)
    count = models.PositiveSmallIntegerField(default=1)
    # The settings the person chose (aspect ratio, resolution, size, quality); what each model was
    # actually asked lives on its images, because compare mode maps these to the nearest choice.
    settings = models.JSONField(default=dict)
    # Set by the worker while it makes this run's images; a stale value means the worker died.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Only its author (and admins) see a private run.
    is_private = models.BooleanField(default=False)
    # Made through the studio's API (api/): the name of the token that made it; empty from the UI.
    api_token_name = models.CharField(max_length=100, blank=True)
    # Deleting hides at once (with undo); `manage.py purge_deleted` removes rows and files later.
    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)

    objects = RunQuerySet.as_manager()

    def __str__(self) -> str:
        return f"#{self.pk} {self.prompt[:40]}"


class Interruption(enum.Enum):
    """Why a pending image was given up on, each with the sentence its tile then shows (the one
    place these are written)."""

    STOPPED = "Interrupted: the worker was stopped. Retry to try again."
    WORKER_LOST = (
        "Interrupted: the worker stopped while this image was being made. Retry to try again."
    )
    NEVER_PICKED_UP = (
        "Interrupted: no worker picked this image up within {minutes} minutes. Is the worker "
        "running? Retry to try again."
    )
    CRASHED = "Interrupted before the image was stored. Retry to try again."

    @property
    def message(self) -> str:
        return self.value.format(minutes=settings.QUEUE_TIMEOUT_SECONDS // 60)

    @property
    def from_status(self) -> str:
        """Only an image no worker took is given up on while queued; the others were running."""
        return Image.Status.QUEUED if self is Interruption.NEVER_PICKED_UP else Image.Status.RUNNING


CANCELLED_MESSAGE = "Cancelled. Retry to make it after all."


class ImageQuerySet(models.QuerySet):
    """An image's life, written here and nowhere else:

        queued --claim--> running --succeed--> succeeded
                             |----fail-----> failed       --requeue--> queued (Retry)
        queued, running --interrupt--> interrupted        --requeue--> queued
                                       interrupted --succeed--> succeeded (a late, paid answer)
                running --hand_back--> queued (a worker stopping: another worker takes it)
        queued, running --cancel-----> cancelled          --requeue--> queued

    Each method moves only the images still in a state it may move them from, so two writers (the
    run and the reaper, or a double-clicked Retry, or two workers) never both win."""

    def claim(self, run_id: int, image_ids: Iterable[int] | None = None) -> list[int]:
        """Take the run's queued images (or just `image_ids`) for running; returns their ids."""
        images = self.filter(run_id=run_id)
        if image_ids is not None:
            images = images.filter(pk__in=image_ids)
        now = timezone.now()
        with transaction.atomic(using=self.db):
            # Rows another worker is claiming right now are skipped, not waited for (PostgreSQL's
            # SKIP LOCKED): that worker takes them, so waiting would only end in finding them
            # running. SQLite has one writer at a time, so two claims never overlap there.
            claimed = images._transition(
                Image.Status.RUNNING, from_=[Image.Status.QUEUED], started_at=now, skip_locked=True
            )
            if claimed:
                # With the claim: a running image whose run has no fresh heartbeat is reaped.
                Run.objects.beat(run_id, now=now)
        return claimed

    def succeed(self, image_id: int, **fields) -> bool:
        """Store a finished image's fields. An image the reaper gave up on meanwhile still takes
        it: an answer that arrives late is a paid-for result, not something to throw away."""
        return bool(
            self._transition(
                Image.Status.SUCCEEDED,
                from_=[Image.Status.RUNNING, Image.Status.INTERRUPTED],
                image_id=image_id,
                error="",
                finished_at=timezone.now(),
                **fields,
            )
        )

    def fail(self, image_id: int, message: str) -> bool:
        """The image could not be made; `message` says why, in words a person understands."""
        return bool(
            self._transition(
                Image.Status.FAILED,
                from_=[Image.Status.RUNNING],
                image_id=image_id,
                error=message,
                finished_at=timezone.now(),
            )
        )

    def interrupt(self, reason: Interruption, *, now=None, skip_locked: bool = False) -> list[int]:
        """Give up on these images (those still in the state `reason` applies to)."""
        return self._transition(
            Image.Status.INTERRUPTED,
            from_=[reason.from_status],
            error=reason.message,
            finished_at=now or timezone.now(),
            skip_locked=skip_locked,
        )

    def hand_back(self) -> list[int]:
        """Put these running images back in the queue: their worker is stopping before it could
        finish them (see gallery/worker.py). Whoever hands them back enqueues a task for them."""
        return self._transition(
            Image.Status.QUEUED,
            from_=[Image.Status.RUNNING],
            queued_at=timezone.now(),
            started_at=None,
        )

    def cancel(self, *, now=None) -> list[int]:
        """Stop these images (a person pressed Cancel or ×): a queued one is never sent; the
        worker abandons a running one's upstream call when it sees the change (gallery.runner).
        Returns the ids cancelled."""
        return self._transition(
            Image.Status.CANCELLED,
            from_=list(Image.PENDING),
            error=CANCELLED_MESSAGE,
            finished_at=now or timezone.now(),
        )

    def keep_charge(self, image_id: int, *, cost: Decimal | None, from_gateway: bool) -> bool:
        """A cancelled image whose answer arrived anyway was paid for: keep (and show) its cost.
        Not a change of status, but the tile changes, so it is announced the same way."""
        with transaction.atomic(using=self.db):
            kept = self.filter(pk=image_id, status=Image.Status.CANCELLED).update(
                cost=cost, cost_from_gateway=from_gateway
            )
            if kept:
                run_id = self.model._base_manager.filter(pk=image_id).values_list(
                    "run_id", flat=True
                )[0]
                Event.objects.record_images([(image_id, run_id)], using=self.db)
        return bool(kept)

    def reap_stale(self, *, now=None) -> dict[Interruption, list[int]]:
        """Interrupt the images no worker is looking after, so none stays pending forever.

        A running image is stale when its run's heartbeat is older than WORKER_STALE_SECONDS (the
        worker beats every few seconds while it works); a queued image when no worker has picked
        it up within QUEUE_TIMEOUT_SECONDS. Returns the ids interrupted, by reason."""
        now = now or timezone.now()
        stale_beat = now - timedelta(seconds=settings.WORKER_STALE_SECONDS)
        queue_deadline = now - timedelta(seconds=settings.QUEUE_TIMEOUT_SECONDS)
        lost = self.exclude(run__heartbeat_at__gte=stale_beat)
        never_picked_up = self.filter(queued_at__lt=queue_deadline)
        # Every worker reaps every few seconds: on PostgreSQL one skips the rows another is
        # reaping (or a worker is claiming) rather than queueing behind it, or deadlocking.
        return {
            Interruption.WORKER_LOST: lost.interrupt(
                Interruption.WORKER_LOST, now=now, skip_locked=True
            ),
            Interruption.NEVER_PICKED_UP: never_picked_up.interrupt(
                Interruption.NEVER_PICKED_UP, now=now, skip_locked=True
            ),
        }

    def requeue(self, image_id: int, *, estimated_cost: Decimal | None) -> bool:
        """Queue a failed, interrupted or cancelled image again (Retry), at the catalog's price
        now."""
        return bool(
            self._transition(
                Image.Status.QUEUED,
                from_=list(Image.RETRYABLE),
                image_id=image_id,
                error="",
                estimated_cost=estimated_cost,
                queued_at=timezone.now(),
                started_at=None,
                finished_at=None,
            )
        )

    def _transition(
        self,
        to: str,
        *,
        from_: list[str],
        image_id: int | None = None,
        skip_locked: bool = False,
        **fields,
    ) -> list[int]:
        """Move the images of this queryset that are still in a `from_` state to `to`, with
        `fields`; returns the ids that changed. Every change of an image's status goes through
        here, so this is where it is announced: one Event per changed image, written in the
        same transaction, and open pages are woken once it commits (gallery/push).

        One named image takes one UPDATE, its row count saying whether it moved (the runner's
        path, once per image), then reads its run for the event. Otherwise the images are read
        under a lock held until the UPDATE (SQLite: the write lock BEGIN IMMEDIATE takes;
        PostgreSQL: the rows'), so the ids returned are exactly the ones it moved; with
        `skip_locked`, rows another transaction has locked are left to it."""
        movable = self.filter(status__in=from_)
        with transaction.atomic(using=self.db):
            if image_id is not None:
                moved = movable.filter(pk=image_id).update(status=to, **fields)
                changed = list(
                    self.model._base_manager.filter(pk=image_id).values_list("pk", "run_id")
                    if moved
                    else []
                )
            else:
                locked = movable.select_for_update(of=("self",), skip_locked=skip_locked)
                locked = locked.order_by()
                changed = list(locked.values_list("pk", "run_id"))
                if changed:
                    self.model._base_manager.filter(pk__in=[pk for pk, _ in changed]).update(
                        status=to, **fields
                    )
            Event.objects.record_images(changed, using=self.db)
        return [pk for pk, _ in changed]


class Image(models.Model):
    """One image of a run: a single upstream call (n=1) and, once it lands, the stored picture.
    The gallery draws it as a tile."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Generating"
        SUCCEEDED = "succeeded", "Done"
        FAILED = "failed", "Failed"
        INTERRUPTED = "interrupted", "Interrupted"
        CANCELLED = "cancelled", "Cancelled"

    PENDING = (Status.QUEUED, Status.RUNNING)
    RETRYABLE = (Status.FAILED, Status.INTERRUPTED, Status.CANCELLED)

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="images")
    model = models.CharField(max_length=gateway.MAX_MODEL_ID_CHARS)
    column = models.PositiveSmallIntegerField(default=0)
    position = models.PositiveSmallIntegerField(default=0)
    # No plain index on status: almost every image is "succeeded", so such an index misleads
    # the query planner; the partial index below finds the few pending ones.
    status = models.CharField(max_length=16, choices=Status, default=Status.QUEUED)
    # Exactly what this model was sent (after mapping to the nearest supported setting).
    request = models.JSONField(default=dict)
    # The shape the tile should have before the image exists (from the requested ratio/size).
    expected_width = models.PositiveIntegerField(default=1024)
    expected_height = models.PositiveIntegerField(default=1024)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    file = models.FileField(upload_to=media.IMAGE_FOLDER, blank=True)
    thumbnail = models.FileField(upload_to=media.THUMBNAIL_FOLDER, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    thumb_width = models.PositiveIntegerField(null=True, blank=True)
    thumb_height = models.PositiveIntegerField(null=True, blank=True)
    bytes = models.PositiveBigIntegerField(null=True, blank=True)
    format = models.CharField(max_length=16, blank=True)
    revised_prompt = models.TextField(blank=True)
    latency = models.FloatField(null=True, blank=True, help_text="Seconds the upstream call took.")
    cost = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    cost_from_gateway = models.BooleanField(default=False)
    # The catalog's price when the image was queued: what the budget reserves until `cost` is known.
    estimated_cost = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    starred = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)

    # Every change of `status` goes through these methods (claim, succeed, fail, interrupt,
    # cancel, reap_stale, requeue): see ImageQuerySet.
    objects = ImageQuerySet.as_manager()

    class Meta:
        ordering = ["column", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "column", "position"], name="image_unique_slot"),
        ]
        indexes = [
            models.Index(
                fields=["status"],
                name="image_pending",
                condition=Q(status__in=["queued", "running"]),
            ),
        ]

    def __str__(self) -> str:
        return f"image {self.pk} ({self.model}, {self.status})"

    @property
    def is_pending(self) -> bool:
        return self.status in self.PENDING

    @property
    def is_done(self) -> bool:
        return self.status == self.Status.SUCCEEDED

    @property
    def can_retry(self) -> bool:
        return self.status in self.RETRYABLE

    @property
    def is_cancelled(self) -> bool:
        return self.status == self.Status.CANCELLED

    @property
    def cancel_url(self) -> str:
        return links.url_for("image_cancel", self.pk)

    @property
    def model_label(self) -> str:
        return catalog.label_for(self.model)

    @property
    def elapsed_seconds(self) -> int:
        since = self.queued_at
        end = self.finished_at or timezone.now()
        return max(0, int((end - since).total_seconds())) if since else 0

    # Links for the templates (gallery pages draw many tiles; see links.py).
    @property
    def detail_url(self) -> str:
        return links.url_for("image_detail", self.pk)

    @property
    def thumb_url(self) -> str:
        return media.image_thumbnail_url(self.pk, self.file.name)

    @property
    def original_url(self) -> str:
        return media.image_original_url(self.pk, self.file.name)

    @property
    def download_url(self) -> str:
        return links.url_for("image_download", self.pk)

    @property
    def star_url(self) -> str:
        return links.url_for("image_star", self.pk)

    @property
    def retry_url(self) -> str:
        return links.url_for("image_retry", self.pk)


class PromptHistory(models.Model):
    """A person's recently used prompts; using one again moves it to the top."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="prompt_history"
    )
    prompt = models.TextField()
    prompt_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "prompt_hash"], name="prompt_history_unique")
        ]
        indexes = [models.Index(fields=["user", "-used_at"], name="prompt_history_recent")]

    def __str__(self) -> str:
        return self.prompt[:60]

    @staticmethod
    def hash_prompt(prompt: str) -> str:
        return hashlib.sha256(prompt.encode()).hexdigest()


class Upload(models.Model):
    """An image a person attached to edit: checked, turned upright and stripped of metadata
    (location included) before it was stored, and before it is ever sent upstream.

    A link is fetched by the worker, never on a web thread: until then the row is "fetching",
    with no file yet."""

    class Status(models.TextChoices):
        FETCHING = "fetching", "Fetching"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    # How long past the fetch deadline a "fetching" row may stay so: time for the worker to pick
    # the task up and store the image. After that it reads as failed (the worker died or is not
    # running), so no chip says "fetching…" forever.
    FETCH_GRACE_SECONDS = 30
    FETCH_TOO_LONG = (
        "Fetching the image took too long, so it was given up. Remove it and attach it again, "
        "or save the image and attach the file."
    )

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="uploads"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=16, choices=Status, default=Status.READY)
    # The https link it was attached from (empty for files), and why fetching it failed.
    source_url = models.CharField(max_length=2048, blank=True)
    error = models.TextField(blank=True)
    file = models.FileField(upload_to=media.UPLOAD_FOLDER, blank=True)
    thumbnail = models.FileField(upload_to=media.UPLOAD_THUMBNAIL_FOLDER, blank=True)
    original_name = models.CharField(max_length=255, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    thumb_width = models.PositiveIntegerField(null=True, blank=True)
    thumb_height = models.PositiveIntegerField(null=True, blank=True)
    bytes = models.PositiveBigIntegerField(null=True, blank=True)
    format = models.CharField(max_length=16, blank=True)

    def __str__(self) -> str:
        return f"upload {self.pk} ({self.original_name or self.format or self.status})"

    @property
    def thumb_url(self) -> str:
        return media.upload_thumbnail_url(self.pk)

    @property
    def fetch_expires_at(self):
        """When a link still not fetched counts as failed."""
        grace = settings.LINK_FETCH_DEADLINE_SECONDS + self.FETCH_GRACE_SECONDS
        return self.created_at + timedelta(seconds=grace)

    @property
    def state(self) -> str:
        """The status as people see it: the one place a fetch that outlived its deadline turns
        into a failure."""
        if self.status == self.Status.FETCHING and timezone.now() >= self.fetch_expires_at:
            return self.Status.FAILED
        return self.status

    @property
    def problem(self) -> str:
        """Why this upload cannot be used, when it failed."""
        if self.state != self.Status.FAILED:
            return ""
        return self.error or self.FETCH_TOO_LONG


class EditSource(models.Model):
    """One input image of an edit run: a gallery image or an upload. Together with the run's
    images these give lineage both ways: "Edited from …" and "Edits of this image"."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="sources")
    position = models.PositiveSmallIntegerField()
    image = models.ForeignKey(
        Image, null=True, blank=True, on_delete=models.SET_NULL, related_name="edits"
    )
    upload = models.ForeignKey(
        Upload, null=True, blank=True, on_delete=models.SET_NULL, related_name="edits"
    )

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "position"], name="edit_source_slot"),
        ]

    def __str__(self) -> str:
        return f"source {self.position} of run {self.run_id}"


class SearchRow(models.Model):
    """A row of SQLite's full-text table (migration 0011 makes it and its triggers; nothing
    writes it but them): a run's prompt (id -run.id) or an image's revised prompt (its id)."""

    id = models.BigIntegerField(primary_key=True, db_column="rowid")
    body = models.TextField()
    run_id = models.BigIntegerField()

    class Meta:
        managed = False
        db_table = "gallery_search"

    def __str__(self) -> str:
        return f"search row {self.pk} of run {self.run_id}"
