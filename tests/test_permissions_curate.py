"""Who may do what with every URL issue 13 added (curating the gallery: cancel, trash, select
many, compare, download as, boards, share links): one table, each row requested by the owner
(a member), a second member, an admin and someone signed out, each plainly and over htmx.

A row says what each of them gets: the action done, the request answered but nothing changed
(ids of things the person may not see are ignored, as if they did not exist), or refused
(403: seen but not theirs to change; 404: not theirs to see; 400). Where a row names an effect
(a database read), a refusal and an ignored request must leave it as it was and a done one must
change it. The older URLs are tests/test_permissions.py's; a URL added to gallery, boards or
shares without a row here fails test_every_url_is_in_a_permission_table.

Adding a row: a Row with the URL, the data, `expect(owner, member, admin)` and an effect."""

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from boards import services as board_services
from boards.models import Board, BoardImage
from gallery.models import Image, Run
from shares import services as share_services
from shares.models import ShareLink
from tests.conftest import htmx_headers
from tests.factories import make_run, make_succeeded_image

pytestmark = pytest.mark.django_db

# What a request gets.
DONE = "done"  # allowed, and the effect happened
SAME = "same"  # allowed status, nothing changed (what was named is not theirs to see)
OK = "ok"  # a read, allowed
SIGN_IN = "sign in"  # sent to the sign-in page (a whole page, for htmx)
ACTORS = ("owner", "member", "admin", "anonymous")

# Before issue 13: tests/test_permissions.py walks these (image_download's new ?as= is here too).
OLDER_URLS = {
    "studio",
    "controls",
    "suggestions",
    "estimate",
    "run_create",
    "upload_create",
    "upload_detail",
    "upload_thumbnail",
    "prompt_forget",
    "events",
    "run_detail",
    "run_progress",
    "run_delete",
    "run_restore",
    "run_share",
    "run_download",
    "image_detail",
    "image_retry",
    "image_star",
    "image_delete",
    "image_restore",
    "image_thumbnail",
    "image_original",
    "image_download",
}


@dataclass
class World:
    """Everything the rows name; all of it made by the owner ("ada") unless said otherwise."""

    people: dict
    team_run: Run  # the team sees it: team_img, team_img2, trashed_img (deleted on its own)
    team_img: Image
    team_img2: Image
    trashed_img: Image
    private_run: Run  # private: private_img (on the shared board), private_img2 (on none)
    private_img: Image
    private_img2: Image
    queued_run: Run  # a team run still queued: queued_img
    queued_img: Image
    private_queued_run: Run
    private_queued_img: Image
    deleted_run: Run  # in the owner's Trash
    shared_board: Board  # the owner's, shared: team_img and private_img on it
    private_board: Board  # the owner's, private: team_img on it
    members_board: Board  # the second member's, shared, empty
    link: ShareLink  # the owner's link to team_img
    token: str

    def client(self, actor: str) -> Client:
        client = Client()
        if actor != "anonymous":
            client.force_login(self.people[actor])
        return client


def _finished(user, prompt: str, *, count: int, private: bool = False) -> tuple[Run, list]:
    run = make_run(user, prompt=prompt, count=count)
    if private:
        Run.objects.filter(pk=run.pk).update(is_private=True)
        run.is_private = True
    return run, [make_succeeded_image(image) for image in run.images.all()]


def _queued(user, prompt: str, *, private: bool = False) -> tuple[Run, Image]:
    run = make_run(user, prompt=prompt)
    Run.objects.filter(pk=run.pk).update(is_private=private)
    return run, run.images.get()


