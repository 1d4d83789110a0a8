"""Making a run's images in the worker: every upstream call of the run at once, each image
stored the moment it lands.

The calls share one `httpx.AsyncClient` on one event loop. Work that would block the loop runs in
threads, in three kinds so that none holds up the calls still in flight:
- reading answers: gallery.gateway streams each image answer into a temporary file from its
  own threads (pybase64 and file writes), so the loop only moves bytes;
- decoding, thumbnailing and moving files into storage: a pool shared by every run in the
  process, sized to the machine's cores, so eight runs landing at once do not thrash the CPU
  (big decodes also take one of IMAGE_DECODE_CONCURRENCY slots, gallery.memory);
- database writes: one thread for the whole process, keeping one connection. Writes are tiny;
  what made them slow was contention: on SQLite a writer that finds the lock taken sleeps in
  steps of up to 100 ms, so many threads writing at once turned 1 ms writes into long waits.
"""

import asyncio
import contextlib
import functools
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.db import DatabaseError, InterfaceError, OperationalError, connections
from django_tasks_db.utils import is_locked_database_exception

from gallery import catalog, edits, files, gateway, imaging, media, offline, pricing
from gallery.models import Image, Interruption, Run
from studio import logs

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
# How long a write waits for a database that went away (a restart) before giving up.
RECONNECT_SECONDS = 30.0
# The least time between two looks for cancelled images in one run.
CANCEL_LOOK_GAP = 0.2
FAILED_TO_STORE = "The image arrived but could not be stored. Retry to try again."
STORAGE_FAILED = (
    "The image arrived but could not be stored: the file storage did not take it. "
    "Retry to try again."
)
INPUT_UNREADABLE = (
    "An input image of this edit could not be read from the file storage. Retry to try again."
)
INPUT_MISSING = "An input image of this edit is missing from the file storage, so it cannot run."
FAILED_UNEXPECTEDLY = "Something went wrong making this image. Retry to try again."

_image_pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="studio-image")


def make_images(*, run_id: int, image_ids: list[int] | None = None) -> None:
    """Make every queued image of the run (or just `image_ids`), storing each as it lands."""
    with logs.about(f"run-{run_id}"):
        # Through a database restart too: a task already taken whose images were never claimed
        # would leave them queued with nobody to make them.
        claimed_ids = _reconnecting(Image.objects.claim, run_id, image_ids)
        if not claimed_ids:
            logger.info("Nothing to make: the images were taken or are no longer queued.")
            return
        logger.info("Making image(s) %s", ", ".join(map(str, claimed_ids)))
        _make_claimed(run_id, claimed_ids)


def _make_claimed(run_id: int, claimed_ids: list[int]) -> None:
    with _making(claimed_ids):
        try:
            _make(run_id, claimed_ids)
        finally:
            # Anything still marked running here was not finished (a crash in this process).
            _reconnecting(Image.objects.filter(pk__in=claimed_ids).interrupt, Interruption.CRASHED)


def _make(run_id: int, image_ids: list[int]) -> None:
    run = _reconnecting(functools.partial(Run.objects.get, pk=run_id))
    running = Image.objects.filter(pk__in=image_ids, status=Image.Status.RUNNING)
    images = _reconnecting(list, running)
    inputs: list[gateway.InputImage] = []
    if run.kind == Run.Kind.EDIT:
        try:
            inputs = edits.input_images(run)
        except edits.SourceError as exc:
            message = exc.message
        except files.FileMissing:
            message = INPUT_MISSING
        except files.StorageError:
            message = INPUT_UNREADABLE
        else:
            message = ""
        if message:
            for image in images:
                Image.objects.fail(image.pk, message)
            return
    asyncio.run(_make_all(run, images, inputs))


# The images this process is making now, so that a worker told to stop at once can mark exactly
# those interrupted (worker.py); a task's arguments are not read for it.
_images_in_flight: set[int] = set()
_in_flight_lock = threading.Lock()


