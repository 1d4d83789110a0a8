"""Files in an S3-compatible bucket: moto's S3 server on loopback (tests/s3_server.py), reached
over HTTP by boto3 exactly as a real bucket would be. Every kind of file makes the round trip
(originals, thumbnails, uploads for edits, downloads, the zip, purge), objects stay private, and
a bucket answering 500 or 503, or not at all, fails only what it touches, with a clear answer."""

import io
import time
import zipfile
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone
from PIL import Image as PILImage

from boards import services as board_services
from gallery import files, runner
from gallery.image_views import FILE_UNREADABLE
from gallery.models import Image, Run, Upload
from gallery.views import UPLOAD_NOT_STORED
from tests.conftest import htmx_headers
from tests.factories import make_run, make_succeeded_image, png_bytes
from tests.storage import is_stored, stored_names

pytestmark = pytest.mark.django_db(transaction=True)

FAULTS = [
    pytest.param({"status": 500}, id="500"),
    pytest.param({"status": 503}, id="503"),
    pytest.param({"hang": True}, id="timeout"),
]


def inject(s3, method: str, fault: dict, *, path: str = "") -> None:
    if fault.get("hang"):
        s3.hang(method, path=path)
    else:
        s3.fail(method, status=fault["status"], path=path)


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def made_run(user, *, count: int = 1, models=None) -> Run:
    run = make_run(user, count=count, models=models)
    runner.make_images(run_id=run.pk)
    return run


# --- the round trip ---------------------------------------------------------------------------


def test_generated_originals_and_thumbnails_are_objects_served_after_the_check(
    bucket, signed_in, user, client, other_user, settings
):
    run = made_run(user, count=2)
    images = list(run.images.all())
    assert all(i.status == Image.Status.SUCCEEDED for i in images), [i.error for i in images]
    location = settings.STORAGES["default"]["OPTIONS"]["location"]
    expected = sorted(n for i in images for n in (i.file.name, i.thumbnail.name))
    assert stored_names() == expected  # in the bucket, under the test's folder, nothing else
    assert all(n.startswith(("images/", "thumbs/")) for n in expected)
    assert bucket.requests["PUT"] == 4

    s3 = s3_of()
    for image in images:
        key = f"{location}/{image.file.name}"
        data = s3.get_object(Bucket="studio-tests", Key=key)["Body"].read()
        original = signed_in.get(f"/images/{image.pk}/original")
        assert original.status_code == 200 and original.streaming
        assert original["Content-Length"] == str(len(data)) == str(image.bytes)
        assert body(original) == data
        thumb = signed_in.get(f"/images/{image.pk}/thumbnail.webp")
        assert thumb["Content-Type"] == "image/webp"
        with PILImage.open(io.BytesIO(body(thumb))) as small:
            assert small.size == (image.thumb_width, image.thumb_height)
        # Private: only the owner is granted anything, nobody else (no AllUsers, no public URL).
        grants = s3.get_object_acl(Bucket="studio-tests", Key=key)["Grants"]
        assert [g["Grantee"].get("URI") for g in grants] == [None]
        assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]

    # Someone else's private run: the view says 404 before the bucket is asked.
    Run.objects.filter(pk=run.pk).update(is_private=True)
    client.force_login(other_user)
    bucket.clear()
    assert client.get(f"/images/{images[0].pk}/original").status_code == 404
    assert bucket.requests["GET"] == 0


def test_an_original_is_streamed_in_pieces_not_read_whole(bucket, signed_in, user):
    run = make_run(user)
    image = make_succeeded_image(run.images.get())
    big = png_bytes(1200, 1200) + bytes(3 * 1024 * 1024)  # a 3 MB object
    files.delete(image.file.name)
    name = files.save(image.file.name, big)
    Image.objects.filter(pk=image.pk).update(file=name, bytes=len(big))
    # The bucket sends the first 512 KB, then nothing until released: the first piece must
    # reach the browser before the rest of the object has even left the bucket.
    bucket.stall("GET", after=512 * 1024, path=image.file.name)
    started = time.monotonic()
    response = signed_in.get(f"/images/{image.pk}/original")
    assert response["Content-Length"] == str(len(big))
    pieces = iter(response.streaming_content)
    first = next(pieces)
    assert time.monotonic() - started < 10  # not held until the stall's 60 s limit
    assert first == big[: len(first)] and 0 < len(first) <= 256 * 1024
    bucket.release()
    rest = list(pieces)
    assert len(rest) >= 11 and max(len(p) for p in rest) <= 256 * 1024
    assert first + b"".join(rest) == big


