"""Input images for edits: attaching uploads, links and gallery images, and reading them back.

Everything a person attaches is checked here, before it is stored and long before anything goes
upstream: by content (not name), size, pixel count, and with location and other metadata stripped
by re-encoding (imaging.sanitize_upload).

A link is never fetched on a web thread, where a slow host would hold it: attaching one stores a
"fetching" upload and queues `fetch_upload`; the worker fetches it within
LINK_FETCH_DEADLINE_SECONDS and stores it exactly as an uploaded file, or records why not.
"""

import asyncio
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from gallery import files, gateway, imaging, media, selectors
from gallery.models import EditSource, Image, Run, Upload
from studio import params

MAX_UPLOAD_MB = 20
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
# One attach request carries one image (attach.js sends them one by one); a few are allowed.
MAX_UPLOAD_REQUEST_BYTES = 4 * MAX_UPLOAD_BYTES
MAX_SOURCES = 16  # the gateway's limit for one edit
MAX_LINK_LENGTH = 2048
STILL_FETCHING = "An attached image is still being fetched; wait a moment and press Generate again."
STORAGE_FAILED = (
    "The image arrived but the file storage could not store it. Remove it and try again."
)
FAILED_TO_STORE = "Something went wrong storing the image from this link. Remove it and try again."

logger = logging.getLogger(__name__)


class SourceError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Source:
    """An attached input image, as the prompt box shows it."""

    kind: str  # "upload" or "image"
    pk: int
    width: int
    height: int
    thumb_url: str
    label: str
    # An upload from a link is "fetching" until the worker stored it ("ready"), or "failed".
    state: str = Upload.Status.READY
    problem: str = ""  # why it failed, in words

    @property
    def token(self) -> str:
        return f"{self.kind}:{self.pk}"

    @property
    def is_fetching(self) -> bool:
        return self.state == Upload.Status.FETCHING

    @property
    def is_failed(self) -> bool:
        return self.state == Upload.Status.FAILED

    @property
    def chip_url(self) -> str:
        """What a fetching chip polls for its new state."""
        return reverse("upload_detail", args=[self.pk]) if self.kind == "upload" else ""


def _from_upload(upload: Upload) -> Source:
    state = upload.state
    if state != Upload.Status.READY:
        return Source(
            kind="upload",
            pk=upload.pk,
            width=0,
            height=0,
            thumb_url="",
            label=_link_host(upload.source_url),
            state=state,
            problem=upload.problem,
        )
    return Source(
        kind="upload",
        pk=upload.pk,
        width=upload.width,
        height=upload.height,
        thumb_url=upload.thumb_url,
        label=upload.original_name or "Uploaded image",
    )


def _link_host(url: str) -> str:
    return urlsplit(url).hostname or "the link"


def _from_image(image: Image) -> Source:
    return Source(
        kind="image",
        pk=image.pk,
        width=image.width or image.expected_width,
        height=image.height or image.expected_height,
        thumb_url=image.thumb_url,
        label=f"Image from “{image.run.prompt[:60]}”",
    )


def sources_from_tokens(tokens: list[str], *, viewer) -> list[Source]:
    """Resolve `upload:<id>` / `image:<id>` values, keeping their order (two queries at most).

    Uploads must be the viewer's own; gallery images must be finished and visible to them. A
    link may still be fetching or have failed: `sources_check_usable` says whether it can run."""
    tokens = list(dict.fromkeys(t for t in tokens if t))
    if len(tokens) > MAX_SOURCES:
        raise SourceError(
            f"An edit takes at most {MAX_SOURCES} images; {len(tokens)} are attached."
        )
    wanted: dict[str, list[int]] = {"upload": [], "image": []}
    for token in tokens:
        kind, _, pk = token.partition(":")
        try:
            wanted[kind].append(params.parse_id(pk, what="image"))
        except (KeyError, params.BadParameter):
            raise SourceError(
                "An attached image could not be read. Remove it and attach it again."
            ) from None
    found: dict[str, Source] = {}
    if wanted["upload"]:
        for upload in Upload.objects.filter(pk__in=wanted["upload"], created_by=viewer):
            found[f"upload:{upload.pk}"] = _from_upload(upload)
    if wanted["image"]:
        images = Image.objects.select_related("run").filter(
            selectors.in_visible_run(viewer),
            pk__in=wanted["image"],
            status=Image.Status.SUCCEEDED,
            deleted_at__isnull=True,
        )
        for image in images:
            found[f"image:{image.pk}"] = _from_image(image)
    missing = [t for t in tokens if t not in found]
    if missing:
        raise SourceError(
            "An attached image is no longer available (deleted, or not yours). Remove it and "
            "attach it again."
        )
    return [found[t] for t in tokens]


def sources_check_usable(sources: list[Source]) -> None:
    """Only stored images can be edited: refuse while a link is still being fetched, or when
    fetching it failed (its chip says why). Raises SourceError."""
    if any(source.is_fetching for source in sources):
        raise SourceError(STILL_FETCHING)
    for source in sources:
        if source.is_failed:
            raise SourceError(
                f"The image from {source.label} could not be fetched; remove it and press "
                "Generate again."
            )


def upload_store(*, user, data: bytes, name: str = "") -> Upload:
    """Check, clean and store one attached image. Raises imaging.ImageRejected.

    Someone is waiting on the page, so each decode waits for memory only so long (ImageBusy)."""
    upload = Upload(created_by=user, original_name=name[:255])
    _store_image(upload, data, wait=settings.IMAGE_DECODE_WAIT_SECONDS)
    return upload


