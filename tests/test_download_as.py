"""Download as: the original converted to PNG, JPEG or WebP on the fly, streamed, named as
today with the new extension; for one image and for a run's, a board's and a selection's zip
(one answer for the three: image_views.zip_response)."""

import gc
import io
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from PIL import Image as PILImage

from boards import services as board_services
from gallery import downloads, files
from gallery.models import Image
from tests.conftest import htmx_headers
from tests.factories import make_run, make_succeeded_image

pytestmark = pytest.mark.django_db


def finished(user, prompt="a green kite", count=1) -> list[Image]:
    run = make_run(user, prompt=prompt, count=count)
    return [make_succeeded_image(image, width=80, height=45) for image in run.images.all()]


@pytest.mark.parametrize(
    ("asked", "fmt", "ext"),
    [("jpeg", "JPEG", "jpg"), ("webp", "WEBP", "webp"), ("jpg", "JPEG", "jpg")],
)
def test_one_image_converted_and_named(signed_in, user, asked, fmt, ext):
    (image,) = finished(user)
    response = signed_in.get(f"/images/{image.pk}/download/", {"as": asked})
    assert response.status_code == 200 and response.streaming
    data = b"".join(response.streaming_content)
    with PILImage.open(io.BytesIO(data)) as picture:
        assert picture.format == fmt and picture.size == (80, 45)
    name = downloads.filename_for(image, image_format="jpeg" if ext == "jpg" else ext)
    assert name.endswith(f"-1.{ext}") and f'filename="{name}"' in response["Content-Disposition"]
    assert response["Content-Type"] == ("image/jpeg" if ext == "jpg" else "image/webp")


def test_the_original_format_or_original_sends_the_stored_bytes(signed_in, user):
    (image,) = finished(user)
    stored = image.file.open("rb").read()
    for asked in ("", "original", image.format):
        response = signed_in.get(f"/images/{image.pk}/download/", {"as": asked})
        assert b"".join(response.streaming_content) == stored


def test_transparency_turns_white_in_jpeg(signed_in, user):
    (image,) = finished(user)
    buffer = io.BytesIO()
    PILImage.new("RGBA", (8, 8), (255, 0, 0, 0)).save(buffer, "PNG")
    default_storage.delete(image.file.name)  # the original becomes a transparent PNG
    default_storage.save(image.file.name, ContentFile(buffer.getvalue()))
    response = signed_in.get(f"/images/{image.pk}/download/", {"as": "jpeg"})
    with PILImage.open(io.BytesIO(b"".join(response.streaming_content))) as picture:
        assert picture.mode == "RGB"
        assert all(channel > 245 for channel in picture.getpixel((4, 4)))


@pytest.mark.parametrize("htmx", [False, True])
def test_an_unknown_format_is_a_clear_message(signed_in, user, htmx):
    (image,) = finished(user)
    headers = htmx_headers() if htmx else {}
    response = signed_in.get(f"/images/{image.pk}/download/", {"as": "bmp"}, headers=headers)
    assert response.status_code == 400
    assert "choose original, png, jpeg or webp" in response.content.decode()


def test_the_lightbox_offers_the_other_formats(signed_in, user):
    (image,) = finished(user)
    html = signed_in.get(f"/images/{image.pk}/").content.decode()
    assert 'role="group" aria-label="Download as"' in html
    assert f'href="/images/{image.pk}/download/?as=jpeg" download>JPEG</a>' in html
    assert f'href="/images/{image.pk}/download/?as=webp" download>WebP</a>' in html
    assert "?as=png" not in html  # it is a PNG already


def test_the_selection_zip_converted(signed_in, user):
    images = finished(user, count=2)
    response = signed_in.post(
        "/selection/",
        {"action": "download", "ids": ",".join(str(i.pk) for i in images), "as": "webp"},
    )
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert sorted(archive.namelist()) == sorted(
        downloads.filename_for(i, image_format="webp") for i in images
    )
    for name in archive.namelist():
        with PILImage.open(io.BytesIO(archive.read(name))) as picture:
            assert picture.format == "WEBP"
    bad = signed_in.post(
        "/selection/", {"action": "download", "ids": str(images[0].pk), "as": "tiff"}
    )
    assert bad.status_code == 400


# --- a run's, a board's and a selection's zip -------------------------------------------------


def test_the_run_and_board_pages_offer_download_all_as_a_plain_get_form(signed_in, user):
    images = finished(user, count=2)
    board = board_of(user, images)
    for page, action in (
        (f"/runs/{images[0].run_id}/", f"/runs/{images[0].run_id}/download/"),
        (f"/boards/{board.pk}/", f"/boards/{board.pk}/download/"),
        ("/", f"/runs/{images[0].run_id}/download/"),  # the studio's gallery
    ):
        html = signed_in.get(page).content.decode()
        form = html[html.index(f'<form class="download-all" method="get" action="{action}">') :]
        form = form[: form.index("</form>")]
        assert '<span class="visually-hidden">Download all as</span>' in form
        assert '<select name="as">' in form and '<option value="webp">WebP</option>' in form
        assert 'type="submit"' in form and ">Download all</button>" in form


