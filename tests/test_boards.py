"""Boards: making, listing, adding images (one, or many by id), the board page and its zip,
the gallery's Board filter, rename, delete, reorder; who may do which (two members and an
admin, private runs and private boards)."""

import io
import json
import re
import zipfile

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from boards import services
from boards.models import Board, BoardImage
from gallery.models import Image, Run
from tests.conftest import htmx_headers
from tests.factories import make_run, make_succeeded_image

pytestmark = pytest.mark.django_db


def toast(response) -> str:
    return json.loads(response["HX-Trigger"])["toast"]["message"]


def finished(user, prompt="a red fox", *, private=False, count=1) -> list[Image]:
    run = make_run(user, prompt=prompt, count=count)
    Run.objects.filter(pk=run.pk).update(is_private=private)
    return [make_succeeded_image(image) for image in run.images.all()]


def test_make_a_board_and_add_images_by_id_plain_and_htmx(clients, user):
    a, b = finished(user, count=2)
    response = clients["owner"].post("/boards/new/", {"name": "  Foxes  ", "shared": "on"})
    board = Board.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/boards/{board.pk}/"
    assert board.name == "Foxes" and board.is_shared and board.owner == user

    added = clients["owner"].post(
        f"/boards/{board.pk}/images/", {"image": f"{a.pk},{b.pk}"}, headers=htmx_headers()
    )
    assert added.status_code == 204
    assert toast(added) == "Added 2 images to “Foxes”."
    assert set(board.entries.values_list("image_id", flat=True)) == {a.pk, b.pk}
    # Again, as repeated fields: nothing doubles.
    again = clients["owner"].post(f"/boards/{board.pk}/images/", {"image": [a.pk, b.pk]})
    assert again.status_code == 302 and BoardImage.objects.count() == 2

    listing = clients["owner"].get("/boards/").content.decode()
    assert "Foxes" in listing and "2 images" in listing
    fragment = clients["owner"].get("/boards/", headers={**htmx_headers(), "HX-Target": "boards"})
    assert fragment.content.decode().lstrip().startswith('<section id="boards"')


def test_new_board_with_images_at_once_for_the_select_bar(clients, user):
    a, b = finished(user, count=2)
    response = clients["owner"].post(
        "/boards/new/", {"name": "Picked", "image": [a.pk, b.pk]}, headers=htmx_headers()
    )
    assert response.status_code == 200 and "with 2 images." in toast(response)
    assert Board.objects.get().entries.count() == 2


