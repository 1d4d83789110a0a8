"""Waiting for a run's images and answering with them in the gateway's format.

An API call answers once its images are stored: the worker makes them exactly as it does for the
prompt box. Under ASGI the wait sleeps on the push hub (gallery/push), woken the moment an image
changes, and looks at the database once a second anyway; elsewhere (WSGI, a test client) it looks
at the database every few milliseconds, backing off to a tenth of a second.
"""

import asyncio
import base64
import contextlib
import json
import re
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import pybase64
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signing
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import reverse

from api.errors import ApiError
from gallery.models import Image, Run

URL_SALT = "api.image-url"
POLL_FIRST = 0.005
POLL_MOST = 0.1
HUB_RECHECK = 1.0
# Read from storage this much at a time: a multiple of 3 bytes, so the pieces' base64 joins up.
B64_PIECE_BYTES = 3 * 256 * 1024


def _run_images(run_id: int) -> list[Image]:
    return list(Image.objects.filter(run_id=run_id).order_by("column", "position"))


async def images_as_they_land(request, run: Run) -> AsyncIterator[list[Image]]:
    """Yield the run's images each time some of them finish (the last time, none is pending);
    ApiError 504 after API_WAIT_SECONDS (the images go on being made and land in the gallery)."""
    deadline = time.monotonic() + settings.API_WAIT_SECONDS
    read = sync_to_async(_run_images)
    seen: set[int] = set()
    with _wake_ups(request) as woken:
        pause = POLL_FIRST
        while True:
            images = await read(run.pk)
            finished = {image.pk for image in images if not image.is_pending}
            if finished - seen:
                seen |= finished
                yield images
            if len(finished) == len(images):
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise ApiError(
                    504,
                    f"The images were not ready within {settings.API_WAIT_SECONDS:g} seconds. "
                    f"They are still being made and will appear in the studio's gallery (run "
                    f"{run.pk}).",
                    code="timeout",
                )
            if woken is None:
                await asyncio.sleep(min(pause, left))
                pause = min(pause * 2, POLL_MOST)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), timeout=min(HUB_RECHECK, left))
                woken.clear()


async def images_when_stored(request, run: Run) -> list[Image]:
    """The run's images once none is pending (ApiError 504 past API_WAIT_SECONDS)."""
    images: list[Image] = []
    async for images in images_as_they_land(request, run):  # noqa: B007  (the last one)
        pass
    return images


@contextlib.contextmanager
def _wake_ups(request):
    """The push hub's wake-ups when served by ASGI (one hub per web process); None elsewhere."""
    if not isinstance(request, ASGIRequest):
        yield None
        return
    from gallery.push.stream import current_hub

    with current_hub().subscription() as woken:
        yield woken


def image_url(request, image: Image) -> str:
    """A link to the image's original that works without signing in, for API_URL_SECONDS."""
    signed = signing.TimestampSigner(salt=URL_SALT).sign(str(image.pk))
    return request.build_absolute_uri(reverse("api_image_file", args=[signed]))


def image_for_url(signed: str) -> int | None:
    """The image id a link carries, or None when the link is broken or has expired."""
    try:
        value = signing.TimestampSigner(salt=URL_SALT).unsign(
            signed, max_age=settings.API_URL_SECONDS
        )
    except signing.BadSignature:
        return None
    return int(value) if value.isascii() and value.isdigit() else None


def _b64(image: Image) -> str:
    with image.file.open("rb") as f:
        return base64.b64encode(f.read()).decode("ascii")


def _b64_pieces(image: Image) -> Iterator[bytes]:
    """The original's base64, read and encoded a piece at a time."""
    with image.file.open("rb") as f:
        while piece := f.read(B64_PIECE_BYTES):
            yield pybase64.b64encode(piece)


def image_entry(request, image: Image, *, response_format: str, b64=_b64) -> dict:
    """One stored image as an answer's `data` entry (`b64` makes its base64 text)."""
    entry: dict = {"revised_prompt": image.revised_prompt or None}
    if response_format == "url":
        entry["url"] = image_url(request, image)
    else:
        entry["b64_json"] = b64(image)
    return entry


def failure(index: int, image: Image) -> dict:
    return {
        "index": index,
        "model": image.model,
        "status": image.status,
        "message": image.error or "The image could not be made.",
    }


def answer_response(
    request, run: Run, images: list[Image], *, response_format: str
) -> HttpResponse:
    """The answer, as the gateway gives it. Base64 images are streamed: each original is read
    and encoded a piece at a time as the answer is sent, so four 4K images (~100 MB of JSON)
    never sit in memory whole. Whether it is a success (or a 502) is decided before it starts."""
    if response_format == "url":
        return JsonResponse(answer_body(request, run, images, response_format=response_format))
    marker = secrets.token_hex(16)
    stored = {image.pk: image for image in images}
    body = answer_body(
        request, run, images, response_format=response_format,
        b64=lambda image: f"{marker}:{image.pk}:",
    )  # fmt: skip
    parts = re.split(rf"{marker}:(\d+):", json.dumps(body))

    def pieces() -> Iterator[bytes]:
        for number, part in enumerate(parts):
            if number % 2:
                yield from _b64_pieces(stored[int(part)])
            else:
                yield part.encode()

    response = StreamingHttpResponse(pieces(), content_type="application/json")
    # Base64 images: gzip would spend about half a second on a 4K one to save a quarter.
    response.incompressible = True  # studio/compression.py
    return response


def answer_body(request, run: Run, images: list[Image], *, response_format: str, b64=_b64) -> dict:
    """The gateway's answer: `data` (one entry per stored image), `usage.cost`; any image that
    failed is listed in `errors` beside the others. None stored at all is a 502."""
    data: list[dict] = []
    failed: list[dict] = []
    cost = Decimal(0)
    for index, image in enumerate(images):
        if not image.is_done:
            failed.append(failure(index, image))
            continue
        data.append(image_entry(request, image, response_format=response_format, b64=b64))
        cost += image.cost or Decimal(0)
    if not data:
        raise all_failed(failed)
    body: dict = {
        "created": int(run.created_at.timestamp()),
        "data": data,
        "usage": {"cost": float(round(cost, 6)), "images": len(data)},
    }
    formats = {image.format for image in images if image.is_done}
    if len(formats) == 1:
        body["output_format"] = formats.pop()
    if failed:
        body["errors"] = failed
        body["message"] = f"{len(failed)} of {len(images)} images failed; the others are in `data`."
    return body


def all_failed(failed: list[dict]) -> ApiError:
    reason = failed[0]["message"] if failed else "No image was made."
    return ApiError(502, f"No image could be made: {reason}", code="upstream_error")
