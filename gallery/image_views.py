"""One image: its lightbox and permalink page, its files and downloads, star and delete."""

import contextlib
import itertools
from collections.abc import Iterator

from django.conf import settings
from django.db.models import QuerySet
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from gallery import downloads, edits, files, imaging, media, permissions, selectors, services
from gallery.forms import GalleryFilterForm
from gallery.models import Image, Upload
from gallery.presenters import ImageView, RunView
from gallery.views import RUN, _gallery_query, _visible_run
from studio.responses import bad_request, message_response, redirect_back

# Files never change under a URL: a new file gets a new ?v=, so browsers may keep them for a year.
CACHE_FOREVER = "private, max-age=31536000, immutable"
FILE_UNREADABLE = (
    "This image could not be read from the file storage just now. Try again in a moment."
)
FILE_MISSING = "This image's file is missing from the file storage."


def _file_response(request, name: str, *, content_type: str, cache: str, **download):
    """The stored file `name`, streamed a piece at a time (never read whole first). The caller
    has checked that the viewer may see it. A storage that fails answers 503 for this file
    alone (the page around it is already drawn); a file that is not there, 404."""
    try:
        stored = files.open_stream(name)
    except files.StorageError as exc:
        return _storage_failed(request, exc)
    response = FileResponse(stored, content_type=content_type, **download)
    response.block_size = downloads.CHUNK
    if stored.size is not None:
        response["Content-Length"] = str(stored.size)
    response["Cache-Control"] = cache
    return response


def _storage_failed(request, exc: files.StorageError):
    if isinstance(exc, files.FileMissing):
        return message_response(request, title="Missing", message=FILE_MISSING, status=404)
    response = message_response(request, title="Not available", message=FILE_UNREADABLE, status=503)
    response["Retry-After"] = "5"
    return response


def _visible_image(request, pk: int) -> Image:
    try:
        return selectors.image_for_display(image_id=pk, viewer=request.user)
    except Image.DoesNotExist:
        raise Http404("No such image.") from None


@require_GET
def image_detail(request, pk: int):
    """The lightbox (htmx) or the image's permalink page; ←/→ follow the gallery's filters."""
    filters = GalleryFilterForm(request.GET)
    if not filters.is_valid():
        return bad_request(request, filters.error_message())
    try:
        query = _gallery_query(request, filters)
    except ValueError as exc:
        return bad_request(request, str(exc))
    image = _visible_image(request, pk)
    previous, following = selectors.image_neighbours(image=image, viewer=request.user, query=query)
    view = ImageView(
        image,
        viewer=request.user,
        previous=previous,
        following=following,
        filters=request.GET.urlencode(),
        in_dialog=bool(request.htmx),
    )
    if request.htmx:
        return render(request, "gallery/image.html#lightbox", {"view": view})
    return render(request, "gallery/image.html", {"view": view})


@require_GET
def image_thumbnail(request, pk: int):
    image = _visible_image(request, pk)
    return _file_response(
        request, image.thumbnail.name, content_type=media.THUMBNAIL_MIME, cache=CACHE_FOREVER
    )


@require_GET
def image_original(request, pk: int):
    image = _visible_image(request, pk)
    return _file_response(
        request, image.file.name, content_type=media.mime_type(image.format), cache=CACHE_FOREVER
    )


@require_GET
def image_download(request, pk: int):
    """The original, or with `?as=png|jpeg|webp` converted to that format on the fly."""
    image = _visible_image(request, pk)
    try:
        to = downloads.target_format(request.GET.get("as", ""), original=image.format)
    except downloads.UnknownFormat as exc:
        return bad_request(request, str(exc))
    if to is None:
        return _file_response(
            request,
            image.file.name,
            content_type=media.mime_type(image.format),
            cache="private, no-cache",
            as_attachment=True,
            filename=downloads.filename_for(image),
        )
    try:
        converted = downloads.converted(image, to, wait=settings.IMAGE_DECODE_WAIT_SECONDS)
    except files.StorageError as exc:
        return _storage_failed(request, exc)
    except imaging.ImageRejected as exc:
        return _conversion_failed(request, exc)
    response = FileResponse(
        converted,
        content_type=media.mime_type(to),
        as_attachment=True,
        filename=downloads.filename_for(image, image_format=to),
    )
    response.block_size = downloads.CHUNK
    response["Cache-Control"] = "private, no-cache"
    return response