@pytest.fixture
def world(user, other_user, admin_user) -> World:
    team_run, (team_img, team_img2, trashed_img) = _finished(user, "team fox", count=3)
    Image.objects.filter(pk=trashed_img.pk).update(deleted_at=timezone.now())
    private_run, (private_img, private_img2) = _finished(user, "secret fox", count=2, private=True)
    queued_run, queued_img = _queued(user, "queued fox")
    private_queued_run, private_queued_img = _queued(user, "secret queued fox", private=True)
    deleted_run, _ = _queued(user, "binned fox")
    Run.objects.filter(pk=deleted_run.pk).update(deleted_at=timezone.now())
    shared_board = board_services.board_create(owner=user, name="Ada's team board")
    private_board = board_services.board_create(owner=user, name="Ada's secret board", shared=False)
    members_board = board_services.board_create(owner=other_user, name="Grace's board")
    for board, image in ((shared_board, team_img), (shared_board, private_img)):
        BoardImage.objects.create(board=board, image=image, added_by=user)
    BoardImage.objects.create(board=private_board, image=team_img, added_by=user)
    link, token = share_services.link_create(
        user=user, image=team_img, expires="7", include_prompt=True
    )
    return World(
        people={"owner": user, "member": other_user, "admin": admin_user},
        team_run=team_run,
        team_img=team_img,
        team_img2=team_img2,
        trashed_img=trashed_img,
        private_run=private_run,
        private_img=private_img,
        private_img2=private_img2,
        queued_run=queued_run,
        queued_img=queued_img,
        private_queued_run=private_queued_run,
        private_queued_img=private_queued_img,
        deleted_run=deleted_run,
        shared_board=shared_board,
        private_board=private_board,
        members_board=members_board,
        link=link,
        token=token,
    )


# --- effects: what a row's request may change, read again from the database ---------------------


def statuses(run_attr: str) -> Callable[[World], Any]:
    return lambda w: sorted(
        Image.objects.filter(run=getattr(w, run_attr)).values_list("status", flat=True)
    )


def image_field(image_attr: str, name: str) -> Callable[[World], Any]:
    return lambda w: (
        Image.objects.filter(pk=getattr(w, image_attr).pk).values_list(name, flat=True).first()
    )


def run_field(run_attr: str, name: str) -> Callable[[World], Any]:
    return lambda w: (
        Run.objects.filter(pk=getattr(w, run_attr).pk).values_list(name, flat=True).first()
    )


def boards_of(image_attr: str) -> Callable[[World], Any]:
    return lambda w: sorted(
        BoardImage.objects.filter(image=getattr(w, image_attr)).values_list("board_id", flat=True)
    )


def board_row(board_attr: str) -> Callable[[World], Any]:
    return lambda w: (
        Board.objects.filter(pk=getattr(w, board_attr).pk)
        .values_list("name", "is_shared", "position")
        .first()
    )


def board_positions(w: World):
    return list(Board.objects.order_by("pk").values_list("position", flat=True))


def share_links(w: World):
    return sorted(ShareLink.objects.values_list("pk", "revoked_at"))


# --- checks on what an allowed request answered -------------------------------------------------


def zip_entries(response) -> int:
    return len(zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).namelist())


def zip_of(**entries: int) -> Callable:
    def check(response, w, actor, htmx):
        assert zip_entries(response) == entries[actor]

    return check


def shows(text: str | Callable[[World], str], *, to: tuple[str, ...]) -> Callable:
    """The answer has `text` for these actors only."""

    def check(response, w, actor, htmx):
        shown = text(w) if callable(text) else text
        assert (shown in response.content.decode()) == (actor in to), (shown, actor)

    return check


def selected_count(**counts: int) -> Callable:
    def check(response, w, actor, htmx):
        assert json.loads(response.content)["count"] == counts[actor]

    return check


def ids(*attrs: str) -> Callable[[World], str]:
    return lambda w: ",".join(str(getattr(w, attr).pk) for attr in attrs)


# --- the table -------------------------------------------------------------------------------------


def expect(owner, member, admin, anonymous=SIGN_IN) -> dict:
    return {"owner": owner, "member": member, "admin": admin, "anonymous": anonymous}


EVERYONE = expect(OK, OK, OK)
PUBLIC = expect(OK, OK, OK, OK)
OWNER_AND_ADMIN = expect(OK, 404, OK)


@dataclass(frozen=True)
class Row:
    id: str
    name: str  # the URL's name
    url: Callable[[World], str]
    expect: dict
    method: str = "GET"
    data: Callable[[World], dict] = lambda w: {}
    effect: Callable[[World], Any] | None = None
    ok: tuple[int, int] = (200, 200)  # the status when allowed: plain, htmx
    check: Callable | None = None  # more about an allowed answer: (response, world, actor, htmx)


def post(id, name, url, expect, data=lambda w: {}, *, effect, ok=(302, 200), **more) -> Row:
    return Row(id, name, url, expect, "POST", data, effect, ok, **more)


