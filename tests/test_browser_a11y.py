"""Every page, and the open lightbox, checked by axe-core in a real Chromium, in the light and the
dark colour scheme, and the studio at phone width: no serious or critical problem (contrast,
names, roles…) and a sound outline of headings and landmarks (see tests/browser.py)."""

import pytest
from django.utils import timezone

from gallery import services
from gallery.models import EditSource, Image, Run
from team.models import TeamPolicy
from team.services import invite_create
from tests.browser import PHONE, assert_accessible, browser, open_page, sign_in  # noqa: F401
from tests.factories import make_run, make_succeeded_image

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_ERROR = (
    "The gateway refused the request (HTTP 400): Your request was rejected as a result of our "
    "safety system. Your prompt may contain text that is not allowed by our safety system. "
    "If you believe this is an error, contact support with the request id req_8f3a2b1c9d."
)


@pytest.fixture(params=["light", "dark"])
def scheme(request):
    return request.param


@pytest.fixture
def page(browser, live_server, scheme):  # noqa: F811
    # Reduced motion: the colours axe measures are the settled ones, not a frame of a fade.
    with open_page(browser, live_server.url, color_scheme=scheme, reduced_motion="reduce") as page:
        yield page


@pytest.fixture
def phone(browser, live_server, scheme):  # noqa: F811
    options = {**PHONE, "color_scheme": scheme, "reduced_motion": "reduce"}
    with open_page(browser, live_server.url, **options) as page:
        yield page


def busy_gallery(user, other_user) -> dict:
    """What a studio in use shows: a compare run with finished, failed and waiting tiles, an edit
    with its source, someone else's failed run (no Retry for us), a private run, recent prompts
    and a starred image."""
    compare = make_run(
        user,
        prompt="A lighthouse on a basalt cliff at dawn",
        models=["offline/aurora", "offline/mosaic", "offline/blueprint"],
        count=2,
    )
    images = list(compare.images.order_by("column", "position"))
    for image in images[:3]:
        make_succeeded_image(image, width=96, height=54)
    Image.objects.filter(pk=images[3].pk).update(status=Image.Status.FAILED, error=LONG_ERROR)
    Image.objects.filter(pk=images[5].pk).update(status=Image.Status.RUNNING)  # images[4] queued
    Run.objects.filter(pk=compare.pk).update(heartbeat_at=timezone.now())
    Image.objects.filter(pk=images[0].pk).update(starred=True)

    edit = make_run(user, prompt="The same lighthouse at night", models=["offline/mosaic"])
    Run.objects.filter(pk=edit.pk).update(kind=Run.Kind.EDIT)
    EditSource.objects.create(run=edit, position=0, image=images[0])
    edited = make_succeeded_image(edit.images.get(), width=96, height=54)

    theirs = make_run(other_user, prompt="a red bicycle", models=["gpt-image-2"])
    theirs.images.update(status=Image.Status.INTERRUPTED, error=LONG_ERROR)
    cancelled = make_run(user, prompt="a stopped train", count=2)
    Image.objects.filter(run=cancelled).cancel()
    private = make_run(user, prompt="a secret garden", count=2)
    Run.objects.filter(pk=private.pk).update(is_private=True)
    for image in private.images.all():
        make_succeeded_image(image, width=54, height=96)
    for prompt in ("a secret garden", "The same lighthouse at night", compare.prompt):
        services.prompt_remember(user=user, prompt=prompt)
    return {"first": images[0], "edited": edited, "compare": compare}


