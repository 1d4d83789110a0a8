"""An image's states and the moves between them: the one place an image's status changes
(ImageQuerySet, the Image model's manager), and the reasons an image is given up on."""

import enum
from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from gallery.events import Event


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Generating"
    SUCCEEDED = "succeeded", "Done"
    FAILED = "failed", "Failed"
    INTERRUPTED = "interrupted", "Interrupted"
    CANCELLED = "cancelled", "Cancelled"


PENDING = (Status.QUEUED, Status.RUNNING)
RETRYABLE = (Status.FAILED, Status.INTERRUPTED, Status.CANCELLED)


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
        return Status.QUEUED if self is Interruption.NEVER_PICKED_UP else Status.RUNNING


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
                Status.RUNNING, from_=[Status.QUEUED], started_at=now, skip_locked=True
            )
            if claimed:
                # With the claim: a running image whose run has no fresh heartbeat is reaped.
                self.model._meta.get_field("run").related_model.objects.beat(run_id, now=now)
        return claimed

    def succeed(self, image_id: int, **fields) -> bool:
        """Store a finished image's fields. An image the reaper gave up on meanwhile still takes
        it: an answer that arrives late is a paid-for result, not something to throw away."""
        return bool(
            self._transition(
                Status.SUCCEEDED,
                from_=[Status.RUNNING, Status.INTERRUPTED],
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
                Status.FAILED,
                from_=[Status.RUNNING],
                image_id=image_id,
                error=message,
                finished_at=timezone.now(),
            )
        )

    def interrupt(self, reason: Interruption, *, now=None, skip_locked: bool = False) -> list[int]:
        """Give up on these images (those still in the state `reason` applies to)."""
        return self._transition(
            Status.INTERRUPTED,
            from_=[reason.from_status],
            error=reason.message,
            finished_at=now or timezone.now(),
            skip_locked=skip_locked,
        )

    def hand_back(self) -> list[int]:
        """Put these running images back in the queue: their worker is stopping before it could
        finish them (see gallery/worker.py). Whoever hands them back enqueues a task for them."""
        return self._transition(
            Status.QUEUED,
            from_=[Status.RUNNING],
            queued_at=timezone.now(),
            started_at=None,
        )

    def cancel(self, *, now=None) -> list[int]:
        """Stop these images (a person pressed Cancel or ×): a queued one is never sent; the
        worker abandons a running one's upstream call when it sees the change (gallery.runner).
        Returns the ids cancelled."""
        return self._transition(
            Status.CANCELLED,
            from_=list(PENDING),
            error=CANCELLED_MESSAGE,
            finished_at=now or timezone.now(),
        )

    def keep_charge(self, image_id: int, *, cost: Decimal | None, from_gateway: bool) -> bool:
        """A cancelled image whose answer arrived anyway was paid for: keep (and show) its cost.
        Not a change of status, but the tile changes, so it is announced the same way."""
        with transaction.atomic(using=self.db):
            kept = self.filter(pk=image_id, status=Status.CANCELLED).update(
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
                Status.QUEUED,
                from_=list(RETRYABLE),
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
