"""Running a generation in the worker: every upstream call of the run at once, each image stored
the moment it lands.

The calls share one `httpx.AsyncClient` on one event loop. Everything that touches the database,
storage or Pillow runs in a thread (`asyncio.to_thread`) so that decoding one image never holds up
the calls still in flight; each of those threads closes its own database connection when done.
"""

import asyncio
import contextlib
import logging
import time
import uuid
from decimal import Decimal

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import close_old_connections, connections
from django.utils import timezone

from gallery import catalog, gateway, imaging, offline
from gallery.models import Generation, Image

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
FAILED_TO_STORE = "The image arrived but could not be stored. Retry to try again."


def generation_run(*, generation_id: int, image_ids: list[int] | None = None) -> None:
    """Make every queued image of the run (or just `image_ids`), storing each as it lands."""
    now = timezone.now()
    claimable = Image.objects.filter(generation_id=generation_id, status=Image.Status.QUEUED)
    if image_ids is not None:
        claimable = claimable.filter(pk__in=image_ids)
    claimed_ids = list(claimable.values_list("pk", flat=True))
    if not claimed_ids:
        return
    Generation.objects.filter(pk=generation_id).update(heartbeat_at=now)
    Image.objects.filter(pk__in=claimed_ids, status=Image.Status.QUEUED).update(
        status=Image.Status.RUNNING, started_at=now
    )
    generation = Generation.objects.get(pk=generation_id)
    images = list(Image.objects.filter(pk__in=claimed_ids, status=Image.Status.RUNNING))
    try:
        asyncio.run(_run_images(generation, images))
    finally:
        # Anything still marked running here was not finished (a crash in this process).
        Image.objects.filter(pk__in=claimed_ids, status=Image.Status.RUNNING).update(
            status=Image.Status.INTERRUPTED,
            error="Interrupted before the image was stored. Retry to try again.",
            finished_at=timezone.now(),
        )


async def _run_images(generation: Generation, images: list[Image]) -> None:
    config = gateway.GatewayConfig.from_settings()
    heartbeat = asyncio.create_task(_beat(generation.pk))
    try:
        async with contextlib.AsyncExitStack() as stack:
            client = None
            if any(not _is_offline(image.model) for image in images):
                client = await stack.enter_async_context(gateway.async_client(config))
            await asyncio.gather(
                *(_run_one(client, config, generation, image) for image in images)
            )
    finally:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat


async def _beat(generation_id: int) -> None:
    while True:
        await asyncio.to_thread(_in_db_thread, _record_heartbeat, generation_id)
        await asyncio.sleep(HEARTBEAT_SECONDS)


def _record_heartbeat(generation_id: int) -> None:
    Generation.objects.filter(pk=generation_id).update(heartbeat_at=timezone.now())


def _is_offline(model_id: str) -> bool:
    spec = catalog.known_models().get(model_id)
    return spec is not None and spec.offline


async def _run_one(client, config, generation: Generation, image: Image) -> None:
    started = time.perf_counter()
    try:
        if _is_offline(image.model):
            result = await _render_offline(generation, image)
        else:
            result = await gateway.generate_image(
                client, config, model=image.model, prompt=generation.prompt, params=image.request
            )
    except gateway.GatewayError as exc:
        await asyncio.to_thread(_in_db_thread, _store_failure, image.pk, exc.message)
        return
    except Exception:
        logger.exception("Image %s of run %s failed unexpectedly", image.pk, generation.pk)
        await asyncio.to_thread(
            _in_db_thread, _store_failure, image.pk, "Something went wrong making this image."
        )
        return
    latency = result.latency or (time.perf_counter() - started)
    try:
        await asyncio.to_thread(_in_db_thread, _store_success, image, result, latency)
    except Exception:
        logger.exception("Could not store image %s of run %s", image.pk, generation.pk)
        await asyncio.to_thread(_in_db_thread, _store_failure, image.pk, FAILED_TO_STORE)


async def _render_offline(generation: Generation, image: Image) -> gateway.GatewayResult:
    """The offline renderer, behind the same result type as the gateway."""
    started = time.perf_counter()
    await asyncio.sleep(settings.OFFLINE_RENDER_DELAY)
    data = await asyncio.to_thread(
        offline.render,
        prompt=generation.prompt,
        width=image.expected_width,
        height=image.expected_height,
        style=image.model.removeprefix("offline/"),
        variant=image.position,
        quality=image.request.get("quality"),
    )
    return gateway.GatewayResult(
        images=[gateway.ImageData(data=data, revised_prompt="")],
        cost=Decimal("0"),
        latency=time.perf_counter() - started,
    )


def _in_db_thread(func, *args):
    """Run `func` in this (short-lived) thread and close its database connections afterwards."""
    close_old_connections()
    try:
        return func(*args)
    finally:
        connections.close_all()


def _store_failure(image_id: int, message: str) -> None:
    Image.objects.filter(pk=image_id, status=Image.Status.RUNNING).update(
        status=Image.Status.FAILED, error=message, finished_at=timezone.now()
    )


def _store_success(image: Image, result: gateway.GatewayResult, latency: float) -> None:
    returned = result.images[0]
    try:
        processed = imaging.process_generated(
            returned.data,
            max_pixels=settings.IMAGE_MAX_PIXELS,
            thumb_max_side=settings.THUMBNAIL_MAX_SIDE,
        )
    except imaging.ImageRejected as exc:
        _store_failure(image.pk, f"The model sent back something that is not a usable image: {exc.message}")
        return

    spec = catalog.known_models().get(image.model)
    if result.cost is not None:
        cost, from_gateway = result.cost, True
    else:
        cost = catalog.estimated_price(spec, image.request) if spec else None
        from_gateway = False

    stem = f"{image.generation_id}-{image.pk}-{uuid.uuid4().hex[:12]}"
    ext = "jpg" if processed.format == "jpeg" else processed.format
    image.file.save(f"{stem}.{ext}", ContentFile(returned.data), save=False)
    image.thumbnail.save(f"{stem}.webp", ContentFile(processed.thumbnail), save=False)
    # A tile the reaper marked interrupted meanwhile still takes its image: a slow answer that
    # arrives late is a paid-for result, not something to throw away.
    Image.objects.filter(
        pk=image.pk, status__in=(Image.Status.RUNNING, Image.Status.INTERRUPTED)
    ).update(
        status=Image.Status.SUCCEEDED,
        file=image.file.name,
        thumbnail=image.thumbnail.name,
        width=processed.width,
        height=processed.height,
        thumb_width=processed.thumb_width,
        thumb_height=processed.thumb_height,
        bytes=len(returned.data),
        format=processed.format,
        revised_prompt=returned.revised_prompt,
        latency=round(latency, 3),
        cost=cost,
        cost_from_gateway=from_gateway,
        error="",
        finished_at=timezone.now(),
    )
