"""gallery.gateway against a real loopback server that speaks the gateway's protocol.

Pure: no database. Each test gets its own FakeGateway and asserts what the server received and
what the caller got back (bytes, messages, attempts, waits).
"""

import asyncio
import base64
import io
import itertools
import logging
import socket
import threading
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import httpx
import pytest
from PIL import Image

from gallery.gateway import (
    GatewayConfig,
    GatewayError,
    GatewayResult,
    InputImage,
    async_client,
    edit_image,
    generate_image,
    list_image_models,
)
from tests.fake_gateway import FakeGateway, UploadedFile, bomb_png, png_bytes

PNG = png_bytes(16, 16, (200, 30, 30))
RETRIED = (429, 502, 503)
NOT_RETRIED = (400, 401, 402, 403, 404, 413, 500, 504)


@pytest.fixture
def fake():
    with FakeGateway() as server:
        yield server


def config_for(fake: FakeGateway, **overrides) -> GatewayConfig:
    return GatewayConfig(base_url=fake.base_url, api_key=fake.api_key, **overrides)


def generate(
    config: GatewayConfig,
    *,
    model: str = "gpt-image-2",
    prompt: str = "a red fox",
    params: dict | None = None,
) -> GatewayResult:
    async def run() -> GatewayResult:
        async with async_client(config) as client:
            return await generate_image(
                client, config, model=model, prompt=prompt, params=params or {}
            )

    return asyncio.run(run())


def generate_error(config: GatewayConfig, **kwargs) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        generate(config, **kwargs)
    return caught.value


def edit(config: GatewayConfig, images: list[InputImage], params: dict) -> GatewayResult:
    async def run() -> GatewayResult:
        async with async_client(config) as client:
            return await edit_image(
                client,
                config,
                model="gpt-image-2",
                prompt="add a hat",
                images=images,
                params=params,
            )

    return asyncio.run(run())


def pixel_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def with_memory_peak(call):
    """What `call()` returns, and the most memory Python held meanwhile (bytes, tracemalloc)."""
    tracemalloc.start()
    try:
        return call(), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def gaps(fake: FakeGateway) -> list[float]:
    times = [call.received_at for call in fake.calls(path="images/generations")]
    return [later - earlier for earlier, later in itertools.pairwise(times)]


# --- Success ------------------------------------------------------------------------------------


def test_generate_sends_one_b64_image_request_with_the_key(fake):
    result = generate(config_for(fake), params={"size": "1536x1024", "quality": "low"})

    [call] = fake.requests
    assert (call.method, call.path) == ("POST", "/v1/images/generations")
    assert call.headers["authorization"] == f"Bearer {fake.api_key}"
    assert call.headers["accept-encoding"] == "gzip, deflate"  # what gateway.reading can inflate
    assert call.json == {
        "model": "gpt-image-2",
        "prompt": "a red fox",
        "n": 1,
        "response_format": "b64_json",
        "size": "1536x1024",
        "quality": "low",
    }
    [image] = result.images
    assert pixel_size(image.data) == (1536, 1024)
    assert image.revised_prompt == "A picture of a red fox"
    assert result.cost == Decimal("0.01")
    assert 0 < result.latency < 5


def test_image_follows_aspect_ratio_and_resolution_tier(fake):
    result = generate(config_for(fake), params={"aspect_ratio": "16:9", "image_size": "2K"})

    width, height = pixel_size(result.images[0].data)
    assert abs(width / height - 16 / 9) < 0.01
    assert 3.9e6 < width * height < 4.3e6


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ({"cost": 0.134}, Decimal("0.134")),
        ({"cost": "0.05"}, Decimal("0.05")),
        ({"cost": 0}, Decimal(0)),
        ({"cost": "free"}, None),
        ({"cost": None}, None),
        ({"total_tokens": 10}, None),
        ("not an object", None),
    ],
)
def test_cost_is_read_from_usage_when_numeric(fake, usage, expected):
    body = {"created": 1, "data": [{"b64_json": base64.b64encode(PNG).decode()}], "usage": usage}
    fake.add_rule(body=body)

    result = generate(config_for(fake))

    assert result.cost == expected
    assert result.images[0].data == PNG
    assert result.images[0].revised_prompt == ""


