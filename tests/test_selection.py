"""Select many: one POST with the picked ids or the gallery's filters; the single actions' rules
per image; bounded queries; too many refused with a clear message."""

import io
import zipfile

import pytest

from gallery import downloads
from gallery.models import Image, Run
from tests.conftest import htmx_headers
from tests.factories import make_run, make_succeeded_image

pytestmark = pytest.mark.django_db


def finished_run(user, prompt: str, count: int = 2) -> list[Image]:
    run = make_run(user, prompt=prompt, count=count)
    return [make_succeeded_image(image) for image in run.images.all()]


def ids(*images) -> str:
    return ",".join(str(image.pk) for image in images)


def test_star_and_unstar_the_picked_images(clients, user):
    a, b = finished_run(user, "two foxes")
    (c,) = finished_run(user, "one owl", count=1)
    response = clients["owner"].post(
        "/selection/", {"action": "star", "ids": ids(a, c)}, headers=htmx_headers()
    )
    assert response.status_code == 200
    assert "Starred 2 images." in response.content.decode()
    assert '"starsChanged"' in response["HX-Trigger"]
    assert set(Image.objects.filter(starred=True).values_list("pk", flat=True)) == {a.pk, c.pk}
    clients["owner"].post("/selection/", {"action": "unstar", "ids": ids(a)})
    assert set(Image.objects.filter(starred=True).values_list("pk", flat=True)) == {c.pk}
    # Stars are the team's: another member may star what they see.
    clients["member"].post("/selection/", {"action": "star", "ids": ids(b)})
    assert Image.objects.get(pk=b.pk).starred


def test_select_all_takes_what_the_filters_show_on_every_page(clients, user, other_user):
    foxes = [image for n in range(25) for image in finished_run(user, f"fox {n}", count=1)]
    (owl,) = finished_run(user, "an owl", count=1)
    finished_run(other_user, "a fox of someone else's", count=1)
    count = clients["owner"].get("/selection/count/", {"q": "fox", "who": "mine"})
    assert count.json() == {"count": 25, "max": 5000}  # more than the first page's 20 runs
    response = clients["owner"].post(
        "/selection/", {"action": "star", "all": "1", "q": "fox", "who": "mine"}
    )
    assert response.status_code == 302
    starred = set(Image.objects.filter(starred=True).values_list("pk", flat=True))
    assert starred == {image.pk for image in foxes}
    assert owl.pk not in starred


