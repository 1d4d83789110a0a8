"""The selection bar's Add to board and Compare, and select many on the permalink pages without
JavaScript: ticked checkboxes post repeated `ids` to selection_act, which goes back to the page
(a safe `next`)."""

import json

import pytest
from django.contrib.messages import get_messages

from boards import services as board_services
from boards.models import Board, BoardImage
from gallery.models import Image, Run
from tests.conftest import htmx_headers
from tests.factories import make_run, make_succeeded_image

pytestmark = pytest.mark.django_db


def finished_run(user, prompt: str, count: int = 2, *, private: bool = False) -> list[Image]:
    run = make_run(user, prompt=prompt, count=count)
    Run.objects.filter(pk=run.pk).update(is_private=private)
    return [make_succeeded_image(image) for image in run.images.all()]


def ids(*images) -> str:
    return ",".join(str(image.pk) for image in images)


def on_board(board) -> set[int]:
    return set(BoardImage.objects.filter(board=board).values_list("image_id", flat=True))


def test_add_the_picked_images_to_a_board_htmx_and_plain(clients, user):
    a, b = finished_run(user, "two foxes")
    (c,) = finished_run(user, "an owl", count=1)
    pending = make_run(user, prompt="still going").images.get()
    board = board_services.board_create(owner=user, name="Foxes")
    response = clients["member"].post(
        "/selection/",
        {"action": "board", "to_board": board.pk, "ids": ids(a, b, pending)},
        headers=htmx_headers(),
    )
    assert response.status_code == 200
    assert "Added 2 images to “Foxes”." in response.content.decode()
    trigger = json.loads(response["HX-Trigger"])["addedToBoard"]
    assert trigger["board"] == board.pk and trigger["name"] == "Foxes"
    assert on_board(board) == {a.pk, b.pk}  # the unfinished one has no picture to show

    # A plain POST goes back to the page it came from, saying what it did.
    plain = clients["owner"].post(
        "/selection/",
        {"action": "board", "to_board": board.pk, "ids": ids(c), "next": f"/runs/{c.run_id}/"},
    )
    assert plain.status_code == 302 and plain["Location"] == f"/runs/{c.run_id}/"
    assert [str(m) for m in get_messages(plain.wsgi_request)] == ["Added 1 image to “Foxes”."]
    assert on_board(board) == {a.pk, b.pk, c.pk}


