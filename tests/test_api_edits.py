"""POST /v1/images/edits through the test client with the real worker: the gateway's JSON form
(https links fetched by the worker, data URLs) and OpenAI's multipart form (image, image[],
mask), every input through the same checks as the prompt box's attachments."""

import base64
import io
import json

import pytest
from django.test import Client
from PIL import Image as PillowImage

from api import tokens
from gallery.models import EditSource, Run, Upload
from tests.browser import start_worker, stop_worker
from tests.factories import listed_models, png_bytes
from tests.test_api_generations import body_of, error_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def making(settings, transactional_db):
    """The real worker on the test database (after the fixtures that set what it reads)."""
    process = start_worker(settings)
    yield process
    output = stop_worker(process)
    assert "Traceback" not in output, output


@pytest.fixture
def secret(user):
    _, secret = tokens.token_create(user=user, name="edits")
    return secret


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def post_json(secret, body):
    return Client().post(
        "/v1/images/edits",
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )


def post_form(secret, data):
    return Client().post("/v1/images/edits", data, headers={"Authorization": f"Bearer {secret}"})


def named(data: bytes, name: str) -> io.BytesIO:
    f = io.BytesIO(data)
    f.name = name
    return f


@pytest.fixture
def image_host(fake_gateway, settings, tmp_path):
    settings.GATEWAY_URL_FETCH_ALLOW_PRIVATE = True  # the test's HTTPS host is on loopback
    settings.GATEWAY_URL_FETCH_CA_FILE = fake_gateway.write_ca_pem(tmp_path / "ca.pem")
    settings.LINK_FETCH_DEADLINE_SECONDS = 3.0
    fake_gateway.models = []  # the whole catalog, so gpt-image-2 can edit
    return fake_gateway


def test_a_json_edit_of_a_data_url_is_an_edit_run(user, secret, making):
    response = post_json(
        secret,
        {"model": "offline/aurora", "prompt": "make it night",
         "images": [{"image_url": data_url(png_bytes(300, 200))}]},
    )  # fmt: skip
    assert response.status_code == 200, response.content
    result = PillowImage.open(
        io.BytesIO(base64.b64decode(body_of(response)["data"][0]["b64_json"]))
    )
    assert result.width > result.height  # "auto": the input's proportions
    run = Run.objects.get()
    assert run.kind == Run.Kind.EDIT and run.api_token_name == "edits"
    [source] = EditSource.objects.filter(run=run)
    assert source.upload.created_by == user and source.upload.width == 300


def test_a_json_edit_of_https_links_waits_for_the_worker_to_fetch_them(image_host, secret, making):
    urls = [image_host.https_url_for(png_bytes(64, 48)), image_host.https_url_for(png_bytes(32))]
    response = post_json(
        secret,
        {"model": "gpt-image-2", "prompt": "merge them", "size": "1024x1024",
         "images": [{"image_url": url} for url in urls]},
    )  # fmt: skip
    assert response.status_code == 200, response.content
    [call] = image_host.calls(path="images/edits")
    assert len(call.json["images"]) == 2
    assert all(i["image_url"].startswith("data:image/png;base64,") for i in call.json["images"])
    assert list(Upload.objects.values_list("status", flat=True)) == ["ready", "ready"]


def test_a_link_that_fails_to_fetch_is_a_400_naming_images(image_host, secret, making):
    url = image_host.https_url_for(b"just text", content_type="image/png")
    response = post_json(
        secret, {"model": "gpt-image-2", "prompt": "x", "images": [{"image_url": url}]}
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["param"] == "images" and "not an image" in error["message"].lower()
    assert not Run.objects.exists()


@pytest.mark.parametrize(
    "images, words",
    [
        ([{"image_url": "http://example.com/a.png"}], "https"),
        ([{"image_url": "https://127.0.0.1/a.png"}], "private"),
        ([{"image_url": "data:image/png;base64,@@@"}], "base64"),
        ([{"image_url": data_url(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg")}],
         "not"),
        ([{"url": "x"}], "image_url"),
        ([], "images"),
        ("https://example.com/a.png", "images"),
    ],
)  # fmt: skip
def test_bad_input_images_are_a_400_naming_images(secret, images, words):
    response = post_json(secret, {"model": "offline/aurora", "prompt": "x", "images": images})
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["param"] == "images" and words in error["message"].lower()


def test_an_oversized_data_url_is_a_413(secret):
    huge = "data:image/png;base64," + "A" * (28 * 1024 * 1024)
    response = post_json(
        secret, {"model": "offline/aurora", "prompt": "x", "images": [{"image_url": huge}]}
    )
    assert response.status_code == 413 and error_of(response)["code"] == "image_too_large"


def test_a_multipart_edit_with_several_images_and_a_mask(image_host, secret, making):
    response = post_form(
        secret,
        {"model": "gpt-image-2", "prompt": "blend", "n": "2", "quality": "low",
         "output_format": "webp", "image[]": [named(png_bytes(40, 40), "a.png"),
                                              named(png_bytes(50, 50), "b.png")],
         "mask": named(png_bytes(40, 40), "mask.png")},
    )  # fmt: skip
    assert response.status_code == 200, response.content
    assert len(body_of(response)["data"]) == 2
    calls = image_host.calls(path="images/edits")
    assert len(calls) == 2 and all(len(c.json["images"]) == 3 for c in calls)
    assert {c.json["output_format"] for c in calls} == {"webp"}
    assert EditSource.objects.count() == 3


def test_a_multipart_file_that_is_not_an_image_is_a_400_naming_image(secret):
    response = post_form(secret, {"prompt": "x", "image": named(b"%PDF-1.4", "doc.pdf")})
    assert response.status_code == 400 and error_of(response)["param"] == "image"


def test_an_edit_only_model_needs_an_image_and_a_generator_cannot_edit(fake_gateway, secret):
    # Every edit-only model is deactivated now: one the gateway still lists is offered.
    fake_gateway.models = listed_models("alibaba/qwen-image-edit-plus", "meta/muse-image-1.0")
    response = Client().post(
        "/v1/images/generations",
        json.dumps({"model": "alibaba/qwen-image-edit-plus", "prompt": "x"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 400 and "attach an image" in error_of(response)["message"]
    response = post_json(
        secret,
        {"model": "meta/muse-image-1.0", "prompt": "x",
         "images": [{"image_url": data_url(png_bytes(20, 20))}]},
    )  # fmt: skip
    assert response.status_code == 400 and error_of(response)["param"] == "model"


def test_a_link_no_worker_fetches_in_time_is_a_400(secret, settings, monkeypatch):
    settings.LINK_FETCH_DEADLINE_SECONDS = 0.2  # and no worker running
    monkeypatch.setattr(Upload, "FETCH_GRACE_SECONDS", 0)
    response = post_json(
        secret,
        {"model": "offline/aurora", "prompt": "x",
         "images": [{"image_url": "https://images.example.com/fox.png"}]},
    )  # fmt: skip
    assert response.status_code == 400
    error = error_of(response)
    assert error["param"] == "images" and error["code"] == "image_fetch_failed"
    assert "took too long" in error["message"]
