"""Curating the gallery in a real headless Chromium, with the real worker: Cancel, Trash."""

import re
import time
import zipfile

import pytest

from gallery import downloads
from gallery.models import Image, Run
from gallery.tasks import make_run_images
from tests.browser import (  # noqa: F401  (fixtures)
    assert_accessible,
    browser,
    page,
    sign_in,
    worker,
)
from tests.factories import make_run, make_succeeded_image
from tests.storage import is_stored

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def wait_until(condition, *, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


def test_cancel_a_tile_then_the_run_against_a_hanging_gateway_then_retry(
    fake_gateway,
    page,  # noqa: F811
    user,
    worker,  # noqa: F811
):
    fake_gateway.add_rule(model="gpt-image-2", response="hang")
    run = make_run(user, prompt="a slow lighthouse", models=["gpt-image-2"], count=3)
    first, second, third = run.images.all()
    make_run_images.enqueue(run.pk)
    sign_in(page)
    assert wait_until(lambda: len(fake_gateway.calls(model="gpt-image-2")) == 3, timeout=15)

    article = page.get_by_role("article", name="a slow lighthouse")
    tile = page.locator(f"#image-{first.pk}")
    tile.get_by_role("button", name="Cancel this image").click()
    tile.get_by_role("button", name="Retry").wait_for(timeout=10_000)
    assert "cancelled" in tile.inner_text().lower()
    assert wait_until(lambda: len(fake_gateway.abandoned()) == 1, timeout=10)
    assert page.locator(f"#image-{second.pk}").get_by_role("button", name="Retry").count() == 0

    article.get_by_role("button", name="Cancel this run").click()
    for image in (second, third):
        page.locator(f"#image-{image.pk}").get_by_role("button", name="Retry").wait_for()
    assert wait_until(lambda: len(fake_gateway.abandoned()) == 3, timeout=10)
    assert "0 of 3 ready, 3 cancelled" in article.inner_text()
    assert article.get_by_role("button", name="Cancel this run").count() == 0
    assert set(Image.objects.filter(run=run).values_list("status", flat=True)) == {"cancelled"}
    assert_accessible(page)

    # Retry, the gateway answering again: the tile fills in.
    fake_gateway.reset()
    tile.get_by_role("button", name="Retry").click()
    tile.get_by_role("link", name="a slow lighthouse").wait_for(timeout=15000)  # the lightbox
    assert Image.objects.get(pk=first.pk).status == "succeeded"


def test_trash_restore_and_delete_forever(page, user, worker):  # noqa: F811
    keep = make_run(user, prompt="a harbour at dawn")
    make_succeeded_image(keep.images.get())
    lose = make_run(user, prompt="a blurry test shot")
    lost = make_succeeded_image(lose.images.get())
    sign_in(page)

    # Delete both runs from the gallery, then find them in the Trash.
    for prompt in ("a harbour at dawn", "a blurry test shot"):
        article = page.get_by_role("article", name=prompt)
        article.get_by_role("button", name="Delete this run").click()
        article.wait_for(state="detached")
    page.get_by_role("navigation", name="Account").get_by_role("link", name="Trash").click()
    page.get_by_role("heading", name="Trash", level=1).wait_for()
    runs = page.get_by_role("region", name=re.compile("^Runs"))
    assert runs.get_by_role("listitem").count() == 2
    assert_accessible(page)

    # Restore, by keyboard.
    harbour = runs.get_by_role("listitem", name="a harbour at dawn")
    harbour.get_by_role("button", name="Restore").focus()
    page.keyboard.press("Enter")
    page.get_by_role("status").filter(has_text="Run restored to the gallery.").wait_for()
    assert runs.get_by_role("listitem").count() == 1
    assert Run.objects.get(pk=keep.pk).deleted_at is None

    # Delete forever asks first; dismissing keeps it.
    blurry = runs.get_by_role("listitem", name="a blurry test shot")
    page.once("dialog", lambda dialog: dialog.dismiss())
    blurry.get_by_role("button", name="Delete forever").click()
    page.wait_for_timeout(300)
    assert Run.objects.filter(pk=lose.pk).exists()
    page.once("dialog", lambda dialog: dialog.accept())
    blurry.get_by_role("button", name="Delete forever").click()
    page.get_by_role("status").filter(has_text="Run deleted forever.").wait_for()
    page.get_by_text("The Trash is empty.").wait_for()
    assert not Run.objects.filter(pk=lose.pk).exists()
    assert not is_stored(lost.file.name)
    assert_accessible(page)
    page.goto("/")
    page.get_by_role("article", name="a harbour at dawn").wait_for()


def test_select_a_range_across_runs_download_star_and_delete_with_undo(
    page,  # noqa: F811
    user,
    worker,  # noqa: F811
    tmp_path,
):
    runs = []
    for n in range(3):
        run = make_run(user, prompt=f"select run {n}", count=2)
        runs.append([make_succeeded_image(image) for image in run.images.all()])
    # Gallery order: newest run first, then its images in order.
    order = [image for run in reversed(runs) for image in run]
    sign_in(page)

    select = page.get_by_role("button", name="Select", exact=True)
    select.click()
    assert select.get_attribute("aria-pressed") == "true"
    bar = page.get_by_role("region", name="Selection")
    tiles = [page.locator(f"#image-{image.pk} a.tile-link") for image in order]
    tiles[1].click()
    tiles[4].click(modifiers=["Shift"])  # a range across runs
    bar.get_by_text("4 selected").wait_for()
    assert not page.locator("#lightbox").is_visible()  # a click selects, not opens
    assert [t.get_attribute("aria-checked") for t in tiles] == [
        "false", "true", "true", "true", "true", "false",
    ]  # fmt: skip
    # Space toggles the focused tile.
    tiles[0].focus()
    page.keyboard.press("Space")
    bar.get_by_text("5 selected").wait_for()
    assert_accessible(page)

    # Scrolled down, the bar stays in view, over the page's sticky header, not under it.
    page.set_viewport_size({"width": 1280, "height": 500})
    page.mouse.wheel(0, 600)
    page.wait_for_function("() => window.scrollY > 200")
    count = bar.get_by_text("5 selected")
    box = count.bounding_box()
    assert 0 <= box["y"] < 100, box
    on_top = (
        f"document.elementFromPoint({box['x'] + box['width'] / 2}, {box['y'] + box['height'] / 2})"
    )
    assert page.evaluate(f"() => !!{on_top}.closest('.select-bar')")
    page.set_viewport_size({"width": 390, "height": 700})  # a phone: the header scrolled away
    page.emulate_media(color_scheme="dark")
    page.mouse.wheel(0, 600)
    page.wait_for_function("() => window.scrollY > 200")
    box = count.bounding_box()
    assert 0 <= box["y"] < 100, box
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.evaluate("() => window.scrollTo(0, 0)")

    with page.expect_download() as info:
        bar.get_by_role("button", name="Download").click()
    path = tmp_path / "selection.zip"
    info.value.save_as(path)
    # The zip holds exactly the five selected originals, by their usual names.
    archive = zipfile.ZipFile(path)
    selected = order[:5]
    assert sorted(archive.namelist()) == sorted(downloads.filename_for(i) for i in selected)
    for image in selected:
        with image.file.open("rb") as original:
            assert archive.read(downloads.filename_for(image)) == original.read()

    bar.get_by_role("button", name="Star", exact=True).click()
    page.get_by_role("status").filter(has_text="Starred 5 images.").wait_for()
    assert Image.objects.filter(starred=True).count() == 5

    bar.get_by_role("button", name="Delete").click()
    page.get_by_role("status").filter(has_text="5 images deleted").wait_for()
    assert page.locator("figure.tile").count() == 1
    assert page.locator("article.run:visible").count() == 1  # the two runs left with none hide
    assert select.get_attribute("aria-pressed") == "false"  # the mode ends with the action
    page.get_by_role("button", name="Undo").click()
    page.locator("figure.tile").nth(5).wait_for()  # the page reloads with them back
    assert not Image.objects.filter(deleted_at__isnull=False).exists()

    # Select all takes what the filters show, beyond the tiles on the page; Esc leaves.
    page.goto("/?q=select+run+1")
    page.get_by_role("button", name="Select", exact=True).click()
    page.get_by_role("button", name="Select all").click()
    bar = page.get_by_role("region", name="Selection")
    bar.get_by_text("2 selected (everything the filters show)").wait_for()
    bar.get_by_role("button", name="Unstar").click()
    page.get_by_role("status").filter(has_text="Unstarred 2 images.").wait_for()
    assert Image.objects.filter(starred=True).count() == 3
    page.keyboard.press("Escape")
    bar.wait_for(state="hidden")
    assert page.evaluate("document.activeElement.id") == "select-toggle"


def test_download_as_jpeg_from_the_lightbox(page, user, worker, tmp_path):  # noqa: F811
    run = make_run(user, prompt="a paper boat")
    image = make_succeeded_image(run.images.get(), width=96, height=54)
    sign_in(page)
    page.locator(f"#image-{image.pk} a.tile-link").click()
    dialog = page.get_by_role("dialog", name="a paper boat")
    dialog.wait_for()
    with page.expect_download() as info:
        dialog.get_by_role("group", name="Download as").get_by_role("link", name="JPEG").click()
    download = info.value
    assert re.fullmatch(
        r"a-paper-boat-offline-aurora-\d{8}-\d{6}-1\.jpg", download.suggested_filename
    )
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    assert path.read_bytes()[:3] == b"\xff\xd8\xff"  # a JPEG
    assert_accessible(page, context="#lightbox")
