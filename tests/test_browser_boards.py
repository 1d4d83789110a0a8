"""Boards in a real headless Chromium, by accessible names: add an image to a new board from its
tile, find it on the Boards page, open it in the board's lightbox, download the board's zip,
reorder boards by keyboard and by drag, filter the gallery by a board; axe on every page."""

import io
import re
import zipfile

import pytest

from boards import services
from boards.models import Board
from tests.browser import assert_accessible, browser, page, sign_in  # noqa: F401
from tests.factories import make_run, make_succeeded_image

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def finished(user, prompt):
    run = make_run(user, prompt=prompt)
    return make_succeeded_image(run.images.get(), width=96, height=54)


def test_add_to_a_new_board_from_a_tile_and_open_it(page, user, tmp_path):  # noqa: F811
    older = finished(user, "a fox in the snow")
    newer = finished(user, "a heron at dusk")
    sign_in(page)

    tile = page.locator(f"#image-{older.pk}")
    tile.hover()
    tile.get_by_role("link", name=re.compile("Add to board")).click()
    dialog = page.get_by_role("dialog", name="Add to board")
    dialog.wait_for()
    assert_accessible(page, context="#board-picker")
    dialog.get_by_role("textbox", name="New board").fill("Winter")
    dialog.get_by_role("button", name="Save boards").click()
    dialog.wait_for(state="hidden")
    page.get_by_role("status").filter(has_text="On 1 board.").first.wait_for()
    board = Board.objects.get(name="Winter")
    assert list(board.entries.values_list("image_id", flat=True)) == [older.pk]

    # From the lightbox too, onto the same board.
    page.locator(f"#image-{newer.pk} a.tile-link").click()
    lightbox = page.get_by_role("dialog", name="a heron at dusk")
    lightbox.get_by_role("link", name="Add to board").click()
    lightbox.get_by_role("checkbox", name="Winter").check()
    lightbox.get_by_role("button", name="Save boards").click()
    lightbox.get_by_text("On 1 board.").wait_for()
    assert board.entries.count() == 2
    page.keyboard.press("Escape")

    page.get_by_role("navigation", name="Account").get_by_role("link", name="Boards").click()
    page.get_by_role("heading", name="Boards", level=1).wait_for()
    assert_accessible(page)
    page.get_by_role("link", name="Winter").click()
    page.get_by_role("heading", name="Winter", level=1).wait_for()
    assert_accessible(page)
    tiles = page.locator("#board-tiles figure")
    assert [tiles.nth(i).get_attribute("id") for i in range(2)] == [
        f"image-{newer.pk}",
        f"image-{older.pk}",
    ]
    # The same lightbox, walking the board's order.
    page.locator(f"#image-{newer.pk} a.tile-link").click()
    page.get_by_role("dialog", name="a heron at dusk").wait_for()
    page.keyboard.press("ArrowRight")
    page.wait_for_url(re.compile(rf"/images/{older.pk}/\?board={board.pk}&order=board$"))
    page.keyboard.press("Escape")

    # Download as WebP: a plain GET form, the format chosen beside the button.
    page.get_by_role("combobox", name="Download all as").select_option(label="WebP")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download all").click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert path.name.startswith("winter-") and path.suffix == ".zip"
    names = zipfile.ZipFile(io.BytesIO(path.read_bytes())).namelist()
    assert len(names) == 2 and all(name.endswith(".webp") for name in names)


def test_reorder_boards_by_keyboard_and_by_drag(page, user):  # noqa: F811
    for name in ("Alpha", "Beta", "Gamma"):
        services.board_create(owner=user, name=name)
    sign_in(page)
    page.goto("/boards/")

    def names():
        return page.locator(".board-link").all_inner_texts()

    move_up = page.get_by_role("button", name="Move up: Gamma")
    move_up.focus()
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelectorAll('.board-link')[1].textContent === 'Gamma'"
    )
    assert names() == ["Alpha", "Gamma", "Beta"]
    # Focus stays on the button pressed, so it can be pressed again.
    page.wait_for_function(
        "() => document.activeElement.getAttribute('aria-label') === 'Move up: Gamma'"
    )
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelectorAll('.board-link')[0].textContent === 'Gamma'"
    )
    assert list(Board.objects.order_by("position").values_list("name", flat=True)) == [
        "Gamma", "Alpha", "Beta",
    ]  # fmt: skip

    page.locator(".board-item", has_text="Beta").drag_to(
        page.locator(".board-item", has_text="Gamma")
    )
    page.wait_for_function(
        "() => document.querySelectorAll('.board-link')[0].textContent === 'Beta'"
    )
    page.wait_for_load_state("networkidle")
    assert Board.objects.order_by("position").values_list("name", flat=True).first() == "Beta"
    assert_accessible(page)


def test_the_gallery_filters_by_board(page, user):  # noqa: F811
    on_board = finished(user, "on the board")
    finished(user, "not on it")
    board = services.board_create(owner=user, name="Chosen")
    services.board_add_images(board=board, viewer=user, image_ids=[on_board.pk])
    sign_in(page)
    page.get_by_role("combobox", name="Board").select_option(label="Chosen")
    page.wait_for_url(re.compile(rf"board={board.pk}"))
    page.get_by_role("heading", name="not on it").wait_for(state="detached")
    assert page.get_by_role("heading", name="on the board").is_visible()
    assert_accessible(page)