def board_of(user, images):
    board = board_services.board_create(owner=user, name="Kites")
    board_services.board_add_images(board=board, viewer=user, image_ids=[i.pk for i in images])
    return board


def zip_of(client, kind: str, user, images, asked: str = "", headers=None):
    """The zip download of `images` (all of one run) as a run's, a board's or a selection's."""
    data = {"as": asked} if asked else {}
    if kind == "run":
        return client.get(f"/runs/{images[0].run_id}/download/", data, headers=headers)
    if kind == "board":
        return client.get(f"/boards/{board_of(user, images).pk}/download/", data, headers=headers)
    ids = ",".join(str(i.pk) for i in images)
    return client.post("/selection/", {"action": "download", "ids": ids, **data}, headers=headers)


KINDS = ["run", "board", "selection"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("asked", "fmt", "pillow"), [("jpeg", "jpeg", "JPEG"), ("webp", "webp", "WEBP")]
)
def test_a_zip_converted_has_the_new_extensions_and_decodes_as_that_format(
    signed_in, user, kind, asked, fmt, pillow
):
    images = finished(user, count=2)
    response = zip_of(signed_in, kind, user, images, asked)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    expected = sorted(downloads.filename_for(i, image_format=fmt) for i in images)
    assert sorted(archive.namelist()) == expected
    assert all(name.endswith(f".{'jpg' if fmt == 'jpeg' else fmt}") for name in expected)
    for name in archive.namelist():
        with PILImage.open(io.BytesIO(archive.read(name))) as picture:
            assert picture.format == pillow and picture.size == (80, 45)


@pytest.mark.parametrize("kind", ["run", "board"])
def test_a_zip_of_originals_holds_the_stored_bytes(signed_in, user, kind):
    images = finished(user, count=2)
    for asked in ("", "original", "png"):  # the originals are PNGs already
        archive = zipfile.ZipFile(
            io.BytesIO(b"".join(zip_of(signed_in, kind, user, images, asked).streaming_content))
        )
        for image in images:
            assert archive.read(downloads.filename_for(image)) == image.file.open("rb").read()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("htmx", [False, True])
def test_a_zip_in_an_unknown_format_is_a_clear_400(signed_in, user, kind, htmx):
    images = finished(user)
    headers = htmx_headers() if htmx else {}
    response = zip_of(signed_in, kind, user, images, "bmp", headers=headers)
    assert response.status_code == 400
    assert "“bmp” is not a format to download as" in response.content.decode()


@pytest.mark.parametrize("kind", KINDS)
def test_a_zip_whose_first_file_is_missing_says_so_instead_of_a_broken_zip(signed_in, user, kind):
    images = finished(user, count=2)
    for image in images:
        image.file.storage.delete(image.file.name)
    for asked in ("", "webp"):
        response = zip_of(signed_in, kind, user, images, asked)
        assert response.status_code == 404
        assert "file is missing from the file storage" in response.content.decode()


def test_a_board_zip_is_streamed_reading_rows_and_files_as_it_goes(signed_in, user):
    images = finished(user, count=4)
    board = board_of(user, images)

    def entries_and_queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            response = signed_in.get(f"/boards/{board.pk}/download/")
            assert isinstance(response, StreamingHttpResponse)
            archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
        return len(archive.namelist()), len(queries)

    entries_and_queries()  # the first request also checks once that the team has anyone
    four, few = entries_and_queries()
    more = finished(user, "more kites", count=4)
    board_services.board_add_images(board=board, viewer=user, image_ids=[i.pk for i in more])
    eight, many = entries_and_queries()
    assert (four, eight) == (4, 8)
    assert many == few  # one read of the rows with their runs, however many images

    # The answer is given once the first file is read: a later file that has gone breaks the
    # zip part-way (it never looks complete) rather than being read before answering.
    oldest = images[0]
    oldest.file.storage.delete(oldest.file.name)
    response = signed_in.get(f"/boards/{board.pk}/download/")
    assert response.status_code == 200
    with pytest.raises(files.FileMissing):
        b"".join(response.streaming_content)


@pytest.mark.parametrize("kind", KINDS)
def test_a_zip_nobody_reads_holds_no_database_cursor(signed_in, user, kind):
    """Its rows are read in batches by id, each read finished before the next: a download
    abandoned after the first file leaves nothing open on the connection. (A PostgreSQL
    server-side cursor left open was closed by the garbage collector in the middle of a later
    query on the same connection, and hung it.)"""
    images = finished(user, count=3)
    response = zip_of(signed_in, kind, user, images)
    assert response.status_code == 200
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_cursors")
            assert cursor.fetchone()[0] == 0
    del response
    gc.collect()
    assert Image.objects.filter(pk__in=[i.pk for i in images]).count() == 3