ROWS = [
    # Cancel: the author and admins; someone else's team run is 403, a private one 404.
    post(
        "cancel team run",
        "run_cancel",
        lambda w: f"/runs/{w.queued_run.pk}/cancel/",
        expect(DONE, 403, DONE),
        effect=statuses("queued_run"),
    ),
    post(
        "cancel private run",
        "run_cancel",
        lambda w: f"/runs/{w.private_queued_run.pk}/cancel/",
        expect(DONE, 404, DONE),
        effect=statuses("private_queued_run"),
    ),
    post(
        "cancel team tile",
        "image_cancel",
        lambda w: f"/images/{w.queued_img.pk}/cancel/",
        expect(DONE, 403, DONE),
        effect=statuses("queued_run"),
    ),
    post(
        "cancel private tile",
        "image_cancel",
        lambda w: f"/images/{w.private_queued_img.pk}/cancel/",
        expect(DONE, 404, DONE),
        effect=statuses("private_queued_run"),
    ),
    # Compare: whoever may see every image.
    Row(
        "compare team",
        "compare",
        lambda w: f"/compare/?images={w.team_img.pk},{w.team_img2.pk}",
        EVERYONE,
    ),
    Row(
        "compare with private",
        "compare",
        lambda w: f"/compare/?images={w.team_img.pk},{w.private_img.pk}",
        OWNER_AND_ADMIN,
    ),
    # Download as: the image's own rule (404 when private to someone else).
    Row(
        "download as team",
        "image_download",
        lambda w: f"/images/{w.team_img.pk}/download/?as=jpeg",
        EVERYONE,
    ),
    Row(
        "download as private",
        "image_download",
        lambda w: f"/images/{w.private_img.pk}/download/?as=webp",
        OWNER_AND_ADMIN,
    ),
    # Select many: one request, each image under its single action's rule.
    post(
        "select star private",
        "selection_act",
        lambda w: "/selection/",
        expect(DONE, SAME, DONE),
        lambda w: {"action": "star", "ids": ids("private_img", "private_img2")(w)},
        effect=image_field("private_img", "starred"),
    ),
    post(
        "select delete team",
        "selection_act",
        lambda w: "/selection/",
        expect(DONE, SAME, DONE),
        lambda w: {"action": "delete", "ids": ids("team_img", "team_img2")(w)},
        effect=image_field("team_img", "deleted_at"),
    ),
    post(
        "select restore",
        "selection_act",
        lambda w: "/selection/",
        expect(DONE, SAME, DONE),
        lambda w: {"action": "restore", "ids": ids("trashed_img")(w)},
        effect=image_field("trashed_img", "deleted_at"),
    ),
    post(
        "select download private",
        "selection_act",
        lambda w: "/selection/",
        expect(OK, OK, OK),
        lambda w: {"action": "download", "ids": ids("private_img", "team_img")(w)},
        effect=None,
        ok=(200, 200),
        check=zip_of(owner=2, member=1, admin=2),
    ),
    # Add to board from the selection: only images the person sees, onto a board they see.
    post(
        "select add private image to a board",
        "selection_act",
        lambda w: "/selection/",
        expect(DONE, 400, DONE),  # to the member there is nothing selected that exists
        lambda w: {
            "action": "board",
            "ids": ids("private_img2")(w),
            "to_board": w.members_board.pk,
        },
        effect=boards_of("private_img2"),
    ),
    post(
        "select add to a private board",
        "selection_act",
        lambda w: "/selection/",
        expect(DONE, 404, DONE),
        lambda w: {"action": "board", "ids": ids("team_img2")(w), "to_board": w.private_board.pk},
        effect=boards_of("team_img2"),
    ),
    post(
        "select all to a new board",
        "selection_act",
        lambda w: "/selection/",
        # "secret" finds only the owner's private runs: to the member, Select all is empty.
        expect(DONE, 400, DONE),
        lambda w: {
            "action": "board",
            "all": "1",
            "q": "secret",
            "to_board": "new",
            "new_board": "x",
        },
        effect=lambda w: (boards_of("private_img2")(w), Board.objects.count()),
    ),
    Row(
        "select all count",
        "selection_count",
        lambda w: "/selection/count/?q=fox",
        EVERYONE,
        # team_img, team_img2, queued_img; the owner and admins also the three private ones
        check=selected_count(owner=6, member=3, admin=6),
    ),
    Row(
        "select all on a private board",
        "selection_count",
        lambda w: f"/selection/count/?board={w.private_board.pk}",
        expect(OK, 400, OK),
        check=selected_count(owner=1, admin=1),  # its images (of each run, only those on it)
    ),
    post(
        "select all on a private board and star",
        "selection_act",
        lambda w: "/selection/",
        expect(DONE, 400, DONE),
        lambda w: {"action": "star", "all": "1", "board": w.private_board.pk},
        effect=image_field("team_img", "starred"),
    ),
    # Trash: one's own (admins everyone's); someone else's is 404, as if it were not there.
    Row(
        "trash page",
        "trash",
        lambda w: "/trash/",
        EVERYONE,
        check=shows("binned fox", to=("owner", "admin")),
    ),
    post(
        "trash restore run",
        "trash_run_restore",
        lambda w: f"/trash/runs/{w.deleted_run.pk}/restore/",
        expect(DONE, 404, DONE),
        effect=run_field("deleted_run", "deleted_at"),
    ),
    post(
        "trash purge run",
        "trash_run_purge",
        lambda w: f"/trash/runs/{w.deleted_run.pk}/purge/",
        expect(DONE, 404, DONE),
        lambda w: {"confirmed": "1"},
        effect=run_field("deleted_run", "pk"),
    ),
    post(
        "trash restore image",
        "trash_image_restore",
        lambda w: f"/trash/images/{w.trashed_img.pk}/restore/",
        expect(DONE, 404, DONE),
        effect=image_field("trashed_img", "deleted_at"),
    ),
    post(
        "trash purge image",
        "trash_image_purge",
        lambda w: f"/trash/images/{w.trashed_img.pk}/purge/",
        expect(DONE, 404, DONE),
        lambda w: {"confirmed": "1"},
        effect=image_field("trashed_img", "pk"),
    ),
    Row(
        "trash thumbnail",
        "trash_thumbnail",
        lambda w: f"/trash/images/{w.trashed_img.pk}/thumbnail.webp",
        OWNER_AND_ADMIN,
    ),
    # Boards: shared ones are the team's to see and fill; private ones their owner's and admins'.
    Row(
        "boards page",
        "boards_page",
        lambda w: "/boards/",
        EVERYONE,
        check=shows("Ada&#x27;s secret board", to=("owner", "admin")),
    ),
    post(
        "new board with private image",
        "board_create",
        lambda w: "/boards/new/",
        expect(DONE, SAME, DONE),
        lambda w: {"name": "Picked", "image": ids("private_img2")(w)},
        effect=boards_of("private_img2"),
    ),
    post(
        "new board with team image",
        "board_create",
        lambda w: "/boards/new/",
        expect(DONE, DONE, DONE),
        lambda w: {"name": "Picked", "image": ids("team_img2")(w)},
        effect=boards_of("team_img2"),
    ),
    post(
        "reorder naming a private board",
        "boards_reorder",
        lambda w: "/boards/order/",
        expect(DONE, 400, DONE),
        lambda w: {"board": ids("members_board", "private_board", "shared_board")(w)},
        effect=board_positions,
    ),
    Row(
        "shared board page",
        "board_detail",
        lambda w: f"/boards/{w.shared_board.pk}/",
        EVERYONE,
        check=shows(lambda w: f"/images/{w.private_img.pk}/", to=("owner", "admin")),
    ),
    Row(
        "private board page",
        "board_detail",
        lambda w: f"/boards/{w.private_board.pk}/",
        OWNER_AND_ADMIN,
    ),
    post(
        "rename shared board",
        "board_rename",
        lambda w: f"/boards/{w.shared_board.pk}/rename/",
        expect(DONE, 403, DONE),
        lambda w: {"name": "Renamed", "visibility": "1"},
        effect=board_row("shared_board"),
    ),
    post(
        "rename private board",
        "board_rename",
        lambda w: f"/boards/{w.private_board.pk}/rename/",
        expect(DONE, 404, DONE),
        lambda w: {"name": "Renamed"},
        effect=board_row("private_board"),
    ),
    post(
        "delete shared board",
        "board_delete",
        lambda w: f"/boards/{w.shared_board.pk}/delete/",
        expect(DONE, 403, DONE),
        lambda w: {"confirmed": "1"},
        effect=board_row("shared_board"),
    ),
    post(
        "delete private board",
        "board_delete",
        lambda w: f"/boards/{w.private_board.pk}/delete/",
        expect(DONE, 404, DONE),
        lambda w: {"confirmed": "1"},
        effect=board_row("private_board"),
    ),
    post(
        "move shared board",
        "board_move",
        lambda w: f"/boards/{w.shared_board.pk}/move/",
        expect(DONE, DONE, DONE),
        lambda w: {"direction": "down"},
        effect=board_row("shared_board"),
    ),
    post(
        "move private board",
        "board_move",
        lambda w: f"/boards/{w.private_board.pk}/move/",
        expect(DONE, 404, DONE),
        lambda w: {"direction": "up"},
        effect=board_row("private_board"),
    ),
    post(
        "add private image to shared board",
        "board_images_add",
        lambda w: f"/boards/{w.shared_board.pk}/images/",
        expect(DONE, 404, DONE),
        lambda w: {"image": ids("private_img2")(w)},
        effect=boards_of("private_img2"),
        ok=(302, 204),
    ),
    post(
        "add team image to private board",
        "board_images_add",
        lambda w: f"/boards/{w.private_board.pk}/images/",
        expect(DONE, 404, DONE),
        lambda w: {"image": ids("team_img2")(w)},
        effect=boards_of("team_img2"),
        ok=(302, 204),
    ),
    post(
        "add team image to shared board",
        "board_images_add",
        lambda w: f"/boards/{w.shared_board.pk}/images/",
        expect(DONE, DONE, DONE),
        lambda w: {"image": ids("team_img2")(w)},
        effect=boards_of("team_img2"),
        ok=(302, 204),
    ),
    post(
        "remove private image from shared board",
        "board_images_remove",
        lambda w: f"/boards/{w.shared_board.pk}/images/remove/",
        expect(DONE, SAME, DONE),
        lambda w: {"image": ids("private_img")(w)},
        effect=boards_of("private_img"),
    ),
    post(
        "remove from private board",
        "board_images_remove",
        lambda w: f"/boards/{w.private_board.pk}/images/remove/",
        expect(DONE, 404, DONE),
        lambda w: {"image": ids("team_img")(w)},
        effect=boards_of("team_img"),
    ),
    Row(
        "shared board zip",
        "board_download",
        lambda w: f"/boards/{w.shared_board.pk}/download/",
        EVERYONE,
        check=zip_of(owner=2, member=1, admin=2),
    ),
    Row(
        "shared board zip as webp",
        "board_download",
        lambda w: f"/boards/{w.shared_board.pk}/download/?as=webp",
        EVERYONE,
        check=zip_of(owner=2, member=1, admin=2),
    ),
    Row(
        "private run zip as png",
        "run_download",
        lambda w: f"/runs/{w.private_run.pk}/download/?as=png",
        OWNER_AND_ADMIN,
        check=zip_of(owner=2, admin=2),
    ),
    Row(
        "private board zip",
        "board_download",
        lambda w: f"/boards/{w.private_board.pk}/download/",
        OWNER_AND_ADMIN,
    ),
    Row(
        "board picker team image",
        "image_boards",
        lambda w: f"/images/{w.team_img.pk}/boards/",
        EVERYONE,
        check=shows("Ada&#x27;s secret board", to=("owner", "admin")),
    ),
    Row(
        "board picker private image",
        "image_boards",
        lambda w: f"/images/{w.private_img.pk}/boards/",
        OWNER_AND_ADMIN,
    ),
    post(
        "put private image on shared board",
        "image_boards_save",
        lambda w: f"/images/{w.private_img2.pk}/boards/save/",
        expect(DONE, 404, DONE),
        lambda w: {"board": ids("shared_board")(w)},
        effect=boards_of("private_img2"),
    ),
    post(
        "put team image on private board",
        "image_boards_save",
        lambda w: f"/images/{w.team_img2.pk}/boards/save/",
        expect(DONE, SAME, DONE),
        lambda w: {"board": ids("private_board")(w)},
        effect=boards_of("team_img2"),
    ),
    # Share links: made by who may change the thing; listed and revoked by their maker or admins.
    Row(
        "share links page",
        "share_links",
        lambda w: "/shares/",
        EVERYONE,
        check=shows("Revoke link", to=("owner", "admin")),
    ),
    Row(
        "share form private image",
        "share_new",
        lambda w: f"/shares/new/?image={w.private_img.pk}",
        expect(OK, 404, 403),  # private: its owner alone shares it
    ),
    Row(
        "share form team run",
        "share_new",
        lambda w: f"/shares/new/?run={w.team_run.pk}",
        expect(OK, 403, OK),
    ),
    Row(
        "share form private board",
        "share_new",
        lambda w: f"/shares/new/?board={w.private_board.pk}",
        expect(OK, 404, 403),  # private: its owner alone shares it
    ),
    post(
        "share private image",
        "share_new",
        lambda w: "/shares/new/",
        expect(DONE, 404, 403),
        lambda w: {"image": w.private_img.pk, "expires": "7"},
        effect=share_links,
        ok=(200, 200),
    ),
    post(
        "share private run",
        "share_new",
        lambda w: "/shares/new/",
        expect(DONE, 404, 403),
        lambda w: {"run": w.private_run.pk, "expires": "never"},
        effect=share_links,
        ok=(200, 200),
    ),
    post(
        "share team image",
        "share_new",
        lambda w: "/shares/new/",
        expect(DONE, 403, DONE),
        lambda w: {"image": w.team_img2.pk, "expires": "1"},
        effect=share_links,
        ok=(200, 200),
    ),
    post(
        "share shared board",
        "share_new",
        lambda w: "/shares/new/",
        expect(DONE, 403, DONE),
        lambda w: {"board": w.shared_board.pk, "expires": "30"},
        effect=share_links,
        ok=(200, 200),
    ),
    post(
        "share private board",
        "share_new",
        lambda w: "/shares/new/",
        expect(DONE, 404, 403),
        lambda w: {"board": w.private_board.pk, "expires": "30"},
        effect=share_links,
        ok=(200, 200),
    ),
    post(
        "revoke a link",
        "share_revoke",
        lambda w: f"/shares/{w.link.pk}/revoke/",
        expect(DONE, 404, DONE),
        effect=share_links,
    ),
    # The public side: open to anyone with the token, signed in or not.
    Row("shared page", "shared_page", lambda w: f"/s/{w.token}/", PUBLIC),
    Row(
        "shared thumbnail",
        "shared_thumbnail",
        lambda w: f"/s/{w.token}/images/{w.team_img.pk}/thumbnail.webp",
        PUBLIC,
    ),
    Row(
        "shared original",
        "shared_original",
        lambda w: f"/s/{w.token}/images/{w.team_img.pk}/original",
        PUBLIC,
    ),
]


