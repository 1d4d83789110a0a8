"""The compare viewer in a real headless Chromium: zoom and pan move every pane together, the
slider shows one image over the other, ←/→ change the focused pane's image, and axe is content."""

import re

import pytest

from tests.browser import assert_accessible, browser, page, sign_in  # noqa: F401  (fixtures)
from tests.factories import make_run, make_succeeded_image

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCALE = re.compile(r"scale\(([0-9.]+)\)")
TRANSLATE = re.compile(r"translate\((-?[0-9.]+)px, (-?[0-9.]+)px\)")


def transforms(tab) -> list[str]:
    return tab.locator(".compare-pane .lightbox-image").evaluate_all(
        "images => images.map(i => i.style.transform)"
    )


def wait_ready(tab) -> None:
    """compare.js has made its zoomers (each drew its image's transform) and shown the toolbar."""
    tab.get_by_role("toolbar", name="Compare").wait_for()
    tab.wait_for_function(
        "() => [...document.querySelectorAll('.compare-pane .lightbox-image')]"
        ".every(i => i.style.transform)"
    )


def scales(tab) -> list[float]:
    return [float(SCALE.search(t).group(1)) for t in transforms(tab)]


def compared(user, count):
    run = make_run(user, models=["offline/aurora", "offline/mosaic"], count=count)
    return [
        make_succeeded_image(image, width=320, height=180)
        for image in run.images.order_by("column", "position")
    ]


def test_zoom_and_pan_move_every_pane_together(page, user):  # noqa: F811
    images = compared(user, 2)[:3]
    sign_in(page)
    page.goto("/compare/?images=" + ",".join(str(i.pk) for i in images))
    panes = page.get_by_role("group", name=re.compile(r"^Image \d$"))
    assert panes.count() == 3
    wait_ready(page)
    assert scales(page) == [1, 1, 1]

    panes.nth(1).focus()
    page.keyboard.press("+")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.compare-pane .lightbox-image')]"
        ".every(i => i.style.transform.includes('scale(1.5)'))"
    )
    assert scales(page) == [1.5, 1.5, 1.5]
    page.get_by_role("button", name="Zoom in").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.compare-pane .lightbox-image')]"
        ".every(i => i.style.transform.includes('scale(2.25)'))"
    )

    # A drag in the first pane pans them all by the same share of their image.
    box = panes.nth(0).bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 40, cy + 20, steps=5)
    page.mouse.up()
    page.wait_for_timeout(100)
    moved = [TRANSLATE.search(t).groups() for t in transforms(page)]
    assert moved[0] != ("0.00", "0.00")
    assert len(set(moved)) == 1, moved  # same size images: the same offset in every pane

    page.keyboard.press("0")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.compare-pane .lightbox-image')]"
        ".every(i => i.style.transform.includes('scale(1)'))"
    )
    assert_accessible(page)


def test_the_slider_lays_one_over_the_other_and_arrows_change_a_pane(page, user):  # noqa: F811
    first, second = compared(user, 1)
    sign_in(page)
    page.goto(f"/compare/?images={first.pk},{second.pk}")
    wait_ready(page)
    slider = page.get_by_role("slider", name="Slider position")
    assert not slider.is_visible()
    page.get_by_role("button", name="Slider").click()
    assert page.get_by_role("button", name="Slider").get_attribute("aria-pressed") == "true"
    slider.fill("30")
    top = page.locator(".compare-pane").nth(1)
    stage = top.locator(".lightbox-stage")
    assert stage.evaluate("s => getComputedStyle(s).clipPath") == "inset(0px 0px 0px 30%)"
    # Only the picture is cut: the second image's caption stays whole.
    assert top.evaluate("p => getComputedStyle(p).clipPath") == "none"
    # Both captions' links can be clicked: the top pane's caption does not cover the first's.
    for index in (0, 1):
        link = page.locator(".compare-pane figcaption a").nth(index)
        box = link.bounding_box()
        hit = f"document.elementFromPoint({box['x'] + 3}, {box['y'] + box['height'] / 2})"
        assert page.evaluate(f"() => {hit}.closest('a') !== null"), index
    assert top.bounding_box()["y"] == page.locator(".compare-pane").nth(0).bounding_box()["y"]
    assert_accessible(page)

    page.get_by_role("button", name="Slider").click()
    pane = page.get_by_role("group", name="Image 1")
    pane.focus()
    page.keyboard.press("ArrowRight")
    assert page.locator(".compare-pane .lightbox-image").nth(0).get_attribute("src") == (
        second.original_url
    )
    page.get_by_role("group", name="Image 2").first.wait_for()


def test_without_javascript_the_images_are_plain_side_by_side(browser, live_server, user):  # noqa: F811
    first, second = compared(user, 1)
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    tab = context.new_page()
    try:
        sign_in(tab)
        tab.goto(f"/compare/?images={first.pk},{second.pk}")
        pictures = tab.get_by_role("img", name=first.run.prompt)
        assert pictures.count() == 2
        assert not tab.get_by_role("button", name="Zoom in").is_visible()
    finally:
        context.close()