def test_downloads_and_the_zip_come_from_the_bucket(bucket, signed_in, user):
    run = made_run(user, count=2, models=["offline/aurora", "offline/mosaic"])
    images = list(run.images.all())
    download = signed_in.get(f"/images/{images[0].pk}/download/")
    assert download["Content-Disposition"].startswith("attachment;")
    assert body(download) == files.read(images[0].file.name)
    archive = zipfile.ZipFile(io.BytesIO(body(signed_in.get(f"/runs/{run.pk}/download/"))))
    assert sorted(archive.read(n) for n in archive.namelist()) == sorted(
        files.read(i.file.name) for i in images
    )


def test_uploads_for_edits_go_to_the_bucket_and_back_to_the_model(bucket, signed_in, user):
    response = signed_in.post(
        "/uploads/",
        {"image": SimpleUploadedFile("cat.png", png_bytes(80, 60))},
        headers=htmx_headers(),
    )
    assert response.status_code == 200
    upload = Upload.objects.get()
    assert sorted(stored_names()) == sorted([upload.file.name, upload.thumbnail.name])
    assert upload.file.name.startswith("uploads/")
    thumb = signed_in.get(f"/uploads/{upload.pk}/thumbnail.webp")
    assert thumb.status_code == 200 and body(thumb)[:4] == b"RIFF"

    edit = signed_in.post(
        "/generate/",
        {"prompt": "make it blue", "model": "offline/aurora", "source": f"upload:{upload.pk}"},
    )
    assert edit.status_code == 302
    run = Run.objects.get(kind=Run.Kind.EDIT)
    runner.make_images(run_id=run.pk)
    result = run.images.get()
    assert result.status == Image.Status.SUCCEEDED, result.error
    assert is_stored(result.file.name) and is_stored(result.thumbnail.name)


def test_purge_removes_the_objects(bucket, user, settings):
    keep = made_run(user)
    gone = made_run(user, count=2)
    gone_names = [n for i in gone.images.all() for n in (i.file.name, i.thumbnail.name)]
    long_ago = timezone.now() - timedelta(days=settings.DELETED_RETENTION_DAYS + 1)
    Run.objects.filter(pk=gone.pk).update(deleted_at=long_ago)
    out = io.StringIO()
    call_command("purge_deleted", stdout=out)
    assert "Purged 1 run(s) and 2 image(s); deleted 4 file(s)." in out.getvalue()
    kept = keep.images.get()
    assert stored_names() == sorted([kept.file.name, kept.thumbnail.name])
    assert not any(is_stored(n) for n in gone_names)


# --- the bucket failing on a write --------------------------------------------------------------


@pytest.mark.parametrize("fault", FAULTS)
def test_a_write_that_fails_fails_only_that_tile_with_retry(bucket, signed_in, user, fault):
    inject(bucket, "PUT", fault)
    started = time.monotonic()
    run = made_run(user)
    image = run.images.get()
    assert time.monotonic() - started < 15  # a hang is given up on (timeouts x attempts)
    assert image.status == Image.Status.FAILED
    assert image.error == runner.STORAGE_FAILED
    assert "could not be stored" in image.error and "Retry" in image.error
    assert not image.file and not image.thumbnail  # no row points at a missing object
    bucket.clear()
    assert stored_names() == []

    # Retry, with the bucket back: the same tile is made and stored.
    assert image.can_retry
    assert signed_in.post(f"/images/{image.pk}/retry/", headers=htmx_headers()).status_code == 200
    runner.make_images(run_id=run.pk, image_ids=[image.pk])
    image.refresh_from_db()
    assert image.status == Image.Status.SUCCEEDED, image.error
    assert stored_names() == sorted([image.file.name, image.thumbnail.name])


def test_a_thumbnail_write_that_fails_leaves_no_original_behind(bucket, user):
    bucket.fail("PUT", status=503, path="/thumbs/")
    image = made_run(user).images.get()
    assert image.status == Image.Status.FAILED and image.error == runner.STORAGE_FAILED
    assert bucket.requests["PUT"] >= 2  # the original was written, then the thumbnail failed
    assert stored_names() == []  # and the original was taken back out


