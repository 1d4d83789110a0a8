"""The README's screenshots, made the way a newcomer would see the studio: the live server, the
real worker and the offline renderer; a compare run of three models × two images made through the
prompt box; the lightbox; the Team page; light and dark; desktop and phone width.

Not part of the test suite (the file name does not start with test_); regenerate with

    ./studio.sh screenshots        # = .venv/bin/python -m pytest tests/screenshots.py

which rewrites docs/screenshots/*.png.
"""

import io

import pytest
from PIL import Image as PILImage

from gallery.models import Image
from team.models import TeamPolicy
from team.services import invite_create, member_set_active
from tests.browser import (  # noqa: F401  (fixtures)
    BASE_DIR,
    PHONE,
    browser,
    open_page,
    pick_models,
    sign_in,
    worker,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OUT = BASE_DIR / "docs" / "screenshots"
SCREEN = {"viewport": {"width": 1280, "height": 800}, "device_scale_factor": 1}
SCHEMES = ("light", "dark")
COMPARE_PROMPT = "A lighthouse on a basalt cliff at dawn, waves breaking below"
SLOW = 60_000  # ms: a busy machine should only make this slower, not fail it
EARLIER_PROMPTS = ["A fox curled up asleep in fresh snow", "Paper lanterns over a night market"]


def save_png(data: bytes, name: str) -> None:
    """Store a screenshot as an optimised, dithered 256-colour PNG: a few times smaller, and at
    this scale hard to tell from the original (Pillow only; no pngquant needed)."""
    image = PILImage.open(io.BytesIO(data)).convert("RGB")
    small = image.quantize(colors=256, method=PILImage.Quantize.MEDIANCUT)
    buffer = io.BytesIO()
    small.save(buffer, "PNG", optimize=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.png").write_bytes(buffer.getvalue())


def generate(page, prompt: str, *models: str, count: int = 2, ratio: str = "16:9") -> None:
    """Make a run through the prompt box and wait until every tile of it is an image."""
    page.get_by_role("textbox", name="Prompt").fill(prompt)
    pick_models(page, *models)
    page.get_by_role("combobox", name="Aspect ratio", exact=True).select_option(ratio)
    page.get_by_role("combobox", name="Images", exact=True).select_option(str(count))
    page.get_by_role("button", name="Generate", exact=True).click()
    expected = count * len(models)
    page.wait_for_function(
        f"() => document.querySelector('article')?.querySelectorAll('img').length === {expected}"
        " && [...document.querySelector('article').querySelectorAll('img')].every(i => i.complete)",
    )


def settle(page) -> None:
    """Thumbnails in view loaded, fonts ready, nothing hovered or focused."""
    page.mouse.move(0, 0)
    page.evaluate("() => document.activeElement?.blur()")
    page.wait_for_function(
        "() => document.fonts.status === 'loaded' && [...document.querySelectorAll('img')]"
        ".every(i => i.complete || i.getBoundingClientRect().top > innerHeight)"
    )


def shoot(page, name: str) -> None:
    settle(page)
    # caret="initial": hiding the caret leaves style="" on every input, which htmx then copies
    # onto the inputs it swaps in, and the page's CSP refuses inline styles.
    save_png(page.screenshot(caret="initial"), name)


def scroll_to(page, selector: str) -> None:
    """Scroll the element to just below the sticky top bar."""
    page.evaluate(
        "(selector) => scrollTo(0, document.querySelector(selector).getBoundingClientRect().top"
        " + scrollY - document.querySelector('.topbar').offsetHeight - 12)",
        selector,
    )


def open_lightbox(page) -> None:
    page.locator("article").first.locator("a.tile-link").first.click()
    page.get_by_role("dialog", name=COMPARE_PROMPT).wait_for()
    page.wait_for_function("() => document.querySelector('.lightbox-image')?.complete")


def test_screenshots(browser, live_server, admin_user, user, other_user, worker):  # noqa: F811
    # A team in use: two members (one deactivated), open invites, limits, earlier runs.
    member_set_active(actor=admin_user, member=other_user, active=False)
    invite_create(created_by=admin_user, email="lin@example.com", days=7)
    invite_create(created_by=admin_user, days=1)
    policy = TeamPolicy.current()
    policy.monthly_budget_usd = 50
    policy.daily_image_limit = 40
    policy.save()
    with open_page(browser, live_server.url) as page:
        page.set_default_timeout(SLOW)
        sign_in(page, "root", "a-long-passphrase-3")
        generate(page, EARLIER_PROMPTS[0], "offline/aurora", count=1, ratio="1:1")
        generate(page, EARLIER_PROMPTS[1], "offline/blueprint", count=2, ratio="4:3")
        generate(page, COMPARE_PROMPT, "offline/aurora", "offline/mosaic", "offline/blueprint")
    assert Image.objects.filter(status=Image.Status.SUCCEEDED).count() == 9

    for scheme in SCHEMES:
        options = {"color_scheme": scheme, "reduced_motion": "reduce"}
        with open_page(browser, live_server.url, **SCREEN, **options) as desktop:
            desktop.set_default_timeout(SLOW)
            sign_in(desktop, "root", "a-long-passphrase-3")
            # The prompt box as the compare run was made: "Reuse settings" fills it in.
            compare_run = desktop.locator("article").first
            compare_run.get_by_role("link", name="Reuse settings").click()
            desktop.get_by_role("combobox", name="Model 3", exact=True).wait_for()
            desktop.evaluate("scrollTo(0, 0)")
            shoot(desktop, f"prompt-{scheme}")
            # The gallery: the compare run whole, under the filters (the top bar and the sidebar
            # stay in place).
            scroll_to(desktop, ".gallery-filters")
            shoot(desktop, f"studio-{scheme}")
            open_lightbox(desktop)
            shoot(desktop, f"lightbox-{scheme}")
            desktop.goto("/team/")
            shoot(desktop, f"team-{scheme}")
        with open_page(browser, live_server.url, **PHONE, **options) as phone:
            phone.set_default_timeout(SLOW)
            sign_in(phone, "root", "a-long-passphrase-3")
            scroll_to(phone, "article")
            shoot(phone, f"phone-studio-{scheme}")
            open_lightbox(phone)
            shoot(phone, f"phone-lightbox-{scheme}")