def test_missing_usage_means_unknown_cost(fake):
    fake.add_rule(response="no_usage")

    result = generate(config_for(fake))

    assert result.cost is None
    assert pixel_size(result.images[0].data) == (1024, 1024)


@pytest.mark.parametrize("response", ["not_image", "bomb"])
def test_bytes_that_are_not_a_usable_image_are_passed_on_for_validation(fake, response):
    fake.add_rule(response=response)

    [image] = generate(config_for(fake)).images

    if response == "bomb":
        assert image.data == bomb_png()
    else:
        assert image.data == b"just some text, not an image"


# --- Errors from the gateway --------------------------------------------------------------------

STATUS_SENTENCES = {
    400: "rejected the request's parameters",
    401: "an admin needs to check the gateway key",
    402: "out of credits",
    403: "forbidden",
    404: "does not know this model or endpoint",
    413: "too large",
    429: "rate limiting",
    500: "internal error",
    502: "image provider behind the gateway returned an error",
    503: "unavailable",
    504: "timed out",
}


@pytest.mark.parametrize("envelope", ["error_new", "error_old"])
@pytest.mark.parametrize("status", sorted(STATUS_SENTENCES))
def test_each_status_becomes_a_sentence_with_the_gateways_message(fake, status, envelope):
    fake.add_rule(
        status=status,
        response=envelope,
        body=f"Upstream detail {status}",
        headers={"Retry-After": "0"},
    )

    error = generate_error(config_for(fake))

    assert STATUS_SENTENCES[status] in error.message
    assert f"(HTTP {status})." in error.message
    assert error.message.endswith(f"The gateway said: Upstream detail {status}")
    assert error.status == status
    assert error.retryable == (status in {429, 500, 502, 503, 504})
    assert "LLM_GATEWAY" not in error.message


def test_current_envelope_carries_its_code(fake):
    fake.add_rule(
        status=402,
        response="error_new",
        body={"message": "Top up first", "code": "insufficient_credits"},
    )

    error = generate_error(config_for(fake))

    assert error.code == "insufficient_credits"
    assert error.message == (
        "The gateway account is out of credits (HTTP 402). The gateway said: Top up first"
    )


def test_missing_prompt_shows_the_gateways_own_400_message(fake):
    error = generate_error(config_for(fake), prompt="")

    assert error.status == 400
    assert error.message == (
        "The gateway rejected the request's parameters (HTTP 400). "
        "The gateway said: Invalid request parameters: prompt: Required"
    )


def test_plain_text_error_body_is_shown_but_an_html_page_is_not(fake):
    fake.add_rule(status=504, body="upstream request timeout", times=1)
    fake.add_rule(
        status=504, response="not_json", body="<html><h1>504 Gateway Time-out</h1></html>"
    )
    config = config_for(fake)

    first, second = generate_error(config), generate_error(config)

    assert first.message.endswith("The gateway said: upstream request timeout")
    assert second.message == "The gateway timed out waiting for the image provider (HTTP 504)."


@pytest.mark.parametrize("status", RETRIED)
def test_transient_statuses_are_tried_three_times_in_all(fake, status):
    fake.add_rule(status=status, headers={"Retry-After": "0"})

    error = generate_error(config_for(fake))

    assert len(fake.requests) == 3
    assert error.status == status
    assert "Gave up after 3 tries." in error.message


@pytest.mark.parametrize("status", NOT_RETRIED)
def test_other_statuses_are_not_retried(fake, status):
    fake.add_rule(status=status, headers={"Retry-After": "0"})

    generate_error(config_for(fake))

    assert len(fake.requests) == 1


def test_max_retries_zero_tries_once(fake):
    fake.add_rule(status=503, headers={"Retry-After": "0"})

    error = generate_error(config_for(fake, max_retries=0))

    assert len(fake.requests) == 1
    assert "Gave up" not in error.message


def test_retry_after_seconds_is_waited_then_the_second_try_succeeds(fake):
    fake.add_rule(status=429, headers={"Retry-After": "1"}, times=1)

    result = generate(config_for(fake))

    [gap] = gaps(fake)
    assert 0.95 <= gap < 1.6
    assert result.latency >= 0.95
    assert pixel_size(result.images[0].data) == (1024, 1024)