def test_delete_takes_only_your_own_with_undo(clients, user, other_user):
    mine = finished_run(user, "mine")
    theirs = finished_run(other_user, "theirs")
    response = clients["owner"].post(
        "/selection/", {"action": "delete", "ids": ids(*mine, *theirs)}, headers=htmx_headers()
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "2 images deleted; 2 are someone else’s and stay." in html
    assert "imagesDeleted" in response["HX-Trigger"]
    assert all(Image.objects.get(pk=i.pk).deleted_at for i in mine)
    assert not any(Image.objects.get(pk=i.pk).deleted_at for i in theirs)
    # In the Trash, and Undo brings them back.
    trash = clients["owner"].get("/trash/").content.decode()
    assert all(f'id="trash-image-{i.pk}"' in trash for i in mine)
    undo = clients["owner"].post(
        "/selection/", {"action": "restore", "ids": ids(*mine)}, headers=htmx_headers()
    )
    assert undo.status_code == 200
    assert not any(Image.objects.get(pk=i.pk).deleted_at for i in mine)


def test_a_member_cannot_delete_or_undo_anothers_and_an_admin_can(clients, user):
    images = finished_run(user, "mine")
    clients["member"].post("/selection/", {"action": "delete", "ids": ids(*images)})
    assert not any(Image.objects.get(pk=i.pk).deleted_at for i in images)
    clients["owner"].post("/selection/", {"action": "delete", "ids": ids(*images)})
    clients["member"].post("/selection/", {"action": "restore", "ids": ids(*images)})
    assert all(Image.objects.get(pk=i.pk).deleted_at for i in images)
    clients["admin"].post("/selection/", {"action": "restore", "ids": ids(*images)})
    assert not any(Image.objects.get(pk=i.pk).deleted_at for i in images)
    clients["admin"].post("/selection/", {"action": "delete", "ids": ids(*images)})
    assert all(Image.objects.get(pk=i.pk).deleted_at for i in images)


def test_someone_elses_private_images_are_never_touched(clients, user):
    images = finished_run(user, "a secret")
    Run.objects.filter(pk=images[0].run_id).update(is_private=True)
    for action in ("star", "delete"):
        clients["member"].post("/selection/", {"action": action, "ids": ids(*images)})
    assert not Image.objects.filter(starred=True).exists()
    assert not Image.objects.filter(deleted_at__isnull=False).exists()
    download = clients["member"].post("/selection/", {"action": "download", "ids": ids(*images)})
    assert download.status_code == 404 and "nothing to download" in download.content.decode()
    count = clients["member"].get("/selection/count/", {"q": "secret"}).json()
    assert count["count"] == 0


def test_download_streams_one_zip_of_the_originals(clients, user):
    a, b = finished_run(user, "two foxes")
    (c,) = finished_run(user, "one owl", count=1)
    pending = make_run(user, prompt="still going").images.get()
    response = clients["owner"].post(
        "/selection/", {"action": "download", "ids": ids(a, b, c, pending)}
    )
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "application/zip"
    assert "attachment;" in response["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    for image in (a, b, c):
        image.refresh_from_db()
        assert archive.read(downloads.filename_for(image)) == image.file.open("rb").read()
    assert len(archive.namelist()) == 3  # the pending one has no picture yet


def test_too_many_is_refused_with_a_clear_message(clients, user, settings):
    settings.SELECTION_MAX_IMAGES = 3
    images = [image for n in range(2) for image in finished_run(user, f"fox {n}")]
    response = clients["owner"].post(
        "/selection/", {"action": "delete", "ids": ids(*images)}, headers=htmx_headers()
    )
    assert response.status_code == 400
    assert "That is 4 images; act on at most 3 at a time." in response.content.decode()
    response = clients["owner"].post("/selection/", {"action": "star", "all": "1", "q": "fox"})
    assert response.status_code == 400 and "That is 4 images" in response.content.decode()
    assert not Image.objects.filter(deleted_at__isnull=False).exists()
    assert not Image.objects.filter(starred=True).exists()


@pytest.mark.parametrize(
    "data",
    [
        {"action": "explode", "ids": "1"},
        {"action": "star"},
        {"action": "star", "ids": "1,x"},
        {"action": "star", "all": "1", "date_from": "2026-13-40"},
        {"action": "star", "all": "1", "who": "nobody-at-all"},
    ],
)
def test_bad_input_gets_a_clear_message(clients, data):
    response = clients["owner"].post("/selection/", data)
    assert response.status_code == 400
    assert "Traceback" not in response.content.decode()


def test_changes_are_post_only(clients, user):
    images = finished_run(user, "mine")
    assert (
        clients["owner"].get("/selection/", {"action": "delete", "ids": ids(*images)}).status_code
        == 405
    )


def test_bulk_actions_take_a_fixed_number_of_queries(clients, user, django_assert_max_num_queries):
    images = [image for n in range(30) for image in finished_run(user, f"fox {n}")]
    with django_assert_max_num_queries(8):
        clients["owner"].post("/selection/", {"action": "delete", "ids": ids(*images)})
    with django_assert_max_num_queries(8):
        clients["owner"].post("/selection/", {"action": "restore", "ids": ids(*images)})
    with django_assert_max_num_queries(8):
        clients["owner"].post("/selection/", {"action": "star", "all": "1", "q": "fox"})


def test_the_gallery_offers_select(clients, user):
    finished_run(user, "mine")
    html = clients["owner"].get("/").content.decode()
    assert 'id="select-toggle"' in html and 'aria-label="Selection"' in html
