"""Making a run's images against the loopback gateway: fan-out, storage, and every fault."""

import io
import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image as PILImage

from gallery import runner
from gallery.catalog import Choice
from gallery.models import Image
from tests.factories import make_run
from tests.fake_gateway import photo_png
from tests.storage import bucket_options, is_stored

BASE_DIR = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.django_db(transaction=True)


def make(run, image_ids=None):
    runner.make_images(run_id=run.pk, image_ids=image_ids)
    return {image.pk: image for image in run.images.all()}


def test_every_call_goes_out_with_n1_and_each_image_is_stored(user, fake_gateway, settings):
    run = make_run(
        user,
        models=["gemini-3.1-flash-image-preview", "alibaba/qwen-image"],
        count=2,
        choice=Choice(aspect_ratio="16:9", resolution="1K"),
        prompt="a tiny robot watering plants",
    )
    images = make(run)

    calls = fake_gateway.calls(path="images/generations")
    assert len(calls) == 4
    bodies = sorted((c.json["model"], tuple(sorted(c.json.items()))) for c in calls)
    for _, items in bodies:
        body = dict(items)
        assert body["n"] == 1 and body["response_format"] == "b64_json"
        assert body["prompt"] == "a tiny robot watering plants"
    gemini_bodies = [c.json for c in calls if c.json["model"] == "gemini-3.1-flash-image-preview"]
    assert all(b["aspect_ratio"] == "16:9" and b["image_size"] == "1K" for b in gemini_bodies)
    qwen_bodies = [c.json for c in calls if c.json["model"] == "alibaba/qwen-image"]
    assert all(b["size"] == "1280x720" and "aspect_ratio" not in b for b in qwen_bodies)
    assert all(c.headers["authorization"] == f"Bearer {fake_gateway.api_key}" for c in calls)

    for image in images.values():
        assert image.status == Image.Status.SUCCEEDED, image.error
        original = image.file.open("rb").read()
        assert len(original) == image.bytes > 0
        with PILImage.open(io.BytesIO(original)) as picture:
            assert picture.format == "PNG"
            assert picture.size == (image.width, image.height)
        with PILImage.open(image.thumbnail.open("rb")) as thumb:
            assert thumb.format == "WEBP"
            assert thumb.size == (image.thumb_width, image.thumb_height)
            assert max(thumb.size) <= settings.THUMBNAIL_MAX_SIDE
        assert image.format == "png"
        assert image.latency is not None and image.latency >= 0
        assert image.cost == Decimal("0.01") and image.cost_from_gateway
        assert image.revised_prompt
        assert image.started_at and image.finished_at
    qwen = [i for i in images.values() if i.model == "alibaba/qwen-image"]
    assert all((i.width, i.height) == (1280, 720) for i in qwen)


def test_without_usage_the_cost_comes_from_the_catalog(user, fake_gateway):
    fake_gateway.add_rule(response="no_usage")
    run = make_run(user, models=["gemini-3.1-flash-image-preview"], choice=Choice("1:1", "4K"))
    [image] = make(run).values()
    assert image.status == "succeeded"
    assert image.cost == Decimal("0.151") and not image.cost_from_gateway


def test_all_calls_of_a_run_start_at_once(user, fake_gateway):
    fake_gateway.default_delay = 0.5
    run = make_run(
        user,
        models=["gemini-3.1-flash-image-preview", "alibaba/qwen-image", "gpt-image-2"],
        count=4,
    )
    started = time.perf_counter()
    images = make(run)
    elapsed = time.perf_counter() - started
    assert all(i.status == "succeeded" for i in images.values())
    arrivals = sorted(c.received_at for c in fake_gateway.calls(path="images/generations"))
    assert len(arrivals) == 12
    assert arrivals[-1] - arrivals[0] < 0.3  # all twelve calls were in flight together
    # Sequentially this would take 6 s; together, 0.5 s plus storing twelve images, which on a
    # 2-core machine running browser tests beside it has taken up to 1.6 s.
    assert elapsed < 3.0