def _store_image(upload: Upload, data: bytes, *, wait: float | None = None) -> None:
    """Check and clean the bytes, and save them with a thumbnail as the (now ready) upload.
    `wait`: how long to wait for the decode budget (None: as long as it takes, the worker)."""
    clean = imaging.sanitize_upload(
        data, max_bytes=MAX_UPLOAD_BYTES, max_pixels=settings.IMAGE_MAX_PIXELS, wait=wait
    )
    processed = imaging.process_generated(
        clean.data,
        max_pixels=settings.IMAGE_MAX_PIXELS,
        thumb_max_side=settings.THUMBNAIL_MAX_SIDE,
        wait=wait,
    )
    names = media.upload_names(image_format=clean.format)
    upload.status = Upload.Status.READY
    upload.error = ""
    upload.width = clean.width
    upload.height = clean.height
    upload.thumb_width = processed.thumb_width
    upload.thumb_height = processed.thumb_height
    upload.bytes = len(clean.data)
    upload.format = clean.format
    stored = files.save_pair(
        upload.file.field.generate_filename(upload, names.file),
        clean.data,
        upload.thumbnail.field.generate_filename(upload, names.thumbnail),
        processed.thumbnail,
    )
    upload.file.name, upload.thumbnail.name = stored.file, stored.thumbnail
    try:
        upload.save()
    except Exception:
        files.discard(stored.file)
        files.discard(stored.thumbnail)
        raise


def upload_link_start(*, user, url: str) -> Upload:
    """Attach an image by its https link: a bad link is refused at once; otherwise a "fetching"
    upload is stored and the worker fetches it. Raises SourceError."""
    from gallery.tasks import fetch_upload

    url = url.strip()
    if len(url) > MAX_LINK_LENGTH:
        raise SourceError(f"That link is too long (over {MAX_LINK_LENGTH:,} characters).")
    try:
        gateway.checked_image_url(url, gateway.GatewayConfig.from_settings())
    except gateway.GatewayError as exc:
        raise SourceError(exc.message) from None
    name = url.rstrip("/").rsplit("/", 1)[-1].split("?")[0][:100]
    with transaction.atomic():
        upload = Upload.objects.create(
            created_by=user, status=Upload.Status.FETCHING, source_url=url, original_name=name
        )
        transaction.on_commit(lambda: fetch_upload.enqueue(upload.pk))
    return upload


def upload_fetch(*, upload_id: int) -> None:
    """The worker's half of attaching a link: fetch it within the deadline and store it as an
    uploaded file would be, or record a sentence saying why not."""
    upload = Upload.objects.filter(pk=upload_id, status=Upload.Status.FETCHING).first()
    if upload is None:
        return
    try:
        if upload.state != Upload.Status.FETCHING:  # picked up too late: the chip gave up
            raise SourceError(Upload.FETCH_TOO_LONG)
        # Never past the moment the chip gives up (a task picked up late gets what is left).
        left = (upload.fetch_expires_at - timezone.now()).total_seconds()
        seconds = min(settings.LINK_FETCH_DEADLINE_SECONDS, left)
        data = asyncio.run(_fetch_within(upload.source_url, seconds=seconds))
        _store_image(upload, data)
    except (SourceError, imaging.ImageRejected) as exc:
        _fetch_failed(upload_id, exc.message)
    except files.StorageError:
        _fetch_failed(upload_id, STORAGE_FAILED)
    except Exception:
        logger.exception("Storing the image from link upload %s failed", upload_id)
        _fetch_failed(upload_id, FAILED_TO_STORE)


async def _fetch_within(url: str, *, seconds: float) -> bytes:
    """The gateway's fetch (https only, never a private address, size-capped) with one overall
    deadline: a host that sends a byte now and then is given up on, not waited for."""
    try:
        async with asyncio.timeout(seconds):
            return await gateway.fetch_image(url, gateway.GatewayConfig.from_settings())
    except TimeoutError:
        raise SourceError(
            f"The image from {_link_host(url)} did not arrive within {max(1, round(seconds))} s, "
            "so it was given up. Try another link, or save the image and attach the file."
        ) from None
    except gateway.GatewayError as exc:
        raise SourceError(exc.message) from None


def _fetch_failed(upload_id: int, message: str) -> None:
    Upload.objects.filter(pk=upload_id, status=Upload.Status.FETCHING).update(
        status=Upload.Status.FAILED, error=message
    )


def upload_visible_to(*, upload_id: int, viewer) -> Upload:
    """The uploader sees their uploads; others only once a run they can see used one. Only
    stored ones: a link still being fetched has no file yet."""
    used_in_visible_run = EditSource.objects.filter(
        selectors.in_visible_run(viewer), upload_id=upload_id
    )
    uploads = Upload.objects.filter(pk=upload_id, status=Upload.Status.READY)
    if not viewer.is_staff:
        uploads = uploads.filter(
            Q(created_by=viewer) | Q(pk__in=used_in_visible_run.values("upload_id"))
        )
    return uploads.get()


def sources_record(*, run: Run, sources: list[Source]) -> None:
    EditSource.objects.bulk_create(
        EditSource(
            run=run,
            position=position,
            image_id=source.pk if source.kind == "image" else None,
            upload_id=source.pk if source.kind == "upload" else None,
        )
        for position, source in enumerate(sources)
    )


def input_images(run: Run) -> list[gateway.InputImage]:
    """The run's input images, as sent upstream (uploads are already clean)."""
    inputs = []
    for source in run.sources.select_related("image", "upload"):
        stored = source.upload or source.image
        if stored is None:
            raise SourceError("An input image of this edit was deleted, so it cannot run again.")
        data = files.read(stored.file.name)
        image_format = stored.format or "png"
        inputs.append(
            gateway.InputImage(
                data=data,
                mime=media.mime_type(image_format),
                filename=f"input-{source.position + 1}.{media.extension(image_format)}",
            )
        )
    return inputs
