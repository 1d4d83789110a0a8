"""The selection bar's Add to board and Compare in a real headless Chromium, and select many on a
run's page with JavaScript off (a plain form of checkboxes)."""

import re

import pytest

from boards import services as board_services
from boards.models import BoardImage
from gallery.models import Image
from tests.browser import (  # noqa: F401  (fixtures)
    assert_accessible,
    browser,
    open_page,
    page,
    sign_in,
)
from tests.factories import make_run, make_succeeded_image

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def finished_run(user, prompt: str, count: int = 2) -> list[Image]:
    run = make_run(user, prompt=prompt, count=count)
    return [make_succeeded_image(image) for image in run.images.order_by("position")]


def pick(tab, *images) -> None:
    tab.get_by_role("button", name="Select", exact=True).click()
    for image in images:
        tab.locator(f"#image-{image.pk} a.tile-link").click()


def test_select_two_add_them_to_a_board_then_to_a_new_one(page, user):  # noqa: F811
    a, b = finished_run(user, "two lanterns")
    (c,) = finished_run(user, "a kite", count=1)
    board = board_services.board_create(owner=user, name="Lanterns")
    sign_in(page)
    pick(page, a, b)
    bar = page.get_by_role("region", name="Selection")
    bar.get_by_text("2 selected").wait_for()
    assert bar.get_by_role("textbox", name="New board name").is_hidden()
    bar.get_by_role("combobox", name="Board").select_option(label="Lanterns")
    bar.get_by_role("button", name="Add to board").click()
    page.get_by_role("status").filter(has_text="Added 2 images to “Lanterns”.").wait_for()
    assert set(BoardImage.objects.filter(board=board).values_list("image_id", flat=True)) == {
        a.pk,
        b.pk,
    }
    assert_accessible(page)

    # A new board, by keyboard: choose "New board…", type its name, Enter.
    page.locator(f"#image-{c.pk} a.tile-link").click()
    bar.get_by_text("3 selected").wait_for()
    choice = bar.get_by_role("combobox", name="Board")
    choice.select_option(label="New board…")
    name = bar.get_by_role("textbox", name="New board name")
    assert page.evaluate("document.activeElement.name") == "new_board"
    name.fill("Kites and lanterns")
    page.keyboard.press("Enter")
    page.get_by_role("status").filter(has_text="Added 3 images to “Kites and lanterns”.").wait_for()
    assert choice.locator("option:checked").inner_text() == "Kites and lanterns"
    assert name.is_hidden()

    page.goto(f"/boards/{board.pk}/")
    tiles = page.get_by_role("region", name="Images on this board").locator("figure.tile")
    assert tiles.count() == 2
    # The board's own form: ticks counted, Compare offered for two to four.
    bar = page.get_by_role("region", name="Selection")
    bar.get_by_text("0 selected").wait_for()
    assert bar.get_by_role("button", name="Star", exact=True).is_disabled()
    page.get_by_role("checkbox", name="Select: two lanterns").first.check()
    bar.get_by_text("1 selected").wait_for()
    assert bar.get_by_role("button", name="Compare").is_disabled()
    page.get_by_role("checkbox", name="Select: two lanterns").last.check()
    bar.get_by_text("2 selected").wait_for()
    assert bar.get_by_role("button", name="Compare").is_enabled()
    assert_accessible(page)


def test_compare_two_picked_tiles(page, user):  # noqa: F811
    a, _ = finished_run(user, "two lanterns")
    (c,) = finished_run(user, "a kite", count=1)
    sign_in(page)
    pick(page, c)
    bar = page.get_by_role("region", name="Selection")
    compare = bar.get_by_role("button", name="Compare")
    assert compare.is_disabled()
    assert compare.get_attribute("aria-describedby") == "select-compare-hint"
    page.locator(f"#image-{a.pk} a.tile-link").click()
    bar.get_by_text("2 selected").wait_for()
    assert compare.is_enabled()
    compare.click()
    page.wait_for_url(re.compile(rf"/compare/\?images={c.pk}(%2C|,){a.pk}$"))
    assert page.get_by_role("group", name=re.compile(r"^Image \d$")).count() == 2
    assert page.get_by_role("heading", name="Compare 2 images").is_visible()


def test_without_javascript_tick_two_on_a_run_page_and_star(browser, live_server, user):  # noqa: F811
    a, b, c = finished_run(user, "three paper boats", count=3)
    board = board_services.board_create(owner=user, name="Boats")
    with open_page(browser, live_server.url, java_script_enabled=False) as tab:
        sign_in(tab)
        tab.goto(f"/runs/{a.run_id}/")
        bar = tab.get_by_role("region", name="Selection")
        tab.get_by_role("checkbox", name=re.compile("^Select image 1 from")).check()
        tab.get_by_role("checkbox", name=re.compile("^Select image 3 from")).check()
        bar.get_by_role("button", name="Star", exact=True).click()
        tab.get_by_text("Starred 2 images.").wait_for()
        assert tab.url.endswith(f"/runs/{a.run_id}/")
        assert set(Image.objects.filter(starred=True).values_list("pk", flat=True)) == {
            a.pk,
            c.pk,
        }

        tab.get_by_role("checkbox", name=re.compile("^Select image 2 from")).check()
        bar.get_by_role("combobox", name="Board").select_option(label="Boats")
        bar.get_by_role("button", name="Add to board").click()
        tab.get_by_text("Added 1 image to “Boats”.").wait_for()
        assert list(BoardImage.objects.filter(board=board).values_list("image_id", flat=True)) == [
            b.pk
        ]
        # (axe needs JavaScript: the same form is checked with it on, on a board's page.)
