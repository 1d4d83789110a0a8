"""The studio in a real headless Chromium, with the real worker and the loopback gateway."""

import pytest

from gallery.models import Image, Run
from team.models import TeamPolicy
from tests.browser import browser, page, pick_models, sign_in, worker  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_compare_three_models_two_images_each_at_16_9(page, user, fake_gateway, worker):  # noqa: F811
    fake_gateway.default_delay = 0.8  # long enough to see the placeholders first
    sign_in(page)

    page.get_by_role("textbox", name="Prompt").fill("A lighthouse on a basalt cliff at dawn")
    pick_models(page, "gemini-3.1-flash-image-preview", "alibaba/qwen-image-plus", "gpt-image-2")
    page.get_by_role("combobox", name="Aspect ratio", exact=True).select_option("16:9")
    page.get_by_role("combobox", name="Images", exact=True).select_option("2")
    page.get_by_role("button", name="Generate", exact=True).click()

    gallery = page.get_by_role("region", name="Gallery")
    run = gallery.locator("article").first
    # The run appears at once, with a placeholder per image, before any image exists.
    run.locator("figure.is-queued, figure.is-running").first.wait_for()
    assert run.locator("figure").count() == 6
    for label in ("Gemini 3.1 Flash Image", "Qwen Image Plus", "GPT Image 2"):
        assert run.get_by_role("group", name=label).count() == 1
    placeholder_box = run.locator("figure").first.bounding_box()
    assert placeholder_box["width"] / placeholder_box["height"] == pytest.approx(16 / 9, rel=0.03)

    # The tiles fill in without a reload, each with an image of that shape.
    images = run.get_by_role("img", name="A lighthouse on a basalt cliff at dawn")
    page.wait_for_function(
        "() => document.querySelectorAll('article')[0].querySelectorAll('img').length === 6"
        " && [...document.querySelectorAll('article')[0].querySelectorAll('img')]"
        ".every(i => i.complete && i.naturalWidth > 0)",
        timeout=20_000,
    )
    assert images.count() == 6
    for i in range(6):
        natural = images.nth(i).evaluate("i => [i.naturalWidth, i.naturalHeight]")
        assert natural[0] / natural[1] == pytest.approx(16 / 9, rel=0.02)
        box = images.nth(i).bounding_box()
        assert box["width"] / box["height"] == pytest.approx(16 / 9, rel=0.03)
    assert run.get_by_text("6 of 6 ready").is_visible()

    saved = Run.objects.get()
    assert saved.created_by == user and saved.compare
    stored = list(Image.objects.filter(run=saved))
    assert all(image.status == "succeeded" for image in stored)
    sizes = {(i.model, i.width, i.height) for i in stored}
    assert ("alibaba/qwen-image-plus", 1280, 720) in sizes  # pixel-size models: the nearest size
    assert ("gpt-image-2", 2048, 1152) in sizes
    [(_, width, height)] = [s for s in sizes if s[0] == "gemini-3.1-flash-image-preview"]
    assert width / height == pytest.approx(16 / 9, rel=0.02)

    # Closing the tab loses nothing: the results are there on return.
    page.reload()
    assert page.get_by_role("img", name="A lighthouse on a basalt cliff at dawn").count() == 6


def test_enter_generates_and_shift_enter_adds_a_line(page, user, worker):  # noqa: F811
    sign_in(page)
    prompt = page.get_by_role("textbox", name="Prompt")
    prompt.fill("first line")
    prompt.press("Shift+Enter")
    prompt.type("second line")
    assert prompt.input_value() == "first line\nsecond line"
    prompt.press("Enter")
    page.locator("article").first.wait_for()
    page.wait_for_function(
        "() => document.querySelectorAll('article img').length === 1", timeout=15_000
    )
    assert Run.objects.get().prompt == "first line\nsecond line"
    # The prompt also went to the sidebar's recent prompts.
    recent = page.get_by_role("region", name="Recent prompts")
    assert "first line" in recent.inner_text()


def test_a_failing_model_fails_its_own_tiles_and_retry_works(page, user, fake_gateway, worker):  # noqa: F811
    fake_gateway.add_rule(model="gpt-image-2", status=502, response="error_new",
                          body="Upstream provider error", times=3)  # fmt: skip
    sign_in(page)
    page.get_by_role("textbox", name="Prompt").fill("a red bicycle")
    pick_models(page, "gpt-image-2", "alibaba/qwen-image-plus")
    page.get_by_role("button", name="Generate", exact=True).click()

    run = page.locator("article").first
    retry = run.get_by_role("button", name="Retry")
    retry.wait_for(timeout=20_000)
    assert "Upstream provider error" in run.inner_text()
    page.wait_for_function("() => document.querySelectorAll('article img').length === 1")

    retry.click()  # the gateway answers this time
    page.wait_for_function(
        "() => document.querySelectorAll('article img').length === 2", timeout=20_000
    )
    assert run.get_by_role("button", name="Retry").count() == 0


def test_bad_input_shows_a_message_in_place(page, user, worker):  # noqa: F811
    sign_in(page)
    page.get_by_role("button", name="Generate", exact=True).click()
    alert = page.get_by_role("alert")
    alert.first.wait_for()
    assert "Write a prompt first" in alert.first.inner_text()
    assert page.locator("article").count() == 0
    assert not Run.objects.exists()


def test_a_long_estimate_wraps_beside_the_controls_not_between_them(page, user):  # noqa: F811
    policy = TeamPolicy.current()
    policy.daily_image_limit, policy.monthly_budget_usd = 40, 50
    policy.save()
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page)
    assert "images left today" in page.locator("#estimate").inner_text()
    # Aspect ratio, Resolution and Images stay on one row; the estimate wraps instead.
    tops = {
        page.get_by_role("combobox", name=name, exact=True).bounding_box()["y"]
        for name in ("Aspect ratio", "Resolution", "Images")
    }
    assert len(tops) == 1
