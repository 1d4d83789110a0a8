"""File facts (gallery/media.py): stored names, extensions, mime types and versioned URLs, and
that every part of the studio (the worker, uploads, edits, the file views, downloads, the
templates) goes by them."""

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage

from gallery import edits, media, runner
from gallery.models import Image, Run, Upload
from tests.conftest import htmx_headers
from tests.factories import make_run, make_succeeded_image

pytestmark = pytest.mark.django_db

TOKEN = r"[0-9a-f]{12}"


def jpeg_bytes(width: int = 48, height: int = 32) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (width, height), (20, 120, 200)).save(out, "JPEG")
    return out.getvalue()


def test_generated_image_names_end_in_a_fresh_token_which_is_their_version():
    names = media.image_names(run_id=7, image_id=42, image_format="jpeg")
    match = re.fullmatch(rf"images/\d{{4}}/\d{{2}}/7-42-({TOKEN})\.jpg", names.file)
    assert match, names.file
    token = match[1]
    assert re.fullmatch(rf"thumbs/\d{{4}}/\d{{2}}/7-42-{token}\.webp", names.thumbnail)
    assert media.version(names.file) == token
    again = media.image_names(run_id=7, image_id=42, image_format="jpeg")
    assert media.version(again.file) != token  # a new file, a new URL


def test_upload_names_share_one_stem_and_write_jpeg_as_jpg():
    names = media.upload_names(image_format="jpeg")
    assert re.fullmatch(rf"({TOKEN})\.jpg", names.file)
    assert names.thumbnail == names.file.replace(".jpg", ".webp")


@pytest.mark.parametrize(
    ("image_format", "extension", "mime"),
    [
        ("png", "png", "image/png"),
        ("jpeg", "jpg", "image/jpeg"),
        ("webp", "webp", "image/webp"),
        ("gif", "gif", "image/gif"),
        ("", "bin", "application/octet-stream"),
    ],
)
def test_extensions_and_mime_types(image_format, extension, mime):
    assert media.extension(image_format) == extension
    assert media.mime_type(image_format) == mime


@pytest.mark.parametrize(
    ("file_name", "version"),
    [
        ("images/2026/01/7-42-0123456789ab.png", "0123456789ab"),
        ("images/2026/01/7-42-0123456789ab_Xy12Zq9.png", "0123456789ab_Xy12Zq9"),  # renamed
        ("images/seed/12-3.png", "3"),  # seeded benchmark images
        ("images/2026/01/cat.png", "cat"),  # not named by media: still only the name
        ("", "0"),
    ],
)
def test_the_version_is_the_last_part_of_the_file_name(file_name, version):
    assert media.version(file_name) == version


def test_image_urls_carry_only_the_version_never_the_folders():
    image = Image(pk=5, file="images/2026/01/cat.png")
    assert image.thumb_url == "/images/5/thumbnail.webp?v=cat"
    assert image.original_url == "/images/5/original?v=cat"


@pytest.mark.django_db(transaction=True)
def test_a_jpeg_from_the_worker_is_stored_served_and_downloaded_by_the_media_names(signed_in):
    # The offline renderer writes the edit's output format: a JPEG, end to end.
    signed_in.post(
        "/uploads/", {"image": SimpleUploadedFile("p.png", jpeg_bytes())}, headers=htmx_headers()
    )
    signed_in.post(
        "/generate/",
        {
            "prompt": "as a jpeg",
            "model": ["offline/aurora"],
            "source": [f"upload:{Upload.objects.get().pk}"],
            "aspect_ratio": "auto",
            "resolution": "0.5K",
            "output_format": "jpeg",
        },
        headers=htmx_headers(),
    )
    run = Run.objects.get()
    runner.make_images(run_id=run.pk)
    image = run.images.get()
    assert image.status == "succeeded", image.error

    stem = rf"{run.pk}-{image.pk}-({TOKEN})"
    match = re.fullmatch(rf"images/\d{{4}}/\d{{2}}/{stem}\.jpg", image.file.name)
    assert match, image.file.name
    assert re.fullmatch(rf"thumbs/\d{{4}}/\d{{2}}/{stem}\.webp", image.thumbnail.name)
    token = match[1]

    page = signed_in.get("/").content.decode()
    assert f'src="/images/{image.pk}/thumbnail.webp?v={token}"' in page
    lightbox = signed_in.get(f"/images/{image.pk}/", headers=htmx_headers()).content.decode()
    assert f'src="/images/{image.pk}/original?v={token}"' in lightbox

    original = signed_in.get(f"/images/{image.pk}/original?v={token}")
    assert original["Content-Type"] == "image/jpeg"
    thumbnail = signed_in.get(f"/images/{image.pk}/thumbnail.webp?v={token}")
    assert thumbnail["Content-Type"] == "image/webp"
    download = signed_in.get(f"/images/{image.pk}/download/")
    assert download["Content-Type"] == "image/jpeg"
    assert re.search(
        r'filename="as-a-jpeg-offline-aurora-\d{8}-\d{6}-1\.jpg"', download["Content-Disposition"]
    )


def test_a_jpeg_upload_is_stored_as_jpg_and_sent_upstream_as_image_jpeg(user):
    upload = edits.upload_store(user=user, data=jpeg_bytes(), name="photo.jpeg")
    assert re.fullmatch(rf"uploads/\d{{4}}/\d{{2}}/{TOKEN}\.jpg", upload.file.name)
    assert upload.thumbnail.name.startswith("uploads/thumbs/")
    assert upload.thumb_url == f"/uploads/{upload.pk}/thumbnail.webp"

    run = make_run(user)
    sources = edits.sources_from_tokens([f"upload:{upload.pk}"], viewer=user)
    edits.sources_record(run=run, sources=sources)
    [sent] = edits.input_images(run)
    assert (sent.mime, sent.filename) == ("image/jpeg", "input-1.jpg")


def test_an_original_of_unknown_format_is_not_served_with_a_broken_content_type(signed_in, user):
    image = make_succeeded_image(make_run(user).images.get())
    Image.objects.filter(pk=image.pk).update(format="")
    response = signed_in.get(image.original_url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
