"""The gallery and edits in a real headless Chromium, with the real worker."""

import contextlib
import re
from urllib.parse import unquote

import pytest
from PIL import Image as PILImage
from playwright.sync_api import Error as PlaywrightError

from gallery import catalog
from gallery.models import EditSource, Image, Run, Upload
from tests.browser import (  # noqa: F401  (fixtures)
    browser,
    page,
    pick_models,
    sign_in,
    start_worker,
    stop_worker,
    worker,
)
from tests.factories import listed_models, make_run, make_succeeded_image, png_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def gallery_of(user, runs=3, count=2):
    made = []
    for i in range(runs):
        run = make_run(user, prompt=f"run number {i}", count=count)
        made.append(
            [make_succeeded_image(image, width=96 + i, height=54) for image in run.images.all()]
        )
    return made


def test_lightbox_walks_with_arrow_keys_and_downloads(page, user, worker, tmp_path):  # noqa: F811
    runs = gallery_of(user)
    # Gallery order: newest run first, then its images in order.
    order = [image for run in reversed(runs) for image in run]
    sign_in(page)

    page.locator(f"#image-{order[0].pk} a.tile-link").click()
    page.get_by_role("dialog", name="run number 2").wait_for()  # named by the prompt
    dialog = page.locator("#lightbox")
    assert page.url.endswith(f"/images/{order[0].pk}/")
    assert (
        dialog.get_by_role("img", name="run number 2")
        .first.get_attribute("src")
        .startswith(f"/images/{order[0].pk}/original")
    )
    for expected in order[1:]:
        page.keyboard.press("ArrowRight")
        page.wait_for_url(re.compile(rf"/images/{expected.pk}/$"))
        page.locator(f'.lightbox-view[data-image-id="{expected.pk}"]').wait_for()
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(re.compile(rf"/images/{order[-2].pk}/$"))
    page.locator(f'.lightbox-view[data-image-id="{order[-2].pk}"]').wait_for()

    # Download from the lightbox: the original bytes, under a useful name.
    with page.expect_download() as info:
        dialog.get_by_role("link", name="Download").click()
    download = info.value
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    image = Image.objects.get(pk=order[-2].pk)
    assert path.read_bytes() == image.file.open("rb").read()
    assert re.fullmatch(
        r"run-number-0-offline-aurora-\d{8}-\d{6}-1\.png", download.suggested_filename
    )

    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    page.wait_for_url(lambda url: "/images/" not in url)  # back to the gallery's address
    assert page.evaluate("document.activeElement.closest('figure')?.id") == f"image-{order[0].pk}"


def test_hover_download_on_a_tile(page, user, worker, tmp_path):  # noqa: F811
    [[image, _]] = gallery_of(user, runs=1)
    sign_in(page)
    tile = page.locator(f"#image-{image.pk}")
    tile.hover()
    link = tile.get_by_role("link", name=re.compile("Download image 1"))
    assert link.is_visible()
    with page.expect_download() as info:
        link.click()
    assert info.value.suggested_filename.endswith("-1.png")


def test_reusing_a_recent_prompt_and_generating_from_a_suggestion(page, user, worker):  # noqa: F811
    sign_in(page)
    # An empty gallery offers six suggestions; one click generates.
    suggestions = page.get_by_role("region", name="Suggestions")
    buttons = suggestions.get_by_role("button")
    assert buttons.count() >= 6
    first = buttons.first.inner_text()
    buttons.first.click()
    run = page.locator("article").first
    run.wait_for()
    page.wait_for_function(
        "() => document.querySelectorAll('article img').length === 1", timeout=15_000
    )
    assert Run.objects.get().prompt == first

    # The prompt is now a recent prompt: clicking it fills the prompt box.
    recent = page.get_by_role("region", name="Recent prompts")
    recent.get_by_role("link", name=first[:40]).click()
    assert page.get_by_role("textbox", name="Prompt").input_value() == first
    # Its second control generates again at once.
    recent.get_by_role("button", name=re.compile("Generate again")).first.click()
    page.wait_for_function(
        "() => document.querySelectorAll('article').length === 2", timeout=15_000
    )
    assert Run.objects.filter(prompt=first).count() == 2


