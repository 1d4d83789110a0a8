"""The API page and an API call's run, in a real headless Chromium with the real worker and the
loopback gateway: a token is made, copied, used and revoked; the call's images show in the
gallery under the token owner's name, marked "via API", with their cost."""

import re

import httpx
import pytest

from api import tokens
from api.models import ApiToken
from gallery.models import Run
from tests.browser import (  # noqa: F401  (fixtures)
    assert_accessible,
    browser,
    open_page,
    sign_in,
    start_worker,
    stop_worker,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def online(settings, transactional_db, fake_gateway, live_server):
    """The live studio and its worker, both pointed at the loopback gateway."""
    fake_gateway.cost = 0.03
    process = start_worker(settings)
    yield live_server
    output = stop_worker(process)
    assert "Traceback" not in output, output


def test_a_token_is_made_copied_used_and_revoked_on_the_api_page(browser, online, user):  # noqa: F811
    with open_page(browser, online.url) as page:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=online.url)
        sign_in(page)
        page.get_by_role("navigation", name="Account").get_by_role("link", name="API").click()
        page.get_by_role("heading", name="API", level=1).wait_for()
        page.get_by_role("textbox", name="Token name").fill("notebook")
        page.get_by_role("button", name="Create token").click()
        shown = page.get_by_role("textbox", name="New API token")
        shown.wait_for()
        secret = shown.input_value()
        assert secret.startswith("isk_") and shown.get_attribute("readonly") is not None
        assert ApiToken.objects.get().secret_hash == ApiToken.hash_secret(secret)
        page.get_by_role("button", name="Copy", exact=True).click()
        page.get_by_role("button", name="Copied").wait_for()
        assert page.evaluate("navigator.clipboard.readText()") == secret
        last_used = page.get_by_role("row", name=re.compile("notebook")).locator("td").nth(2)
        assert last_used.inner_text() == "Never"
        assert_accessible(page)

        key = {"Authorization": f"Bearer {secret}"}
        assert httpx.get(f"{online.url}/v1/models", headers=key).status_code == 200
        page.reload()
        assert "New API token" not in page.content()  # shown once
        last_used = page.get_by_role("row", name=re.compile("notebook")).locator("td").nth(2)
        assert last_used.inner_text() == "now"
        page.get_by_role("button", name="Revoke the token notebook").click()
        page.get_by_role("row", name=re.compile("notebook")).get_by_text("Revoked").wait_for()
        assert httpx.get(f"{online.url}/v1/models", headers=key).status_code == 401
        assert_accessible(page)


def test_an_api_result_shows_in_the_gallery_attributed_and_costed(browser, online, user):  # noqa: F811
    _, secret = tokens.token_create(user=user, name="build pipeline")
    answer = httpx.post(
        f"{online.url}/v1/images/generations",
        json={"model": "gpt-image-2", "prompt": "a red kite over the hills", "n": 2},
        headers={"x-api-key": secret},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["usage"]["cost"] == pytest.approx(0.06)
    run = Run.objects.get()
    with open_page(browser, online.url) as page:
        sign_in(page)
        article = page.locator(f"#run-{run.pk}")
        article.get_by_role("heading", name="a red kite over the hills").wait_for()
        meta = article.locator(".run-meta").inner_text()
        assert "ada" in meta and "via API · build pipeline" in meta
        status = article.locator(".run-status").inner_text()
        assert "2 of 2 ready" in status and "$0.060" in status
        assert article.locator("img").count() == 2
        assert_accessible(page)
