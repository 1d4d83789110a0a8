"""The sign-in rate limit holds for every way of signing in (the studio's page, Django admin's form,
`authenticate()` itself) and for attempts sent at the same moment. How the limit counts and
lifts is tested with the sign-in page in tests/test_team_accounts.py."""

import threading
import time

import pytest
from asgiref.sync import async_to_sync
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import aauthenticate, authenticate
from django.contrib.auth.hashers import MD5PasswordHasher
from django.db import connections
from django.test import Client, RequestFactory

from team.models import LoginAttempt
from tests.conftest import htmx_headers

LOGIN = "/accounts/login/"
RIGHT = "a-long-passphrase-3"  # admin_user's
REFUSED = "Too many failed sign-in attempts. Try again in 15 minutes."


def signed_in_as(response) -> str | None:
    return response.wsgi_request.session.get("_auth_user_id")


def admin_form(username: str, password: str, address: str = "10.0.0.1"):
    """Django admin's own sign-in form, as its login view would use it."""
    request = RequestFactory().post("/admin/login/", REMOTE_ADDR=address)
    return AdminAuthenticationForm(request, data={"username": username, "password": password})


# --- one sign-in page, one limit ------------------------------------------------------------------


@pytest.mark.django_db
def test_the_admins_sign_in_page_sends_people_to_the_studios(client, admin_user):
    response = client.get("/admin/login/?next=/admin/team/invite/")
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next=/admin/team/invite/"
    # The admin itself sends anonymous visitors there too, by way of its sign-in URL.
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1] == (f"{LOGIN}?next=/admin/", 302)
    assert b"Sign in to the team" in response.content
    # Signing in there leads back to the admin.
    response = client.post(
        f"{LOGIN}?next=/admin/", {"username": "root", "password": RIGHT, "next": "/admin/"}
    )
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_the_right_password_after_the_limit_does_not_get_in_through_the_admin(admin_user):
    for _ in range(5):
        Client().post("/admin/login/", {"username": "root", "password": "wrong"})
    client = Client()
    response = client.post("/admin/login/", {"username": "root", "password": RIGHT})
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    assert signed_in_as(response) is None
    assert client.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_the_admins_form_is_counted_and_refused_by_the_same_limit(admin_user):
    for _ in range(3):
        assert not admin_form("root", "wrong").is_valid()
    for _ in range(2):
        Client(REMOTE_ADDR="10.0.0.1").post(LOGIN, {"username": "root", "password": "wrong"})
    assert LoginAttempt.objects.filter(username="root").count() == 5
    # The right password, now refused by every form, without being checked.
    form = admin_form("root", RIGHT)
    assert not form.is_valid() and form.get_user() is None
    response = Client().post(LOGIN, {"username": "root", "password": RIGHT})
    assert REFUSED in response.content.decode()
    assert signed_in_as(response) is None
    assert authenticate(username="root", password=RIGHT) is None
    assert async_to_sync(aauthenticate)(username="root", password=RIGHT) is None
    assert not Client().login(username="root", password=RIGHT)
    assert LoginAttempt.objects.filter(username="root").count() == 5


@pytest.mark.django_db
def test_a_signed_in_member_is_told_the_admin_is_for_admins(signed_in):
    response = signed_in.get("/admin/", follow=True)
    assert response.status_code == 403
    assert "Only the studio&#x27;s admins can open the admin pages." in response.content.decode()
    assert len(response.redirect_chain) == 1  # no loop between the two sign-in pages


@pytest.mark.django_db
def test_the_sign_in_page_says_why_it_refused_plain_and_htmx(user):
    for _ in range(5):
        Client().post(LOGIN, {"username": "ada", "password": "wrong"})
    right = {"username": "ada", "password": "a-long-passphrase-1"}
    plain = Client().post(LOGIN, right)
    assert plain.status_code == 200 and REFUSED in plain.content.decode()
    htmx = Client().post(LOGIN, right, headers=htmx_headers(LOGIN))
    assert htmx.status_code == 200 and REFUSED in htmx.content.decode()
    assert signed_in_as(plain) is None and signed_in_as(htmx) is None


# --- attempts sent at the same moment -------------------------------------------------------------


class CountingHasher(MD5PasswordHasher):
    """MD5, counting the passwords it hashes (a check hashes the password typed, also for an
    unknown username) and taking a little time, as a real hash does."""

    hashed = 0
    _lock = threading.Lock()

    def encode(self, password, salt):
        with CountingHasher._lock:
            CountingHasher.hashed += 1
        time.sleep(0.05)
        return super().encode(password, salt)


@pytest.fixture
def counting_hasher(settings):
    settings.PASSWORD_HASHERS = ["tests.test_signin_limit.CountingHasher"]
    CountingHasher.hashed = 0
    return CountingHasher


def sign_in_at_once(attempts: list[tuple[str, str]], address: str) -> list[str]:
    """Post every (username, password) to the sign-in page from its own thread, all at once."""
    barrier = threading.Barrier(len(attempts))
    pages: list[str] = []
    errors: list[BaseException] = []

    def post(username: str, password: str) -> None:
        try:
            client = Client(REMOTE_ADDR=address)
            barrier.wait()
            response = client.post(LOGIN, {"username": username, "password": password})
            pages.append(response.content.decode())
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=attempt) for attempt in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert len(pages) == len(attempts)
    return pages


@pytest.mark.django_db(transaction=True)
def test_sixteen_guesses_at_once_for_one_username_check_at_most_five(user, counting_hasher):
    counting_hasher.hashed = 0
    pages = sign_in_at_once([("ada", f"guess-{n}") for n in range(16)], "10.0.0.1")
    assert counting_hasher.hashed == 5
    assert sum("Please enter a correct" in page for page in pages) == 5
    assert sum(REFUSED in page for page in pages) == 11
    assert LoginAttempt.objects.filter(username="ada").count() == 5


@pytest.mark.django_db(transaction=True)
def test_forty_eight_guesses_at_once_from_one_address_check_at_most_twenty(user, counting_hasher):
    counting_hasher.hashed = 0
    pages = sign_in_at_once([(f"guess{n}", "wrong") for n in range(48)], "10.0.0.7")
    assert counting_hasher.hashed == 20
    assert sum(REFUSED in page for page in pages) == 28
    assert LoginAttempt.objects.filter(ip="10.0.0.7").count() == 20
    # Another address is not held up by this one.
    response = Client(REMOTE_ADDR="10.0.0.8").post(
        LOGIN, {"username": "ada", "password": "a-long-passphrase-1"}
    )
    assert response.status_code == 302
