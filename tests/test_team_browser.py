"""The Team and Usage pages in a real headless Chromium: invite, copy, join, deactivate, save."""

import re

import pytest
from django.contrib.auth import get_user_model

from gallery.models import Run
from team.models import Invite, TeamPolicy
from tests.browser import browser, page, sign_in, worker  # noqa: F401  (fixtures)
from tests.test_team_quotas import run_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_invites_someone_who_joins_with_the_copied_link(
    page,  # noqa: F811
    browser,  # noqa: F811
    live_server,
    admin_user,
    worker,  # noqa: F811
):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(page, "root", "a-long-passphrase-3")
    page.get_by_role("navigation", name="Account").get_by_role("link", name="Team").click()
    page.get_by_label("Email (optional)").fill("lin@example.com")
    page.get_by_label("Link works for").select_option("1")
    page.get_by_role("button", name="Create invite link").click()

    link = page.get_by_role("textbox", name="Invite link")
    link.wait_for()
    url = link.input_value()
    assert url.startswith(f"{live_server.url}/invite/")
    page.get_by_role("button", name="Copy link").click()
    page.get_by_role("button", name="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == url
    assert page.get_by_text("lin@example.com", exact=True).count() == 1  # in the open invites

    guest = browser.new_context()
    try:
        joining = guest.new_page()
        joining.goto(url)
        joining.get_by_label("Username").fill("lin")
        joining.get_by_label("Password", exact=True).fill("tulip-harbour-47")
        joining.get_by_label("Password confirmation").fill("tulip-harbour-47")
        joining.get_by_role("button", name="Create account and start").click()
        joining.get_by_role("region", name="Gallery").wait_for()
        # Signed in, the new member generates; the run is theirs and fills in.
        joining.get_by_role("textbox", name="Prompt").fill("my first picture")
        joining.get_by_role("button", name="Generate", exact=True).click()
        run = joining.locator("article").first
        run.wait_for()
        assert "lin" in run.locator(".run-author").inner_text()
        joining.wait_for_function(
            "() => document.querySelector('article img')?.complete", timeout=20_000
        )
    finally:
        guest.close()
    member = get_user_model().objects.get(username="lin")
    assert member.email == "lin@example.com"
    assert Invite.objects.get().used_by == member
    saved = Run.objects.get()
    assert saved.created_by == member and saved.prompt == "my first picture"
    assert saved.images.get().status == "succeeded"


def test_an_admin_deactivates_a_member_and_saves_the_policy(page, admin_user, user):  # noqa: F811
    run_of(user, 3, estimated="0.04")
    sign_in(page, "root", "a-long-passphrase-3")
    page.goto("/team/")
    members = page.get_by_role("region", name="Members")
    page.once("dialog", lambda dialog: dialog.accept())
    members.get_by_role("button", name="Deactivate ada").click()
    members.get_by_role("button", name="Reactivate ada").wait_for()
    user.refresh_from_db()
    assert not user.is_active

    policy = page.get_by_role("region", name="Models and limits")
    policy.get_by_label("Only the models ticked below").check()
    policy.get_by_role("checkbox", name=re.compile(r"^GPT Image 2 \$")).check()
    policy.get_by_label("Monthly team budget (USD)").fill("25")
    policy.get_by_role("button", name="Save settings").click()
    policy.get_by_text("Saved.").wait_for()
    saved = TeamPolicy.current()
    assert saved.allowed_models == ["gpt-image-2"]
    assert str(saved.monthly_budget_usd) == "25.00"

    page.get_by_role("navigation", name="Account").get_by_role("link", name="Usage").click()
    assert page.get_by_role("img", name="Cost per day").count() == 1
    person = page.get_by_role("table", name="Images and cost per person")
    assert "ada" in person.inner_text() and "$0.12" in person.inner_text()
