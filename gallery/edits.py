"""Input images for edits: attaching uploads, links and gallery images, and reading them back.

Everything a person attaches is checked here, before it is stored and long before anything goes
upstream: by content (not name), size, pixel count, and with location and other metadata stripped
by re-encoding (imaging.sanitize_upload).
"""

import asyncio
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.db.models import Q
from django.urls import reverse

from gallery import gateway, imaging, selectors
from gallery.models import EditSource, Generation, Image, Upload

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_SOURCES = 16  # the gateway's limit for one edit


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

    @property
    def token(self) -> str:
        return f"{self.kind}:{self.pk}"


def _from_upload(upload: Upload) -> Source:
    return Source(
        kind="upload",
        pk=upload.pk,
        width=upload.width,
        height=upload.height,
        thumb_url=reverse("upload_thumbnail", args=[upload.pk]),
        label=upload.original_name or "Uploaded image",
    )


def _from_image(image: Image) -> Source:
    return Source(
        kind="image",
        pk=image.pk,
        width=image.width or image.expected_width,
        height=image.height or image.expected_height,
        thumb_url=f"{reverse('image_thumbnail', args=[image.pk])}?v={image.version}",
        label=f"Image from “{image.generation.prompt[:60]}”",
    )


def sources_from_tokens(tokens: list[str], *, viewer) -> list[Source]:
    """Resolve `upload:<id>` / `image:<id>` values, keeping their order (two queries at most).

    Uploads must be the viewer's own; gallery images must be finished and visible to them."""
    tokens = list(dict.fromkeys(t for t in tokens if t))
    if len(tokens) > MAX_SOURCES:
        raise SourceError(
            f"An edit takes at most {MAX_SOURCES} images; {len(tokens)} are attached."
        )
    wanted: dict[str, list[int]] = {"upload": [], "image": []}
    for token in tokens:
        kind, _, pk = token.partition(":")
        if kind not in wanted or not pk.isdigit():
            raise SourceError("An attached image could not be read. Remove it and attach it again.")
        wanted[kind].append(int(pk))
    found: dict[str, Source] = {}
    if wanted["upload"]:
        for upload in Upload.objects.filter(pk__in=wanted["upload"], created_by=viewer):
            found[f"upload:{upload.pk}"] = _from_upload(upload)
    if wanted["image"]:
        images = Image.objects.select_related("generation").filter(
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


def upload_store(*, user, data: bytes, name: str = "") -> Upload:
    """Check, clean and store one attached image. Raises imaging.ImageRejected.

    Someone is waiting on the page, so each decode waits for memory only so long (ImageBusy)."""
    wait = settings.IMAGE_DECODE_WAIT_SECONDS
    clean = imaging.sanitize_upload(
        data, max_bytes=MAX_UPLOAD_BYTES, max_pixels=settings.IMAGE_MAX_PIXELS, wait=wait
    )
    processed = imaging.process_generated(
        clean.data,
        max_pixels=settings.IMAGE_MAX_PIXELS,
        thumb_max_side=settings.THUMBNAIL_MAX_SIDE,
        wait=wait,
    )
    stem = uuid.uuid4().hex[:16]
    ext = "jpg" if clean.format == "jpeg" else clean.format
    upload = Upload(
        created_by=user,
        original_name=name[:255],
        width=clean.width,
        height=clean.height,
        thumb_width=processed.thumb_width,
        thumb_height=processed.thumb_height,
        bytes=len(clean.data),
        format=clean.format,
    )
    upload.file.save(f"{stem}.{ext}", ContentFile(clean.data), save=False)
    upload.thumbnail.save(f"{stem}.webp", ContentFile(processed.thumbnail), save=False)
    upload.save()
    return upload


def upload_from_link(*, user, url: str) -> Upload:
    """Fetch an image from an https link (never a private address) and store it like an upload."""
    config = gateway.GatewayConfig.from_settings()
    try:
        data = asyncio.run(gateway.fetch_image(url.strip(), config))
    except gateway.GatewayError as exc:
        raise SourceError(exc.message) from None
    name = url.rstrip("/").rsplit("/", 1)[-1].split("?")[0][:100]
    return upload_store(user=user, data=data, name=name)


def upload_visible_to(*, upload_id: int, viewer) -> Upload:
    """The uploader sees their uploads; others only once a run they can see used one."""
    used_in_visible_run = EditSource.objects.filter(
        selectors.in_visible_run(viewer), upload_id=upload_id
    )
    uploads = Upload.objects.filter(pk=upload_id)
    if not viewer.is_staff:
        uploads = uploads.filter(
            Q(created_by=viewer) | Q(pk__in=used_in_visible_run.values("upload_id"))
        )
    return uploads.get()


def sources_record(*, generation: Generation, sources: list[Source]) -> None:
    EditSource.objects.bulk_create(
        EditSource(
            generation=generation,
            position=position,
            image_id=source.pk if source.kind == "image" else None,
            upload_id=source.pk if source.kind == "upload" else None,
        )
        for position, source in enumerate(sources)
    )


def input_images(generation: Generation) -> list[gateway.InputImage]:
    """The run's input images, as sent upstream (uploads are already clean)."""
    inputs = []
    for source in generation.sources.select_related("image", "upload"):
        stored = source.upload or source.image
        if stored is None:
            raise SourceError("An input image of this edit was deleted, so it cannot run again.")
        with stored.file.open("rb") as f:
            data = f.read()
        image_format = stored.format or "png"
        ext = "jpg" if image_format == "jpeg" else image_format
        inputs.append(
            gateway.InputImage(
                data=data,
                mime=f"image/{image_format}",
                filename=f"input-{source.position + 1}.{ext}",
            )
        )
    return inputs
