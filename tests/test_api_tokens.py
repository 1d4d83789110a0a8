"""API tokens: the API page (create, shown once, list, revoke; admins see everyone's), how a
request presents a token, and bad tokens meeting the same sign-in limit as passwords."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from api import tokens
from api.models import ApiToken
from team.models import LoginAttempt
from tests.conftest import htmx_headers

pytestmark = pytest.mark.django_db

NEW_TOKEN = re.compile(r'aria-label="New API token"')
TOKEN_VALUE = re.compile(r'id="new-api-token" readonly value="(isk_[^"]+)"')


def models_as(token: str, *, header: str = "bearer", address: str = "10.0.0.1"):
    headers = {"Authorization": f"Bearer {token}"} if header == "bearer" else {"X-Api-Key": token}
    return Client(REMOTE_ADDR=address).get("/v1/models", headers=headers)


# --- the page ---------------------------------------------------------------------------------


def test_the_header_links_to_the_api_page(signed_in):
    html = signed_in.get("/").content.decode()
    assert '<a href="/api/">API</a>' in html


def test_a_token_made_on_the_page_is_shown_once_and_stored_only_hashed(signed_in, user):
    response = signed_in.post("/api/tokens/", {"name": "notebook", "expires": ""})
    assert response.status_code == 200
    html = response.content.decode()
    assert NEW_TOKEN.search(html) and 'data-copy="isk_' in html
    secret = TOKEN_VALUE.search(html).group(1)
    token = ApiToken.objects.get(user=user)
    assert token.name == "notebook" and secret.startswith(token.prefix + "_")
    assert token.secret_hash == ApiToken.hash_secret(secret) and secret not in token.secret_hash
    # Nowhere else: not in the session (the answer is not a redirect), not on the next page.
    again = signed_in.get("/api/").content.decode()
    assert secret not in again and not NEW_TOKEN.search(again)
    assert "notebook" in again and f"{token.prefix}…" in again and "Never" in again
    assert models_as(secret).status_code == 200


def test_the_htmx_form_answers_with_the_tokens_section(signed_in, user):
    response = signed_in.post(
        "/api/tokens/",
        {"name": "CI", "expires": "30", "private_runs": "on"},
        headers=htmx_headers(),
    )
    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith('<section id="tokens"')
    assert NEW_TOKEN.search(html)
    token = ApiToken.objects.get(user=user)
    assert token.private_runs and token.expires_at > timezone.now() + timedelta(days=29)


def test_a_token_without_a_name_is_refused_with_the_reason(signed_in):
    response = signed_in.post("/api/tokens/", {"name": "  "}, headers=htmx_headers())
    assert response.status_code == 422
    assert "Give the token a name" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_revoking_a_token_stops_it_at_once(signed_in, user):
    token, secret = tokens.token_create(user=user, name="script")
    assert models_as(secret).status_code == 200
    response = signed_in.post(f"/api/tokens/{token.pk}/revoke/", headers=htmx_headers())
    assert response.status_code == 200 and "Revoked" in response.content.decode()
    answer = models_as(secret)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "invalid_api_key"


def test_members_see_only_their_own_tokens_and_cannot_revoke_others(signed_in, other_user):
    theirs, secret = tokens.token_create(user=other_user, name="grace's laptop")
    assert "grace's laptop" not in signed_in.get("/api/").content.decode()
    assert signed_in.post(f"/api/tokens/{theirs.pk}/revoke/").status_code == 404
    assert models_as(secret).status_code == 200


def test_admins_see_and_revoke_anyones_token(client, admin_user, user):
    token, secret = tokens.token_create(user=user, name="ada's CI")
    client.force_login(admin_user)
    html = client.get("/api/").content.decode()
    assert "ada&#x27;s CI" in html and "<td>ada</td>" in html
    assert 'aria-label="Revoke the token ada&#x27;s CI of ada"' in html
    assert client.post(f"/api/tokens/{token.pk}/revoke/").status_code == 302
    assert models_as(secret).status_code == 401


# --- presenting a token -----------------------------------------------------------------------


def test_a_token_works_as_bearer_or_x_api_key_and_notes_when_it_was_used(user):
    token, secret = tokens.token_create(user=user, name="script")
    assert token.last_used_at is None
    assert models_as(secret, header="bearer").status_code == 200
    assert models_as(secret, header="x-api-key").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}, {"X-Api-Key": ""}],
)
def test_no_token_is_a_401_in_the_openai_envelope(client, headers):
    response = client.get("/v1/models", headers=headers)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "authentication_error" and error["code"] == "missing_api_key"
    assert set(error) == {"message", "type", "param", "code"}
    assert not LoginAttempt.objects.exists()  # nothing was guessed


def test_an_expired_token_or_a_deactivated_owner_is_refused(user):
    token, secret = tokens.token_create(user=user, name="old", expires_in_days=7)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert models_as(secret).json()["error"]["message"] == "This API token has expired."
    ApiToken.objects.filter(pk=token.pk).update(expires_at=None)
    assert models_as(secret).status_code == 200
    type(user).objects.filter(pk=user.pk).update(is_active=False)
    assert models_as(secret).status_code == 401


# --- the sign-in limit ------------------------------------------------------------------------


def test_guesses_at_one_token_are_limited_like_passwords(user):
    token, secret = tokens.token_create(user=user, name="script")
    wrong = token.prefix + "_" + "x" * 43
    for _ in range(5):
        assert models_as(wrong).status_code == 401
    refused = models_as(wrong)
    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert 0 < int(refused["Retry-After"]) <= 15 * 60
    # While refused, not even the right token is checked: exactly as a locked username.
    assert models_as(secret).status_code == 429
    # Another address is not locked for another token.
    _, other_secret = tokens.token_create(user=user, name="other")
    assert models_as(other_secret, address="10.0.0.2").status_code == 200


def test_token_guesses_and_password_guesses_share_the_per_address_limit(user):
    for n in range(20):
        assert models_as(f"isk_{n:010d}_guess").status_code == 401
    assert LoginAttempt.objects.filter(ip="10.0.0.1").count() == 20
    # The same address now can't try a password either: one limiter, not two.
    browser = Client(REMOTE_ADDR="10.0.0.1")
    response = browser.post(
        "/accounts/login/", {"username": "ada", "password": "a-long-passphrase-1"}
    )
    assert "Too many failed sign-in attempts" in response.content.decode()