MODES = (False, True)  # plain, htmx


def _cases():
    """Requests that change something get a fresh world each; those that change nothing (reads,
    refusals, ignored ids) share one, each checked to have left the effect as it was."""
    for row in ROWS:
        changing = [(a, htmx) for a in ACTORS for htmx in MODES if row.expect[a] == DONE]
        unchanging = [(a, htmx) for a in ACTORS for htmx in MODES if row.expect[a] != DONE]
        for actor, htmx in changing:
            mode = "htmx" if htmx else "plain"
            yield pytest.param(row, [(actor, htmx)], id=f"{row.id}-{actor}-{mode}")
        yield pytest.param(row, unchanging, id=f"{row.id}-others")


@pytest.mark.parametrize(("row", "requests"), list(_cases()))
def test_who_may_do_what(world, row, requests):
    for actor, htmx in requests:
        _request_and_check(world, row, actor, htmx)


def _request_and_check(world: World, row: Row, actor: str, htmx: bool):
    before = row.effect(world) if row.effect else None
    client = world.client(actor)
    headers = htmx_headers() if htmx else {}
    url = row.url(world)
    if row.method == "GET":
        response = client.get(url, headers=headers)
    else:
        response = client.post(url, row.data(world), headers=headers)
    outcome = row.expect[actor]
    who = f"{actor}, {'htmx' if htmx else 'plain'}"

    if outcome == SIGN_IN:
        target = response["HX-Redirect"] if htmx else response["Location"]
        assert response.status_code == (200 if htmx else 302), who
        assert target.startswith("/accounts/login/"), (who, target)
    elif outcome in (DONE, SAME, OK):
        assert response.status_code == row.ok[htmx], (who, response.content[:300])
        if row.check:
            row.check(response, world, actor, htmx)
    else:
        assert response.status_code == outcome, (who, response.content[:300])
    assert b"Traceback" not in (b"" if response.streaming else response.content), who

    if row.effect:
        after = row.effect(world)
        if outcome == DONE:
            assert after != before, f"{who}: the allowed request changed nothing"
        else:
            assert after == before, f"{who}: a refused request changed something"


