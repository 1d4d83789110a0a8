"""Moderation and Service tier in a real Chromium: they appear with a model that takes them, are
reached and changed by keyboard, described to screen readers, priced on the estimate line, and
what was picked reaches the gateway."""

import pytest

from gallery.models import Image
from tests.browser import (  # noqa: F401  (fixtures)
    assert_accessible,
    browser,
    page,
    pick_models,
    sign_in,
    worker,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def estimate_says(page, text: str) -> None:  # noqa: F811
    page.locator("#estimate").filter(has_text=text).wait_for(timeout=10_000)


def test_service_tier_and_moderation_by_keyboard_priced_and_sent(
    page,  # noqa: F811
    user,
    fake_gateway,
    worker,  # noqa: F811
):
    fake_gateway.models = []  # the catalog's active models
    sign_in(page)
    pick_models(page, "meta/muse-image-1.0")
    assert page.get_by_role("combobox", name="Service tier").count() == 0
    assert page.get_by_role("combobox", name="Moderation").count() == 0

    pick_models(page, "gemini-3-pro-image-preview")
    tier = page.get_by_role("combobox", name="Service tier", exact=True)
    tier.wait_for()
    assert page.get_by_role("combobox", name="Moderation").count() == 0
    description = tier.evaluate(
        "el => el.getAttribute('aria-describedby').split(' ')"
        ".map(id => document.getElementById(id).textContent).join(' ')"
    )
    assert "Flex costs less" in description and "Priority is faster" in description
    options = tier.locator("option").all_inner_texts()
    assert options == ["Standard", "Flex: cheaper, slower", "Priority: faster, costs more"]
    line = page.locator("#estimate").element_handle()
    page.get_by_role("combobox", name="Resolution", exact=True).select_option("1K")
    estimate_says(page, "≈ $0.134")
    # Only the line's words were swapped: the element that listens for the next change (and is
    # the live region screen readers follow) is the same one, so no change is missed.
    assert line.evaluate("el => el.isConnected && el === document.getElementById('estimate')")

    # By keyboard: focus the tier and step down to Flex; the estimate follows.
    tier.focus()
    page.keyboard.press("ArrowDown")
    assert tier.input_value() == "flex"
    estimate_says(page, "≈ $0.067")
    assert_accessible(page, context="#generate-form")

    # Compare with GPT Image 2: Moderation appears, saying which model it is for.
    pick_models(page, "gemini-3-pro-image-preview", "gpt-image-2")
    moderation = page.get_by_role("combobox", name="Moderation", exact=True)
    moderation.wait_for()
    note = page.locator(".field", has=moderation).locator(".field-note")
    assert note.inner_text() == "GPT Image 2 only"
    moderation.select_option("low")
    page.get_by_role("combobox", name="Service tier", exact=True).select_option("flex")
    assert_accessible(page, context="#generate-form")

    page.get_by_role("textbox", name="Prompt").fill("a lighthouse at dawn")
    page.get_by_role("button", name="Generate", exact=True).click()
    page.wait_for_function(
        "() => document.querySelectorAll('article')[0]?.querySelectorAll('img').length === 2",
        timeout=20_000,
    )
    bodies = {c.json["model"]: c.json for c in fake_gateway.calls(path="images/generations")}
    assert bodies["gemini-3-pro-image-preview"]["service_tier"] == "flex"
    assert bodies["gpt-image-2"]["moderation"] == "low"
    assert "service_tier" not in bodies["gpt-image-2"]
    assert all(i.status == "succeeded" for i in Image.objects.all())
    assert_accessible(page)
