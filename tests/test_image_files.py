"""An image's stored files served by the studio: a file gone from storage (a botched restore, a
bucket sync that missed it) is a clear 404 that is not cached, never a 500."""

import pytest
from django.test import Client, RequestFactory

from api import answers
from gallery import edits
from tests.conftest import htmx_headers
from tests.factories import make_run, make_succeeded_image, png_bytes

pytestmark = pytest.mark.django_db


def succeeded(user):
    return make_succeeded_image(make_run(user).images.get())


@pytest.mark.parametrize(
    ("field", "suffix"),
    [
        ("thumbnail", "thumbnail.webp"),
        ("file", "original"),
        ("file", "download/"),
    ],
)
def test_a_file_missing_from_storage_is_a_clear_404(signed_in, user, field, suffix):
    image = succeeded(user)
    stored = getattr(image, field)
    stored.storage.delete(stored.name)
    response = signed_in.get(f"/images/{image.pk}/{suffix}")
    assert response.status_code == 404
    assert "missing" in response.content.decode()
    assert "immutable" not in response.get("Cache-Control", "")


def test_a_missing_thumbnail_is_a_toast_inside_the_page(signed_in, user):
    image = succeeded(user)
    image.thumbnail.storage.delete(image.thumbnail.name)
    response = signed_in.get(f"/images/{image.pk}/thumbnail.webp", headers=htmx_headers())
    assert response.status_code == 404 and "missing" in response.content.decode()


def test_a_succeeded_image_without_a_thumbnail_name_is_a_404(signed_in, user):
    image = succeeded(user)
    type(image).objects.filter(pk=image.pk).update(thumbnail="")
    response = signed_in.get(f"/images/{image.pk}/thumbnail.webp")
    assert response.status_code == 404


def test_files_that_are_there_are_served_and_cached(signed_in, user):
    image = succeeded(user)
    response = signed_in.get(f"/images/{image.pk}/thumbnail.webp")
    assert response.status_code == 200 and "immutable" in response["Cache-Control"]
    assert b"".join(response.streaming_content)[:4] == b"RIFF"


def test_a_missing_attachment_thumbnail_is_a_404(signed_in, user):
    upload = edits.upload_store(user=user, data=png_bytes(), name="fox.png")
    upload.thumbnail.storage.delete(upload.thumbnail.name)
    response = signed_in.get(f"/uploads/{upload.pk}/thumbnail.webp")
    assert response.status_code == 404 and "missing" in response.content.decode()


def test_an_api_link_to_a_missing_original_is_a_404_in_the_envelope(user):
    image = succeeded(user)
    image.file.storage.delete(image.file.name)
    url = answers.image_url(RequestFactory().get("/"), image)
    response = Client().get(url.removeprefix("http://testserver"))
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "file_missing" and "missing" in error["message"]
