"""The official `openai` Python SDK against the studio as `./studio.sh run` serves it (uvicorn,
the real worker) and the loopback gateway: scripts written for OpenAI or the gateway work with
only `base_url` and the key changed, and every error is the SDK's own exception class."""

import base64
import html
import io
import json
import os
import re
import subprocess
import sys

import httpx
import openai
import pytest
from django.test import Client
from PIL import Image as PillowImage

from api import tokens
from gallery.models import Run
from team.models import TeamPolicy
from tests.browser import start_worker, stop_worker
from tests.factories import png_bytes
from tests.test_browser_live import LiveStudio

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def studio(settings, transactional_db, fake_gateway):
    """The web server (uvicorn) and the worker, both pointed at the loopback gateway."""
    web = LiveStudio(settings)
    web.start()
    worker = start_worker(settings)
    yield web
    output = stop_worker(worker) + stop_worker(web.process)
    assert "Traceback" not in output, output


def sdk(studio, key: str) -> openai.OpenAI:
    # No retries: a 429 here would otherwise be waited out (its Retry-After is hours).
    return openai.OpenAI(base_url=f"{studio.url}/v1", api_key=key, max_retries=0, timeout=60)


@pytest.fixture
def secret(user):
    _, secret = tokens.token_create(user=user, name="sdk")
    return secret


def test_generate_with_the_sdk_is_a_run_in_the_gallery(studio, fake_gateway, user, secret):
    fake_gateway.cost = 0.02
    client = sdk(studio, secret)
    result = client.images.generate(
        model="gpt-image-2",
        prompt="a lighthouse at dawn",
        n=2,
        size="1536x1024",
        quality="medium",
        moderation="low",
    )
    assert len(result.data) == 2
    for item in result.data:
        image = PillowImage.open(io.BytesIO(base64.b64decode(item.b64_json)))
        assert image.size == (1536, 1024)
        assert item.revised_prompt == "A picture of a lighthouse at dawn"
    assert result.usage.model_extra["cost"] == pytest.approx(0.04)
    run = Run.objects.get()
    assert run.created_by == user and run.api_token_name == "sdk"
    assert {c.json["moderation"] for c in fake_gateway.calls(path="images/generations")} == {"low"}


def test_urls_and_gateway_parameters_through_extra_body(studio, fake_gateway, secret):
    client = sdk(studio, secret)
    result = client.images.generate(
        model="gemini-3.1-flash-image-preview",
        prompt="a fox",
        response_format="url",
        extra_body={"aspect_ratio": "16:9", "image_size": "0.5K"},
    )
    [call] = fake_gateway.calls(path="images/generations")
    assert call.json["aspect_ratio"] == "16:9" and call.json["image_size"] == "0.5K"
    fetched = httpx.get(result.data[0].url, timeout=10)
    assert fetched.status_code == 200 and fetched.headers["content-type"] == "image/png"
    assert PillowImage.open(io.BytesIO(fetched.content)).width > 600


def test_the_models_list_with_the_sdk(studio, secret):
    TeamPolicy.objects.create(pk=1, allowed_models=["gpt-image-2", "alibaba/qwen-image-plus"])
    models = sdk(studio, secret).models.list()
    ids = [model.id for model in models]
    assert ids == ["gpt-image-2", "alibaba/qwen-image-plus"]
    assert models.data[0].model_extra["architecture"]["output_modalities"] == ["image"]


def test_a_bad_token_is_an_authentication_error(studio):
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk(studio, "isk_0000000000_wrong").models.list()
    assert caught.value.status_code == 401 and caught.value.code == "invalid_api_key"


def test_a_model_left_off_the_allowlist_is_a_permission_denied_error(studio, secret):
    TeamPolicy.objects.create(pk=1, allowed_models=["gpt-image-2"])
    with pytest.raises(openai.PermissionDeniedError) as caught:
        sdk(studio, secret).images.generate(model="alibaba/qwen-image-plus", prompt="a fox")
    assert caught.value.code == "model_not_allowed" and caught.value.param == "model"


def test_an_invalid_parameter_is_a_bad_request_error_naming_it(studio, secret):
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(studio, secret).images.generate(model="gpt-image-2", prompt="a fox", n=9)
    assert caught.value.param == "n" and "from 1 to 4" in caught.value.message


def test_over_the_daily_limit_is_a_rate_limit_error_with_retry_after(studio, secret):
    TeamPolicy.objects.create(pk=1, daily_image_limit=1)
    with pytest.raises(openai.RateLimitError) as caught:
        sdk(studio, secret).images.generate(model="gpt-image-2", prompt="a fox", n=2)
    assert caught.value.code == "quota_exceeded"
    assert int(caught.value.response.headers["retry-after"]) > 0
    assert not Run.objects.exists()


def test_a_burst_over_the_rate_limit_is_a_rate_limit_error_with_retry_after(
    settings, transactional_db, fake_gateway, secret
):
    """The web process as deployed, told API_RATE_PER_MINUTE=3: the fourth call within a minute
    is the SDK's RateLimitError, with Retry-After, and nothing is read past the limit."""
    web = LiveStudio(settings, API_RATE_PER_MINUTE=3)
    web.start()
    try:
        client = sdk(web, secret)
        for _ in range(3):
            assert "gpt-image-2" in [model.id for model in client.models.list()]
        with pytest.raises(openai.RateLimitError) as caught:
            client.images.generate(model="gpt-image-2", prompt="a fox")
        assert caught.value.status_code == 429 and caught.value.code == "rate_limit_exceeded"
        assert 1 <= int(caught.value.response.headers["retry-after"]) <= 60
        assert "3 requests a minute" in caught.value.message
        assert not Run.objects.exists()
    finally:
        output = stop_worker(web.process)
    assert "Traceback" not in output, output


