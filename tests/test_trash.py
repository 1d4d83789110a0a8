"""The Trash: deleted runs and images per member (admins see all), Restore and Delete forever."""

import io
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from gallery.models import Image, Run
from tests.conftest import htmx_headers
from tests.factories import make_run, make_succeeded_image
from tests.storage import is_stored

pytestmark = pytest.mark.django_db


def trashed(user, *, prompt="a lost lighthouse"):
    """A deleted run, and a run with one image deleted on its own; every image finished."""
    gone = make_run(user, prompt=prompt, count=2)
    for image in gone.images.all():
        make_succeeded_image(image)
    Run.objects.filter(pk=gone.pk).update(deleted_at=timezone.now())
    kept = make_run(user, prompt=f"{prompt} (kept)", count=2)
    first, _ = [make_succeeded_image(image) for image in kept.images.all()]
    Image.objects.filter(pk=first.pk).update(deleted_at=timezone.now())
    return gone, kept, first


def files_of(*images) -> list[str]:
    """The stored names of these images' files (a folder or a bucket: tests/storage.py)."""
    names = []
    for image in images:
        image.refresh_from_db()
        names += [image.file.name, image.thumbnail.name]
    return names


def test_the_trash_lists_a_members_own_deleted_runs_and_images(clients, user, other_user):
    gone, kept, lone = trashed(user)
    theirs, _, _ = trashed(other_user, prompt="someone else's")

    page = clients["owner"].get("/trash/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<h1>Trash</h1>" in html and 'href="/trash/"' in html  # the header link
    assert f'id="trash-run-{gone.pk}"' in html and f'id="trash-image-{lone.pk}"' in html
    assert f'id="trash-run-{theirs.pk}"' not in html
    assert f'id="trash-run-{kept.pk}"' not in html  # not deleted
    assert "removed for good" in html and "7 days" in html
    for image in gone.images.all():
        assert f"/trash/images/{image.pk}/thumbnail.webp" in html
    # Each Restore / Delete forever is described by its item's text, which is on the page.
    described = re.findall(r'<button[^>]*aria-describedby="([^"]+)"', html)
    assert len(described) == 4
    assert all(f'id="{ref}"' in html for ref in described), described
    assert f"trash-image-{lone.pk}-prompt" in described

    admin = clients["admin"].get("/trash/").content.decode()
    assert f'id="trash-run-{gone.pk}"' in admin and f'id="trash-run-{theirs.pk}"' in admin
    assert "everyone’s" in admin

    clients["owner"].post(f"/trash/runs/{gone.pk}/purge/", {"confirmed": "1"})
    clients["owner"].post(f"/trash/images/{lone.pk}/purge/", {"confirmed": "1"})
    assert "The Trash is empty." in clients["owner"].get("/trash/").content.decode()


def test_trash_thumbnails_only_for_whoever_may_see_the_trash(clients, user):
    gone, kept, lone = trashed(user)
    image = gone.images.first()
    assert clients["owner"].get(f"/trash/images/{image.pk}/thumbnail.webp").status_code == 200
    assert clients["owner"].get(f"/trash/images/{lone.pk}/thumbnail.webp").status_code == 200
    assert clients["admin"].get(f"/trash/images/{image.pk}/thumbnail.webp").status_code == 200
    assert clients["member"].get(f"/trash/images/{image.pk}/thumbnail.webp").status_code == 404
    # Not a way round the gallery's checks: an image not in the Trash is not served here.
    live = kept.images.exclude(pk=lone.pk).get()
    assert clients["owner"].get(f"/trash/images/{live.pk}/thumbnail.webp").status_code == 404


@pytest.mark.parametrize("htmx", [False, True])
def test_restore_a_run_and_an_image(clients, user, htmx):
    gone, _, lone = trashed(user)
    headers = htmx_headers("/trash/") if htmx else {}
    response = clients["owner"].post(f"/trash/runs/{gone.pk}/restore/", headers=headers)
    assert Run.objects.get(pk=gone.pk).deleted_at is None
    if htmx:
        assert response.status_code == 200
        html = response.content.decode()
        assert "Run restored to the gallery." in html and f'href="/#run-{gone.pk}"' in html
        assert f'id="trash-run-{gone.pk}"' not in html and f'id="trash-image-{lone.pk}"' in html
    else:
        assert response.status_code == 302 and response["Location"] == "/trash/"
    clients["owner"].post(f"/trash/images/{lone.pk}/restore/", headers=headers)
    assert Image.objects.get(pk=lone.pk).deleted_at is None
    gallery = clients["owner"].get("/").content.decode()
    assert f'id="run-{gone.pk}"' in gallery and f'id="image-{lone.pk}"' in gallery


@pytest.mark.parametrize("htmx", [False, True])
def test_delete_forever_asks_first_then_removes_rows_and_files(clients, user, htmx):
    gone, kept, lone = trashed(user)
    files = files_of(*gone.images.all(), lone)
    assert all(is_stored(name) for name in files)

    unconfirmed = clients["owner"].post(f"/trash/runs/{gone.pk}/purge/")
    assert unconfirmed.status_code == 200
    assert "cannot be undone" in unconfirmed.content.decode()
    assert Run.objects.filter(pk=gone.pk).exists()  # nothing happened yet

    headers = htmx_headers("/trash/") if htmx else {}
    response = clients["owner"].post(
        f"/trash/runs/{gone.pk}/purge/", {"confirmed": "1"}, headers=headers
    )
    assert response.status_code == (200 if htmx else 302)
    clients["owner"].post(f"/trash/images/{lone.pk}/purge/", {"confirmed": "1"}, headers=headers)
    assert not Run.objects.filter(pk=gone.pk).exists()
    assert not Image.objects.filter(run_id=gone.pk).exists()
    assert not Image.objects.filter(pk=lone.pk).exists()
    assert not any(is_stored(name) for name in files)
    assert Image.objects.filter(run=kept).count() == 1  # the rest of that run stays


def test_only_things_in_the_trash_can_be_deleted_forever(clients, user):
    run = make_run(user)
    [image] = run.images.all()
    for url in (f"/trash/runs/{run.pk}/purge/", f"/trash/images/{image.pk}/purge/"):
        assert clients["owner"].post(url, {"confirmed": "1"}).status_code == 404
    assert Image.objects.filter(pk=image.pk).exists()


@pytest.mark.parametrize("htmx", [False, True])
def test_a_member_cannot_restore_or_purge_anothers(clients, user, htmx):
    gone, _, lone = trashed(user)
    headers = htmx_headers("/trash/") if htmx else {}
    for url in (
        f"/trash/runs/{gone.pk}/restore/",
        f"/trash/runs/{gone.pk}/purge/",
        f"/trash/images/{lone.pk}/restore/",
        f"/trash/images/{lone.pk}/purge/",
    ):
        response = clients["member"].post(url, {"confirmed": "1"}, headers=headers)
        assert response.status_code in (403, 404), url
    assert Run.objects.get(pk=gone.pk).deleted_at is not None
    assert Image.objects.get(pk=lone.pk).deleted_at is not None
    # An admin may.
    assert clients["admin"].post(f"/trash/images/{lone.pk}/restore/").status_code == 302
    response = clients["admin"].post(f"/trash/runs/{gone.pk}/purge/", {"confirmed": "1"})
    assert response.status_code == 302 and not Run.objects.filter(pk=gone.pk).exists()


def test_the_trash_is_post_only_for_changes(clients, user):
    gone, _, _ = trashed(user)
    assert clients["owner"].get(f"/trash/runs/{gone.pk}/purge/").status_code == 405
    assert Run.objects.filter(pk=gone.pk).exists()


def test_purge_deleted_empties_the_trash_after_the_retention(clients, user, settings):
    gone, _, lone = trashed(user)
    files = files_of(*gone.images.all(), lone)
    call_command("purge_deleted", stdout=io.StringIO())
    assert Run.objects.filter(pk=gone.pk).exists()  # not old enough yet
    later = timezone.now() - timedelta(days=settings.DELETED_RETENTION_DAYS + 1)
    Run.objects.filter(pk=gone.pk).update(deleted_at=later)
    Image.objects.filter(pk=lone.pk).update(deleted_at=later)
    call_command("purge_deleted", stdout=io.StringIO())
    assert "The Trash is empty." in clients["owner"].get("/trash/").content.decode()
    assert not any(is_stored(name) for name in files)


def test_the_trash_page_takes_a_fixed_number_of_queries(
    clients, user, django_assert_max_num_queries
):
    for n in range(3):
        trashed(user, prompt=f"batch {n}")
    with django_assert_max_num_queries(8):
        assert clients["owner"].get("/trash/").status_code == 200


def test_deleting_an_image_redraws_its_run_and_an_emptied_run_leaves_the_gallery(clients, user):
    """The answer to deleting one image says what its run is now (its count and buttons, out of
    band); deleting its last image takes the run off the page, and the gallery no longer lists
    it (its images are in the Trash), while the next page still follows on."""
    make_succeeded_image(make_run(user, prompt="the oldest").images.get())
    run = make_run(user, prompt="two lighthouses", count=2)
    first, second = (make_succeeded_image(image) for image in run.images.all())
    for n in range(19):  # the emptied run is the last one the first page reads
        make_succeeded_image(make_run(user, prompt=f"newer {n}").images.get())

    answer = clients["owner"].post(f"/images/{first.pk}/delete/", headers=htmx_headers())
    html = answer.content.decode()
    assert answer.status_code == 200 and "Image deleted." in html
    assert f'id="run-{run.pk}-status"' in html and "1 of 1 ready" in html
    assert f'<div id="run-{run.pk}-actions" class="run-actions" hx-swap-oob="true">' in html

    html = clients["owner"].post(f"/images/{second.pk}/delete/", headers=htmx_headers())
    html = html.content.decode()
    # Nothing left to count: the page hides the run (studio.js), and Undo redraws it.
    assert "Image deleted." in html and f'id="run-{run.pk}-status"' not in html

    first_page = clients["owner"].get("/").content.decode()
    assert "two lighthouses" not in first_page and "newer 0" in first_page
    assert first_page.count('<article id="run-') == 19
    more = re.search(r'hx-get="/\?before=(\d+)"', first_page)
    assert more is not None and int(more[1]) == run.pk  # after the last run read
    second_page = clients["owner"].get("/", {"before": more[1]}).content.decode()
    assert "the oldest" in second_page and "two lighthouses" not in second_page