FAULTS = [
    # (rule, words the person sees)
    ({"status": 400, "response": "error_new", "body": "Invalid request parameters: prompt: Required"}, "Invalid request parameters"),
    ({"status": 400, "response": "error_old", "body": "Invalid image size"}, "Invalid image size"),
    ({"status": 401, "response": "error_new"}, "key"),
    ({"status": 402, "response": "error_old", "body": "Insufficient credits"}, "credits"),
    ({"status": 403, "response": "error_new"}, "403"),
    ({"status": 404, "response": "error_new", "body": "Model not found"}, "Model not found"),
    ({"status": 413, "response": "error_old"}, "413"),
    ({"status": 429, "response": "error_new", "headers": {"Retry-After": "0"}}, "429"),
    ({"status": 500, "response": "error_old", "body": "The model did not generate any images"}, "did not generate any images"),
    ({"status": 502, "response": "error_new", "body": "Upstream provider error"}, "Upstream provider error"),
    ({"status": 503, "response": "error_old"}, "503"),
    ({"status": 504, "response": "error_new"}, "504"),
    ({"response": "not_json"}, "not JSON"),
    ({"response": "empty_data"}, "no image"),
    ({"response": "bad_base64"}, "base64"),
    ({"response": "not_image"}, "not a usable image"),
    ({"response": "bomb"}, "not a usable image"),
    ({"response": "nested_json"}, "nested too deeply to be read as JSON"),
    ({"response": "gzip_bomb"}, "The gateway's answer is larger than the 48 MB limit"),
    ({"response": "close"}, ""),
    ({"response": "url", "body": "http://example.com/image.png"}, "https"),
    ({"response": "url", "body": "https://127.0.0.1/image.png"}, "private"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rule", "words"),
    FAULTS,
    ids=[f"{r.get('status', 200)}-{r.get('response')}" for r, _ in FAULTS],
)
def test_a_fault_fails_only_its_own_tiles(user, fake_gateway, rule, words):
    fake_gateway.add_rule(model="gpt-image-2", **rule)
    run = make_run(user, models=["gpt-image-2", "alibaba/qwen-image"], count=2)
    images = make(run).values()
    failed = [i for i in images if i.model == "gpt-image-2"]
    others = [i for i in images if i.model != "gpt-image-2"]
    assert all(i.status == "succeeded" for i in others)
    for image in failed:
        assert image.status == "failed"
        assert image.error and words.lower() in image.error.lower()
        assert not image.file and image.finished_at
        assert "Traceback" not in image.error


def test_retryable_statuses_are_retried_honouring_retry_after(user, fake_gateway):
    fake_gateway.add_rule(model="gpt-image-2", status=503, headers={"Retry-After": "0.2"}, times=1)
    fake_gateway.add_rule(model="gpt-image-2", status=429, headers={"Retry-After": "0.2"}, times=1)
    run = make_run(user, models=["gpt-image-2"])
    started = time.perf_counter()
    [image] = make(run).values()
    assert image.status == "succeeded"
    assert len(fake_gateway.calls(model="gpt-image-2")) == 3
    assert time.perf_counter() - started >= 0.4


def test_a_timeout_fails_the_tile_with_a_clear_message(user, fake_gateway, settings):
    settings.GATEWAY_READ_TIMEOUT = 0.5
    fake_gateway.add_rule(model="gpt-image-2", response="hang")
    run = make_run(user, models=["gpt-image-2", "alibaba/qwen-image"])
    images = make(run)
    by_model = {i.model: i for i in images.values()}
    assert by_model["gpt-image-2"].status == "failed"
    assert "did not answer within" in by_model["gpt-image-2"].error
    assert by_model["alibaba/qwen-image"].status == "succeeded"


def test_an_answer_trickling_in_fails_its_tile_at_the_call_deadline(user, fake_gateway, settings):
    settings.GATEWAY_READ_TIMEOUT = 2
    settings.GATEWAY_CALL_DEADLINE = 3
    fake_gateway.add_rule(model="gpt-image-2", body={"data": []}, trickle=(1, 0.5))
    run = make_run(user, models=["gpt-image-2", "alibaba/qwen-image"])
    started = time.perf_counter()
    by_model = {i.model: i for i in make(run).values()}
    assert time.perf_counter() - started < 4.5
    assert by_model["gpt-image-2"].status == "failed"
    assert by_model["gpt-image-2"].error == "The gateway did not finish answering within 3 s."
    assert by_model["gpt-image-2"].finished_at
    assert by_model["alibaba/qwen-image"].status == "succeeded"


def test_an_unreachable_gateway_fails_every_tile_clearly(user, fake_gateway, settings):
    settings.LLM_GATEWAY_BASE_URL = "http://127.0.0.1:9/v1"
    run = make_run(user, models=["gpt-image-2"], count=2)
    for image in make(run).values():
        assert image.status == "failed"
        assert "could not reach the gateway" in image.error.lower()


def test_the_key_never_lands_in_a_stored_error(user, fake_gateway):
    fake_gateway.add_rule(
        model="gpt-image-2", status=401, response="error_new",
        body=f"Invalid API key {fake_gateway.api_key}",
    )  # fmt: skip
    run = make_run(user, models=["gpt-image-2"])
    [image] = make(run).values()
    assert image.status == "failed"
    assert fake_gateway.api_key not in image.error


def test_a_key_echoed_at_the_message_limit_leaves_no_piece_of_it(user, fake_gateway):
    key = fake_gateway.api_key
    said = "Incorrect API key provided: ".ljust(490, ".") + key  # clipped at 500 characters
    fake_gateway.add_rule(model="gpt-image-2", status=401, response="error_new", body=said)
    run = make_run(user, models=["gpt-image-2"])
    [image] = make(run).values()
    assert image.status == "failed"
    assert image.error.endswith("[redacted]")
    assert key[:8] not in image.error


def test_a_key_echoed_in_the_revised_prompt_is_stored_and_shown_redacted(
    user, fake_gateway, signed_in
):
    key = fake_gateway.api_key
    fake_gateway.add_rule(model="gpt-image-2", response="echo_key")
    run = make_run(user, models=["gpt-image-2"])
    [image] = make(run).values()
    assert image.status == "succeeded", image.error
    assert image.revised_prompt.endswith("(sent with key [redacted])")
    assert key not in image.revised_prompt
    lightbox = signed_in.get(f"/images/{image.pk}/")
    assert lightbox.status_code == 200
    assert b"(sent with key [redacted])" in lightbox.content
    assert key.encode() not in lightbox.content


def test_a_url_result_over_https_is_fetched(user, fake_gateway, settings, tmp_path):
    settings.GATEWAY_URL_FETCH_ALLOW_PRIVATE = True  # the loopback HTTPS host is private
    settings.GATEWAY_URL_FETCH_CA_FILE = fake_gateway.write_ca_pem(tmp_path / "ca.pem")
    fake_gateway.add_rule(model="gpt-image-2", response="url")
    run = make_run(user, models=["gpt-image-2"])
    [image] = make(run).values()
    assert image.status == "succeeded", image.error
    assert image.file.open("rb").read()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(fake_gateway.https_requests) == 1


def test_only_the_named_tiles_run_on_retry(user, fake_gateway):
    run = make_run(user, models=["gpt-image-2"], count=2)
    first, second = run.images.all()
    make(run, image_ids=[first.pk])
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == "succeeded" and second.status == "queued"
    assert len(fake_gateway.calls()) == 1


def test_a_late_answer_still_fills_a_tile_marked_interrupted(user, fake_gateway):
    """The reaper may give up on a tile whose answer then arrives: keep the paid-for image."""
    fake_gateway.add_rule(model="gpt-image-2", delay=0.6)
    run = make_run(user, models=["gpt-image-2"])
    image = run.images.get()

    import threading

    def interrupt_meanwhile():
        time.sleep(0.3)
        Image.objects.filter(pk=image.pk).update(status="interrupted", error="Interrupted")

    thread = threading.Thread(target=interrupt_meanwhile)
    thread.start()
    make(run)
    thread.join()
    image.refresh_from_db()
    assert image.status == "succeeded" and image.error == ""


def test_the_offline_renderer_goes_through_the_same_pipeline(user, fake_gateway, settings):
    settings.LLM_GATEWAY_API_KEY = ""
    run = make_run(
        user,
        models=["offline/aurora", "offline/mosaic", "offline/blueprint"],
        count=2,
        choice=Choice(aspect_ratio="9:16", resolution="0.5K"),
    )
    images = make(run).values()
    assert not fake_gateway.calls()
    for image in images:
        assert image.status == "succeeded", image.error
        with PILImage.open(image.file.open("rb")) as picture:
            assert picture.size == (image.expected_width, image.expected_height)
        assert picture.size[1] > picture.size[0]
        assert image.cost == 0


# --- Big answers --------------------------------------------------------------------------------


def test_answers_go_through_temporary_files_that_are_gone_once_stored(
    user, fake_gateway, settings, tmp_path
):
    settings.GATEWAY_TEMP_DIR = str(spool_dir := tmp_path / "answers")
    spool_dir.mkdir()
    fake_gateway.add_rule(model="gpt-image-2", response="not_image")
    run = make_run(user, models=["gpt-image-2", "alibaba/qwen-image"], count=2)

    images = make(run)

    stored = [image for image in images.values() if image.model == "alibaba/qwen-image"]
    refused = [image for image in images.values() if image.model == "gpt-image-2"]
    assert all(image.status == "succeeded" and image.file for image in stored)
    assert all("not a usable image" in image.error for image in refused)
    for image in stored:
        with PILImage.open(image.file.open("rb")) as picture:
            assert picture.size == (image.width, image.height)
        if bucket_options(settings) is None:  # a temporary file moved into the media folder
            assert oct(os.stat(image.file.path).st_mode & 0o777) == "0o644"
        else:  # copied into the bucket a piece at a time
            assert is_stored(image.file.name)
    assert list(spool_dir.iterdir()) == []


_STORE_BIG_ANSWER = """
import asyncio, json, os
import django
django.setup()
from gallery import gateway, runner
from gallery.models import Image

def peak_kb():
    return int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])

config = gateway.GatewayConfig.from_settings()

async def call():
    async with gateway.async_client(config) as client:
        return await gateway.generate_image(
            client, config, model='gpt-image-2', prompt='p', params={}
        )

def store(image_id):
    result = asyncio.run(call())
    with result:
        image = Image(pk=image_id, run_id=1, model='gpt-image-2', request={})
        return runner._store_files(image, result)

store(1)  # warm up: imports, threads, the first thumbnail
before = peak_kb()
fields = store(2)
print(json.dumps({'grew_kb': peak_kb() - before, 'bytes': fields['bytes'],
                  'width': fields['width'], 'left': os.listdir(os.environ['GATEWAY_TEMP_DIR'])}))
"""


def test_a_big_answer_is_stored_within_bounded_memory(fake_gateway, tmp_path):
    # A 3840x2160 photo (~17 MB PNG, ~23 MB of JSON), the second of two (the first leaves
    # Pillow's pool of pixel blocks filled for it). Held whole (body, JSON string, bytes) it grew
    # the worker by a further 46 MB; streamed through a file, by 16 MB.
    fake_gateway.photo_size = (3840, 2160)
    photo = photo_png(3840, 2160)
    (spool_dir := tmp_path / "answers").mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "studio.settings",
        "SECRET_KEY": "test",
        "STUDIO_DATA_DIR": str(tmp_path / "var"),
        "LLM_GATEWAY_API_KEY": fake_gateway.api_key,
        "LLM_GATEWAY_BASE_URL": fake_gateway.base_url,
        "GATEWAY_TEMP_DIR": str(spool_dir),
    }
    done = subprocess.run(
        [sys.executable, "-c", _STORE_BIG_ANSWER],
        capture_output=True, text=True, env=env, cwd=BASE_DIR, check=True, timeout=120,
    )  # fmt: skip
    result = json.loads(done.stdout)

    assert (result["bytes"], result["width"], result["left"]) == (len(photo), 3840, [])
    assert result["grew_kb"] < 30_000