def test_board_page_newest_first_with_lightbox_links_and_zip(clients, user):
    older = finished(user, "older fox")[0]
    newer = finished(user, "newer fox")[0]
    board = services.board_create(owner=user, name="Foxes")
    services.board_add_images(board=board, viewer=user, image_ids=[older.pk, newer.pk])
    page = clients["member"].get(f"/boards/{board.pk}/").content.decode()
    assert page.index(f'id="image-{newer.pk}"') < page.index(f'id="image-{older.pk}"')
    assert f'href="/images/{newer.pk}/?board={board.pk}&amp;order=board" data-lightbox' in page
    assert 'id="lightbox"' in page

    # The lightbox walks the board's order.
    lightbox = clients["member"].get(
        f"/images/{newer.pk}/?board={board.pk}&order=board", headers=htmx_headers()
    )
    assert (
        f'href="/images/{older.pk}/?board={board.pk}&amp;order=board"' in lightbox.content.decode()
    )
    assert clients["member"].get(f"/images/{newer.pk}/?order=sideways").status_code == 400

    response = clients["member"].get(f"/boards/{board.pk}/download/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="foxes-')
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert len(archive.namelist()) == 2
    assert archive.read(archive.namelist()[0]) == newer.file.open("rb").read()


def test_board_pages_are_keyset_paged(clients, user, monkeypatch):
    from boards import selectors

    monkeypatch.setattr(selectors, "BOARD_PAGE_SIZE", 2)
    images = finished(user, count=3)
    board = services.board_create(owner=user, name="Three")
    services.board_add_images(board=board, viewer=user, image_ids=[i.pk for i in images])
    first = clients["owner"].get(f"/boards/{board.pk}/").content.decode()
    assert first.count('class="tile ') == 2 and f"?before={images[1].pk}" in first
    more = (
        clients["owner"]
        .get(
            f"/boards/{board.pk}/?before={images[1].pk}",
            headers={**htmx_headers(), "HX-Target": "board-more"},
        )
        .content.decode()
    )
    assert f'id="image-{images[0].pk}"' in more and "<html" not in more
    assert clients["owner"].get(f"/boards/{board.pk}/?before=x").status_code == 400


def test_board_page_query_count_does_not_grow_with_images(clients, user):
    board = services.board_create(owner=user, name="Many")

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert clients["owner"].get(f"/boards/{board.pk}/").status_code == 200
        return len(queries)

    services.board_add_images(board=board, viewer=user, image_ids=[finished(user)[0].pk])
    count()  # the first request of a session reads what later ones have cached
    one = count()
    ids = [image.pk for _ in range(5) for image in finished(user, count=2)]
    services.board_add_images(board=board, viewer=user, image_ids=ids)
    assert count() == one


def test_gallery_filter_by_board(clients, user):
    on_board = finished(user, "on the board")[0]
    finished(user, "not on it")
    board = services.board_create(owner=user, name="Chosen")
    services.board_add_images(board=board, viewer=user, image_ids=[on_board.pk])
    page = clients["member"].get("/", {"board": board.pk}).content.decode()
    assert "on the board" in page and "not on it" not in page
    assert f'<option value="{board.pk}" selected>Chosen</option>' in page
    results = clients["member"].get(
        "/", {"board": board.pk}, headers={**htmx_headers(), "HX-Target": "gallery-results"}
    )
    assert "not on it" not in results.content.decode()
    assert clients["member"].get("/", {"board": "x"}).status_code == 400
    private = services.board_create(owner=user, name="Mine", shared=False)
    refused = clients["member"].get("/", {"board": private.pk})
    assert refused.status_code == 400 and "no board number" in refused.content.decode()


def test_the_board_filter_shows_and_selects_only_the_boards_images(clients, user):
    """A run with one image on the board: filtered by the board, the gallery shows that image
    alone, the lightbox walks only the board's, and Select all + Delete touches only it."""
    chosen, left_out = finished(user, "two foxes", count=2)
    elsewhere = finished(user, "an owl")[0]
    board = services.board_create(owner=user, name="Chosen")
    services.board_add_images(board=board, viewer=user, image_ids=[chosen.pk])
    page = clients["owner"].get("/", {"board": board.pk}).content.decode()
    assert f'id="image-{chosen.pk}"' in page
    assert f'id="image-{left_out.pk}"' not in page and f'id="image-{elsewhere.pk}"' not in page
    assert "1 of 1 ready" in page
    lightbox = clients["owner"].get(f"/images/{chosen.pk}/?board={board.pk}").content.decode()
    assert f"/images/{left_out.pk}/" not in lightbox
    count = clients["owner"].get("/selection/count/", {"board": board.pk})
    assert count.json()["count"] == 1
    deleted = clients["owner"].post(
        "/selection/", {"action": "delete", "all": "1", "board": board.pk}, headers=htmx_headers()
    )
    assert deleted.status_code == 200
    gone = set(Image.objects.filter(deleted_at__isnull=False).values_list("pk", flat=True))
    assert gone == {chosen.pk}


def test_the_lightbox_walks_as_the_page_shows_gallery_filter_or_board_page(clients, user):
    """A run with three images on the board: filtered by the board, the gallery shows them in
    the run's order, and its lightbox walks that order; the board's page shows them newest first,
    and its lightbox (order=board) walks that."""
    first, second, third = finished(user, "three foxes", count=3)
    board = services.board_create(owner=user, name="Foxes")
    services.board_add_images(board=board, viewer=user, image_ids=[first.pk, second.pk, third.pk])

    def walk(image, query: str) -> tuple[str, str]:
        html = clients["owner"].get(f"/images/{image.pk}/?{query}").content.decode()
        found = re.findall(r'<a class="lightbox-(prev|next)"[^>]*href="/images/(\d+)/', html)
        return dict(found).get("prev", ""), dict(found).get("next", "")

    page = clients["owner"].get("/", {"board": board.pk}).content.decode()
    shown = [int(pk) for pk in re.findall(r'<figure id="image-(\d+)"', page)]
    assert shown == [first.pk, second.pk, third.pk]
    assert walk(second, f"board={board.pk}") == (str(first.pk), str(third.pk))

    page = clients["owner"].get(f"/boards/{board.pk}/").content.decode()
    shown = [int(pk) for pk in re.findall(r'<figure id="image-(\d+)"', page)]
    assert shown == [third.pk, second.pk, first.pk]
    assert walk(second, f"board={board.pk}&order=board") == (str(third.pk), str(first.pk))


def test_private_images_stay_hidden_on_shared_boards(clients, user, other_user):
    public = finished(user, "team picture")[0]
    secret = finished(user, "private plans", private=True)[0]
    board = services.board_create(owner=user, name="Mixed")
    services.board_add_images(board=board, viewer=user, image_ids=[public.pk, secret.pk])
    assert board.entries.count() == 2
    for who, sees_secret in (("owner", True), ("member", False), ("admin", True)):
        page = clients[who].get(f"/boards/{board.pk}/").content.decode()
        assert "team picture" in page
        assert ("private plans" in page) is sees_secret, who
        listing = clients[who].get("/boards/").content.decode()
        assert ("2 images" if sees_secret else "1 image") in listing, who
    response = clients["member"].get(f"/boards/{board.pk}/download/")
    assert len(zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).namelist()) == 1
    # The board's lightbox walk skips it too.
    lightbox = clients["member"].get(f"/images/{public.pk}/?board={board.pk}").content.decode()
    assert f"/images/{secret.pk}/" not in lightbox