def test_retry_after_http_date_is_honoured_and_capped(fake):
    past = format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)
    future = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    fake.add_rule(status=503, headers={"Retry-After": past}, times=1)
    fake.add_rule(status=503, headers={"Retry-After": future}, times=1)

    generate(config_for(fake, max_retry_after=0.8))

    # A date in the past means "now" (not the 0.5 s fallback); one an hour ahead is capped.
    first, second = gaps(fake)
    assert first < 0.4
    assert 0.78 <= second < 1.4


def test_long_retry_after_is_capped(fake):
    fake.add_rule(status=429, headers={"Retry-After": "120"})

    started = time.perf_counter()
    error = generate_error(config_for(fake, max_retries=1, max_retry_after=0.2))

    assert time.perf_counter() - started < 1.5
    [gap] = gaps(fake)
    assert gap >= 0.19
    assert "Gave up after 2 tries." in error.message


def test_without_retry_after_the_backoff_is_short_and_growing(fake):
    fake.add_rule(status=502, times=2)

    result = generate(config_for(fake))

    first, second = gaps(fake)
    assert 0.45 <= first < 0.9
    assert 0.95 <= second < 1.5
    assert result.images


# --- Transport failures -------------------------------------------------------------------------


def test_read_timeout_is_a_clear_message_and_not_retried(fake):
    fake.add_rule(response="hang")

    started = time.perf_counter()
    error = generate_error(config_for(fake, read_timeout=0.3))

    assert time.perf_counter() - started < 2
    assert error.message == "The gateway did not answer within 0.3 s."
    assert error.retryable
    assert len(fake.requests) == 1


def test_connection_refused_names_the_host():
    port = closed_port()
    config = GatewayConfig(base_url=f"http://127.0.0.1:{port}/v1", api_key="k")

    error = generate_error(config)

    assert error.message.startswith(f"Could not reach the gateway at 127.0.0.1:{port} (")
    assert error.code == "unreachable"


def test_dropped_connection_is_a_clear_message(fake):
    fake.add_rule(response="close")

    error = generate_error(config_for(fake))

    assert error.message == "The gateway closed the connection without a complete answer."


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"response": "not_json"},
            "The gateway's answer is not JSON; is the base URL right?",
        ),
        ({"body": {"created": 1}}, "The gateway's answer holds no image list."),
        (
            {"body": {"error": {"message": "Quota exceeded"}}},
            "The gateway's answer holds no image list. The gateway said: Quota exceeded",
        ),
        (
            {"response": "empty_data"},
            "The gateway returned no image — usually the provider's content filter blocked the "
            "prompt. Try rewording it or another model.",
        ),
        ({"response": "bad_base64"}, "The gateway's image data is not valid base64."),
        (
            {"body": {"data": [{"revised_prompt": "x"}]}},
            "The gateway's answer holds an image entry with neither b64_json nor url.",
        ),
        (
            {"response": "nested_json"},
            "The gateway's answer is nested too deeply to be read as JSON.",
        ),
        (
            {"body": b"\xff\xfe not utf-8 \xc3"},
            "The gateway's answer is not JSON; is the base URL right?",
        ),
    ],
)
def test_unusable_success_bodies_are_clear_errors(fake, rule, message):
    fake.add_rule(**rule)

    assert generate_error(config_for(fake)).message == message


def test_decoded_image_over_the_cap_is_refused(fake):
    error = generate_error(config_for(fake, max_image_bytes=1000))

    assert "larger than" in error.message
    assert error.code == "too_large"


@pytest.mark.parametrize("response", ["nested_json", "gzip_bomb"])
def test_an_error_body_that_cannot_be_read_adds_no_detail(fake, response):
    fake.add_rule(status=500, response=response)

    error, peak = with_memory_peak(lambda: generate_error(config_for(fake)))

    assert error.message == "The gateway had an internal error (HTTP 500)."
    assert error.status == 500
    assert peak < 20 * 1024 * 1024  # an error body is read only up to 64 KB


# --- Answers too large or too slow --------------------------------------------------------------


