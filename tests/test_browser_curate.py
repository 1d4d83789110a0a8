"""Curating the gallery in a real headless Chromium, with the real worker: Cancel, Trash."""

import re
import time
from pathlib import Path

import pytest

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
    tile.get_by_role("button", name="Retry").wait_for(timeout=5000)
    assert "cancelled" in tile.inner_text().lower()
    assert wait_until(lambda: len(fake_gateway.abandoned()) == 1, timeout=5)
    assert page.locator(f"#image-{second.pk}").get_by_role("button", name="Retry").count() == 0

    article.get_by_role("button", name="Cancel this run").click()
    for image in (second, third):
        page.locator(f"#image-{image.pk}").get_by_role("button", name="Retry").wait_for()
    assert wait_until(lambda: len(fake_gateway.abandoned()) == 3, timeout=5)
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
    assert not Path(lost.file.path).exists()
    assert_accessible(page)
    page.goto("/")
    page.get_by_role("article", name="a harbour at dawn").wait_for()