def test_every_url_is_in_a_permission_table():
    """A URL added to gallery, boards or shares needs rows here (or, if it is not issue 13's,
    in tests/test_permissions.py and OLDER_URLS)."""
    import studio.urls  # noqa: F401  (first: it registers the <id:pk> converter)
    from boards import urls as board_urls
    from gallery import urls as gallery_urls
    from shares import urls as share_urls

    names = {
        pattern.name
        for module in (gallery_urls, board_urls, share_urls)
        for pattern in module.urlpatterns
    }
    in_table = {row.name for row in ROWS}
    assert names - OLDER_URLS - in_table == set(), "URLs with no row in the table"
    assert in_table - names == set(), "rows for URLs that are gone"
    assert len({row.id for row in ROWS}) == len(ROWS), "two rows with one id"


# --- share links: nothing beyond what was shared --------------------------------------------------


def _files(token: str, *images: Image) -> list[str]:
    return [
        f"/s/{token}/images/{image.pk}/{name}"
        for image in images
        for name in ("thumbnail.webp", "original")
    ]


def _link(w: World, kind: str) -> tuple[ShareLink, str, list[Image]]:
    """The owner's link to a run, an image or the shared board, and what it shows."""
    target, shown = {
        "run": (w.team_run, [w.team_img, w.team_img2]),
        "image": (w.team_img, [w.team_img]),
        # The owner's own private image on the board is theirs to share; members' are not.
        "board": (w.shared_board, [w.team_img, w.private_img]),
    }[kind]
    link, token = share_services.link_create(
        user=w.people["owner"], expires="7", include_prompt=True, **{kind: target}
    )
    return link, token, shown


