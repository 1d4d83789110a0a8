"""The /v1 API walked with hostile values, as tests/test_hostile_params.py walks the pages: every
parameter alone, with every JSON type and the walk's hostile strings, and hostile headers. No
answer may be a 5xx, and every refusal is OpenAI's envelope."""

import json

import pytest
from django.test import Client

from api import tokens
from gallery.models import Upload
from tests.test_hostile_params import HOSTILE, PYTHON_WORDS

pytestmark = pytest.mark.django_db

PARAMS = ("model", "prompt", "n", "size", "aspect_ratio", "quality", "style", "background",
          "output_format", "output_compression", "moderation", "response_format", "image_size",
          "input_fidelity", "stream", "service_tier", "user")  # fmt: skip
JSON_VALUES = (None, True, False, 0, -1, 1.5, 1e308, 2**70, [], {}, ["offline/aurora"],
               {"a": 1}, "\ud800", "a\x00b", "x" * 5000, "auto", "1:0", "0x0", "-5x5",
               "99999999999x1", "ℕ:2")  # fmt: skip
BASE = {"model": "offline/aurora", "prompt": "a red fox"}


@pytest.fixture
def secret(user, settings):
    settings.API_WAIT_SECONDS = 0.05  # no worker: a request that is accepted answers 504
    # Hundreds of requests a minute with one token: the walk reads every one (check() refuses a
    # 429), so the rate limit is off here (tests/test_api_rate_limit.py tests it).
    settings.API_RATE_PER_MINUTE = settings.API_RATE_PER_MINUTE_PER_MEMBER = 0
    _, secret = tokens.token_create(user=user, name="walk")
    return secret


def check(response, where: str) -> None:
    assert response.status_code < 500 or response.status_code in (502, 504), where
    assert response.status_code != 429, f"rate-limited, so not read: {where}"
    # stream=true: the whole event stream (a 504 in its last event, with no worker here).
    body = b"".join(response) if response.streaming else response.content
    text = body.decode(errors="replace")
    for words in PYTHON_WORDS:
        assert words not in text, f"{words!r} shown for {where}"
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}, where


def test_every_generation_parameter_survives_hostile_values(secret):
    client = Client()
    headers = {"Authorization": f"Bearer {secret}"}
    sent = 0
    for name in PARAMS:
        for value in (*JSON_VALUES, *HOSTILE):
            body = json.dumps({**BASE, name: value})
            response = client.post(
                "/v1/images/generations", body, content_type="application/json", headers=headers
            )
            check(response, f"{name}={value!r:.60}")
            sent += 1
    assert sent > 500


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer " + "x" * 10_000},
        {"Authorization": "Bearer isk_\x00"},
        {"Authorization": "Bearer \u00e9\u00e9"},
        {"X-Api-Key": "isk_²²²²²²²²²²_x"},
        {"Authorization": "Bearer"},
    ],
)
@pytest.mark.parametrize("path", ["/v1/models", "/v1/images/generations"])
def test_hostile_tokens_are_a_401(path, headers):
    client = Client()
    send = client.get if path == "/v1/models" else client.post
    response = send(path, headers=headers)
    check(response, f"{path} {headers!r:.60}")
    assert response.status_code == 401


@pytest.mark.parametrize("length", ["-1", "abc", "99999999999999999999", "١٢"])
def test_a_hostile_content_length_is_refused_not_crashed(secret, length):
    response = Client().post(
        "/v1/images/generations",
        json.dumps(BASE),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
        CONTENT_LENGTH=length,
    )
    check(response, f"Content-Length {length}")


def test_json_nested_past_the_readers_limit_is_a_400(secret):
    response = Client().post(
        "/v1/images/generations",
        "[" * 200_000 + "]" * 200_000,
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )
    check(response, "nested JSON")
    assert response.status_code == 400


IMAGES_VALUES = (None, "x", 7, [], {}, [None], [7], ["x"], [{"image_url": None}],
                 [{"image_url": 7}], [{"image_url": {"url": 7}}], [{"image_url": "data:,"}],
                 [{"image_url": "data:image/png;base64,"}], [{"image_url": "https://"}],
                 [{"image_url": "https://[::1/a.png"}], [{"image_url": "https://%00/a"}],
                 [{"image_url": "ftp://example.com/a.png"}], [{"image_url": "x" * 5000}],
                 [{"image_url": "data:image/png;base64,AAAA"}] * 17)  # fmt: skip


def test_every_edit_input_survives_hostile_values(secret, settings, monkeypatch):
    # No worker here: a link that passes the first check is given up on quickly.
    settings.LINK_FETCH_DEADLINE_SECONDS = 0.2
    monkeypatch.setattr(Upload, "FETCH_GRACE_SECONDS", 0)
    client = Client()
    headers = {"Authorization": f"Bearer {secret}"}
    for value in (*IMAGES_VALUES, *HOSTILE):
        body = json.dumps({**BASE, "images": value})
        response = client.post(
            "/v1/images/edits", body, content_type="application/json", headers=headers
        )
        check(response, f"images={value!r:.60}")
        assert response.status_code == 400, value


def test_every_multipart_field_survives_hostile_values(secret):
    client = Client()
    headers = {"Authorization": f"Bearer {secret}"}
    for name in (*PARAMS, "image", "image[]", "mask", "file"):
        for value in HOSTILE:
            response = client.post("/v1/images/edits", {**BASE, name: value}, headers=headers)
            check(response, f"multipart {name}={value!r:.60}")