def png_file(width: int, height: int, name: str) -> tuple[str, bytes, str]:
    return (name, png_bytes(width, height), "image/png")


def test_edit_one_image_with_the_sdk(studio, fake_gateway, user, secret):
    fake_gateway.models = []  # the whole catalog
    result = sdk(studio, secret).images.edit(
        model="gpt-image-2", image=png_file(64, 48, "fox.png"), prompt="make it winter"
    )
    assert len(result.data) == 1 and result.data[0].b64_json
    [call] = fake_gateway.calls(path="images/edits")
    assert len(call.json["images"]) == 1
    run = Run.objects.get()
    assert run.kind == Run.Kind.EDIT and run.sources.count() == 1


def test_edit_several_images_with_the_sdk(studio, fake_gateway, secret):
    fake_gateway.models = []
    result = sdk(studio, secret).images.edit(
        model="gpt-image-2",
        image=[png_file(64, 48, "a.png"), png_file(32, 32, "b.png"), png_file(48, 64, "c.png")],
        prompt="put them together",
        n=2,
    )
    assert len(result.data) == 2
    calls = fake_gateway.calls(path="images/edits")
    assert len(calls) == 2 and all(len(c.json["images"]) == 3 for c in calls)


def test_streaming_sends_a_completed_event_per_image(studio, fake_gateway, secret):
    stream = sdk(studio, secret).images.generate(
        model="gpt-image-2", prompt="three foxes", n=3, stream=True
    )
    events = list(stream)
    assert [e.type for e in events] == ["image_generation.completed"] * 3
    for event in events:
        assert PillowImage.open(io.BytesIO(base64.b64decode(event.b64_json))).format == "PNG"
        assert event.output_format == "png" and event.size == "1024x1024"


def test_a_streamed_edit_uses_image_edit_events(studio, fake_gateway, secret):
    fake_gateway.models = []
    stream = sdk(studio, secret).images.edit(
        model="gpt-image-2", image=png_file(64, 64, "a.png"), prompt="x", stream=True
    )
    assert [e.type for e in stream] == ["image_edit.completed"]


def test_a_stream_where_every_image_fails_ends_in_an_api_error(studio, fake_gateway, secret):
    fake_gateway.add_rule(status=500, response="error_new", body="The model is down.")
    stream = sdk(studio, secret).images.generate(model="gpt-image-2", prompt="x", stream=True)
    with pytest.raises(openai.APIError) as caught:
        list(stream)
    assert "The model is down." in caught.value.message


# --- the API page's examples, run as they are shown ------------------------------------------

SNIPPET = re.compile(
    r'<pre class="code-block"[^>]* data-snippet="(\w+)"><code>(.*?)</code></pre>', re.S
)


def snippets_on_the_page(studio, user) -> dict[str, list[str]]:
    """The API page as the member sees it at the live studio's address, its examples by kind."""
    client = Client(HTTP_HOST=studio.url.removeprefix("http://"))
    client.force_login(user)
    page = client.get("/api/")
    assert page.status_code == 200
    found: dict[str, list[str]] = {}
    for kind, code in SNIPPET.findall(page.content.decode()):
        found.setdefault(kind, []).append(html.unescape(code))
    return found


def run_snippet(command: list[str], tmp_path, secret: str) -> str:
    done = subprocess.run(
        command, cwd=tmp_path, env={**os.environ, "STUDIO_TOKEN": secret},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_curl_examples_on_the_api_page_work_as_shown(
    studio, fake_gateway, user, secret, tmp_path
):
    fake_gateway.models = []  # the whole catalog: the page's edit example uses an editing model
    examples = snippets_on_the_page(studio, user)["curl"]
    assert len(examples) == 3 and all(studio.url + "/v1/" in e for e in examples)
    (tmp_path / "photo.png").write_bytes(png_bytes(64, 48))
    generated, edited, models = (
        json.loads(run_snippet(["bash", "-c", example], tmp_path, secret)) for example in examples
    )
    assert len(generated["data"]) == 1 and generated["usage"]["cost"] > 0
    assert len(edited["data"]) == 1
    assert "gpt-image-2" in [m["id"] for m in models["data"]]
    assert sorted(Run.objects.values_list("kind", flat=True)) == ["edit", "generate"]
    assert set(Run.objects.values_list("api_token_name", flat=True)) == {"sdk"}


def test_the_python_example_on_the_api_page_works_as_shown(studio, user, secret, tmp_path):
    [example] = snippets_on_the_page(studio, user)["python"]
    (tmp_path / "example.py").write_text(example)
    printed = run_snippet([sys.executable, "example.py"], tmp_path, secret)
    assert float(printed) > 0
    with PillowImage.open(tmp_path / "lighthouse.png") as image:
        assert image.width > image.height  # aspect_ratio 16:9 through extra_body