def wait_for_thumbnails(page) -> None:
    """Until the thumbnails in view have loaded (the others are lazy)."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('.tile img')]"
        ".every(i => i.complete || i.getBoundingClientRect().top > innerHeight)"
    )


def test_setup_and_sign_in(page, django_user_model):
    page.goto("/")  # a fresh install leads to the one-time setup page
    page.get_by_role("heading", name="Create the admin account").wait_for()
    assert_accessible(page)
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password", exact=True).fill("a-long-passphrase-3")
    page.get_by_label("Password confirmation").fill("another-passphrase")
    page.get_by_role("button", name="Create account and start").click()  # refused, explained
    page.get_by_role("alert").first.wait_for()
    assert_accessible(page)

    django_user_model.objects.create_user("ada", "ada@example.com", "a-long-passphrase-1")
    page.goto("/accounts/login/")
    assert_accessible(page)
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").first.wait_for()
    assert_accessible(page)


def test_message_pages(page, user):
    sign_in(page)
    for url in ("/images/999999/", "/runs/999999/", "/no-such-page/", "/signup/"):
        response = page.goto(url)
        assert response.status == 404
        assert_accessible(page)
    page.context.clear_cookies()
    response = page.goto("/invite/not-a-real-token/")
    assert response.status == 404
    assert_accessible(page)


def test_the_studio_empty_busy_filtered_and_editing(page, user, other_user):
    sign_in(page)
    assert_accessible(page)  # the empty gallery, with suggestions

    made = busy_gallery(user, other_user)
    page.reload()
    wait_for_thumbnails(page)
    assert page.locator(".tile.is-failed, .tile.is-interrupted").count() == 2
    assert page.locator(".tile.is-queued, .tile.is-running").count() == 2
    assert_accessible(page)

    # Deleting a run shows the Undo toast (inverted colours, over everything).
    private = page.locator("article", has_text="a secret garden")
    private.get_by_role("button", name="Delete this run").click()
    page.get_by_role("status").get_by_role("button", name="Undo").wait_for()
    assert_accessible(page)

    page.goto(f"/runs/{made['compare'].pk}/")  # a run's own page
    assert_accessible(page)

    page.goto("/?q=nothing+like+this")
    page.get_by_text("No runs match.").wait_for()
    assert_accessible(page)

    page.goto(f"/?edit={made['first'].pk}")  # the prompt box editing an image
    page.get_by_role("group", name="Images to edit").get_by_role("img").wait_for()
    assert_accessible(page)


def test_the_lightbox_and_the_image_page(page, user, other_user):
    made = busy_gallery(user, other_user)
    sign_in(page)
    wait_for_thumbnails(page)
    page.locator(f"#image-{made['edited'].pk} a.tile-link").click()
    dialog = page.get_by_role("dialog", name="The same lighthouse at night")
    dialog.get_by_text("Edited from").wait_for()
    page.wait_for_function("() => document.querySelector('.lightbox-image')?.complete")
    assert_accessible(page, context="#lightbox")

    page.goto(f"/images/{made['first'].pk}/")  # the permalink, with its edit below
    page.get_by_text("Edits of this image").wait_for()
    assert_accessible(page)


def test_the_team_and_usage_pages(page, admin_user, user, other_user):
    busy_gallery(user, other_user)
    other_user.is_active = False
    other_user.save()
    invite_create(created_by=admin_user, email="lin@example.com", days=7)
    invite_create(created_by=admin_user, days=1)
    policy = TeamPolicy.current()
    policy.signup_domain = "example.com"
    policy.monthly_budget_usd = 25
    policy.daily_image_limit = 40
    policy.save()

    sign_in(page, "root", "a-long-passphrase-3")
    page.goto("/team/")
    # Every model allowed: the model ticks are dimmed, and must stay readable.
    assert page.get_by_label("All models", exact=True).is_checked()
    assert_accessible(page)
    page.get_by_role("button", name="Create invite link").click()
    page.get_by_role("textbox", name="Invite link").wait_for()
    policy_region = page.get_by_role("region", name="Models and limits")
    policy_region.get_by_label("Only the models ticked below").check()
    policy_region.get_by_label("Images per person per day").fill("-3")  # refused, explained
    policy_region.get_by_role("button", name="Save settings").click()
    policy_region.get_by_role("alert").first.wait_for()
    assert_accessible(page)

    page.goto("/usage/")
    page.get_by_role("heading", name="Cost per day").wait_for()
    assert_accessible(page)


def test_the_trash(page, user, other_user):
    made = busy_gallery(user, other_user)
    services.run_delete(run=made["compare"])
    services.image_delete(image=made["edited"])
    sign_in(page)
    page.get_by_role("link", name="Trash").click()
    page.get_by_role("heading", name="Trash", level=1).wait_for()
    assert_accessible(page)
    page.get_by_role("button", name="Restore").first.click()
    page.get_by_role("status").filter(has_text="restored").wait_for()
    assert_accessible(page)


def test_the_invite_and_sign_up_pages(page, admin_user):
    _, token = invite_create(created_by=admin_user, email="lin@example.com")
    page.goto(f"/invite/{token}/")
    assert_accessible(page)
    page.get_by_role("button", name="Create account and start").click()  # empty: errors shown
    page.get_by_role("alert").first.wait_for()
    assert_accessible(page)

    policy = TeamPolicy.current()
    policy.signup_domain = "example.com"
    policy.save()
    page.goto("/signup/")
    assert_accessible(page)


def test_the_studio_and_lightbox_at_phone_width(phone, user, other_user):
    made = busy_gallery(user, other_user)
    sign_in(phone)
    wait_for_thumbnails(phone)
    assert_accessible(phone)
    # Reflow (WCAG 1.4.10): nothing squeezed to a sliver. The brand stays on one line, and a
    # run's prompt gets the run's width, its actions going under it rather than beside it.
    assert phone.locator(".brand").bounding_box()["height"] < 30
    # Every account link is on the screen (they wrap), none cut off at the right edge.
    width = phone.viewport_size["width"]
    account = phone.get_by_role("navigation", name="Account")
    for control in account.get_by_role("link").all() + account.get_by_role("button").all():
        box = control.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, control.inner_text()
    # A tile's buttons stay within the tile (wrapping on a narrow one).
    for tile in phone.locator("figure.tile.is-succeeded").all()[:6]:
        outer = tile.bounding_box()
        for control in tile.locator(".tile-actions > *").all():
            box = control.bounding_box()
            assert outer["x"] <= box["x"] and box["x"] + box["width"] <= outer["x"] + outer["width"]
    run = phone.locator("article").first
    prompt_width = run.get_by_role("heading").first.bounding_box()["width"]
    assert prompt_width > 0.8 * run.bounding_box()["width"]
    phone.locator(f"#image-{made['first'].pk} a.tile-link").click()
    phone.get_by_role("dialog", name=made["compare"].prompt).wait_for()
    phone.wait_for_function("() => document.querySelector('.lightbox-image')?.complete")
    assert_accessible(phone, context="#lightbox")