def test_a_member_cannot_add_someone_elses_private_image(clients, user, other_user):
    secret = finished(user, "private plans", private=True)[0]
    board = services.board_create(owner=other_user, name="Theirs")
    for headers in ({}, htmx_headers()):
        response = clients["member"].post(
            f"/boards/{board.pk}/images/", {"image": secret.pk}, headers=headers
        )
        assert response.status_code == 404
        response = clients["member"].post(
            f"/images/{secret.pk}/boards/save/", {"board": board.pk}, headers=headers
        )
        assert response.status_code == 404
        assert (
            clients["member"].get(f"/images/{secret.pk}/boards/", headers=headers).status_code
            == 404
        )
    assert not BoardImage.objects.exists()


def test_private_boards_are_their_owners_and_admins(clients, user):
    image = finished(user)[0]
    board = services.board_create(owner=user, name="Mine", shared=False)
    urls_get = [f"/boards/{board.pk}/", f"/boards/{board.pk}/download/"]
    urls_post = [
        (f"/boards/{board.pk}/images/", {"image": image.pk}),
        (f"/boards/{board.pk}/images/remove/", {"image": image.pk}),
        (f"/boards/{board.pk}/rename/", {"name": "Taken"}),
        (f"/boards/{board.pk}/delete/", {}),
        (f"/boards/{board.pk}/move/", {"direction": "up"}),
    ]
    for headers in ({}, htmx_headers()):
        for url in urls_get:
            assert clients["member"].get(url, headers=headers).status_code == 404, url
        for url, data in urls_post:
            assert clients["member"].post(url, data, headers=headers).status_code == 404, url
    assert "Mine" not in clients["member"].get("/boards/").content.decode()
    assert "Mine" not in clients["member"].get(f"/images/{image.pk}/boards/").content.decode()
    assert "Mine" in clients["admin"].get("/boards/").content.decode()
    assert clients["admin"].get(f"/boards/{board.pk}/").status_code == 200
    board.refresh_from_db()
    assert board.name == "Mine" and not board.entries.exists()


