"""Copy image in the lightbox and a tile's Copy (static/js/copy_image.js), in a real headless
Chromium: the clipboard then holds an image/png of the original (a WebP original redrawn as PNG),
and the buttons are only offered where the browser can put images on the clipboard."""

import pytest
from django.core.files.base import ContentFile

from boards import services as board_services
from tests.browser import browser, open_page, sign_in  # noqa: F401  (fixtures)
from tests.factories import make_run, make_succeeded_image, webp_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

READ_BACK = """async () => {
    const items = await navigator.clipboard.read();
    const item = items.find(i => i.types.includes('image/png'));
    if (!item) return {types: items.flatMap(i => i.types)};
    const blob = await item.getType('image/png');
    const bitmap = await createImageBitmap(blob);
    const head = new Uint8Array(await blob.slice(0, 8).arrayBuffer());
    return {types: item.types, width: bitmap.width, height: bitmap.height,
            png: head[1] === 0x50 && head[2] === 0x4e && head[3] === 0x47};
}"""


def webp_image(user):
    image = make_succeeded_image(make_run(user).images.get(), width=120, height=80)
    image.file.save(f"{image.run_id}-{image.pk}-test.webp", ContentFile(webp_bytes(120, 80)))
    image.format = "webp"
    image.save()
    return image


def test_copy_image_puts_a_png_of_the_original_on_the_clipboard(browser, live_server, user):  # noqa: F811
    image = webp_image(user)
    with open_page(browser, live_server.url) as page:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        sign_in(page)
        page.goto(f"/images/{image.pk}/")
        page.get_by_role("button", name="Copy image").click()
        page.get_by_role("button", name="Copied").wait_for()
        page.get_by_role("status").filter(has_text="Image copied.").wait_for(state="attached")
        copied = page.evaluate(READ_BACK)
    assert copied == {"types": ["image/png"], "width": 120, "height": 80, "png": True}


def test_copy_image_says_why_when_the_original_cannot_be_fetched(browser, live_server, user):  # noqa: F811
    image = webp_image(user)
    with open_page(browser, live_server.url) as page:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        sign_in(page)
        page.goto(f"/images/{image.pk}/")
        # The studio cannot give the file just now (routing also bypasses the browser's cache).
        page.route(f"**/images/{image.pk}/original*", lambda route: route.fulfill(status=503))
        page.get_by_role("button", name="Copy image").click()
        page.get_by_role("button", name="Copy failed").wait_for()
        status = page.get_by_role("status").filter(has_text="The image could not be copied")
        status.wait_for(state="attached")


def test_no_copy_image_where_the_browser_cannot_copy_images(browser, live_server, user):  # noqa: F811
    image = make_succeeded_image(make_run(user).images.get())
    with open_page(browser, live_server.url) as page:
        page.add_init_script("delete window.ClipboardItem;")
        sign_in(page)
        page.goto(f"/images/{image.pk}/")
        page.get_by_role("button", name="Copy prompt").wait_for()
        assert page.get_by_role("button", name="Copy image").count() == 0
        page.goto(f"/runs/{image.run_id}/")
        page.get_by_role("link", name="Download image 1 from").wait_for()
        assert page.get_by_role("button", name="Copy image 1 from").count() == 0


@pytest.mark.parametrize("place", ["run", "board"])
def test_a_tiles_copy_puts_a_png_of_the_original_on_the_clipboard(
    browser,  # noqa: F811
    live_server,
    user,
    place,
):
    image = webp_image(user)
    board = board_services.board_create(owner=user, name="Kites")
    board_services.board_add_images(board=board, viewer=user, image_ids=[image.pk])
    with open_page(browser, live_server.url) as page:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        sign_in(page)
        if place == "run":
            page.goto(f"/runs/{image.run_id}/")
            name = f"Copy image 1 from {image.model_label}"
        else:
            page.goto(f"/boards/{board.pk}/")
            name = f"Copy image: {image.run.prompt}"
        page.locator(f"#image-{image.pk}").hover()
        copy = page.get_by_role("button", name=name, exact=True)
        copy.click()
        page.get_by_role("status").filter(has_text="Image copied.").wait_for(state="attached")
        assert copy.inner_text() == "Copied"
        copied = page.evaluate(READ_BACK)
        # The lightbox did not open: the tile's Copy is its own button.
        assert page.locator("dialog[open]").count() == 0
    assert copied == {"types": ["image/png"], "width": 120, "height": 80, "png": True}
