"""POST /v1/images/generations through the test client, with the real worker making the images
(the offline renderer, or the loopback gateway): each call is a run in the gallery, made the way
Generate makes one, answered when its images are stored; every refusal in OpenAI's envelope."""

import base64
import gzip
import io
import json
from decimal import Decimal

import pytest
from django.test import Client
from PIL import Image as PillowImage

from api import answers, tokens
from gallery.models import Image, Run
from team.models import TeamPolicy
from tests.browser import start_worker, stop_worker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def making(settings, transactional_db):
    """The real worker (`studio_worker`) on the test database: it makes the images."""
    process = start_worker(settings)
    yield process
    output = stop_worker(process)
    assert "Traceback" not in output, output


@pytest.fixture
def secret(user):
    _, secret = tokens.token_create(user=user, name="notebook")
    return secret


def post(secret: str, body, *, path="/v1/images/generations", **extra):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return Client().post(
        path,
        data,
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
        **extra,
    )


def body_of(response) -> dict:
    """A success's JSON (an answer with base64 images is streamed, read as it is sent)."""
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return json.loads(content)


def error_of(response) -> dict:
    error = json.loads(response.content)["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def decoded(b64: str) -> PillowImage.Image:
    return PillowImage.open(io.BytesIO(base64.b64decode(b64)))


# --- making images ----------------------------------------------------------------------------


def test_a_call_is_a_run_in_the_gallery_answered_when_its_images_are_stored(
    user, secret, making, monkeypatch
):
    # The answer is streamed, each original's base64 made a piece at a time: tiny pieces here.
    monkeypatch.setattr(answers, "B64_PIECE_BYTES", 3 * 7)
    response = post(
        secret,
        {"model": "offline/aurora", "prompt": "a lighthouse at dawn", "n": 2,
         "aspect_ratio": "16:9", "size": "256x256"},
        HTTP_ACCEPT_ENCODING="gzip",
    )  # fmt: skip
    assert response.status_code == 200, response.content
    assert "Content-Encoding" not in response  # base64 images: not worth gzip's time
    assert response.streaming
    body = body_of(response)
    assert len(body["data"]) == 2 and "errors" not in body
    first = decoded(body["data"][0]["b64_json"])
    assert first.width > first.height  # 16:9 wins over size, as on the gateway
    assert body["usage"]["cost"] == 0 and body["created"] > 0
    run = Run.objects.get()
    assert run.created_by == user and run.api_token_name == "notebook" and not run.is_private
    assert run.prompt == "a lighthouse at dawn" and run.count == 2
    assert run.settings["aspect_ratio"] == "16:9"
    images = list(run.images.order_by("position"))
    assert [i.status for i in images] == ["succeeded", "succeeded"]
    with images[0].file.open("rb") as f:
        assert base64.b64decode(body["data"][0]["b64_json"]) == f.read()


def test_the_run_shows_via_api_with_the_tokens_name(user, secret, making, signed_in):
    assert post(secret, {"model": "offline/mosaic", "prompt": "a fox"}).status_code == 200
    html = signed_in.get("/").content.decode()
    assert "via API · notebook" in html


def test_a_token_set_to_private_makes_private_runs(user, making):
    _, secret = tokens.token_create(user=user, name="private", private_runs=True)
    assert post(secret, {"model": "offline/mosaic", "prompt": "a secret fox"}).status_code == 200
    assert Run.objects.get().is_private


def test_url_answers_link_to_the_stored_original_for_a_while(user, secret, making, settings):
    response = post(
        secret,
        {"model": "offline/blueprint", "prompt": "a bridge", "response_format": "url",
         "output_format": "webp"},
    )  # fmt: skip
    assert response.status_code == 200, response.content
    url = body_of(response)["data"][0]["url"]
    assert url.startswith("http://testserver/v1/files/") and "b64_json" not in body_of(response)
    image = Image.objects.get()
    fetched = Client().get(url.removeprefix("http://testserver"))
    assert fetched.status_code == 200 and fetched["Content-Type"] == "image/webp"
    with image.file.open("rb") as f:
        assert b"".join(fetched.streaming_content) == f.read()
    assert image.request["output_format"] == "webp"  # output_format reaches generations
    tampered = url[:-3] + ("aaa" if not url.endswith("aaa") else "bbb")
    assert Client().get(tampered.removeprefix("http://testserver")).status_code == 404
    settings.API_URL_SECONDS = 0
    gone = Client().get(url.removeprefix("http://testserver"))
    assert gone.status_code == 404 and error_of(gone)["code"] == "link_expired"


def test_the_gateway_is_asked_what_the_catalog_maps_and_the_cost_is_its_usage(
    fake_gateway, user, secret, making
):
    fake_gateway.cost = 0.05
    response = post(
        secret,
        {"model": "gpt-image-2", "prompt": "a red fox", "n": 1, "size": "1536x1024",
         "quality": "high", "moderation": "low", "background": "opaque", "style": "vivid"},
    )  # fmt: skip
    assert response.status_code == 200, response.content
    assert body_of(response)["usage"]["cost"] == pytest.approx(0.05)
    [call] = fake_gateway.calls(path="images/generations")
    assert call.json["n"] == 1 and call.json["size"] == "1536x1024"
    assert call.json["quality"] == "high" and call.json["moderation"] == "low"
    assert call.json["background"] == "opaque" and call.json["style"] == "vivid"
    assert Image.objects.get().cost == Decimal("0.05")


def test_a_flex_call_is_sent_the_tier_and_costs_its_share(fake_gateway, secret, making):
    fake_gateway.cost = None  # no usage.cost: the catalog's price, times the tier's multiplier
    fake_gateway.models = []  # the whole catalog
    response = post(
        secret,
        {"model": "gemini-3-pro-image", "prompt": "a fox", "service_tier": "flex",
         "image_size": "4K"},
    )  # fmt: skip
    assert response.status_code == 200, response.content
    [call] = fake_gateway.calls(path="images/generations")
    assert call.model == "gemini-3-pro-image-preview"  # the GA id is the same catalog model
    assert call.json["service_tier"] == "flex" and call.json["image_size"] == "4K"
    assert body_of(response)["usage"]["cost"] == pytest.approx(0.12)  # 0.24 x 0.5
    assert Image.objects.get().estimated_cost == Decimal("0.12")


def test_one_failed_image_of_n_does_not_fail_the_others(fake_gateway, user, secret, making):
    fake_gateway.add_rule(
        status=400, response="error_new", body="Your prompt was refused.", times=1
    )
    response = post(secret, {"model": "gpt-image-2", "prompt": "two foxes", "n": 2})
    assert response.status_code == 200, response.content
    body = body_of(response)
    assert len(body["data"]) == 1
    [failed] = body["errors"]
    assert "Your prompt was refused." in failed["message"] and failed["status"] == "failed"
    assert body["message"] == "1 of 2 images failed; the others are in `data`."


def test_all_images_failing_is_a_502_with_the_gateways_message(fake_gateway, secret, making):
    fake_gateway.add_rule(status=500, response="error_new", body="The model is down.")
    response = post(secret, {"model": "gpt-image-2", "prompt": "a fox"})
    assert response.status_code == 502
    error = error_of(response)
    assert error["type"] == "upstream_error" and "The model is down." in error["message"]


def test_images_not_ready_in_time_are_a_504_and_still_land_in_the_gallery(secret, settings):
    settings.API_WAIT_SECONDS = 0.3  # and no worker: nothing is made in time
    response = post(secret, {"model": "offline/aurora", "prompt": "a slow fox"})
    assert response.status_code == 504
    assert error_of(response)["code"] == "timeout"
    assert Image.objects.get().status == Image.Status.QUEUED


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, param",
    [
        ({"model": "offline/aurora"}, "prompt"),
        ({"prompt": 7}, "prompt"),
        ({"prompt": "x" * 4001}, "prompt"),
        ({"prompt": "a fox", "n": 5}, "n"),
        ({"prompt": "a fox", "n": 0}, "n"),
        ({"prompt": "a fox", "n": True}, "n"),
        ({"prompt": "a fox", "n": "2x"}, "n"),
        ({"prompt": "a fox", "size": "big"}, "size"),
        ({"prompt": "a fox", "model": "offline/mosaic", "size": "999x999"}, "size"),
        ({"prompt": "a fox", "aspect_ratio": "wide"}, "aspect_ratio"),
        ({"prompt": "a fox", "model": "offline/blueprint", "aspect_ratio": "21:9"}, "aspect_ratio"),
        ({"prompt": "a fox", "model": "offline/blueprint", "quality": "ultra"}, "quality"),
        ({"prompt": "a fox", "image_size": "8K"}, "image_size"),
        ({"prompt": "a fox", "response_format": "png"}, "response_format"),
        ({"prompt": "a fox", "style": "gothic"}, "style"),
        ({"prompt": "a fox", "background": "green"}, "background"),
        ({"prompt": "a fox", "output_format": "gif"}, "output_format"),
        ({"prompt": "a fox", "output_compression": 101}, "output_compression"),
        ({"prompt": "a fox", "moderation": "none"}, "moderation"),
        ({"prompt": "a fox", "model": "dall-e-9"}, "model"),
        ({"prompt": "a fox", "model": ["offline/aurora"]}, "model"),
        ({"prompt": "a fox", "stream": "maybe"}, "stream"),
        ({"prompt": "a fox", "service_tier": "turbo"}, "service_tier"),
        ({"prompt": "a fox", "model": "offline/aurora", "service_tier": "flex"}, "service_tier"),
    ],
)
def test_invalid_parameters_are_a_400_naming_the_parameter(secret, body, param):
    response = post(secret, body)
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["param"] == param and error["type"] == "invalid_request_error"
    assert error["message"]
    assert not Run.objects.exists()


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", '"a fox"', "{", b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_a_400(secret, raw):
    response = post(secret, raw)
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_json"


def test_an_oversized_body_is_a_413(secret):
    response = post(secret, {"prompt": "a fox " * 200_000})
    assert response.status_code == 413
    assert error_of(response)["code"] == "too_large"


def test_a_model_the_allowlist_leaves_out_is_a_403(fake_gateway, secret):
    TeamPolicy.objects.create(pk=1, allowed_models=["gpt-image-2"])
    response = post(secret, {"model": "alibaba/qwen-image-plus", "prompt": "a fox"})
    assert response.status_code == 403
    error = error_of(response)
    assert error["type"] == "permission_error" and error["code"] == "model_not_allowed"
    assert error["param"] == "model"
    assert not fake_gateway.calls(path="images/generations")


def test_over_the_daily_limit_is_a_429_until_midnight(secret, user):
    TeamPolicy.objects.create(pk=1, daily_image_limit=1)
    response = post(secret, {"model": "offline/aurora", "prompt": "a fox", "n": 2})
    assert response.status_code == 429
    error = error_of(response)
    assert error["code"] == "quota_exceeded" and "you have 1 left today" in error["message"]
    assert 0 < int(response["Retry-After"]) <= 24 * 3600
    assert not Run.objects.exists()


def test_over_the_budget_is_a_429_until_next_month(fake_gateway, secret):
    TeamPolicy.objects.create(pk=1, monthly_budget_usd=Decimal("0.01"))
    response = post(secret, {"model": "gpt-image-2", "prompt": "a fox", "n": 1})
    assert response.status_code == 429
    assert "budget" in error_of(response)["message"]
    assert 0 < int(response["Retry-After"]) <= 31 * 24 * 3600


def test_the_wrong_method_is_a_405_in_the_envelope(secret):
    response = Client().get("/v1/images/generations", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 405 and error_of(response)["code"] == "method_not_allowed"


# --- the model list ---------------------------------------------------------------------------


def test_models_lists_what_the_member_may_use_with_output_modalities(fake_gateway, secret):
    TeamPolicy.objects.create(pk=1, allowed_models=["gpt-image-2", "alibaba/qwen-image-plus"])
    response = Client().get("/v1/models", headers={"x-api-key": secret, "Accept-Encoding": "gzip"})
    assert response.status_code == 200 and response["Content-Encoding"] == "gzip"
    data = json.loads(gzip.decompress(response.content))["data"]
    assert [m["id"] for m in data] == ["gpt-image-2", "alibaba/qwen-image-plus"]
    gpt, qwen = data
    assert gpt["architecture"]["output_modalities"] == ["image"]
    assert gpt["architecture"]["input_modalities"] == ["text", "image"]
    assert qwen["architecture"]["input_modalities"] == ["text"]
    assert gpt["object"] == "model" and gpt["owned_by"] == "OpenAI" and gpt["name"] == "GPT Image 2"
