"""Every request the studio refuses or cannot read is answered the same way (studio/responses.py):
a plain request gets the message page, its title and the sentence; an htmx request gets the
sentence as plain text, swaps nothing (`HX-Reswap: none`) and shows it as a toast (the `toast`
event that studio.js listens for). The status code is the same either way."""

import html
import json

import pytest
from django.test import Client
from django.utils import timezone

from gallery.models import Image
from team.models import Invite, TeamPolicy
from tests.conftest import htmx_headers
from tests.factories import make_run

pytestmark = pytest.mark.django_db


def assert_message(client, method: str, url: str, *, status: int, title: str, message: str):
    """The plain answer and the htmx answer to the same request, as people see them."""
    plain = getattr(client, method)(url)
    assert plain.status_code == status, url
    page = html.unescape(plain.content.decode())
    assert '<main id="main"' in page and f"<h1>{title}</h1>" in page
    assert message in page
    if client.session.get("_auth_user_id"):
        assert 'href="/">Back to the studio</a>' in page
    else:  # signed out: no "back to" a studio they are not in
        assert ">Sign in to the studio</a>" in page and "Back to the studio" not in page

    htmx = getattr(client, method)(url, headers=htmx_headers())
    assert htmx.status_code == status, url
    assert htmx["Content-Type"] == "text/plain; charset=utf-8"
    assert htmx["HX-Reswap"] == "none"  # nothing on the page is replaced by the sentence
    sentence = htmx.content.decode()
    assert message in sentence
    assert json.loads(htmx["HX-Trigger"]) == {"toast": {"message": sentence}}


def test_a_filter_that_cannot_be_read(signed_in):
    assert_message(
        signed_in,
        "get",
        "/?who=nobody-by-that-name",
        status=400,
        title="That didn't work",
        message="No member is called “nobody-by-that-name”.",
    )


def test_a_month_that_cannot_be_read(signed_in):
    for url in ("/usage/?month=2026-13", "/usage.csv?month=2026-13"):
        assert_message(
            signed_in,
            "get",
            url,
            status=400,
            title="That month doesn't work",
            message="is not a month",
        )


def test_an_invite_that_cannot_be_used(user, admin_user):
    guest = Client()
    assert_message(
        guest,
        "get",
        "/invite/not-a-real-token/",
        status=404,
        title="This invite can't be used",
        message="This invite link is not valid.",
    )
    invite = Invite.objects.create(
        token_hash=Invite.hash_token("withdrawn"),
        created_by=admin_user,
        expires_at=timezone.now() + timezone.timedelta(days=1),
        revoked_at=timezone.now(),
    )
    assert_message(
        guest,
        "get",
        "/invite/withdrawn/",
        status=410,
        title="This invite can't be used",
        message="This invite link was withdrawn by an admin.",
    )
    assert Invite.objects.get(pk=invite.pk).used_at is None


def test_a_run_with_nothing_to_download(signed_in, user):
    # Once a 400 over htmx and a 404 without it; now a 404 both ways (nothing is at that address).
    run = make_run(user, count=2)
    assert_message(
        signed_in,
        "get",
        f"/runs/{run.pk}/download/",
        status=404,
        title="Nothing to download",
        message="This run has no finished images yet, so there is nothing to download.",
    )


def test_an_address_with_nothing_at_it(signed_in):
    assert_message(
        signed_in,
        "get",
        "/no-such-page/",
        status=404,
        title="Not found",
        message="There is nothing at this address.",
    )


def test_an_action_on_someone_elses_run(client, user, other_user):
    theirs = make_run(other_user)
    client.force_login(user)
    assert_message(
        client,
        "post",
        f"/runs/{theirs.pk}/delete/",
        status=403,
        title="Not allowed",
        message="Only the person who made this run",
    )
    assert Image.objects.filter(run=theirs, deleted_at__isnull=True).exists()


def test_a_retry_the_team_refuses(signed_in, user, fake_gateway):
    # Once a 200 over htmx and a 403 without it; now a 403 both ways, like every refusal.
    image = make_run(user, models=["gpt-image-2"]).images.get()
    Image.objects.filter(pk=image.pk).update(status="failed", error="The provider failed (502).")
    TeamPolicy.objects.update_or_create(pk=1, defaults={"allowed_models": ["zai/cogview-4"]})
    assert_message(
        signed_in,
        "post",
        f"/images/{image.pk}/retry/",
        status=403,
        title="Model not available",
        message="An admin has removed GPT Image 2 from the team's models, so it can't run any more.",
    )
    assert Image.objects.get(pk=image.pk).status == "failed"


def test_a_form_that_cannot_be_verified(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert_message(
        client,
        "post",
        "/prompts/1/forget/",
        status=403,
        title="Please try again",
        message="The form could not be verified",
    )