def test_search_filters_and_star_from_the_tile(page, user, worker):  # noqa: F811
    runs = gallery_of(user)
    sign_in(page)
    page.get_by_role("searchbox", name="Search prompts").fill("number 1")
    page.wait_for_url(re.compile(r"\?.*q=number(\+|%20)1"))
    page.wait_for_function("() => document.querySelectorAll('article').length === 1")
    assert "run number 1" in page.locator("article").inner_text()

    target = runs[1][0]
    tile = page.locator(f"#image-{target.pk}")
    tile.hover()
    with page.expect_response(lambda r: "/star/" in r.url) as starred:
        tile.get_by_role("button", name="Star").click()
    assert starred.value.status == 200, starred.value.text()
    page.wait_for_function(
        f"() => document.querySelector('#image-{target.pk} .star-button').getAttribute('aria-pressed') === 'true'"
    )
    assert Image.objects.get(pk=target.pk).starred

    page.get_by_role("searchbox", name="Search prompts").fill("")
    page.get_by_role("checkbox", name="Starred only").check()
    page.wait_for_url(re.compile(r"starred=on"))
    page.wait_for_function("() => document.querySelectorAll('article').length === 1")
    page.reload()  # the state lives in the URL
    assert page.locator("article").count() == 1
    assert page.get_by_role("checkbox", name="Starred only").is_checked()


def test_delete_from_the_lightbox_with_undo(page, user, worker):  # noqa: F811
    [[first, second]] = gallery_of(user, runs=1)
    sign_in(page)
    page.locator(f"#image-{first.pk} a.tile-link").click()
    dialog = page.get_by_role("dialog")
    dialog.locator(f'.lightbox-view[data-image-id="{first.pk}"]').wait_for()
    dialog.get_by_role("button", name="Delete").click()
    # The tile goes at once, the lightbox moves on, and an Undo toast appears.
    page.locator(f"#image-{first.pk}").wait_for(state="detached")
    dialog.locator(f'.lightbox-view[data-image-id="{second.pk}"]').wait_for()
    status = page.locator(f"#run-{first.run_id}-status")
    status.filter(has_text="1 of 1 ready").wait_for()  # its run says so at once
    # The Undo toast shows at the top, clear of the lightbox's zoom controls at the bottom.
    toast = page.locator("#toasts .toast-undo").bounding_box()
    zoom = dialog.get_by_role("group", name=re.compile("Zoom", re.I)).first.bounding_box()
    assert toast["y"] + toast["height"] < zoom["y"], (toast, zoom)
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Undo").click()
    page.locator(f"#image-{first.pk}").wait_for()
    status.filter(has_text="2 of 2 ready").wait_for()
    assert Image.objects.get(pk=first.pk).deleted_at is None


def test_deleting_a_runs_last_image_hides_the_run_and_undo_brings_it_back(page, user, worker):  # noqa: F811
    [[only], [other]] = gallery_of(user, runs=2, count=1)
    sign_in(page)
    page.locator(f"#image-{only.pk} a.tile-link").click()
    dialog = page.get_by_role("dialog")
    dialog.locator(f'.lightbox-view[data-image-id="{only.pk}"]').wait_for()
    dialog.get_by_role("button", name="Delete").click()
    article = page.locator(f"#run-{only.run_id}")
    article.wait_for(state="hidden")  # no "0 of 0 ready" card left behind
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Undo").click()
    page.locator(f"#image-{only.pk}").wait_for()
    assert article.is_visible() and "1 of 1 ready" in article.inner_text()
    assert page.locator(f"#image-{other.pk}").is_visible()