def test_a_gzip_bomb_is_refused_at_the_limit_without_inflating_the_rest(fake):
    fake.add_rule(response="gzip_bomb")  # 0.5 MB on the wire, 512 MB inflated

    error, peak = with_memory_peak(lambda: generate_error(config_for(fake)))  # 48 MB limit

    assert error.message == "The gateway's answer is larger than the 48 MB limit."
    assert error.code == "too_large"
    # The 48 MB read before the limit and a piece being inflated, not the 512 MB.
    assert peak < 100 * 1024 * 1024


def test_an_answer_declared_larger_than_the_limit_is_not_read(fake):
    fake.add_rule(body=b"x" * (2 * 1024 * 1024))

    error = generate_error(config_for(fake, max_response_bytes=1024 * 1024))

    assert error.message == "The gateway's answer is larger than the 1 MB limit."
    assert error.code == "too_large"


def test_an_answer_trickling_in_is_cut_off_at_the_call_deadline(fake):
    # One byte every 0.5 s never trips the 2 s read timeout; only an overall deadline ends it.
    fake.add_rule(body={"data": []}, trickle=(1, 0.5))

    started = time.perf_counter()
    error = generate_error(config_for(fake, read_timeout=2, call_deadline=3))
    elapsed = time.perf_counter() - started

    assert error.message == "The gateway did not finish answering within 3 s."
    assert (error.code, error.retryable) == ("timeout", True)
    assert 2.9 < elapsed < 4
    assert len(fake.requests) == 1


def test_the_call_deadline_covers_the_waits_between_tries(fake):
    fake.add_rule(status=503, headers={"Retry-After": "5"})

    started = time.perf_counter()
    error = generate_error(config_for(fake, max_retry_after=10, call_deadline=1))

    assert time.perf_counter() - started < 2
    assert error.message == "The gateway did not finish answering within 1 s."
    assert len(fake.requests) == 1


# --- The key stays secret -----------------------------------------------------------------------


@pytest.mark.parametrize("envelope", ["error_new", "error_old"])
def test_key_echoed_by_upstream_never_reaches_the_message_or_logs(fake, envelope, caplog):
    caplog.set_level(logging.DEBUG)
    fake.add_rule(status=401, response=envelope, body=f"Incorrect API key provided: {fake.api_key}")

    error = generate_error(config_for(fake))

    assert "an admin needs to check the gateway key" in error.message
    assert "Incorrect API key provided: [redacted]" in error.message
    for text in (error.message, str(error), repr(error), repr(error.args), caplog.text):
        assert fake.api_key not in text


def test_key_never_in_code_repr_or_retry_logs(fake, caplog):
    caplog.set_level(logging.DEBUG)
    config = config_for(fake)
    fake.add_rule(
        status=429,
        response="error_new",
        body={"message": "slow down", "code": fake.api_key},
        headers={"Retry-After": "0"},
    )

    error = generate_error(config)

    assert fake.api_key not in (error.code or "")
    assert fake.api_key not in repr(config)
    assert "Trying again" in caplog.text or "trying again" in caplog.text
    assert fake.api_key not in caplog.text


def test_key_echoed_in_the_revised_prompt_is_redacted(fake):
    fake.add_rule(response="echo_key")

    [image] = generate(config_for(fake)).images

    assert image.revised_prompt == "A picture of a red fox (sent with key [redacted])"


def test_key_echoed_at_the_message_limit_is_redacted_before_it_is_clipped(fake):
    # The key starts at character 490 of the gateway's message, clipped at 500: clipping first
    # would keep its first 9 characters, which redaction of the whole key no longer finds.
    said = "Incorrect API key provided: ".ljust(490, ".") + fake.api_key
    fake.add_rule(status=401, response="error_new", body=said)

    error = generate_error(config_for(fake))

    assert error.message.endswith("The gateway said: " + said[:490] + "[redacted]")
    assert fake.api_key[:8] not in error.message


def test_an_echo_of_the_key_cut_short_upstream_is_redacted_too(fake):
    fake.add_rule(status=401, response="error_old", body=f"Bad key {fake.api_key[:16]}...")

    error = generate_error(config_for(fake))

    assert error.message.endswith("The gateway said: Bad key [redacted]...")


def test_key_echoed_in_a_model_name_is_redacted(fake):
    fake.models = [
        {
            "id": "flux",
            "name": f"Flux for {fake.api_key}",
            "architecture": {"output_modalities": ["image"]},
        }
    ]

    [model] = list_image_models(config_for(fake))

    assert model["name"] == "Flux for [redacted]"


