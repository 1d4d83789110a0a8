"""Share links in a real headless Chromium, by accessible names: make a link from a run, open it
in a fresh signed-out browser context and see the image, revoke it on the Share links page and
see 404 for the page and the image; axe on the form, the public page and the list."""

import re

import pytest

from tests.browser import assert_accessible, browser, open_page, page, sign_in  # noqa: F401
from tests.factories import make_run, make_succeeded_image

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_share_a_run_open_it_signed_out_then_revoke(page, browser, live_server, user):  # noqa: F811
    run = make_run(user, prompt="a lighthouse at dawn")
    image = make_succeeded_image(run.images.get(), width=96, height=54)
    sign_in(page)

    page.locator(f"#run-{run.pk}").get_by_role("link", name="Share link").click()
    dialog = page.get_by_role("dialog", name="Share link")
    dialog.wait_for()
    assert_accessible(page, context="#share-dialog")
    dialog.get_by_role("combobox", name="Expires").select_option(label="In 1 day")
    dialog.get_by_role("checkbox", name="Include prompt").uncheck()
    dialog.get_by_role("button", name="Create link").click()
    url = dialog.get_by_role("textbox", name="Share link").input_value()
    assert re.fullmatch(rf"{re.escape(live_server.url)}/s/[A-Za-z0-9_-]{{40,}}/", url)

    with open_page(browser, live_server.url) as outsider:
        response = outsider.goto(url)
        assert response.status == 200
        assert response.headers["x-robots-tag"].startswith("noindex")
        picture = outsider.get_by_role("img", name="Shared image 1")
        picture.wait_for()
        outsider.wait_for_function("() => document.querySelector('main img').naturalWidth === 96")
        body = outsider.locator("body").inner_text()
        assert "lighthouse" not in body and "ada" not in body
        assert outsider.get_by_role("button", name="Sign out").count() == 0
        assert_accessible(outsider)
        file_url = picture.get_attribute("src")

        page.goto("/")
        page.get_by_role("navigation", name="Account").get_by_role(
            "link", name="Share links"
        ).click()
        page.get_by_role("heading", name="Share links", level=1).wait_for()
        assert_accessible(page)
        page.get_by_role("button", name="Revoke link 1").click()
        page.get_by_role("cell", name="Revoked").wait_for()

        assert outsider.goto(url).status == 404
        assert outsider.request.get(live_server.url + file_url).status == 404
        assert file_url.startswith(url.removeprefix(live_server.url) + f"images/{image.pk}/")