def test_upload_edit_with_two_models_and_follow_the_lineage(page, user, worker, tmp_path):  # noqa: F811
    picture = tmp_path / "landscape.png"
    picture.write_bytes(png_bytes(160, 90, (30, 120, 200)))
    sign_in(page)

    page.locator("#attach-files").set_input_files(str(picture))
    chip = page.locator(".attachment")
    chip.wait_for()
    assert chip.get_by_role("img").get_attribute("alt") == "landscape.png"
    page.get_by_role("textbox", name="Prompt").fill("turn it into a sunset")
    pick_models(page, "offline/aurora", "offline/blueprint")
    with page.expect_response(lambda r: "/generate/" in r.url) as generated:
        page.get_by_role("button", name="Generate", exact=True).click()
    assert generated.value.status == 200, generated.value.text()[:2000]

    run = page.locator("article").first
    run.wait_for()
    page.wait_for_function(
        "() => document.querySelectorAll('article')[0].querySelectorAll('figure img').length === 2",
        timeout=15_000,
    )
    assert "Edited from" in run.inner_text()
    saved = Run.objects.get()
    assert saved.kind == "edit" and saved.model_ids == [
        "offline/aurora",
        "offline/blueprint",
    ]
    source = EditSource.objects.get(run=saved).upload
    assert source.original_name == "landscape.png"
    result = saved.images.order_by("column").first()
    with PILImage.open(result.file.open("rb")) as edited:
        assert abs(edited.width / edited.height - 160 / 90) < 0.03  # "auto" kept the shape

    # Edit the result again from the lightbox, then walk the lineage both ways.
    page.locator(f"#image-{result.pk} a.tile-link").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("link", name="Edit", exact=True).click()
    page.locator(f'.attachment[data-source="image:{result.pk}"]').wait_for()
    page.get_by_role("textbox", name="Prompt").fill("add falling snow")
    page.evaluate("window.samePage = true")
    with page.expect_response(lambda r: "/generate/" in r.url):
        page.get_by_role("button", name="Generate", exact=True).click()
    page.wait_for_function(
        "() => document.querySelector('article') && document.querySelector('article').querySelectorAll('figure img').length >= 1",
        timeout=15_000,
    )
    assert page.evaluate("window.samePage") is True  # no reload: the run was added in place
    second = Run.objects.latest("pk")
    assert EditSource.objects.get(run=second).image_id == result.pk
    grandchild = second.images.first()
    page.wait_for_function(
        f"() => document.querySelector('#image-{grandchild.pk} img')", timeout=15_000
    )

    page.goto(f"/images/{result.pk}/")
    page.get_by_role("link", name=re.compile("Edit: add falling snow")).click()
    page.wait_for_url(re.compile(rf"/images/{grandchild.pk}/$"))
    assert "edited from" in page.inner_text("body").lower()
    page.locator(f'a[href="/images/{result.pk}/"]').first.click()
    page.wait_for_url(re.compile(rf"/images/{result.pk}/$"))
    assert unquote(page.url).endswith(f"/images/{result.pk}/")


def test_paste_and_drop_attach_images_and_bad_files_are_refused(page, user, worker):  # noqa: F811
    sign_in(page)
    make_file = """([name, type, b64]) => {
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        const data = new DataTransfer();
        data.items.add(new File([bytes], name, {type}));
        return data;
    }"""
    import base64

    png = base64.b64encode(png_bytes(80, 60, (200, 40, 40))).decode()
    # Paste (a screenshot on the clipboard).
    page.evaluate(
        f"""([b64]) => {{ const data = ({make_file})(['pasted.png', 'image/png', b64]);
        document.getElementById('prompt').dispatchEvent(new ClipboardEvent('paste', {{clipboardData: data, bubbles: true}})); }}""",
        [png],
    )
    page.locator(".attachment").first.wait_for()
    # Drop onto the prompt box.
    page.evaluate(
        f"""([b64]) => {{ const data = ({make_file})(['dropped.png', 'image/png', b64]);
        const form = document.getElementById('generate-form');
        form.dispatchEvent(new DragEvent('dragover', {{dataTransfer: data, bubbles: true, cancelable: true}}));
        form.dispatchEvent(new DragEvent('drop', {{dataTransfer: data, bubbles: true, cancelable: true}})); }}""",
        [png],
    )
    page.wait_for_function("() => document.querySelectorAll('.attachment').length === 2")
    # The model list now offers only models that take images, and edit settings appear.
    page.get_by_role("combobox", name="Output format").wait_for()
    # A file that is not an image (whatever its name) is refused with a message; nothing attached.
    fake = base64.b64encode(b"%PDF-1.4 not a picture").decode()
    page.evaluate(
        f"""([b64]) => {{ const data = ({make_file})(['report.png', 'image/png', b64]);
        document.getElementById('prompt').dispatchEvent(new ClipboardEvent('paste', {{clipboardData: data, bubbles: true}})); }}""",
        [fake],
    )
    page.get_by_role("status").filter(has_text="not an image").wait_for()
    assert page.locator(".attachment").count() == 2
    # Remove one: its chip goes.
    page.locator(".attachment").first.get_by_role("button").click()
    page.wait_for_function("() => document.querySelectorAll('.attachment').length === 1")