@require_GET
def run_download(request, pk: int):
    """Every finished image of the run as one zip (with `?as=`, each converted), streamed as it
    is made."""
    run = _visible_run(request, pk)
    try:
        to = downloads.target_format(request.GET.get("as", ""), original="")
    except downloads.UnknownFormat as exc:
        return bad_request(request, str(exc))
    images = run.images.filter(status=Image.Status.SUCCEEDED, deleted_at__isnull=True)
    return zip_response(
        request,
        images.order_by("column", "position"),
        filename=downloads.zip_name_for(run),
        to=to,
        nothing="This run has no finished images yet, so there is nothing to download.",
    )


# Rows read from the database at a time while a zip is made: the zip never waits on one query
# for every image, nor holds them all.
ZIP_ROWS_PER_READ = 200


def zip_response(request, images: QuerySet, *, filename: str, to: str | None, nothing: str):
    """These images' originals (or, with `to`, each converted to that format) as one zip
    download, streamed as it is made: a run's, a board's, a selection's. The rows are read a
    batch at a time as the zip goes. No images answers 404 with `nothing`."""
    rows = _in_batches(images)
    first_image = next(rows, None)
    if first_image is None:
        return message_response(request, title="Nothing to download", message=nothing, status=404)
    pieces = _zip_pieces(first_image, rows, to=to)
    try:
        # The first file read (or converted) before answering: a storage that fails now gets a
        # clear answer, not a broken zip.
        next(pieces)
    except files.StorageError as exc:
        return _storage_failed(request, exc)
    except imaging.ImageRejected as exc:
        return _conversion_failed(request, exc)
    response = StreamingHttpResponse(pieces, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-cache"
    return response


def _in_batches(images: QuerySet) -> Iterator[Image]:
    """The images in their order, read ZIP_ROWS_PER_READ rows at a time: their ids first (a few
    bytes each), then each batch by id, under the same filters. No database cursor stays open
    while the zip is sent: a server-side cursor (what .iterator() is on PostgreSQL) left open by
    a download nobody finished was closed by the garbage collector in the middle of another
    query on the same connection, and hung it."""
    ids = list(images.values_list("pk", flat=True))
    for start in range(0, len(ids), ZIP_ROWS_PER_READ):
        batch = ids[start : start + ZIP_ROWS_PER_READ]
        found = images.filter(pk__in=batch).select_related("run").order_by().in_bulk()
        yield from (found[pk] for pk in batch if pk in found)


def _zip_pieces(first_image: Image, rows, *, to: str | None) -> Iterator[bytes]:
    """downloads.zip_stream over the rows, primed by one next() before answering (which makes
    the first piece, then yields b""). However it ends (sent, failed, the person went away), the
    open file is closed then, not when garbage is collected."""
    images = itertools.chain([first_image], rows)
    with contextlib.closing(rows), contextlib.closing(downloads.zip_stream(images, to=to)) as zip_:
        first = next(zip_)
        yield b""
        yield first
        yield from zip_


def _conversion_failed(request, exc: imaging.ImageRejected):
    return message_response(request, title="Could not convert", message=exc.message, status=503)


@require_POST
def image_star(request, pk: int):
    image = permissions.image_for_star(request, pk)
    starred = request.POST.get("starred", "toggle")
    services.image_set_starred(
        image=image, starred=(not image.starred) if starred == "toggle" else starred == "1"
    )
    if not request.htmx:
        return redirect_back(request, f"{reverse('studio')}#image-{image.pk}")
    response = render(request, "gallery/star_button.html", {"image": image})
    return trigger_client_event(response, "starChanged", {"id": image.pk, "starred": image.starred})


@require_POST
def image_delete(request, pk: int):
    image = permissions.image_for_change(request, pk)
    services.image_delete(image=image)
    if not request.htmx:
        return redirect(f"{reverse('studio')}#run-{image.run_id}")
    run = RunView(_visible_run(request, image.run_id), viewer=request.user)
    response = render(request, "gallery/image_deleted.html", {"image": image, "run": run})
    return trigger_client_event(response, "imageDeleted", {"id": image.pk})


@require_POST
def image_restore(request, pk: int):
    image = permissions.image_for_change(request, pk, deleted=True)
    services.image_restore(image=image)
    if not request.htmx:
        return redirect(f"{reverse('studio')}#image-{image.pk}")
    run = RunView(_visible_run(request, image.run_id), viewer=request.user)
    return render(request, f"{RUN}#run_oob", {"run": run})


@require_GET
def upload_thumbnail(request, pk: int):
    """An attached image's thumbnail: for its uploader, or anyone who can see a run that used it."""
    try:
        upload = edits.upload_visible_to(upload_id=pk, viewer=request.user)
    except Upload.DoesNotExist:
        raise Http404("No such image.") from None
    return _file_response(
        request, upload.thumbnail.name, content_type=media.THUMBNAIL_MIME, cache=CACHE_FOREVER
    )