def test_rename_and_delete_are_the_owners_or_an_admins(clients, user):
    image = finished(user)[0]
    board = services.board_create(owner=user, name="Foxes")
    services.board_add_images(board=board, viewer=user, image_ids=[image.pk])
    assert clients["member"].post(f"/boards/{board.pk}/rename/", {"name": "X"}).status_code == 403
    assert clients["member"].post(f"/boards/{board.pk}/delete/").status_code == 403
    # Shared boards are the team's to add to and take from.
    assert (
        clients["member"]
        .post(f"/boards/{board.pk}/images/remove/", {"image": image.pk}, headers=htmx_headers())
        .status_code
        == 200
    )
    assert not board.entries.exists()

    renamed = clients["owner"].post(
        f"/boards/{board.pk}/rename/",
        {"name": "Red foxes", "visibility": "1"},
        headers=htmx_headers(),
    )
    assert renamed.status_code == 200 and renamed["HX-Redirect"] == f"/boards/{board.pk}/"
    board.refresh_from_db()
    assert board.name == "Red foxes" and not board.is_shared  # the box was unticked
    assert clients["owner"].post(f"/boards/{board.pk}/rename/", {"name": "  "}).status_code == 400
    refused = clients["owner"].post(f"/boards/{board.pk}/rename/", {"name": "a\x00b"})
    assert refused.status_code == 400 and "only have letters" in refused.content.decode()

    services.board_add_images(board=board, viewer=user, image_ids=[image.pk])
    # Deleting asks first: a page of its own without JavaScript, the browser's dialog with it.
    page = clients["admin"].get(f"/boards/{board.pk}/").content.decode()
    assert 'hx-confirm="Delete the board “Red foxes”? Its images stay in the gallery."' in page
    asked = clients["admin"].post(f"/boards/{board.pk}/delete/")
    assert asked.status_code == 200 and "Delete the board “Red foxes”?" in asked.content.decode()
    assert 'name="confirmed" value="1"' in asked.content.decode()
    assert Board.objects.filter(pk=board.pk).exists()
    done = clients["admin"].post(f"/boards/{board.pk}/delete/", {"confirmed": "1"}, follow=True)
    assert done.redirect_chain == [("/boards/", 302)]
    assert (
        "Board “Red foxes” deleted; its images are still in the gallery." in done.content.decode()
    )
    assert not Board.objects.exists() and not BoardImage.objects.exists()
    assert Image.objects.filter(pk=image.pk, deleted_at__isnull=True).exists()  # images stay


def test_move_up_and_down_and_drag_order(clients, user, other_user):
    first = services.board_create(owner=user, name="First")
    second = services.board_create(owner=other_user, name="Second")
    third = services.board_create(owner=user, name="Third")

    def order(who="owner"):
        page = clients[who].get("/boards/").content.decode()
        return sorted(("First", "Second", "Third"), key=page.index)

    response = clients["member"].post(
        f"/boards/{third.pk}/move/", {"direction": "up"}, headers=htmx_headers()
    )
    assert response.status_code == 200 and 'id="boards"' in response.content.decode()
    assert order() == ["First", "Third", "Second"]
    # The keyboard's focus stays on the button pressed, or, at an end of the list (where that
    # one is disabled), on the other button of the same board: never lost.
    focused = re.findall(r'aria-label="([^"]+)"[^>]*data-autofocus', response.content.decode())
    assert focused == ["Move up: Third"]
    to_top = clients["member"].post(
        f"/boards/{third.pk}/move/", {"direction": "up"}, headers=htmx_headers()
    )
    focused = re.findall(r'aria-label="([^"]+)"[^>]*data-autofocus', to_top.content.decode())
    assert focused == ["Move down: Third"]
    clients["member"].post(f"/boards/{third.pk}/move/", {"direction": "down"})
    assert order() == ["First", "Third", "Second"]
    assert (
        clients["owner"].post(f"/boards/{first.pk}/move/", {"direction": "down"}).status_code == 302
    )
    assert order() == ["Third", "First", "Second"]
    # At the top already: nothing moves.
    clients["owner"].post(f"/boards/{third.pk}/move/", {"direction": "up"})
    assert order() == ["Third", "First", "Second"]
    assert (
        clients["owner"].post(f"/boards/{third.pk}/move/", {"direction": "left"}).status_code == 400
    )

    dragged = clients["owner"].post(
        "/boards/order/", {"board": f"{second.pk},{third.pk},{first.pk}"}, headers=htmx_headers()
    )
    assert dragged.status_code == 200
    assert order() == ["Second", "Third", "First"]
    assert clients["owner"].post("/boards/order/", {"board": "1,x"}).status_code == 400