@contextlib.contextmanager
def _making(image_ids: list[int]):
    with _in_flight_lock:
        _images_in_flight.update(image_ids)
    try:
        yield
    finally:
        with _in_flight_lock:
            _images_in_flight.difference_update(image_ids)


def images_in_flight() -> list[int]:
    """The ids of the images this process is making right now."""
    with _in_flight_lock:
        return list(_images_in_flight)


_db_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="studio-db")


async def _in_db_thread(func, *args):
    return await asyncio.get_running_loop().run_in_executor(_db_thread, _reconnecting, func, *args)


def _reconnecting(func, *args):
    """Run `func`; if the connection went bad (a database restart), reconnect and run it again,
    for up to RECONNECT_SECONDS: a restart takes a few seconds, and an image that landed during
    it must still be stored. Every write here is an idempotent UPDATE, so trying again is safe."""
    deadline = time.monotonic() + RECONNECT_SECONDS
    pause = 0.1
    while True:
        try:
            return func(*args)
        except (OperationalError, InterfaceError) as exc:
            if is_locked_database_exception(exc) or time.monotonic() + pause > deadline:
                raise
            logger.warning("Database connection lost (%s); reconnecting", exc)
            connections.close_all()
            time.sleep(pause)
            pause = min(pause * 2, 2.0)


async def _in_image_pool(func, *args):
    return await asyncio.get_running_loop().run_in_executor(_image_pool, func, *args)


class _Cancels:
    """A run's images being made in this process, so that a person's Cancel (written by
    Image.objects.cancel) reaches them: the heartbeat loop looks for cancelled ones every
    WORKER_CANCEL_CHECK_SECONDS, and an upstream call in flight is abandoned (its asyncio task
    cancelled, which closes its connection), a queued step skipped."""

    def __init__(self, image_ids: list[int]):
        self.open = set(image_ids)  # not yet finished here
        self.cancelled: set[int] = set()
        self.calls: dict[int, asyncio.Task] = {}

    def mark(self, image_ids) -> None:
        for pk in image_ids:
            self.cancelled.add(pk)
            if call := self.calls.get(pk):
                call.cancel()

    async def call(self, image_id: int, upstream):
        """Await the upstream call, or raise _Abandoned once the image is cancelled."""
        if image_id in self.cancelled:
            upstream.close()  # a coroutine never started: nothing was sent
            raise _Abandoned
        task = asyncio.create_task(upstream)
        self.calls[image_id] = task
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if image_id in self.cancelled and not (current and current.cancelling()):
                raise _Abandoned from None
            raise
        finally:
            self.calls.pop(image_id, None)


class _Abandoned(Exception):
    """The image was cancelled: its tile already says so (Image.objects.cancel)."""


async def _make_all(run: Run, images: list[Image], inputs: list[gateway.InputImage]) -> None:
    config = gateway.GatewayConfig.from_settings()
    cancels = _Cancels([image.pk for image in images])
    heartbeat = asyncio.create_task(_beat(run.pk, cancels))
    try:
        async with contextlib.AsyncExitStack() as stack:
            client = None
            if any(not catalog.is_offline(image.model) for image in images):
                client = await stack.enter_async_context(gateway.async_client(config))
            await asyncio.gather(
                *(_make_one(client, config, run, image, inputs, cancels) for image in images)
            )
    finally:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat


def _cancelled_among(image_ids: list[int]) -> list[int]:
    return list(
        Image.objects.filter(pk__in=image_ids, status=Image.Status.CANCELLED).values_list(
            "pk", flat=True
        )
    )


# The runs in flight in this process, each as its loop and the event that makes it look for
# cancelled images now (wake_runs).
_awake: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
_awake_lock = threading.Lock()