@pytest.mark.parametrize("kind", ["run", "image", "board"])
def test_a_share_link_serves_only_what_was_shared(world, kind):
    w = world
    _, token, shown = _link(w, kind)
    _, (another_run_img,) = _finished(w.people["owner"], "another fox", count=1)
    _, (members_img,) = _finished(w.people["member"], "grace's fox", count=1)
    _, (members_private,) = _finished(w.people["member"], "grace's secret", count=1, private=True)
    # A member may put their own private image on a shared board; the owner's link never shows it.
    BoardImage.objects.create(
        board=w.shared_board, image=members_private, added_by=w.people["member"]
    )
    not_shared = {
        "run": [w.private_img, w.trashed_img, another_run_img, members_img, members_private],
        "image": [w.team_img2, w.trashed_img, w.private_img, another_run_img, members_private],
        "board": [w.team_img2, w.trashed_img, w.private_img2, another_run_img, members_private],
    }[kind]
    anonymous = Client()
    assert [anonymous.get(url).status_code for url in [f"/s/{token}/", *_files(token, *shown)]] == [
        200
    ] * (1 + 2 * len(shown))
    for url in _files(token, *not_shared, w.queued_img):
        assert anonymous.get(url).status_code == 404, url
    # Signed in changes nothing: the link's check is the link's, not the visitor's.
    for url in _files(token, w.private_img2, members_private):
        assert w.client("admin").get(url).status_code == 404, url
    page = anonymous.get(f"/s/{token}/").content.decode()
    for image in not_shared:
        assert f"/images/{image.pk}/" not in page