def test_a_link_shows_fetching_then_its_thumbnail_and_a_bad_one_says_why(
    page,  # noqa: F811
    user,
    fake_gateway,
    settings,
    tmp_path,
):
    settings.GATEWAY_URL_FETCH_ALLOW_PRIVATE = True  # the test's HTTPS host is on loopback
    settings.GATEWAY_URL_FETCH_CA_FILE = fake_gateway.write_ca_pem(tmp_path / "ca.pem")
    # The catalog's models, and an edit-only one the gateway still lists (all are deactivated).
    fake_gateway.models = listed_models(*catalog.catalog_models(), "alibaba/qwen-image-edit-plus")
    fetcher = start_worker(settings)  # after the settings above: it fetches the link
    try:
        sign_in(page)
        link = page.get_by_label("Image link")
        link.fill(fake_gateway.https_url_for(png_bytes(90, 60, (30, 160, 90))))
        page.get_by_role("button", name="Attach", exact=True).click()
        # At once: a chip saying it is being fetched, named by the link's host.
        fetching = page.get_by_role("status").filter(has_text="Fetching…")
        fetching.wait_for()
        assert "localhost" in fetching.inner_text()
        assert fetching.get_attribute("aria-busy") == "true"
        assert not page.get_by_role("button", name="Check again").is_visible()  # <noscript>
        # Then the worker has it: the chip becomes its thumbnail, and edit settings appear.
        upload = Upload.objects.get()
        thumb = page.locator(f'.attachment[data-source="upload:{upload.pk}"] img')
        thumb.wait_for()
        assert thumb.get_attribute("src") == f"/uploads/{upload.pk}/thumbnail.webp"
        page.wait_for_function("() => document.querySelector('.attachment img').naturalWidth > 0")
        assert fetching.count() == 0
        # Attached from the start: the models offered are those that edit (edit-only ones too).
        page.locator('#controls option[value="alibaba/qwen-image-edit-plus"]').wait_for(
            state="attached"
        )
        # A link that leads nowhere: the chip says why, and can be removed.
        link.fill(fake_gateway.https_url_for(png_bytes(20, 20))[:-4] + "gone")
        page.get_by_role("button", name="Attach", exact=True).click()
        failed = page.locator(".attachment.is-failed")
        failed.get_by_role("alert").filter(has_text="HTTP 404").wait_for()
        failed.get_by_role("button", name="Remove the image from localhost").click()
        page.wait_for_function("() => document.querySelectorAll('.attachment').length === 1")
    finally:
        output = stop_worker(fetcher)
    assert "Traceback" not in output, output


def test_redraws_of_the_controls_landing_out_of_order_never_lose_a_choice(page, user, tmp_path):  # noqa: F811
    """Attaching an image redraws the controls, and so does turning Compare on. When the first
    redraw answers while the second is still on its way, the second must still land: the
    member's latest choice wins (it once vanished, swapped into controls no longer on the page)."""
    picture = tmp_path / "square.png"
    picture.write_bytes(png_bytes(64, 64, (200, 40, 40)))
    sign_in(page)
    held = {}

    def hold(route):
        url = route.request.url
        key = "compare" if "compare_toggled=1" in url else "attach"
        if key not in held:
            held[key] = route  # answered below, in the order the test chooses
        else:
            route.continue_()

    def wait_until_held(key):
        for _ in range(100):
            if key in held:
                return
            page.wait_for_timeout(50)
        raise AssertionError(f"the {key} redraw was not sent")

    def answer(key):
        # Playwright's own error when the page gave that request up already.
        with contextlib.suppress(PlaywrightError):
            held[key].continue_()

    page.route("**/controls/**", hold)
    page.locator("#attach-files").set_input_files(str(picture))
    page.locator(".attachment").wait_for()
    wait_until_held("attach")
    page.get_by_role("switch", name="Compare").check()
    wait_until_held("compare")
    answer("attach")  # the older redraw answers first...
    page.wait_for_timeout(500)
    answer("compare")  # ...then the newer one
    page.get_by_role("combobox", name="Model 2", exact=True).wait_for(timeout=5000)
    assert page.get_by_role("switch", name="Compare").is_checked()
    # The attachment's own effect (an edit keeps the input's shape) came along with it.
    assert page.get_by_role("combobox", name="Aspect ratio").input_value() in ("", "auto")