def test_add_to_a_new_board(clients, user):
    a, b = finished_run(user, "two foxes")
    response = clients["owner"].post(
        "/selection/",
        {"action": "board", "to_board": "new", "new_board": "  Best  foxes ", "ids": ids(a, b)},
        headers=htmx_headers(),
    )
    assert response.status_code == 200
    board = Board.objects.get()
    assert board.name == "Best foxes" and board.owner == user and board.is_shared
    assert on_board(board) == {a.pk, b.pk}
    assert "Added 2 images to “Best foxes”." in response.content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"to_board": ""}, "Choose a board, or “New board…” and a name."),
        ({"to_board": "new", "new_board": "   "}, "Give the board a name."),
        ({"to_board": "x"}, "“x” is not a valid board number."),
    ],
)
def test_add_to_board_needs_a_board(clients, user, data, message):
    a, b = finished_run(user, "two foxes")
    response = clients["owner"].post(
        "/selection/", {"action": "board", "ids": ids(a, b), **data}, headers=htmx_headers()
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Board.objects.exists() and not BoardImage.objects.exists()


def test_add_everything_the_filters_show(clients, user, other_user):
    foxes = [image for n in range(25) for image in finished_run(user, f"fox {n}", count=1)]
    finished_run(user, "an owl", count=1)
    finished_run(other_user, "a fox of someone else's", count=1)
    board = board_services.board_create(owner=user, name="Mine")
    response = clients["owner"].post(
        "/selection/",
        {"action": "board", "to_board": board.pk, "all": "1", "q": "fox", "who": "mine"},
    )
    assert response.status_code == 302 and response["Location"] == "/"
    assert on_board(board) == {image.pk for image in foxes}  # beyond the first page of runs

    # The gallery's Board filter and the board to add to are different fields.
    best = board_services.board_create(owner=user, name="Best")
    response = clients["owner"].post(
        "/selection/", {"action": "board", "to_board": best.pk, "all": "1", "board": board.pk}
    )
    assert response.status_code == 302
    assert on_board(best) == {image.pk for image in foxes}


def test_over_the_maximum_is_refused_and_nothing_changes(clients, user, settings):
    settings.SELECTION_MAX_IMAGES = 3
    images = [image for n in range(2) for image in finished_run(user, f"fox {n}")]
    for data in ({"ids": ids(*images)}, {"all": "1", "q": "fox"}):
        response = clients["owner"].post(
            "/selection/",
            {"action": "board", "to_board": "new", "new_board": "Too many", **data},
            headers=htmx_headers(),
        )
        assert response.status_code == 400
        assert "That is 4 images; act on at most 3 at a time." in response.content.decode()
    assert not Board.objects.exists() and not BoardImage.objects.exists()


def test_someone_elses_private_images_and_boards(clients, user, other_user):
    secret = finished_run(user, "a secret", private=True)
    (open_one,) = finished_run(user, "for everyone", count=1)
    shared = board_services.board_create(owner=other_user, name="Team")
    response = clients["member"].post(
        "/selection/", {"action": "board", "to_board": shared.pk, "ids": ids(*secret, open_one)}
    )
    assert response.status_code == 302
    assert on_board(shared) == {open_one.pk}  # the private ones are as if they did not exist
    only_secret = clients["member"].post(
        "/selection/", {"action": "board", "to_board": shared.pk, "ids": ids(*secret)}
    )
    assert only_secret.status_code == 400 and on_board(shared) == {open_one.pk}

    private = board_services.board_create(owner=user, name="Ada's own", shared=False)
    for board_id in (private.pk, 999999, 0):
        refused = clients["member"].post(
            "/selection/", {"action": "board", "to_board": board_id, "ids": ids(open_one)}
        )
        assert refused.status_code == 404
    assert not on_board(private)
    # An admin sees every board, as they see every private run.
    clients["admin"].post(
        "/selection/", {"action": "board", "to_board": private.pk, "ids": ids(*secret)}
    )
    assert on_board(private) == {image.pk for image in secret}


def test_compare_goes_to_the_compare_viewer_in_the_order_picked(clients, user):
    a, b = finished_run(user, "two foxes")
    (c,) = finished_run(user, "an owl", count=1)
    response = clients["owner"].post("/selection/", {"action": "compare", "ids": [c.pk, a.pk]})
    assert response.status_code == 302
    assert response["Location"] == f"/compare/?images={c.pk},{a.pk}"
    htmx = clients["owner"].post(
        "/selection/", {"action": "compare", "ids": ids(b, c, a)}, headers=htmx_headers()
    )
    assert htmx["HX-Redirect"] == f"/compare/?images={b.pk},{c.pk},{a.pk}"
    for data in ({"ids": ids(a)}, {"all": "1", "q": "fox"}):
        refused = clients["owner"].post("/selection/", {"action": "compare", **data})
        assert refused.status_code == 400
        assert "two to four images" in refused.content.decode()


def test_repeated_ids_fields_as_a_form_posts_its_checkboxes(clients, user):
    a, b = finished_run(user, "two foxes")
    (c,) = finished_run(user, "an owl", count=1)
    response = clients["owner"].post(
        "/selection/", {"action": "star", "ids": [a.pk, f"{b.pk},{c.pk}"], "next": "/runs/1/"}
    )
    assert response.status_code == 302 and response["Location"] == "/runs/1/"
    assert Image.objects.filter(starred=True).count() == 3
    bad = clients["owner"].post("/selection/", {"action": "star", "ids": [a.pk, "x"]})
    assert bad.status_code == 400
    assert Image.objects.filter(starred=True).count() == 3


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/runs/1/", "javascript:alert(1)", "runs/1/", ""],
)
def test_a_next_off_this_site_is_ignored(clients, user, target):
    images = finished_run(user, "two foxes")
    response = clients["owner"].post(
        "/selection/", {"action": "star", "ids": ids(*images), "next": target}
    )
    assert response.status_code == 302 and response["Location"] == "/"


