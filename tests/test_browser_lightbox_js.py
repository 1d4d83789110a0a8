"""The lightbox's client behaviour (static/js/lightbox.js) in a real headless Chromium.

No Django here: a static harness (tests/lightbox_harness/) stands in for the server, served from a
loopback thread with the studio's strict Content-Security-Policy; the pictures are drawn with
Pillow when the module starts."""

import io
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from tests.browser import CHROMIUM_FLAGS, chromium_path

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
HARNESS = Path(__file__).resolve().parent / "lightbox_harness"
STATIC = ROOT / "static"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'"
)
# id -> (size, two gradient colours); the sizes match the fragments' width/height attributes.
PICTURES = {
    42: ((1600, 900), ((255, 170, 90), (60, 40, 120))),
    41: ((960, 1280), ((20, 40, 90), (150, 200, 255))),
    40: ((1200, 1200), ((40, 120, 80), (240, 230, 170))),
}
PROMPTS = {
    42: "A lighthouse on a basalt cliff at dawn, long exposure, mist over the sea",
    41: "A paper fox in a moonlit forest",
    40: "Isometric greenhouse, soft light",
}
IMAGE_PATH = re.compile(r"^/images/(\d+)/(original|thumbnail\.webp|download/)?$")


def draw_picture(size: tuple[int, int], colours) -> bytes:
    """A vertical gradient with a sun and a grid, so zoom and position are visible by eye."""
    width, height = size
    top, bottom = colours
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for y in range(height):
        t = y / max(1, height - 1)
        draw.line(
            [(0, y), (width, y)],
            fill=tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
        )
    radius = min(width, height) // 6
    cx, cy = width // 2, height // 3
    draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=(255, 245, 220))
    for x in range(0, width, max(1, width // 16)):
        draw.line([(x, height * 2 // 3), (width // 2, height)], fill=(255, 255, 255), width=2)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


class Harness:
    """The loopback server: the gallery page, fragments for HX-Request, permalink pages, images."""

    def __init__(self):
        self.pictures = {
            pk: draw_picture(size, colours) for pk, (size, colours) in PICTURES.items()
        }
        self.thumbs = {}
        for pk, data in self.pictures.items():
            thumb = Image.open(io.BytesIO(data))
            thumb.thumbnail((512, 512))
            out = io.BytesIO()
            thumb.save(out, "PNG")
            self.thumbs[pk] = out.getvalue()
        self.requests: list[str] = []
        self.fragment_delay = 0.0
        harness = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                harness.requests.append(self.path)
                path = self.path.split("?", 1)[0]
                if path == "/":
                    return self.send(200, "text/html", (HARNESS / "index.html").read_bytes())
                if path.startswith("/static/"):
                    name = path.removeprefix("/static/")
                    file = (STATIC / name).resolve()
                    if (
                        file.is_relative_to(STATIC)
                        and file.is_file()
                        and file.suffix in {".js", ".css"}
                    ):
                        kind = "text/javascript" if file.suffix == ".js" else "text/css"
                        return self.send(200, kind, file.read_bytes())
                    return self.send(404, "text/plain", b"not found")
                match = IMAGE_PATH.match(path)
                if not match or int(match[1]) not in harness.pictures:
                    return self.send(404, "text/plain", b"This image is no longer here.")
                pk, what = int(match[1]), match[2]
                if what == "original" or what == "download/":
                    return self.send(200, "image/png", harness.pictures[pk])
                if what == "thumbnail.webp":
                    return self.send(200, "image/png", harness.thumbs[pk])
                fragment = (HARNESS / "fragments" / f"{pk}.html").read_text()
                if self.headers.get("HX-Request") == "true":
                    time.sleep(harness.fragment_delay)
                    return self.send(200, "text/html", fragment.encode())
                page = (HARNESS / "page.html").read_text().replace("<!-- fragment -->", fragment)
                return self.send(200, "text/html", page.encode())

            def send(self, status: int, kind: str, data: bytes):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Content-Security-Policy", CSP)
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Vary", "HX-Request")
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture(scope="module")
def harness():
    with Harness() as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API runs an event loop in this thread while open: it lives and dies
    # with this module, since other tests call asyncio.run.
    from playwright.sync_api import sync_playwright

    chromium = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_FLAGS, headless=True
        )
        yield browser
        browser.close()


def new_page(browser, harness, **options):
    options.setdefault("viewport", {"width": 1400, "height": 900})
    context = browser.new_context(base_url=harness.url, **options)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=harness.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("console", lambda msg: page.errors.append(msg.text) if msg.type == "error" else None)
    return page


@pytest.fixture
def make_page(browser, harness):
    pages = []

    def make(**options):
        page = new_page(browser, harness, **options)
        pages.append(page)
        return page

    yield make
    for page in pages:
        errors = [e for e in page.errors if "404" not in e]
        page.context.close()
        assert not errors, errors  # no CSP refusals, no script errors


@pytest.fixture
def page(make_page, harness):
    harness.fragment_delay = 0.0
    page = make_page()
    page.goto("/")
    page.wait_for_function("() => window.htmx && document.readyState === 'complete'")
    return page


# --- helpers -------------------------------------------------------------------------------------


def open_image(page, pk: int):
    page.locator(f"#image-{pk} .tile-link").click()
    wait_for_image(page, pk)


def wait_for_image(page, pk: int):
    page.wait_for_function(
        """pk => {
            const view = document.querySelector('#lightbox-body .lightbox-view');
            const image = view && view.querySelector('.lightbox-image');
            return view && view.dataset.imageId === String(pk) && image.complete && image.naturalWidth > 0
                && !document.getElementById('lightbox-body').hasAttribute('aria-busy');
        }""",
        arg=pk,
    )


def transform(page, selector: str = "#lightbox .lightbox-image") -> tuple[float, float, float]:
    """(scale, x, y) as lightbox.js last wrote it."""
    text = page.locator(selector).evaluate("img => img.style.transform")
    match = re.fullmatch(r"translate\((-?[\d.]+)px, (-?[\d.]+)px\) scale\(([\d.]+)\)", text)
    assert match, text
    return float(match[3]), float(match[1]), float(match[2])


def wait_for_scale(page, predicate: str, selector: str = "#lightbox .lightbox-image"):
    page.wait_for_function(
        f"""() => {{
            const m = /scale\\(([\\d.]+)\\)/.exec(document.querySelector('{selector}').style.transform);
            const scale = m ? Number(m[1]) : NaN;
            return {predicate};
        }}"""
    )


def box(page, selector: str) -> dict:
    return page.locator(selector).bounding_box()


def dialog_open(page) -> bool:
    return page.evaluate("() => document.getElementById('lightbox').open")


def path(page) -> str:
    return page.evaluate("() => location.pathname")


# --- opening, walking, closing -------------------------------------------------------------------


def test_click_opens_the_dialog_with_the_image_and_pushes_its_url(page):
    history_length = page.evaluate("() => history.length")
    open_image(page, 42)

    assert dialog_open(page)
    image = page.locator("#lightbox .lightbox-image")
    assert "/images/42/original" in image.get_attribute("src")
    assert path(page) == "/images/42/"
    assert page.evaluate("() => history.length") == history_length + 1
    # Focus went into the dialog, to the stage, and the dialog is labelled by the fragment.
    assert page.evaluate("() => document.activeElement.classList.contains('lightbox-stage')")
    assert page.get_by_role("dialog", name=PROMPTS[42]).is_visible()
    # The picture is fitted inside the stage, the panel beside it on a desktop.
    stage, picture, panel = (
        box(page, "#lightbox .lightbox-stage"),
        image.bounding_box(),
        box(page, ".lightbox-panel"),
    )
    assert (
        picture["x"] >= stage["x"]
        and picture["x"] + picture["width"] <= stage["x"] + stage["width"] + 1
    )
    assert (
        picture["y"] >= stage["y"]
        and picture["y"] + picture["height"] <= stage["y"] + stage["height"] + 1
    )
    assert picture["width"] / picture["height"] == pytest.approx(16 / 9, rel=0.01)
    assert panel["x"] >= stage["x"] + stage["width"] - 1
    assert panel["width"] == pytest.approx(340, abs=2)


def test_enter_on_a_tile_opens_it_and_a_loading_state_shows_until_the_fragment_arrives(
    page, harness
):
    harness.fragment_delay = 0.6
    page.locator("#image-41 .tile-link").focus()
    page.keyboard.press("Enter")
    # The dialog is open at once, busy and empty, while the server is still answering.
    page.wait_for_function("() => document.getElementById('lightbox').open")
    assert page.locator("#lightbox-body").get_attribute("aria-busy") == "true"
    assert page.locator("#lightbox .lightbox-view").count() == 0
    wait_for_image(page, 41)
    assert page.locator("#lightbox-body").get_attribute("aria-busy") is None
    assert path(page) == "/images/41/"


def test_arrow_keys_walk_replace_the_url_and_preload_the_neighbours(page, harness):
    open_image(page, 42)
    history_length = page.evaluate("() => history.length")
    # The next picture was fetched before anyone asked for it.
    page.wait_for_function(
        "() => performance.getEntriesByType('resource').some(e => e.name.includes('/images/41/original'))"
    )

    page.keyboard.press("ArrowRight")
    wait_for_image(page, 41)
    assert path(page) == "/images/41/"
    page.keyboard.press("ArrowRight")
    wait_for_image(page, 40)
    assert path(page) == "/images/40/"
    # The end of the line: no next link, nothing happens.
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(150)
    assert page.locator("#lightbox .lightbox-view").get_attribute("data-image-id") == "40"
    page.keyboard.press("ArrowLeft")
    wait_for_image(page, 41)
    assert path(page) == "/images/41/"
    # Walking replaced the entry instead of stacking new ones.
    assert page.evaluate("() => history.length") == history_length
    assert page.evaluate("() => history.state.lightbox").endswith("/images/41/")


def test_arrow_keys_are_left_alone_in_a_text_field(page):
    page.locator("#notes").fill("abc")
    page.locator("#notes").press("ArrowLeft")
    assert not dialog_open(page)
    open_image(page, 42)
    page.evaluate(
        "() => { const i = document.createElement('input'); i.id = 'inside'; document.querySelector('.lightbox-panel').append(i); }"
    )
    page.locator("#inside").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("+")
    page.wait_for_timeout(150)
    assert page.locator("#lightbox .lightbox-view").get_attribute("data-image-id") == "42"
    assert transform(page)[0] == 1


def test_prev_and_next_links_walk_and_keep_focus_on_the_link(page):
    open_image(page, 42)
    page.locator("#lightbox .lightbox-next").click()
    wait_for_image(page, 41)
    assert path(page) == "/images/41/"
    page.locator("#lightbox .lightbox-next").focus()
    page.keyboard.press("Enter")
    wait_for_image(page, 40)
    # The link that was pressed is new, but focus lands on its counterpart (here, prev: the end).
    assert page.evaluate("() => document.activeElement.classList.contains('lightbox-prev')")
    page.keyboard.press("Enter")
    wait_for_image(page, 41)
    assert page.evaluate("() => document.activeElement.classList.contains('lightbox-prev')")


def test_escape_closes_restores_url_and_focus_and_dispatches_closed(page):
    page.evaluate(
        "() => document.addEventListener('lightbox:closed', e => { window.closedDetail = e.detail; })"
    )
    page.locator("#image-42 .tile-link").focus()
    page.keyboard.press("Enter")
    wait_for_image(page, 42)
    page.keyboard.press("ArrowRight")
    wait_for_image(page, 41)

    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.getElementById('lightbox').open")
    page.wait_for_function("() => location.pathname === '/'")
    assert page.evaluate("() => document.activeElement.closest('#image-42') !== null")
    assert page.evaluate("() => window.closedDetail") == {
        "imageId": "41",
        "permalink": "/images/41/",
    }
    assert page.locator("#lightbox-body").inner_html() == ""
    # The lightbox's history entry is gone, not duplicated: Back now leaves nothing behind.
    assert page.evaluate("() => history.state") is None


def test_close_button_and_backdrop_close_but_the_panel_and_image_do_not(page):
    open_image(page, 42)
    page.locator("#lightbox .lightbox-close").click()
    page.wait_for_function("() => !document.getElementById('lightbox').open")
    page.wait_for_function("() => location.pathname === '/'")

    open_image(page, 42)
    page.locator("#lightbox .lightbox-image").click()
    page.locator(".lightbox-panel dl").click()
    page.wait_for_timeout(100)
    assert dialog_open(page)
    stage = box(page, "#lightbox .lightbox-stage")
    page.mouse.click(stage["x"] + stage["width"] / 2, stage["y"] + 12)  # beside the picture
    page.wait_for_function("() => !document.getElementById('lightbox').open")
    page.wait_for_function("() => location.pathname === '/'")
    assert page.evaluate("() => document.activeElement.closest('#image-42') !== null")


def test_back_closes_the_lightbox_and_forward_opens_it_again(page):
    open_image(page, 42)
    page.keyboard.press("ArrowRight")
    wait_for_image(page, 41)
    page.go_back()
    page.wait_for_function("() => !document.getElementById('lightbox').open")
    assert path(page) == "/"
    page.go_forward()
    wait_for_image(page, 41)
    assert dialog_open(page)
    assert path(page) == "/images/41/"
    page.keyboard.press("Escape")
    page.wait_for_function("() => location.pathname === '/'")


def test_tiles_added_later_open_too_and_a_missing_image_says_so(page):
    page.evaluate(
        """() => {
            const copy = document.getElementById('image-40').cloneNode(true);
            copy.id = 'image-40-copy';
            document.querySelector('.tiles').append(copy);
        }"""
    )
    page.locator("#image-40-copy .tile-link").click()
    wait_for_image(page, 40)
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.getElementById('lightbox').open")
    page.wait_for_function("() => location.pathname === '/'")

    page.locator("#image-99 .tile-link").click()
    notice = page.locator("#lightbox .lightbox-notice")
    notice.wait_for()
    assert "no longer here" in notice.inner_text()
    assert page.locator("#lightbox-body").get_attribute("aria-busy") is None
    page.keyboard.press("Escape")
    page.wait_for_function("() => location.pathname === '/'")


def test_a_modified_click_is_left_to_the_browser(page):
    with page.context.expect_page() as popup:
        page.locator("#image-42 .tile-link").click(modifiers=["Control"])
    popup.value.close()
    assert not dialog_open(page)
    assert path(page) == "/"


# --- zoom and pan --------------------------------------------------------------------------------


def test_wheel_zooms_around_the_cursor_and_zero_resets(page):
    open_image(page, 42)
    picture = box(page, "#lightbox .lightbox-image")
    # A point right of centre: it must stay under the cursor while zooming.
    px, py = picture["x"] + picture["width"] * 0.75, picture["y"] + picture["height"] * 0.5
    page.mouse.move(px, py)
    page.mouse.wheel(0, -300)
    wait_for_scale(page, "scale > 1.2")
    scale, x, y = transform(page)
    assert 1.2 < scale <= 8
    # The image point under the cursor stayed put: x = (q - c)(1 - s) with q - c = width / 4.
    assert x == pytest.approx(picture["width"] * 0.25 * (1 - scale), abs=2)
    assert y == pytest.approx(0, abs=1)
    assert page.locator("#lightbox .lightbox-stage").evaluate(
        "s => s.classList.contains('is-zoomed')"
    )

    page.mouse.wheel(0, -5000)  # far beyond the limit
    wait_for_scale(page, "scale === 8")
    page.keyboard.press("0")
    assert transform(page) == (1, 0, 0)
    page.mouse.wheel(0, 400)  # zooming out stops at fit
    page.wait_for_timeout(100)
    assert transform(page) == (1, 0, 0)


def test_zoom_buttons_and_keys(page):
    open_image(page, 42)
    zoom_out = page.locator("#lightbox .zoom-out")
    assert zoom_out.get_attribute("aria-disabled") == "true"
    page.locator("#lightbox .zoom-in").click()
    assert transform(page)[0] == pytest.approx(1.5)
    assert zoom_out.get_attribute("aria-disabled") == "false"
    page.keyboard.press("+")
    assert transform(page)[0] == pytest.approx(2.25)
    page.keyboard.press("-")
    assert transform(page)[0] == pytest.approx(1.5)
    zoom_out.click()
    assert transform(page) == (1, 0, 0)
    for _ in range(8):
        page.keyboard.press("=")
    assert transform(page)[0] == 8
    assert page.locator("#lightbox .zoom-in").get_attribute("aria-disabled") == "true"
    page.locator("#lightbox .zoom-reset").click()
    assert transform(page) == (1, 0, 0)
    assert dialog_open(page)  # none of those clicks counted as the backdrop


def test_double_click_toggles_between_fit_and_2x_at_that_point(page):
    open_image(page, 42)
    picture = box(page, "#lightbox .lightbox-image")
    page.mouse.dblclick(
        picture["x"] + picture["width"] * 0.3, picture["y"] + picture["height"] * 0.5
    )
    scale, x, _ = transform(page)
    assert scale == 2
    assert x == pytest.approx(picture["width"] * 0.2, abs=2)  # -(q - c) for q - c = -0.2 width
    page.mouse.dblclick(
        picture["x"] + picture["width"] * 0.5, picture["y"] + picture["height"] * 0.5
    )
    assert transform(page) == (1, 0, 0)
    assert dialog_open(page)


def test_drag_pans_when_zoomed_is_clamped_and_does_not_close(page):
    open_image(page, 42)
    stage, picture = box(page, "#lightbox .lightbox-stage"), box(page, "#lightbox .lightbox-image")
    cx, cy = picture["x"] + picture["width"] / 2, picture["y"] + picture["height"] / 2
    # At fit a drag does nothing.
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx - 100, cy, steps=5)
    page.mouse.up()
    assert transform(page) == (1, 0, 0)

    page.mouse.dblclick(cx, cy)
    assert transform(page) == pytest.approx((2, 0, 0), abs=1)
    stage_el = page.locator("#lightbox .lightbox-stage")
    assert "is-zoomed" in stage_el.get_attribute("class")
    assert stage_el.evaluate("s => getComputedStyle(s).cursor") == "grab"
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx - 60, cy - 30, steps=6)
    assert stage_el.evaluate("s => getComputedStyle(s).cursor") == "grabbing"
    page.mouse.move(cx - 120, cy - 40, steps=6)
    page.mouse.up()
    page.wait_for_timeout(50)
    scale, x, y = transform(page)
    assert scale == 2
    assert x == pytest.approx(-120, abs=1)
    assert y == pytest.approx(-40, abs=1)  # 2x of a 16:9 picture is taller than the stage here
    assert dialog_open(page)

    # However far it is dragged, the picture still covers the stage.
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx - 5000, cy - 5000, steps=8)
    page.mouse.up()
    page.wait_for_timeout(50)
    picture = box(page, "#lightbox .lightbox-image")
    assert picture["x"] + picture["width"] >= stage["x"] + stage["width"] - 1
    assert picture["y"] + picture["height"] >= stage["y"] + stage["height"] - 1
    assert dialog_open(page)


def test_a_new_image_starts_at_fit(page):
    open_image(page, 42)
    page.keyboard.press("+")
    assert transform(page)[0] == 1.5
    page.keyboard.press("ArrowRight")
    wait_for_image(page, 41)
    assert transform(page) == (1, 0, 0)


def test_pinch_and_double_tap_on_a_touch_screen(make_page):
    page = make_page(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page.goto("/")
    page.wait_for_function("() => window.htmx && document.readyState === 'complete'")
    page.locator("#image-42 .tile-link").tap()
    wait_for_image(page, 42)
    stage = box(page, "#lightbox .lightbox-stage")
    cx, cy = round(stage["x"] + stage["width"] / 2), round(stage["y"] + stage["height"] / 2)
    cdp = page.context.new_cdp_session(page)

    def touch(kind, points):
        cdp.send(
            "Input.dispatchTouchEvent",
            {
                "type": kind,
                "touchPoints": [{"x": x, "y": y, "id": i} for i, (x, y) in enumerate(points)],
            },
        )

    touch("touchStart", [(cx - 40, cy), (cx + 40, cy)])
    for spread in range(50, 130, 10):
        touch("touchMove", [(cx - spread, cy), (cx + spread, cy)])
    touch("touchEnd", [])
    page.wait_for_timeout(100)
    scale, _, _ = transform(page)
    assert scale == pytest.approx(3, rel=0.05)  # fingers 80 px apart, then 240
    assert dialog_open(page)

    page.keyboard.press("0")
    for _ in range(2):
        touch("touchStart", [(cx, cy)])
        touch("touchEnd", [])
        page.wait_for_timeout(60)
    wait_for_scale(page, "scale === 2")

    # A swipe at fit walks.
    page.keyboard.press("0")
    touch("touchStart", [(cx + 120, cy)])
    for x in range(cx + 100, cx - 140, -40):
        touch("touchMove", [(x, cy)])
    touch("touchEnd", [])
    wait_for_image(page, 41)
    cdp.detach()


# --- copy -------------------------------------------------------------------------------------------


def test_copy_prompt_writes_the_clipboard_and_says_so(page):
    open_image(page, 42)
    button = page.locator("#lightbox .copy-prompt")
    # Record every text the button shows: "Copied" lasts 1.5 s, which a busy machine can miss
    # between two polls.
    page.evaluate(
        """() => { window.shown = []; const b = document.querySelector('#lightbox .copy-prompt');
        new MutationObserver(() => window.shown.push(b.textContent))
            .observe(b, {childList: true, characterData: true, subtree: true}); }"""
    )
    button.click()
    page.wait_for_function("() => window.shown.includes('Copied')")
    assert page.evaluate("() => navigator.clipboard.readText()") == PROMPTS[42]
    assert page.locator("#lightbox .copy-live").inner_text() in ("Copied", "")
    page.wait_for_function(
        "() => document.querySelector('#lightbox .copy-prompt').textContent === 'Copy prompt'",
        timeout=3000,
    )
    assert dialog_open(page)


def test_copy_prompt_falls_back_without_the_clipboard_api(make_page):
    page = make_page()
    page.add_init_script(
        "Object.defineProperty(Navigator.prototype, 'clipboard', {get: () => undefined})"
    )
    page.goto("/")
    page.wait_for_function("() => window.htmx && document.readyState === 'complete'")
    open_image(page, 41)
    assert page.evaluate("() => navigator.clipboard") is None
    page.evaluate(
        "() => { window.copied = null; document.addEventListener('copy', () => { window.copied = document.getSelection().toString() || document.activeElement.value; }); }"
    )
    page.locator("#lightbox .copy-prompt").click()
    page.wait_for_function(
        "() => document.querySelector('#lightbox .copy-prompt').textContent === 'Copied'"
    )
    assert page.evaluate("() => window.copied") == PROMPTS[41]
    assert page.locator("#lightbox textarea").count() == 0  # the helper is gone
    assert page.evaluate("() => document.activeElement.classList.contains('copy-prompt')")


# --- the permalink page, preferences, small screens ------------------------------------------------


def test_the_permalink_page_zooms_and_its_arrow_keys_follow_the_links(make_page, harness):
    page = make_page()
    page.goto("/images/41/")
    page.wait_for_function("() => document.querySelector('.lightbox-image').complete")
    image = ".lightbox-page .lightbox-image"
    page.locator(".lightbox-page .zoom-in").click()
    assert transform(page, image)[0] == 1.5
    stage = box(page, ".lightbox-page .lightbox-stage")
    assert stage["height"] == pytest.approx(900 * 0.8, abs=2)
    page.keyboard.press("ArrowRight")
    page.wait_for_url("**/images/40/")
    assert page.locator(".lightbox-page .lightbox-view").get_attribute("data-image-id") == "40"
    page.locator(".lightbox-page .lightbox-close").click()
    page.wait_for_url(f"{harness.url}/#image-40")  # without the dialog, × is a link home


def test_reduced_motion_means_no_transitions(make_page):
    page = make_page(reduced_motion="reduce")
    page.goto("/")
    page.wait_for_function("() => window.htmx && document.readyState === 'complete'")
    open_image(page, 42)
    page.locator("#lightbox .zoom-in").click()
    durations = page.locator("#lightbox .lightbox-image").evaluate(
        "i => [getComputedStyle(i).transitionDuration, getComputedStyle(i).animationName]"
    )
    assert durations == ["0s", "none"]
    assert page.locator("#lightbox").evaluate("d => getComputedStyle(d).animationName") == "none"


def test_on_a_phone_the_panel_goes_below_the_stage_and_scrolls(make_page):
    page = make_page(viewport={"width": 390, "height": 844})
    page.goto("/")
    page.wait_for_function("() => window.htmx && document.readyState === 'complete'")
    open_image(page, 41)
    stage, panel = box(page, "#lightbox .lightbox-stage"), box(page, "#lightbox .lightbox-panel")
    assert panel["y"] >= stage["y"] + stage["height"] - 1
    assert panel["width"] == pytest.approx(390, abs=1)
    assert panel["height"] <= 844 * 0.43
    assert page.locator("#lightbox .lightbox-panel").evaluate(
        "p => p.scrollHeight > p.clientHeight"
    )
    close = box(page, "#lightbox .lightbox-close")
    assert close["x"] + close["width"] > 390 - 20 and close["y"] < 20
