"""The input images of POST /v1/images/edits, stored as the prompt box stores attached images.

Both forms the SDKs send: the gateway's JSON (`images: [{"image_url": "https://…" | "data:…"}]`)
and OpenAI's multipart (`image`, repeated `image[]`, optional `mask`, sent on as one more input
image, as the gateway does). Every image goes through gallery/edits.py: checked by content, size
and pixels, turned upright, stripped of metadata; an https link is checked at once and fetched by
the worker, never on the web server, and the call waits for it like Generate does.
"""

import asyncio
import base64
import binascii
import time

from asgiref.sync import sync_to_async
from django.conf import settings

from api.errors import ApiError, bad_param
from gallery import edits, imaging
from gallery.edits import Source
from gallery.models import Upload

DATA_URL_START = "data:"
LINK_POLL_SECONDS = 0.05


def _too_large(param: str) -> ApiError:
    return ApiError(
        413,
        f"An input image is larger than {edits.MAX_UPLOAD_MB} MB.",
        param=param,
        code="image_too_large",
    )


def _data_url_bytes(url: str) -> bytes:
    header, comma, payload = url.partition(",")
    if not comma or not header.endswith(";base64"):
        raise bad_param("images", "A data URL must be base64: data:image/png;base64,….")
    # Base64 grows 4/3: anything longer than the largest allowed image is refused unread.
    if len(payload) > edits.MAX_UPLOAD_BYTES * 4 // 3 + 4:
        raise _too_large("images")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise bad_param("images", "An input image's data URL is not valid base64.") from None


def json_image_urls(body) -> list[str]:
    """The `images[].image_url` values of a JSON edit, checked for shape."""
    images = body.get("images") if isinstance(body, dict) else None
    if not isinstance(images, list) or not images:
        raise bad_param("images", '`images` must be a list of {"image_url": …}, 1 or more.')
    if len(images) > edits.MAX_SOURCES:
        raise bad_param("images", f"An edit takes at most {edits.MAX_SOURCES} images.")
    urls = []
    for item in images:
        url = item.get("image_url") if isinstance(item, dict) else None
        if isinstance(url, dict):
            url = url.get("url")  # {"image_url": {"url": …}}, as chat messages write it
        if not isinstance(url, str) or not url:
            raise bad_param("images", "Each image needs an `image_url`: https or data URL.")
        urls.append(url)
    return urls


def _store(user, data: bytes, name: str, param: str) -> Upload:
    if len(data) > edits.MAX_UPLOAD_BYTES:
        raise _too_large(param)
    try:
        return edits.upload_store(user=user, data=data, name=name)
    except imaging.ImageRejected as exc:
        raise bad_param(param, exc.message, code="invalid_image") from None


def _start_urls(user, urls: list[str]) -> list[int]:
    uploads = []
    for number, url in enumerate(urls, start=1):
        if url.startswith(DATA_URL_START):
            uploads.append(_store(user, _data_url_bytes(url), f"image-{number}", "images"))
            continue
        try:
            uploads.append(edits.upload_link_start(user=user, url=url))
        except edits.SourceError as exc:
            raise bad_param("images", exc.message, code="invalid_image_url") from None
    return [upload.pk for upload in uploads]


def _store_files(user, files: list[tuple[str, object]]) -> list[int]:
    stored = []
    for param, upload in files:
        if upload.size > edits.MAX_UPLOAD_BYTES:
            raise _too_large(param)
        stored.append(_store(user, upload.read(), upload.name or "", param).pk)
    return stored


def _sources(user, upload_ids: list[int]) -> list[Source]:
    try:
        return edits.sources_from_tokens([f"upload:{pk}" for pk in upload_ids], viewer=user)
    except edits.SourceError as exc:
        raise bad_param("images", exc.message) from None


async def sources_when_ready(user, upload_ids: list[int]) -> list[Source]:
    """The uploads as sources once no link is still being fetched (the worker fetches them)."""
    deadline = time.monotonic() + settings.LINK_FETCH_DEADLINE_SECONDS + Upload.FETCH_GRACE_SECONDS
    read = sync_to_async(_sources)
    while True:
        sources = await read(user, upload_ids)
        failed = next((s for s in sources if s.is_failed), None)
        if failed is not None:
            raise bad_param(
                "images",
                f"The image from {failed.label}: {failed.problem}",
                code="image_fetch_failed",
            )
        if not any(s.is_fetching for s in sources):
            return sources
        if time.monotonic() > deadline:
            raise bad_param(
                "images",
                "An image link was not fetched in time: is the studio's worker running?",
                code="image_fetch_timeout",
            )
        await asyncio.sleep(LINK_POLL_SECONDS)


async def json_sources(user, body) -> list[Source]:
    urls = json_image_urls(body)
    upload_ids = await sync_to_async(_start_urls)(user, urls)
    return await sources_when_ready(user, upload_ids)


def multipart_files(request) -> list[tuple[str, object]]:
    files = [
        (name, upload)
        for name in ("image", "image[]", "file")
        for upload in request.FILES.getlist(name)
    ]
    if not files:
        raise bad_param("image", "Send the image to edit as `image` (or repeated `image[]`).")
    files += [("mask", mask) for mask in request.FILES.getlist("mask")[:1]]
    if len(files) > edits.MAX_SOURCES:
        raise bad_param("image", f"An edit takes at most {edits.MAX_SOURCES} images.")
    return files


async def multipart_sources(user, files) -> list[Source]:
    upload_ids = await sync_to_async(_store_files)(user, files)
    return await sync_to_async(_sources)(user, upload_ids)
