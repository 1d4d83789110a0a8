"""The per-token and per-member request rate limit of /v1: a burst over it is a 429 in OpenAI's
envelope with Retry-After, requests racing in real threads never get more than the limit
through, and the limit lifts as the window slides on."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connections
from django.test import Client

from api import rate_limit, tokens
from api.models import ApiRequest
from tests.test_api_generations import error_of

pytestmark = pytest.mark.django_db(transaction=True)


def models_call(secret: str):
    return Client().get("/v1/models", headers={"Authorization": f"Bearer {secret}"})


@pytest.fixture
def secret(user):
    return tokens.token_create(user=user, name="pipeline")[1]


def test_a_burst_over_the_token_limit_is_a_429_with_retry_after(settings, secret):
    settings.API_RATE_PER_MINUTE = 5
    statuses = [models_call(secret).status_code for _ in range(5)]
    assert statuses == [200] * 5
    refused = models_call(secret)
    assert refused.status_code == 429
    error = error_of(refused)
    assert error["type"] == "rate_limit_error" and error["code"] == "rate_limit_exceeded"
    assert "This API token may make 5 requests a minute" in error["message"]
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert f"Try again in {refused['Retry-After']} second" in error["message"]
    # A refused request is not counted: only the five that went through are.
    assert ApiRequest.objects.count() == 5


def test_every_endpoint_counts_and_is_refused(settings, secret):
    settings.API_RATE_PER_MINUTE = 1
    assert models_call(secret).status_code == 200
    response = Client().post(
        "/v1/images/generations",
        {"model": "offline/aurora", "prompt": "a fox"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 429 and "Retry-After" in response
    edit = Client().post("/v1/images/edits", {"prompt": "x"}, headers={"x-api-key": secret})
    assert edit.status_code == 429


def test_a_members_tokens_share_the_member_limit(settings, user, other_user, secret):
    settings.API_RATE_PER_MINUTE = 3
    settings.API_RATE_PER_MINUTE_PER_MEMBER = 4
    second = tokens.token_create(user=user, name="notebook")[1]
    theirs = tokens.token_create(user=other_user, name="theirs")[1]
    assert [models_call(secret).status_code for _ in range(3)] == [200] * 3
    assert models_call(secret).status_code == 429  # this token's 3
    assert models_call(second).status_code == 200  # the member's 4th
    refused = models_call(second)
    assert refused.status_code == 429
    assert "Your API tokens together may make 4 requests a minute" in error_of(refused)["message"]
    # Someone else's tokens are counted apart.
    assert models_call(theirs).status_code == 200


def test_no_limit_when_set_to_zero(settings, secret):
    settings.API_RATE_PER_MINUTE = 0
    settings.API_RATE_PER_MINUTE_PER_MEMBER = 0
    assert all(models_call(secret).status_code == 200 for _ in range(8))
    assert not ApiRequest.objects.exists()


def test_parallel_requests_in_real_threads_never_exceed_the_limit(settings, user, secret):
    settings.API_RATE_PER_MINUTE = 5
    settings.API_RATE_PER_MINUTE_PER_MEMBER = 7
    second = tokens.token_create(user=user, name="second")[1]
    threads_per_token = 8
    barrier = threading.Barrier(2 * threads_per_token)
    statuses: dict[str, list[int]] = {secret: [], second: []}
    errors: list[BaseException] = []

    def call(token: str) -> None:
        try:
            barrier.wait()
            statuses[token].append(models_call(token).status_code)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=call, args=(token,))
        for token in (secret, second)
        for _ in range(threads_per_token)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    passed = {token: s.count(200) for token, s in statuses.items()}
    assert sum(passed.values()) == 7  # the member's limit, exactly
    assert all(n <= 5 for n in passed.values())  # each token's limit
    assert sorted(statuses[secret] + statuses[second]) == [200] * 7 + [429] * 9
    assert ApiRequest.objects.count() == 7


def test_the_limit_lifts_as_the_window_slides(settings, secret, monkeypatch):
    monkeypatch.setattr(rate_limit, "WINDOW", timedelta(seconds=1.5))
    settings.API_RATE_PER_MINUTE = 2
    assert [models_call(secret).status_code for _ in range(2)] == [200, 200]
    refused = models_call(secret)
    assert refused.status_code == 429 and refused["Retry-After"] in ("1", "2")
    time.sleep(1.6)
    assert [models_call(secret).status_code for _ in range(3)] == [200, 200, 429]
    # Requests older than the window are not kept.
    assert ApiRequest.objects.count() == 2


def test_a_bad_token_is_not_counted_against_anyone(settings, secret):
    settings.API_RATE_PER_MINUTE = 1
    wrong = secret[:-3] + "xyz"
    assert models_call(wrong).status_code == 401
    assert models_call(secret).status_code == 200
