"""Issue 10's live-page targets, in headless Chromium (Playwright, as the browser tests drive
it) against the studio as `./studio.sh run` serves it (uvicorn + the real worker, harness.py)
and the loopback gateway:

1. Click Generate on a 3-model x 4-image compare (small 16:9 images, the gateway answering each
   call in 1.0 s) -> all 12 images shown and loaded in the page: median of 5, as a multiple of
   the 1.0 s upstream (target <= 1.15x; the polling page took 2.3-3.4 s).
2. Requests one open tab makes per minute while a run is pending (the gateway takes 60 s;
   counted for 20 s and scaled; the live stream is one request, held open since the page
   loaded): target <= 2 (polling: 57).
3. The same while idle, nothing pending: target 0.
4. Click -> all 12 shown and loaded, 3840x2160 PNG answers (photo-like, ~17 MB of PNG and ~23 MB
   of base64 JSON each, the fake gateway's photo_size): median of 3 (target <= 1.6x). On 2 cores
   this is bound by Pillow's PNG decode (bench_big_images.py says where the time goes).
"""

import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Studio, report

UPSTREAM_SECONDS = 1.0
PENDING_GATEWAY_SECONDS = 60.0
WINDOW_SECONDS = 20.0
REPEATS = 5
BIG_REPEATS = 3
UHD = (3840, 2160)
NEWEST_RUN_LOADED = """([runs, images]) => {
    const all = document.querySelectorAll('#runs > article.run');
    if (all.length <= runs) return false;
    const shown = all[0].querySelectorAll('img');
    return shown.length === images && [...shown].every(i => i.complete && i.naturalWidth > 0);
}"""


@contextlib.contextmanager
def chromium():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM_FLAGS, DESKTOP, chromium_path

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True
        )
        try:
            yield browser, DESKTOP
        finally:
            browser.close()


def open_tab(browser, desktop: dict, studio: Studio):
    """A signed-in tab on the studio page (the session of an HTTP sign-in, as cookies)."""
    signed_in = studio.client(studio.users[0])
    context = browser.new_context(base_url=studio.url, **desktop)
    context.add_cookies(
        [
            {"name": name, "value": value, "url": studio.url}
            for name, value in signed_in.cookies.items()
        ]
    )
    page = context.new_page()
    page.goto("/")
    page.get_by_role("region", name="Gallery").wait_for()
    return page


def compare_three_by_four(page) -> None:
    """The prompt box set up as harness.COMPARE_RUN, through its controls."""
    from tests.browser import pick_models

    page.get_by_role("textbox", name="Prompt").fill("a lighthouse on a basalt cliff at dawn")
    pick_models(page, "gemini-3.1-flash-image-preview", "gpt-image-2", "alibaba/qwen-image-plus")
    page.get_by_role("combobox", name="Aspect ratio", exact=True).select_option("16:9")
    page.get_by_role("combobox", name="Images", exact=True).select_option("4")


def click_to_all_visible(page, timeout_ms: int = 30_000) -> float:
    runs = page.locator("#runs > article.run").count()
    started = time.perf_counter()
    page.get_by_role("button", name="Generate", exact=True).click()
    page.wait_for_function(NEWEST_RUN_LOADED, arg=[runs, 12], timeout=timeout_ms, polling=10)
    return time.perf_counter() - started


def requests_per_minute(page, *, pending: bool) -> float:
    """Requests the tab starts in WINDOW_SECONDS, per minute. The live stream, opened with the
    page, is one request held open: it is said whether it is, not counted again."""
    if pending:
        runs = page.locator("#runs > article.run").count()
        page.get_by_role("button", name="Generate", exact=True).click()
        page.wait_for_function(
            "n => document.querySelectorAll('#runs > article.run').length > n", arg=runs
        )
        page.wait_for_timeout(500)  # the answer and the stream settle
    started: list[str] = []
    page.on("request", lambda request: started.append(request.url))
    page.wait_for_timeout(WINDOW_SECONDS * 1000)
    live = page.evaluate("Boolean(document.getElementById('live'))")
    print(
        f"    {len(started)} request(s) started in {WINDOW_SECONDS:g} s"
        f"{': ' + ', '.join(started[:4]) if started else ''}; live stream open: {live}"
    )
    return len(started) * 60 / WINDOW_SECONDS


def main() -> None:
    met = True
    with (
        Studio(users=1, gateway_delay=UPSTREAM_SECONDS) as studio,
        chromium() as (browser, desktop),
    ):
        page = open_tab(browser, desktop, studio)
        compare_three_by_four(page)
        click_to_all_visible(page)  # warm up: first thumbnails, caches, connections
        times = [click_to_all_visible(page) for _ in range(REPEATS)]
        median = statistics.median(times)
        print(
            f"Click Generate -> all 12 images of a 3x4 compare loaded, upstream {UPSTREAM_SECONDS} s"
            f" per call: median {median:.2f} s, min {min(times):.2f} s, max {max(times):.2f} s"
            f" (n={len(times)})"
        )
        met &= report(
            "click -> 12 visible, x the upstream", median / UPSTREAM_SECONDS, 1.15, "x", digits=2
        )

        print("Requests one open tab starts:")
        idle = open_tab(browser, desktop, studio)
        met &= report("per minute while idle", requests_per_minute(idle, pending=False), 0, "req")
        studio.gateway.default_delay = PENDING_GATEWAY_SECONDS
        met &= report(
            "per minute while a run is pending",
            requests_per_minute(page, pending=True),
            2,
            "req",
        )
        studio.gateway.reset()  # drop the slow calls
        studio.gateway.default_delay = UPSTREAM_SECONDS

        studio.gateway.photo_size = UHD
        click_to_all_visible(page, timeout_ms=120_000)  # warm up: the photo made and cached
        big = [click_to_all_visible(page, timeout_ms=120_000) for _ in range(BIG_REPEATS)]
        print(
            f"Click Generate -> all 12 images loaded, {UHD[0]}x{UHD[1]} PNG answers: median"
            f" {statistics.median(big):.2f} s, min {min(big):.2f} s, max {max(big):.2f} s"
            f" (n={len(big)}; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f})"
        )
        met &= report(
            "4K: click -> 12 visible, x the upstream",
            statistics.median(big) / UPSTREAM_SECONDS,
            1.6,
            "x",
            digits=2,
        )
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