def test_wrong_key_is_refused_by_the_gateway(fake):
    error = generate_error(GatewayConfig(base_url=fake.base_url, api_key="not-the-key"))

    assert error.status == 401
    assert error.message == (
        "The gateway did not accept the API key; an admin needs to check the gateway key "
        "(HTTP 401). "
        "The gateway said: Invalid API key"
    )


# --- data[].url results ------------------------------------------------------------------------


def test_url_result_is_fetched_over_https_from_a_checked_address(fake):
    fake.add_rule(response="url", body=fake.https_url_for(PNG))
    config = config_for(fake, allow_private_urls=True, verify=fake.ssl_context)

    result = generate(config)

    assert result.images[0].data == PNG
    [download] = fake.https_requests
    # Connected to the resolved address, yet TLS and Host still name the URL's host.
    assert download.sni == "localhost"
    assert download.headers["host"] == f"localhost:{fake.https_port}"
    assert "authorization" not in download.headers


def test_default_url_response_serves_the_requested_image(fake):
    fake.add_rule(response="url")
    config = config_for(fake, allow_private_urls=True, verify=fake.ssl_context)

    result = generate(config, params={"size": "640x480"})

    assert pixel_size(result.images[0].data) == (640, 480)


def test_plain_http_url_is_refused(fake):
    fake.add_rule(response="url", body=f"http://127.0.0.1:{fake.port}/image.png")

    error = generate_error(config_for(fake, allow_private_urls=True))

    assert "only https image URLs are fetched" in error.message
    assert fake.calls(path="image.png") == []


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "10.1.2.3",
        "192.168.0.10",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 - an address the fetch must refuse
        "224.0.0.1",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[fe80::1]",
    ],
)
def test_private_and_local_addresses_are_refused(fake, host):
    url = fake.https_url_for(PNG).replace("localhost", host)
    if host not in ("127.0.0.1", "localhost"):
        url = f"https://{host}/image.png"
    fake.add_rule(response="url", body=url)

    error = generate_error(config_for(fake, verify=fake.ssl_context))

    assert "private or local address" in error.message
    assert fake.https_requests == []


def test_untrusted_certificate_is_refused(fake):
    fake.add_rule(response="url", body=fake.https_url_for(PNG))

    error = generate_error(config_for(fake, allow_private_urls=True))

    assert error.message.startswith("Could not download the image from localhost (")
    assert "CERTIFICATE_VERIFY_FAILED" in error.message


@pytest.mark.parametrize("chunked", [False, True])
def test_url_download_is_capped(fake, chunked):
    fake.add_rule(response="url", body=fake.https_url_for(b"x" * 200_000, chunked=chunked))
    config = config_for(
        fake, allow_private_urls=True, verify=fake.ssl_context, max_image_bytes=50_000
    )

    error = generate_error(config)

    assert error.code == "too_large"
    assert "larger than" in error.message


def test_url_that_is_not_found_is_a_clear_error(fake):
    missing = fake.https_url_for(PNG).rsplit("/", 1)[0] + "/gone"
    fake.add_rule(response="url", body=missing)

    error = generate_error(config_for(fake, allow_private_urls=True, verify=fake.ssl_context))

    assert error.message == "The image URL answered with HTTP 404."


# --- Edits --------------------------------------------------------------------------------------


def test_edit_sends_json_with_data_urls_by_default(fake):
    first, second = PNG, png_bytes(8, 8, (0, 0, 255))
    images = [
        InputImage(data=first, mime="image/png", filename="a.png"),
        InputImage(data=second, mime="image/webp", filename="b.webp"),
    ]

    result = edit(config_for(fake), images, {"quality": "high", "input_fidelity": "high"})

    [call] = fake.requests
    assert call.path == "/v1/images/edits"
    assert call.headers["content-type"] == "application/json"
    assert call.json == {
        "model": "gpt-image-2",
        "prompt": "add a hat",
        "n": 1,
        "images": [
            {"image_url": "data:image/png;base64," + base64.b64encode(first).decode()},
            {"image_url": "data:image/webp;base64," + base64.b64encode(second).decode()},
        ],
        "quality": "high",
        "input_fidelity": "high",
    }
    assert pixel_size(result.images[0].data) == (1024, 1024)


