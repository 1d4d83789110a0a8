"""Members: invites, sign-up by email domain, deactivating, and the sign-in rate limit."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.utils import timezone

from team import services
from team.models import Invite, LoginAttempt, TeamPolicy
from tests.conftest import htmx_headers

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
PASSWORD = "tulip-harbour-47"
INVITE_URL = re.compile(r"http://testserver/invite/([A-Za-z0-9_-]+)/")


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def account(username: str = "newcomer", **extra) -> dict:
    return {"username": username, "password1": PASSWORD, "password2": PASSWORD, **extra}


def invite_token(admin_client, **data) -> str:
    """Make an invite on the Team page (plain POST → redirect) and read its link once."""
    response = admin_client.post("/team/invites/", {"email": "", "days": "7", **data})
    assert response.status_code == 302 and response["Location"] == "/team/"
    page = admin_client.get("/team/").content.decode()
    match = INVITE_URL.search(page)
    assert match, "the new invite's link is on the page"
    return match[1]


# --- the first account ---------------------------------------------------------------------------


def test_the_first_admin_is_made_by_the_service_that_makes_every_account_and_only_once():
    admin = services.first_admin_create(
        username="boss", email=" Boss@Example.COM ", password=PASSWORD
    )
    assert admin.is_staff and admin.is_superuser and admin.email == "Boss@example.com"
    with pytest.raises(services.TeamError, match="already set up"):
        services.first_admin_create(username="second", email="", password=PASSWORD)
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["boss"]


# --- invites --------------------------------------------------------------------------------------


def test_an_invite_link_makes_an_account_and_signs_it_in(admin_client, admin_user):
    token = invite_token(admin_client)
    invite = Invite.objects.get()
    assert invite.token_hash == Invite.hash_token(token) and token not in invite.token_hash
    assert invite.created_by == admin_user
    assert timedelta(days=6, hours=23) < invite.expires_at - timezone.now() <= timedelta(days=7)
    # The link is shown once: reloading the Team page does not show it again.
    assert not INVITE_URL.search(admin_client.get("/team/").content.decode())

    guest = Client()
    page = guest.get(f"/invite/{token}/")
    assert page.status_code == 200
    assert b"root invited you" in page.content and b'name="password2"' in page.content
    response = guest.post(f"/invite/{token}/", account(email="new@example.com"))
    assert response.status_code == 302 and response["Location"] == "/"

    member = get_user_model().objects.get(username="newcomer")
    assert member.email == "new@example.com"
    assert not member.is_staff and not member.is_superuser
    assert member.check_password(PASSWORD)
    invite.refresh_from_db()
    assert invite.used_by == member and invite.used_at is not None
    assert guest.get("/usage/").status_code == 200  # signed in


def test_a_used_invite_is_gone_with_a_clear_message(admin_client):
    token = invite_token(admin_client)
    assert Client().post(f"/invite/{token}/", account()).status_code == 302

    for method in ("get", "post"):
        response = getattr(Client(), method)(f"/invite/{token}/", account("second"))
        assert response.status_code == 410
        assert b"already been used" in response.content
        assert b"Ask an admin" in response.content
    assert not get_user_model().objects.filter(username="second").exists()


def test_an_expired_invite_is_gone(admin_client):
    token = invite_token(admin_client)
    Invite.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = Client().post(f"/invite/{token}/", account())
    assert response.status_code == 410
    assert b"This invite link expired on" in response.content
    assert not get_user_model().objects.filter(username="newcomer").exists()


def test_a_revoked_invite_is_gone(admin_client):
    token = invite_token(admin_client)
    invite = Invite.objects.get()
    response = admin_client.post(f"/team/invites/{invite.pk}/revoke/")
    assert response.status_code == 302
    invite.refresh_from_db()
    assert invite.revoked_at is not None
    assert invite not in Invite.objects.pending()

    response = Client().get(f"/invite/{token}/")
    assert response.status_code == 410 and b"withdrawn by an admin" in response.content


def test_an_unknown_invite_is_not_found(user):
    response = Client().get("/invite/not-a-real-token/")
    assert response.status_code == 404
    assert b"This invite link is not valid" in response.content


def test_an_email_bound_invite_gives_the_account_that_address(admin_client):
    token = invite_token(admin_client, email="Lin@Example.com", days="1")
    invite = Invite.objects.get()
    assert invite.email == "Lin@example.com"
    assert invite.expires_at - timezone.now() <= timedelta(days=1)

    page = Client().get(f"/invite/{token}/")
    assert b"Lin@example.com" in page.content and b'name="email"' not in page.content
    # An address typed anyway is ignored in favour of the invite's.
    assert Client().post(f"/invite/{token}/", account("lin", email="x@y.z")).status_code == 302
    assert get_user_model().objects.get(username="lin").email == "Lin@example.com"


def test_an_email_bound_invite_refuses_another_address_through_the_service(admin_user):
    invite, token = services.invite_create(created_by=admin_user, email="lin@example.com")
    with pytest.raises(ValidationError) as refused:
        services.invite_accept(token=token, username="lin", password=PASSWORD, email="x@y.z")
    assert refused.value.message_dict == {"email": ["This invite is for lin@example.com."]}
    invite.refresh_from_db()
    assert invite.is_usable


def test_a_weak_password_or_taken_name_keeps_the_invite_unused(admin_client, user):
    token = invite_token(admin_client)
    weak = Client().post(
        f"/invite/{token}/", {"username": "x", "password1": "123", "password2": "123"}
    )
    assert weak.status_code == 200 and b"too short" in weak.content
    taken = Client().post(f"/invite/{token}/", account("ADA"))
    assert taken.status_code == 200 and b"already exists" in taken.content
    assert Invite.objects.get().is_usable


def test_members_cannot_see_the_team_page_or_make_invites(signed_in, user):
    assert signed_in.get("/team/").status_code == 404
    assert signed_in.post("/team/invites/", {"days": "7"}).status_code == 404
    assert signed_in.post("/team/policy/", {"scope": "all"}).status_code == 404
    assert signed_in.get("/team/", headers=htmx_headers("/team/")).status_code == 404
    assert not Invite.objects.exists()
    with pytest.raises(PermissionDenied, match="Only admins"):
        services.invite_create(created_by=user)


def test_team_posts_need_the_csrf_token(admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    refused = client.post("/team/invites/", {"email": "", "days": "7"})
    assert refused.status_code == 403
    assert not Invite.objects.exists()

    client.get("/team/")  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/team/invites/", {"email": "", "days": "7", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302 and Invite.objects.count() == 1


def test_an_invite_made_with_htmx_shows_its_link_once_with_a_copy_button(admin_client):
    response = admin_client.post(
        "/team/invites/", {"email": "", "days": "30"}, headers=htmx_headers("/team/")
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="invites"')
    url = INVITE_URL.search(html)[0]
    assert f'class="primary copy-prompt" data-copy="{url}"' in html
    assert "<html" not in html


def test_an_invite_needs_a_sensible_expiry(admin_client):
    response = admin_client.post("/team/invites/", {"email": "", "days": "365"})
    assert response.status_code == 400
    assert not Invite.objects.exists()
    htmx = admin_client.post(
        "/team/invites/", {"email": "not-an-email", "days": "7"}, headers=htmx_headers("/team/")
    )
    assert htmx.status_code == 422 and b"valid email" in htmx.content


# --- sign-up by email domain ----------------------------------------------------------------------


def test_sign_up_is_closed_without_a_domain(user):
    assert Client().get("/signup/").status_code == 404
    assert Client().post("/signup/", account(email="a@example.com")).status_code == 404
    assert b"/signup/" not in Client().get(LOGIN).content


def test_sign_up_with_the_domain_makes_a_member(user):
    TeamPolicy.objects.update_or_create(pk=1, defaults={"signup_domain": "example.com"})
    guest = Client()
    assert b"Create an account" in guest.get(LOGIN).content
    page = guest.get("/signup/")
    assert page.status_code == 200 and b"@example.com" in page.content

    wrong = guest.post("/signup/", account(email="me@example.com.evil.org"))
    assert wrong.status_code == 200
    assert b"Use an email address ending in @example.com." in wrong.content
    sub = guest.post("/signup/", account(email="me@sub.example.com"))
    assert b"ending in @example.com" in sub.content
    taken = guest.post("/signup/", account(email="ADA@example.com"))
    assert b"already exists" in taken.content
    assert not get_user_model().objects.filter(username="newcomer").exists()

    response = guest.post("/signup/", account(email="Me@EXAMPLE.com"))
    assert response.status_code == 302 and response["Location"] == "/"
    member = get_user_model().objects.get(username="newcomer")
    assert member.email == "Me@example.com" and not member.is_staff
    assert guest.get("/usage/").status_code == 200


# --- deactivating members -------------------------------------------------------------------------


def test_a_deactivated_member_is_signed_out_and_cannot_sign_in(admin_client, user):
    member_client = Client()
    member_client.force_login(user)
    assert member_client.get("/usage/").status_code == 200

    response = admin_client.post(f"/team/members/{user.pk}/active/", {"active": "0"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.is_active
    assert "ada is deactivated." in admin_client.get("/team/").content.decode()

    assert member_client.get("/usage/").status_code == 302  # the old session no longer works
    refused = Client().post(LOGIN, {"username": "ada", "password": "a-long-passphrase-1"})
    assert refused.status_code == 200 and b"Please enter a correct" in refused.content

    admin_client.post(f"/team/members/{user.pk}/active/", {"active": "1"})
    user.refresh_from_db()
    assert user.is_active
    ok = Client().post(LOGIN, {"username": "ada", "password": "a-long-passphrase-1"})
    assert ok.status_code == 302


def test_deactivating_with_htmx_redraws_the_members_table(admin_client, user):
    response = admin_client.post(
        f"/team/members/{user.pk}/active/", {"active": "0"}, headers=htmx_headers("/team/")
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="members"')
    assert "Deactivated" in html and f"Reactivate {user.username}" in html


def test_nobody_can_deactivate_themselves_or_the_last_admin(
    admin_client, admin_user, django_user_model
):
    response = admin_client.post(
        f"/team/members/{admin_user.pk}/active/", {"active": "0"}, headers=htmx_headers("/team/")
    )
    assert response.status_code == 422
    assert b"root is the last active admin" in response.content
    second = django_user_model.objects.create_superuser("second", "", "a-long-passphrase-4")
    response = admin_client.post(f"/team/members/{admin_user.pk}/active/", {"active": "0"})
    assert response.status_code == 302
    assert (
        "You can&#x27;t deactivate your own account" in admin_client.get("/team/").content.decode()
    )
    admin_user.refresh_from_db()
    assert admin_user.is_active
    # The other admin may deactivate this one (no longer the last).
    services.member_set_active(actor=second, member=admin_user, active=False)
    admin_user.refresh_from_db()
    assert not admin_user.is_active


def test_only_a_superuser_can_deactivate_an_admin(admin_user, django_user_model):
    staff = django_user_model.objects.create_user(
        "staff", password="a-long-passphrase-5", is_staff=True
    )
    with pytest.raises(services.TeamError, match="Only a superuser can deactivate root"):
        services.member_set_active(actor=staff, member=admin_user, active=False)


def test_members_cannot_deactivate_anyone(signed_in, other_user):
    assert (
        signed_in.post(f"/team/members/{other_user.pk}/active/", {"active": "0"}).status_code == 404
    )
    other_user.refresh_from_db()
    assert other_user.is_active


# --- the sign-in rate limit -----------------------------------------------------------------------


def sign_in(username: str, password: str, address: str = "10.0.0.1"):
    return Client(REMOTE_ADDR=address).post(LOGIN, {"username": username, "password": password})


def test_five_failures_lock_the_username_even_with_the_right_password(user):
    for _ in range(5):
        assert b"Please enter a correct" in sign_in("ada", "wrong").content
    refused = sign_in("ada", "a-long-passphrase-1")
    assert refused.status_code == 200
    assert b"Too many failed sign-in attempts. Try again in 15 minutes." in refused.content
    assert "_auth_user_id" not in refused.wsgi_request.session
    # Case does not get round it, nor another address.
    assert b"Too many failed" in sign_in("ADA", "a-long-passphrase-1", "10.9.9.9").content
    assert LoginAttempt.objects.count() == 5  # refusals are not counted: the lock does not grow


def test_the_lock_lifts_when_the_failures_age_out(user):
    for _ in range(5):
        sign_in("ada", "wrong")
    LoginAttempt.objects.update(attempted_at=timezone.now() - timedelta(minutes=14))
    assert b"Try again in 1 minute." in sign_in("ada", "a-long-passphrase-1").content
    LoginAttempt.objects.update(attempted_at=timezone.now() - timedelta(minutes=15, seconds=1))
    assert sign_in("ada", "a-long-passphrase-1").status_code == 302


def test_signing_in_clears_that_usernames_failures(user):
    for _ in range(4):
        sign_in("ada", "wrong")
    assert sign_in("ada", "a-long-passphrase-1").status_code == 302
    for _ in range(4):
        sign_in("ada", "wrong")
    assert sign_in("ada", "a-long-passphrase-1").status_code == 302


def test_many_failures_from_one_address_lock_that_address(user, other_user):
    for n in range(20):
        sign_in(f"guess{n}", "wrong", "10.0.0.7")
    refused = sign_in("ada", "a-long-passphrase-1", "10.0.0.7")
    assert b"Too many failed sign-in attempts" in refused.content
    # A successful sign-in elsewhere does not reset the address's count.
    assert sign_in("grace", "a-long-passphrase-2", "10.0.0.8").status_code == 302
    assert b"Too many failed" in sign_in("grace", "a-long-passphrase-2", "10.0.0.7").content
    assert sign_in("ada", "a-long-passphrase-1", "10.0.0.8").status_code == 302
