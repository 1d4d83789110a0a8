"""Who may see and change what, for every URL: two members and an admin.

A private run is invisible to other members (404 everywhere, as if it did not exist); admins see
it. Public runs are the team's to see, but only their author (or an admin) may change them."""

from decimal import Decimal

import pytest
from django.test import Client

from gallery.models import Image, Run, Upload
from team.models import TeamPolicy
from tests.conftest import htmx_headers
from tests.factories import make_run, make_succeeded_image, png_bytes

pytestmark = pytest.mark.django_db


def run_of(user, *, private: bool):
    run = make_run(user, prompt="private plans" if private else "team picture", count=2)
    first, second = run.images.all()
    make_succeeded_image(first)
    Image.objects.filter(pk=second.pk).update(status="failed", error="The provider failed (502).")
    Run.objects.filter(pk=run.pk).update(is_private=private)
    run.refresh_from_db()
    return run, first, second


def reads(run, image):
    return [
        f"/runs/{run.pk}/",
        f"/runs/{run.pk}/progress/?pending={image.pk}",
        f"/runs/{run.pk}/download/",
        f"/images/{image.pk}/",
        f"/images/{image.pk}/thumbnail.webp",
        f"/images/{image.pk}/original",
        f"/images/{image.pk}/download/",
        f"/?reuse={run.pk}",
        f"/?edit={image.pk}",
    ]


def writes(run, image, failed):
    return [
        f"/runs/{run.pk}/delete/",
        f"/runs/{run.pk}/share/",
        f"/images/{image.pk}/star/",
        f"/images/{image.pk}/delete/",
        f"/images/{failed.pk}/retry/",
        f"/runs/{run.pk}/cancel/",
        f"/images/{failed.pk}/cancel/",
    ]


def test_a_private_run_is_404_for_other_members_everywhere(clients, user):
    run, image, failed = run_of(user, private=True)
    for url in reads(run, image):
        assert clients["member"].get(url).status_code == 404, url
        assert clients["member"].get(url, headers=htmx_headers()).status_code == 404, url
        assert clients["owner"].get(url).status_code == 200, url
        assert clients["admin"].get(url).status_code == 200, url
    for url in writes(run, image, failed):
        assert clients["member"].post(url).status_code == 404, url
        assert clients["member"].post(url, headers=htmx_headers()).status_code == 404, url
    run.refresh_from_db()
    image.refresh_from_db()
    failed.refresh_from_db()
    assert run.deleted_at is None and run.is_private
    assert not image.starred and image.deleted_at is None and failed.status == "failed"
    # Not in their gallery, their search, or their lightbox walk either.
    assert f'id="run-{run.pk}"' not in clients["member"].get("/").content.decode()
    assert clients["member"].get("/", {"q": "private"}).content.decode().count("<article") == 0
    assert f'id="run-{run.pk}"' in clients["owner"].get("/").content.decode()
    assert f'id="run-{run.pk}"' in clients["admin"].get("/").content.decode()


def test_restoring_someone_elses_deleted_run_or_image_is_404(clients, user):
    run, image, _ = run_of(user, private=False)
    clients["owner"].post(f"/images/{image.pk}/delete/")
    clients["owner"].post(f"/runs/{run.pk}/delete/")
    assert clients["member"].post(f"/runs/{run.pk}/restore/").status_code == 404
    assert clients["member"].post(f"/images/{image.pk}/restore/").status_code == 404
    assert clients["admin"].post(f"/runs/{run.pk}/restore/").status_code == 302


def test_public_runs_are_seen_by_all_but_changed_only_by_author_or_admin(clients, user):
    run, image, failed = run_of(user, private=False)
    for url in reads(run, image):
        assert clients["member"].get(url).status_code == 200, url
    assert clients["member"].post(f"/runs/{run.pk}/delete/").status_code == 403
    assert clients["member"].post(f"/images/{image.pk}/delete/").status_code == 403
    assert clients["member"].post(f"/images/{failed.pk}/retry/").status_code == 403
    assert clients["member"].post(f"/runs/{run.pk}/share/").status_code == 403
    assert clients["member"].post(f"/runs/{run.pk}/cancel/").status_code == 403
    assert clients["member"].post(f"/images/{image.pk}/cancel/").status_code == 403
    # Stars are the team's: anyone who sees an image may star it.
    assert clients["member"].post(f"/images/{image.pk}/star/", {"starred": "1"}).status_code == 302
    assert Image.objects.get(pk=image.pk).starred
    # The buttons are not offered either (but the checks above do not rely on that).
    html = clients["member"].get("/").content.decode()
    assert f"/runs/{run.pk}/delete/" not in html and f"/images/{failed.pk}/retry/" not in html
    assert clients["admin"].post(f"/images/{failed.pk}/retry/").status_code == 302
    assert clients["admin"].post(f"/runs/{run.pk}/delete/").status_code == 302