def wake_runs() -> None:
    """Something changed (a push wake-up, gallery/push/work_wakeups.py: Image.objects.cancel's
    events announce themselves like every other change), so an image may have been cancelled:
    every run in flight here looks soon rather than at its next WORKER_CANCEL_CHECK_SECONDS."""
    with _awake_lock:
        runs = list(_awake)
    for loop, event in runs:
        with contextlib.suppress(RuntimeError):  # that run just ended and closed its loop
            loop.call_soon_threadsafe(event.set)


async def _beat(run_id: int, cancels: _Cancels) -> None:
    """Beat every HEARTBEAT_SECONDS; in between, look for images cancelled meanwhile, when
    woken (wake_runs) or every WORKER_CANCEL_CHECK_SECONDS."""
    loop = asyncio.get_running_loop()
    woken = asyncio.Event()
    with _awake_lock:
        _awake.add((loop, woken))
    try:
        await _beat_and_look(run_id, cancels, woken)
    finally:
        with _awake_lock:
            _awake.discard((loop, woken))


async def _beat_and_look(run_id: int, cancels: _Cancels, woken: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    next_beat = 0.0
    while True:
        if loop.time() >= next_beat:
            try:
                await _in_db_thread(Run.objects.beat, run_id)
            except DatabaseError as exc:  # the database is away for long: beat again later
                logger.warning("Could not beat the run's heartbeat: %s", exc)
            next_beat = loop.time() + HEARTBEAT_SECONDS
        if watched := sorted(cancels.open - cancels.cancelled):
            try:
                cancels.mark(await _in_db_thread(_cancelled_among, watched))
            except DatabaseError as exc:
                logger.warning("Could not look for cancelled images: %s", exc)
        # Every change in the studio wakes the worker: look at most every CANCEL_LOOK_GAP, so a
        # burst of them costs each run a few reads, not one each.
        await asyncio.sleep(CANCEL_LOOK_GAP)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(woken.wait(), settings.WORKER_CANCEL_CHECK_SECONDS)
        woken.clear()


async def _make_one(
    client,
    config,
    run: Run,
    image: Image,
    inputs: list[gateway.InputImage],
    cancels: _Cancels,
) -> None:
    try:
        await _make_one_image(client, config, run, image, inputs, cancels)
    except _Abandoned:
        pass
    finally:
        cancels.open.discard(image.pk)


def _upstream_call(client, config, run: Run, image: Image, inputs: list[gateway.InputImage]):
    """The coroutine that makes the image: the gateway's call, or the offline renderer."""
    if catalog.is_offline(image.model):
        return offline.generate(
            model=image.model,
            prompt=run.prompt,
            params=image.request,
            inputs=inputs,
            width=image.expected_width,
            height=image.expected_height,
            variant=image.position,
            executor=_image_pool,
        )
    if inputs:
        return gateway.edit_image(
            client,
            config,
            model=image.model,
            prompt=run.prompt,
            images=inputs,
            params=image.request,
        )
    return gateway.generate_image(
        client, config, model=image.model, prompt=run.prompt, params=image.request
    )


async def _make_one_image(
    client,
    config,
    run: Run,
    image: Image,
    inputs: list[gateway.InputImage],
    cancels: _Cancels,
) -> None:
    try:
        result = await cancels.call(image.pk, _upstream_call(client, config, run, image, inputs))
    except gateway.GatewayError as exc:
        # The message is the gateway's, with the key redacted (gateway/errors.py).
        logger.info("Image %s failed: %s", image.pk, exc.message)
        await _in_db_thread(Image.objects.fail, image.pk, exc.message)
        return
    except _Abandoned:
        raise
    except Exception:
        logger.exception("Image %s of run %s failed unexpectedly", image.pk, run.pk)
        await _in_db_thread(Image.objects.fail, image.pk, FAILED_UNEXPECTEDLY)
        return

    try:
        if image.pk in cancels.cancelled:
            # Too late to abandon: the answer is here, and was paid for.
            await _in_db_thread(_keep_charge, image, result)
            return
        try:
            stored = await _in_image_pool(_store_files, image, result)
        except imaging.ImageRejected as exc:
            message = f"The model sent back something that is not a usable image: {exc.message}"
            await _in_db_thread(Image.objects.fail, image.pk, message)
            return
        except files.StorageError:
            # Nothing was kept (files.save_pair), so the failed tile points at no file.
            await _in_db_thread(Image.objects.fail, image.pk, STORAGE_FAILED)
            return
        except Exception:
            logger.exception("Could not store image %s of run %s", image.pk, run.pk)
            await _in_db_thread(Image.objects.fail, image.pk, FAILED_TO_STORE)
            return
    finally:
        result.close()  # the answer's temporary files, whatever happened (stored ones moved away)
    if not await _in_db_thread(functools.partial(Image.objects.succeed, image.pk, **stored)):
        # Cancelled while it was being stored: keep the cost, not the files.
        await _in_db_thread(_discard_stored, image.pk, stored)
        return
    logger.info("Image %s stored (%.2fs upstream)", image.pk, result.latency)


def _charge_of(image: Image, cost) -> tuple:
    """What an image costs: the gateway's usage.cost, else the catalog's price of its request."""
    if cost is not None:
        return cost, True
    spec = catalog.known_models().get(image.model)
    return (pricing.estimate(sent=[(spec, image.request)]).total if spec else None), False


def _keep_charge(image: Image, result: gateway.GatewayResult) -> None:
    if catalog.is_offline(image.model):
        return  # nothing was charged
    cost, from_gateway = _charge_of(image, result.cost)
    Image.objects.keep_charge(image.pk, cost=cost, from_gateway=from_gateway)


def _discard_stored(image_id: int, stored: dict) -> None:
    for name in (stored["file"], stored["thumbnail"]):
        files.discard(name)
    Image.objects.keep_charge(
        image_id, cost=stored["cost"], from_gateway=stored["cost_from_gateway"]
    )


def _store_files(image: Image, result: gateway.GatewayResult) -> dict:
    """Check the image, make the thumbnail and write both files (no database access here).

    Returns the image's fields for Image.objects.succeed. A streamed answer is read from its
    temporary file and moved (or, to other storage, copied a piece at a time) into storage:
    never held whole in memory."""
    returned = result.images[0]
    # No `wait`: a big image waits its turn in the process's decode budget however long that
    # takes; nobody is waiting on a page here, and the answer was paid for.
    processed = imaging.process_generated(
        returned.source,
        max_pixels=settings.IMAGE_MAX_PIXELS,
        thumb_max_side=settings.THUMBNAIL_MAX_SIDE,
    )
    # No usage.cost from the gateway: the catalog's price of what the image asked for.
    cost, from_gateway = _charge_of(image, result.cost)

    names = media.image_names(run_id=image.run_id, image_id=image.pk, image_format=processed.format)
    size = returned.size
    with _original(returned) as original:
        stored = files.save_pair(names.file, original, names.thumbnail, processed.thumbnail)
    return {
        "file": stored.file,
        "thumbnail": stored.thumbnail,
        "width": processed.width,
        "height": processed.height,
        "thumb_width": processed.thumb_width,
        "thumb_height": processed.thumb_height,
        "bytes": size,
        "format": processed.format,
        "revised_prompt": returned.revised_prompt,
        "latency": round(result.latency, 3),
        "cost": cost,
        "cost_from_gateway": from_gateway,
    }


class _TemporaryFile(File):
    """A file Django's FileSystemStorage may move into place rather than copy (as it does with a
    big upload's temporary file); other storages read it a piece at a time."""

    def temporary_file_path(self) -> str:
        return self.name


@contextlib.contextmanager
def _original(returned: gateway.ImageData):
    if returned.path is None:
        yield ContentFile(returned.data)
        return
    with open(returned.path, "rb") as file, _TemporaryFile(file, name=returned.path) as original:
        yield original