@pytest.mark.parametrize("fault", FAULTS)
def test_an_upload_the_bucket_will_not_take_is_a_503_and_no_row(bucket, signed_in, fault):
    inject(bucket, "PUT", fault)
    response = signed_in.post(
        "/uploads/", {"image": SimpleUploadedFile("cat.png", png_bytes())}, headers=htmx_headers()
    )
    assert response.status_code == 503
    assert response.content.decode() == UPLOAD_NOT_STORED
    assert not Upload.objects.exists()
    bucket.clear()
    assert stored_names() == []


# --- the bucket failing on a read ---------------------------------------------------------------


@pytest.mark.parametrize("fault", FAULTS)
def test_a_read_that_fails_is_a_clear_503_for_that_file_and_the_page_still_renders(
    bucket, signed_in, user, fault
):
    run = made_run(user, count=2)
    first, second = run.images.all()
    inject(bucket, "GET", fault, path=first.thumbnail.name)
    page = signed_in.get("/")
    assert page.status_code == 200
    assert f'id="image-{first.pk}"' in page.content.decode()
    broken = signed_in.get(f"/images/{first.pk}/thumbnail.webp")
    assert broken.status_code == 503 and broken["Retry-After"]
    assert FILE_UNREADABLE in broken.content.decode()
    fine = signed_in.get(f"/images/{second.pk}/thumbnail.webp")
    assert fine.status_code == 200 and body(fine)[:4] == b"RIFF"
    assert signed_in.get(f"/images/{first.pk}/").status_code == 200  # the permalink page


@pytest.mark.parametrize("url", ["original", "download/", "zip", "board zip", "selection zip"])
def test_originals_downloads_and_zips_answer_503_when_the_bucket_fails(
    bucket, signed_in, user, url
):
    run = made_run(user)
    image = run.images.get()
    board = board_services.board_create(owner=user, name="Kites")
    board_services.board_add_images(board=board, viewer=user, image_ids=[image.pk])
    bucket.fail("GET", status=503)
    if url == "selection zip":
        data = {"action": "download", "ids": str(image.pk), "as": "webp"}
        response = signed_in.post("/selection/", data, headers=htmx_headers())
    else:
        path = {
            "zip": f"/runs/{run.pk}/download/",
            "board zip": f"/boards/{board.pk}/download/?as=jpeg",
        }.get(url, f"/images/{image.pk}/{url}")
        response = signed_in.get(path, headers=htmx_headers())
    assert response.status_code == 503
    assert response.content.decode() == FILE_UNREADABLE  # a toast over htmx, not a broken file


def test_a_missing_object_is_a_404_not_a_500(bucket, signed_in, user):
    image = made_run(user).images.get()
    files.delete(image.file.name)
    response = signed_in.get(f"/images/{image.pk}/original")
    assert response.status_code == 404 and "missing" in response.content.decode()


def test_an_edit_whose_input_cannot_be_read_fails_with_retry(bucket, user):
    source = made_run(user).images.get()
    run = make_run(user, models=["offline/aurora"])
    Run.objects.filter(pk=run.pk).update(kind=Run.Kind.EDIT)
    run.sources.create(position=0, image=source)
    bucket.fail("GET", status=500)
    runner.make_images(run_id=run.pk)
    image = run.images.get()
    assert image.status == Image.Status.FAILED and image.error == runner.INPUT_UNREADABLE


def test_a_purge_the_bucket_refuses_keeps_the_rows_for_next_time(bucket, user, settings):
    run = made_run(user)
    names = [n for i in run.images.all() for n in (i.file.name, i.thumbnail.name)]
    Run.objects.filter(pk=run.pk).update(
        deleted_at=timezone.now() - timedelta(days=settings.DELETED_RETENTION_DAYS + 1)
    )
    bucket.fail("DELETE", status=503)
    err = io.StringIO()
    call_command("purge_deleted", stdout=io.StringIO(), stderr=err)
    assert "Kept 1 image(s)" in err.getvalue()
    assert Run.objects.filter(pk=run.pk).exists() and run.images.exists()
    bucket.clear()
    call_command("purge_deleted", stdout=io.StringIO())
    assert not Run.objects.filter(pk=run.pk).exists()
    assert not any(is_stored(n) for n in names)


# --- helpers ------------------------------------------------------------------------------------


def s3_of():
    from django.core.files.storage import default_storage

    return default_storage.connection.meta.client