def test_edit_multipart_sends_one_image_as_image(fake):
    config = config_for(fake, edits_multipart=True)
    images = [InputImage(data=PNG, mime="image/png", filename="cat.png")]

    result = edit(config, images, {"size": "1024x1536", "output_compression": 80, "stream": False})

    [call] = fake.requests
    assert call.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert call.json is None
    assert call.fields == {
        "model": "gpt-image-2",
        "prompt": "add a hat",
        "n": "1",
        "size": "1024x1536",
        "output_compression": "80",
        "stream": "false",
    }
    assert call.files == [UploadedFile("image", "cat.png", "image/png", PNG)]
    assert pixel_size(result.images[0].data) == (1024, 1536)


def test_edit_multipart_sends_several_images_as_image_array(fake):
    config = config_for(fake, edits_multipart=True)
    other = png_bytes(8, 8, (0, 255, 0))
    images = [
        InputImage(data=PNG, mime="image/png", filename="a.png"),
        InputImage(data=other, mime="image/jpeg", filename="b.jpg"),
    ]

    edit(config, images, {})

    [call] = fake.requests
    assert call.fields == {"model": "gpt-image-2", "prompt": "add a hat", "n": "1"}
    assert call.files == [
        UploadedFile("image[]", "a.png", "image/png", PNG),
        UploadedFile("image[]", "b.jpg", "image/jpeg", other),
    ]


def test_edit_errors_use_the_same_messages(fake):
    fake.add_rule(path="edits", status=413, response="error_old", body="Image exceeds 20MB")

    with pytest.raises(GatewayError) as caught:
        edit(config_for(fake), [InputImage(data=PNG, mime="image/png", filename="a.png")], {})

    assert caught.value.message == (
        "The request was too large for the gateway (try fewer or smaller input images) "
        "(HTTP 413). "
        "The gateway said: Image exceeds 20MB"
    )


# --- The model list -----------------------------------------------------------------------------


def test_list_image_models_keeps_only_image_output_models(fake):
    fake.models = [
        *fake.models,
        {"id": "no-architecture"},
        {"id": "odd", "architecture": {"output_modalities": "image"}},
        {"id": "flux", "architecture": {"output_modalities": ["image"]}},
        # Ids nobody could pick: too long to store, or carrying control characters.
        {"id": "x" * 201, "architecture": {"output_modalities": ["image"]}},
        {"id": "", "architecture": {"output_modalities": ["image"]}},
        {"id": "evil\nmodel", "architecture": {"output_modalities": ["image"]}},
        "not an object",
    ]

    models = list_image_models(config_for(fake))

    assert models == [
        {
            "id": "gemini-3.1-flash-image-preview",
            "name": "Gemini 3.1 Flash Image (Preview)",
            "input_modalities": ["text", "image"],
        },
        {"id": "gpt-image-2", "name": "GPT Image 2", "input_modalities": ["text", "image"]},
        {"id": "alibaba/qwen-image-plus", "name": "Qwen Image Plus", "input_modalities": ["text"]},
        {"id": "flux", "name": "flux", "input_modalities": []},
    ]
    [call] = fake.requests
    assert (call.method, call.path) == ("GET", "/v1/models")
    assert call.headers["authorization"] == f"Bearer {fake.api_key}"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"status": 404},
            "The gateway does not know this model or endpoint (HTTP 404). "
            "The gateway said: Model not found",
        ),
        ({"response": "not_json"}, "The gateway's model list is not JSON; is the base URL right?"),
        (
            {"body": {"data": "nope"}},
            "The gateway's model list is not in the expected shape (no data list).",
        ),
        ({"body": [1, 2]}, "The gateway's model list is not in the expected shape (no data list)."),
        ({"response": "hang"}, "The gateway did not list its models within 0.3 s."),
        (
            {"response": "nested_json"},
            "The gateway's model list is nested too deeply to be read as JSON.",
        ),
        ({"response": "gzip_bomb"}, "The gateway's model list is larger than the 8 MB limit."),
        (
            # One byte every 0.1 s never trips the 0.3 s read timeout: the total must.
            {"body": {"data": []}, "trickle": (1, 0.1)},
            "The gateway did not list its models within 0.3 s.",
        ),
    ],
)
def test_list_image_models_failures_are_gateway_errors(fake, rule, message):
    fake.add_rule(path="models", **rule)

    with pytest.raises(GatewayError) as caught:
        list_image_models(config_for(fake, models_timeout=0.3))

    assert caught.value.message == message