def test_a_drag_cannot_name_boards_the_person_cannot_see(clients, user, other_user):
    mine = services.board_create(owner=user, name="Mine", shared=False)
    theirs = services.board_create(owner=other_user, name="Theirs")
    before = list(Board.objects.values_list("pk", "position"))
    response = clients["member"].post("/boards/order/", {"board": f"{mine.pk},{theirs.pk}"})
    assert response.status_code == 400
    assert list(Board.objects.values_list("pk", "position")) == before


def test_add_to_board_picker_plain_and_htmx(clients, user):
    image = finished(user)[0]
    board = services.board_create(owner=user, name="Foxes")
    page = clients["member"].get(f"/images/{image.pk}/boards/").content.decode()
    assert "<h1>Add to board</h1>" in page and 'value="' + str(board.pk) + '"' in page
    fragment = clients["member"].get(f"/images/{image.pk}/boards/", headers=htmx_headers())
    assert fragment.content.decode().lstrip().startswith("<form")

    saved = clients["member"].post(
        f"/images/{image.pk}/boards/save/",
        {"board": [board.pk], "new_board": "Winter", "new_shared": "on"},
        headers=htmx_headers(),
    )
    assert saved.status_code == 200 and "boardsSaved" in saved["HX-Trigger"]
    assert "On 2 boards." in saved.content.decode()
    winter = Board.objects.get(name="Winter")
    assert set(BoardImage.objects.values_list("board_id", flat=True)) == {board.pk, winter.pk}
    # Unticking takes it off; a plain POST goes back to the image.
    response = clients["member"].post(f"/images/{image.pk}/boards/save/", {"board": [winter.pk]})
    assert response.status_code == 302 and response["Location"] == f"/images/{image.pk}/"
    assert list(BoardImage.objects.values_list("board_id", flat=True)) == [winter.pk]


def test_tiles_and_lightbox_offer_add_to_board(clients, user):
    image = finished(user)[0]
    gallery = clients["member"].get("/").content.decode()
    assert f'href="/images/{image.pk}/boards/"' in gallery and 'id="board-picker"' in gallery
    lightbox = (
        clients["member"].get(f"/images/{image.pk}/", headers=htmx_headers()).content.decode()
    )
    assert 'hx-target="#lightbox-extra"' in lightbox


def test_too_many_ids_at_once_are_refused_with_a_message(clients, user, settings):
    settings.SELECTION_MAX_IMAGES = 3
    board = services.board_create(owner=user, name="Big")
    response = clients["owner"].post(f"/boards/{board.pk}/images/", {"image": "1,2,3,4"})
    assert response.status_code == 400 and "at most 3" in response.content.decode()
    response = clients["owner"].post(f"/boards/{board.pk}/images/", {"image": ""})
    assert response.status_code == 400 and "Choose the images" in response.content.decode()


def test_adding_many_images_takes_bounded_queries(clients, user):
    board = services.board_create(owner=user, name="Bulk")
    ids = [image.pk for image in finished(user, count=4)]
    with CaptureQueriesContext(connection) as few:
        services.board_add_images(board=board, viewer=user, image_ids=ids[:1])
    BoardImage.objects.all().delete()
    with CaptureQueriesContext(connection) as many:
        services.board_add_images(board=board, viewer=user, image_ids=ids)
    assert len(many) == len(few) and board.entries.count() == 4
