"""The studio's records: a run and its images, and the prompts people reuse."""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from gallery import catalog, gateway, lifecycle, links, media

# The gallery's other models, each defined in its own module, and an image's states and moves
# (gallery/lifecycle.py), all importable from here.
from gallery.events import Event as Event
from gallery.heartbeats import WorkerBeat as WorkerBeat
from gallery.lifecycle import CANCELLED_MESSAGE as CANCELLED_MESSAGE
from gallery.lifecycle import ImageQuerySet
from gallery.lifecycle import Interruption as Interruption


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


class Image(models.Model):
    """One image of a run: a single upstream call (n=1) and, once it lands, the stored picture.
    The gallery draws it as a tile."""

    # Its states and the moves between them are gallery/lifecycle.py's.
    Status = lifecycle.Status
    PENDING = lifecycle.PENDING
    RETRYABLE = lifecycle.RETRYABLE

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