def test_a_private_run_can_be_started_and_later_shared(clients, user):
    response = clients["owner"].post(
        "/generate/",
        {"prompt": "secret idea", "model": ["offline/aurora"], "private": "on", "count": "1"},
    )
    assert response.status_code == 302
    run = Run.objects.get()
    assert run.is_private and run.created_by == user
    assert clients["member"].get(f"/runs/{run.pk}/").status_code == 404
    assert clients["owner"].post(f"/runs/{run.pk}/share/").status_code == 302
    assert clients["member"].get(f"/runs/{run.pk}/").status_code == 200


def test_uploads_stay_with_their_owner_until_used_in_a_visible_run(clients, user):
    clients["owner"].post("/uploads/", {"image": _png_file()}, headers=htmx_headers())
    upload = Upload.objects.get()
    url = f"/uploads/{upload.pk}/thumbnail.webp"
    assert clients["owner"].get(url).status_code == 200
    assert clients["member"].get(url).status_code == 404
    assert clients["admin"].get(url).status_code == 200
    chip = f"/uploads/{upload.pk}/"  # the prompt box's chip: only ever the uploader's
    assert clients["owner"].get(chip, headers=htmx_headers()).status_code == 200
    assert clients["member"].get(chip, headers=htmx_headers()).status_code == 404
    clients["owner"].post(
        "/generate/",
        {"prompt": "edit it", "model": ["offline/aurora"], "source": [f"upload:{upload.pk}"]},
    )
    assert clients["member"].get(url).status_code == 200  # now the input of a team run


def test_an_image_of_a_private_run_cannot_be_edited_by_others(clients, user):
    _, image, _ = run_of(user, private=True)
    response = clients["member"].post(
        "/generate/",
        {"prompt": "borrow", "model": ["offline/aurora"], "source": [f"image:{image.pk}"]},
    )
    assert response.status_code == 400 and "no longer available" in response.content.decode()
    assert Run.objects.count() == 1


def _png_file():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("mine.png", png_bytes(40, 40))


# --- quotas, through the prompt box ---------------------------------------------------------------


def test_a_run_over_the_daily_limit_is_refused_with_what_is_left(clients, user, fake_gateway):
    TeamPolicy.objects.update_or_create(pk=1, defaults={"daily_image_limit": 3})
    ok = clients["owner"].post(
        "/generate/", {"prompt": "two", "model": ["gpt-image-2"], "count": "2", "size": "1024x1024"}
    )
    assert ok.status_code == 302
    refused = clients["owner"].post(
        "/generate/",
        {"prompt": "two more", "model": ["gpt-image-2"], "count": "2", "size": "1024x1024"},
        headers=htmx_headers(),
    )
    assert refused.status_code == 422
    assert "1 left today" in refused.content.decode()
    assert Run.objects.count() == 1 and Image.objects.count() == 2
    assert not fake_gateway.calls(path="images/generations")  # nothing went upstream


def test_a_run_over_the_budget_is_refused_and_the_box_shows_the_estimate(clients, fake_gateway):
    TeamPolicy.objects.update_or_create(pk=1, defaults={"monthly_budget_usd": Decimal("0.10")})
    page = clients["owner"].get("/").content.decode()
    assert "of $0.10 left this month" in page
    estimate = (
        clients["owner"]
        .get(
            "/estimate/",
            {"model": "gemini-3.1-flash-image-preview", "resolution": "4K", "count": "2"},
        )
        .content.decode()
    )
    assert "≈ $0.302" in estimate
    refused = clients["owner"].post(
        "/generate/",
        {
            "prompt": "pricey",
            "model": ["gemini-3.1-flash-image-preview"],
            "resolution": "4K",
            "count": "1",
        },
    )
    assert refused.status_code == 400
    assert "would cost about $0.15" in refused.content.decode()
    assert not Run.objects.exists()
    assert not fake_gateway.calls(path="images/generations")  # nothing went upstream


def test_retry_counts_against_the_quota_again(clients, user):
    _, _, failed = run_of(user, private=False)
    TeamPolicy.objects.update_or_create(pk=1, defaults={"daily_image_limit": 1})  # the done one
    response = clients["owner"].post(f"/images/{failed.pk}/retry/", headers=htmx_headers())
    assert "left today" in response["HX-Trigger"]
    failed.refresh_from_db()
    assert failed.status == "failed"


def test_session_cookies_are_secure_over_https(user):
    client = Client()
    response = client.post(
        "/accounts/login/",
        {"username": "ada", "password": "a-long-passphrase-1"},
        secure=True,
    )
    assert response.status_code == 302
    assert response.cookies["sessionid"]["secure"] is True
    plain = Client().post(
        "/accounts/login/", {"username": "ada", "password": "a-long-passphrase-1"}
    )
    assert not plain.cookies["sessionid"]["secure"]