def test_list_image_models_when_the_gateway_is_down():
    port = closed_port()

    with pytest.raises(GatewayError) as caught:
        list_image_models(GatewayConfig(base_url=f"http://127.0.0.1:{port}/v1", api_key="k"))

    assert caught.value.message.startswith(f"Could not reach the gateway at 127.0.0.1:{port}")


# --- Concurrency and configuration --------------------------------------------------------------


def test_fifty_concurrent_calls_on_one_client_take_about_one_delay(fake):
    fake.default_delay = 0.5
    config = config_for(fake)

    async def run() -> list[GatewayResult]:
        async with async_client(config) as client:
            return await asyncio.gather(
                *(
                    generate_image(
                        client, config, model="gpt-image-2", prompt=f"fox {i}", params={}
                    )
                    for i in range(50)
                )
            )

    started = time.perf_counter()
    results = asyncio.run(run())
    elapsed = time.perf_counter() - started

    assert elapsed < 1.5
    assert len(fake.requests) == 50
    assert len({result.images[0].data for result in results}) == 50  # each prompt its own colour


def test_two_hundred_slow_calls_are_answered_side_by_side(fake):
    # The fake itself must not serialise: benchmarks and browser tests fan out this wide.
    fake.default_delay = 0.5
    config = config_for(fake)

    async def run() -> list[GatewayResult]:
        async with async_client(config) as client:
            calls = (
                generate_image(client, config, model="gpt-image-2", prompt="fox", params={})
                for _ in range(200)
            )
            return await asyncio.gather(*calls)

    started = time.perf_counter()
    results = asyncio.run(run())

    # One after another this is 100 s; side by side 0.5 s plus the client's and the fake's own
    # work for 200 calls, which a loaded 2-core CI machine has stretched past 3 s.
    assert time.perf_counter() - started < 10
    assert len(results) == len(fake.requests) == 200


def test_reset_lets_go_of_a_hanging_request(fake):
    fake.add_rule(response="hang")
    outcome: list[GatewayError] = []
    caller = threading.Thread(
        target=lambda: outcome.append(generate_error(config_for(fake, read_timeout=10)))
    )
    caller.start()
    deadline = time.monotonic() + 5
    while not fake.requests and time.monotonic() < deadline:
        time.sleep(0.01)

    fake.reset()
    caller.join(timeout=5)

    assert not caller.is_alive()
    assert outcome[0].message == "The gateway closed the connection without a complete answer."


def test_async_client_uses_the_configured_timeouts_and_key():
    config = GatewayConfig(
        base_url="https://gateway.example/v1",
        api_key="secret",
        connect_timeout=1,
        read_timeout=2,
        write_timeout=3,
        pool_timeout=4,
    )

    client = async_client(config)

    assert client.timeout == httpx.Timeout(connect=1, read=2, write=3, pool=4)
    assert client.headers["authorization"] == "Bearer secret"
    assert str(client.base_url) == "https://gateway.example/v1/"
    asyncio.run(client.aclose())


def test_config_from_settings(settings):
    settings.LLM_GATEWAY_API_KEY = "settings-key"
    settings.LLM_GATEWAY_BASE_URL = "http://gateway.internal:8080/v1/"
    settings.GATEWAY_READ_TIMEOUT = 42.0
    settings.GATEWAY_MAX_RETRIES = 1
    settings.GATEWAY_EDITS_MULTIPART = True
    settings.GATEWAY_CALL_DEADLINE = 90.0
    settings.GATEWAY_MAX_RESPONSE_BYTES = 1234

    config = GatewayConfig.from_settings()

    assert config.base_url == "http://gateway.internal:8080/v1"
    assert config.api_key == "settings-key"
    assert (config.read_timeout, config.max_retries, config.edits_multipart) == (42.0, 1, True)
    assert (config.call_deadline, config.max_response_bytes) == (90.0, 1234)
    assert "settings-key" not in repr(config)