@pytest.mark.parametrize("kind", ["run", "image", "board"])
@pytest.mark.parametrize("end", ["revoked", "expired"])
def test_a_revoked_or_expired_link_is_404_for_the_page_and_every_file(world, kind, end):
    link, token, shown = _link(world, kind)
    urls = [f"/s/{token}/", *_files(token, *shown)]
    anonymous = Client()
    assert {anonymous.get(url).status_code for url in urls} == {200}
    if end == "revoked":
        share_services.link_revoke(actor=world.people["owner"], link=link)
    else:
        ShareLink.objects.filter(pk=link.pk).update(expires_at=timezone.now())
    for client in (anonymous, world.client("owner")):
        assert [client.get(url).status_code for url in urls] == [404] * len(urls)


# --- bulk: bounded queries, a set maximum ---------------------------------------------------------


def _many_images(user, count: int) -> list[int]:
    """`count` finished images in one team run, made in a few queries (no files: the bulk
    actions measured here never open them)."""
    run = make_run(user, prompt=f"{count} foxes")
    template = run.images.get()
    Image.objects.bulk_create(
        [
            Image(
                run=run,
                model=template.model,
                column=0,
                position=position,
                request=template.request,
                expected_width=template.expected_width,
                expected_height=template.expected_height,
                status=Image.Status.SUCCEEDED,
                file=f"many/{run.pk}-{position}.png",
                thumbnail=f"many/{run.pk}-{position}.webp",
                format="png",
            )
            for position in range(1, count)
        ],
        batch_size=500,
    )
    Image.objects.filter(pk=template.pk).update(
        status=Image.Status.SUCCEEDED, file=f"many/{run.pk}-0.png", format="png"
    )
    return list(run.images.values_list("pk", flat=True))


