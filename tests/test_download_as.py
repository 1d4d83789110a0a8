"""Download as: the original converted to PNG, JPEG or WebP on the fly, streamed, named as
today with the new extension; for one image and for a selection's zip."""

import io
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image as PILImage

from gallery import downloads
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