def test_delete_and_undo_from_a_plain_form_go_back(clients, user):
    images = finished_run(user, "two foxes")
    page = f"/runs/{images[0].run_id}/"
    response = clients["owner"].post(
        "/selection/", {"action": "delete", "ids": ids(*images), "next": page}
    )
    assert response.status_code == 302 and response["Location"] == page
    assert all(Image.objects.get(pk=i.pk).deleted_at for i in images)
    undo = clients["owner"].post(
        "/selection/", {"action": "restore", "ids": [i.pk for i in images], "next": page}
    )
    assert undo.status_code == 302 and undo["Location"] == page
    assert not any(Image.objects.get(pk=i.pk).deleted_at for i in images)


def test_permalink_pages_have_a_plain_form_with_a_checkbox_per_finished_image(
    clients, user, other_user
):
    a, b = finished_run(user, "two foxes")
    pending = make_run(user, prompt="still going").images.get()
    board_services.board_create(owner=other_user, name="Grace's own", shared=False)
    team = board_services.board_create(owner=other_user, name="Team")
    html = clients["owner"].get(f"/runs/{a.run_id}/").content.decode()
    assert 'id="pick-form" method="post" action="/selection/"' in html
    for image in (a, b):
        assert f'name="ids" value="{image.pk}" form="pick-form"' in html
    assert "Select image 1 from" in html and "Select image 2 from" in html
    assert f'<option value="{team.pk}">Team</option>' in html
    assert "Grace's own" not in html  # someone else's private board is not offered
    for action in ("star", "unstar", "board", "download", "compare", "delete"):
        assert f'name="action" value="{action}"' in html
    assert f'name="next" value="/runs/{a.run_id}/"' in html
    pending_html = clients["owner"].get(f"/runs/{pending.run_id}/").content.decode()
    assert f'value="{pending.pk}" form="pick-form"' not in pending_html

    board_services.board_add_images(board=team, viewer=user, image_ids=[a.pk])
    board_html = clients["owner"].get(f"/boards/{team.pk}/").content.decode()
    assert f'name="ids" value="{a.pk}" form="pick-form"' in board_html
    assert "Select: two foxes" in board_html
    # The gallery's own bar offers the same boards, and Compare.
    studio = clients["owner"].get("/").content.decode()
    assert f'<option value="{team.pk}">Team</option>' in studio
    assert 'id="select-compare" method="get" action="/compare/"' in studio


def test_a_permalink_form_action_shows_what_it_did_on_the_page(clients, user):
    images = finished_run(user, "two foxes")
    page = f"/runs/{images[0].run_id}/"
    response = clients["owner"].post(
        "/selection/", {"action": "star", "ids": [i.pk for i in images], "next": page}, follow=True
    )
    assert response.redirect_chain == [(page, 302)]
    assert "Starred 2 images." in response.content.decode()
    again = clients["owner"].get(page).content.decode()
    assert "Starred 2 images." not in again  # once


def test_add_to_board_takes_a_fixed_number_of_queries(clients, user, django_assert_max_num_queries):
    images = [image for n in range(30) for image in finished_run(user, f"fox {n}")]
    board = board_services.board_create(owner=user, name="Foxes")
    with django_assert_max_num_queries(11):  # with counting those on it already
        clients["owner"].post(
            "/selection/", {"action": "board", "to_board": board.pk, "ids": ids(*images)}
        )
    with django_assert_max_num_queries(12):
        clients["owner"].post(
            "/selection/", {"action": "board", "to_board": "new", "new_board": "All", "all": "1"}
        )
    assert len(on_board(board)) == 60 and len(on_board(Board.objects.get(name="All"))) == 60


def test_add_to_board_says_which_were_on_it_already(clients, user):
    first, second = finished_run(user, "two foxes")
    (third,) = finished_run(user, "an owl", count=1)
    board = board_services.board_create(owner=user, name="Foxes")

    def add(*images) -> str:
        page = f"/runs/{first.run_id}/"
        data = {"action": "board", "to_board": board.pk, "ids": ids(*images), "next": page}
        response = clients["owner"].post("/selection/", data, follow=True)
        return response.content.decode()

    assert "Added 2 images to “Foxes”." in add(first, second)
    assert "Those 2 images were on “Foxes” already." in add(first, second)
    assert "Added 1 image to “Foxes”; 2 were on it already." in add(first, second, third)
    assert "That image was on “Foxes” already." in add(third)
    assert len(on_board(board)) == 3