BULK_REQUESTS = {
    "star": lambda w, ids: ("/selection/", {"action": "star", "ids": ids}),
    "delete": lambda w, ids: ("/selection/", {"action": "delete", "ids": ids}),
    "undo delete": lambda w, ids: ("/selection/", {"action": "restore", "ids": ids}),
    "add to board": lambda w, ids: (f"/boards/{w.members_board.pk}/images/", {"image": ids}),
    "take off board": lambda w, ids: (
        f"/boards/{w.members_board.pk}/images/remove/",
        {"image": ids},
    ),
    "new board with them": lambda w, ids: ("/boards/new/", {"name": "Many", "image": ids}),
}


def _queries(client, url, data) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url, data, headers=htmx_headers())
    assert response.status_code < 300, response.content[:300]
    return len(queries)


def test_bulk_actions_on_thousands_take_the_queries_they_take_on_ten(world):
    """Each action in turn (each undoing or using the one before), on 10 ids and on 3,000."""
    member = world.people["member"]
    chosen = {"10": _many_images(member, 10), "3000": _many_images(member, 3000)}
    client = world.client("member")
    client.get("/boards/")  # the session's first read is not the action's
    counts = {}
    for action, request in BULK_REQUESTS.items():
        for size, images in chosen.items():
            counts[action, size] = _queries(client, *request(world, ",".join(map(str, images))))
    assert Image.objects.filter(run__created_by=member, starred=True).count() == 3010
    assert BoardImage.objects.filter(board__name="Many").count() == 3010
    for action in BULK_REQUESTS:
        assert counts[action, "3000"] == counts[action, "10"] <= 12, (action, counts)


@pytest.mark.parametrize("most", [None, 7])  # as configured (5000), and set lower
def test_more_than_the_maximum_is_refused_with_a_clear_message(world, settings, most):
    if most:
        settings.SELECTION_MAX_IMAGES = most
    most = settings.SELECTION_MAX_IMAGES
    w = world
    real = [w.team_img.pk, w.team_img2.pk, w.private_img.pk]
    chosen = real + list(range(10**7, 10**7 + most + 1 - len(real)))  # one more than allowed
    boards_before = sorted(BoardImage.objects.values_list("board_id", "image_id"))
    for action in ("star", "delete", "add to board", "new board with them"):
        url, data = BULK_REQUESTS[action](w, ",".join(map(str, chosen)))
        for headers in ({}, htmx_headers()):
            response = w.client("owner").post(url, data, headers=headers)
            assert response.status_code == 400, action
            message = f"That is {most + 1:,} images; act on at most {most:,} at a time"
            assert message in response.content.decode(), action
    assert not Image.objects.filter(starred=True).exists()
    assert Image.objects.filter(pk__in=real, deleted_at__isnull=False).count() == 0
    assert sorted(BoardImage.objects.values_list("board_id", "image_id")) == boards_before
    assert Board.objects.count() == 3
