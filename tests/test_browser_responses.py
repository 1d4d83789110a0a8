"""A refused htmx request in a real browser (studio/responses.py with studio.js): one toast with
the sentence, and nothing on the page replaced by it."""

import pytest

from gallery.models import Image
from team.models import TeamPolicy
from tests.browser import browser, page, sign_in  # noqa: F401  (fixtures)
from tests.factories import make_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REFUSAL = "An admin has removed GPT Image 2 from the team's models, so it can't run any more."


def test_a_refused_retry_is_one_toast_and_the_tile_stays(page, user, fake_gateway):  # noqa: F811
    image = make_run(user, models=["gpt-image-2"], prompt="a tin lantern").images.get()
    Image.objects.filter(pk=image.pk).update(status="failed", error="The provider failed (502).")
    TeamPolicy.objects.update_or_create(pk=1, defaults={"allowed_models": ["zai/cogview-4"]})
    sign_in(page)
    tile = page.locator(f"#image-{image.pk}")
    tile.get_by_role("button", name="Retry").click()

    page.locator("#toasts .toast", has_text=REFUSAL).wait_for()
    # The 403 reaches both the `toast` event and studio.js's error toast: still one toast.
    page.wait_for_timeout(500)
    assert page.locator("#toasts .toast").count() == 1
    assert tile.get_by_role("button", name="Retry").is_visible()
    assert "The provider failed (502)." in tile.inner_text()
    assert Image.objects.get(pk=image.pk).status == "failed"

    # The same refusal again is said again (the shown toast replaced, not a second one, and not
    # silently dropped); a click dismisses it.
    first = page.locator("#toasts .toast").element_handle()
    tile.get_by_role("button", name="Retry").click()
    page.wait_for_function("t => !t.isConnected", arg=first)
    page.locator("#toasts .toast", has_text=REFUSAL).wait_for()
    page.wait_for_timeout(500)
    assert page.locator("#toasts .toast").count() == 1
    page.locator("#toasts .toast", has_text=REFUSAL).click()
    page.locator("#toasts .toast").wait_for(state="detached")

    # Many at once: the newest three stay.
    page.evaluate("() => ['one', 'two', 'three', 'four', 'five'].forEach(window.studioToast)")
    assert page.locator("#toasts .toast").all_inner_texts() == ["three", "four", "five"]
