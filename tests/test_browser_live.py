"""Live pages in a real headless Chromium, against the studio as `./studio.sh run` serves it
(uvicorn, so pages get the live stream) and the real worker: tiles appear with no poll request,
a teammate's tab sees the run appear and fill, and a stream cut mid-run loses nothing."""

import re
import socket
import time

import httpx
import pytest
from django.conf import settings
from django.test import Client

from gallery.models import Image, Run
from tests.browser import (  # noqa: F401  (fixtures)
    assert_accessible,
    browser,
    open_page,
    pick_models,
    start_web,
    stop_worker,
    worker,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PROGRESS = re.compile(r"/runs/\d+/progress/")
ALL_LOADED = (
    "n => { const imgs = document.querySelectorAll('article.run')[0]?.querySelectorAll('img') || [];"
    " return imgs.length === n && [...imgs].every(i => i.complete && i.naturalWidth > 0); }"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveStudio:
    """The web server (uvicorn) on the test database; `restart()` kills it and starts it again
    on the same port, as a crash and a restart would."""

    def __init__(self, settings, **env):
        self.settings = settings
        self.env = env  # more environment for the process (settings the test's can't reach)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.output = ""
        self.process = None

    def start(self) -> None:
        self.process = start_web(self.settings, self.port, **self.env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/accounts/login/", timeout=1).status_code < 500:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"The web server did not start: {stop_worker(self.process)}")

    def kill(self) -> None:
        self.process.kill()
        self.output += stop_worker(self.process)

    def restart(self) -> None:
        self.kill()
        self.start()


@pytest.fixture
def live(settings, transactional_db, fake_gateway):
    """The web server, pointed (like the worker) at the loopback gateway."""
    studio = LiveStudio(settings)
    studio.start()
    yield studio
    studio.output += stop_worker(studio.process)
    assert "Traceback" not in studio.output, studio.output


def sign_in_as(page, user, base_url: str) -> None:
    """Signed in by a session made here: the server process checks passwords with the real
    hasher, which the test accounts (made with a fast one) do not use."""
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": base_url}]
    )
    page.goto("/")
    page.get_by_role("region", name="Gallery").wait_for()


def record_requests(page) -> list[str]:
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    return urls


def generate(page, prompt: str, *, count: str = "2") -> None:
    page.get_by_role("textbox", name="Prompt").fill(prompt)
    pick_models(page, "gpt-image-2")
    page.get_by_role("combobox", name="Images", exact=True).select_option(count)
    page.get_by_role("button", name="Generate", exact=True).click()


def test_a_tile_becomes_visible_without_any_poll_request(browser, live, user, fake_gateway, worker):  # noqa: F811
    # Slow enough that the page's pollers (once a second) would have asked at least twice.
    fake_gateway.default_delay = 2.5
    with open_page(browser, live.url) as page:
        sign_in_as(page, user, live.url)
        requests = record_requests(page)
        generate(page, "A lighthouse at dawn")
        page.wait_for_function(ALL_LOADED, arg=2, timeout=20_000)

        assert [url for url in requests if PROGRESS.search(url)] == []
        # One run on the page, drawn once though both the answer and the stream brought it.
        assert page.locator("article.run").count() == 1
        assert page.get_by_text("2 of 2 ready").is_visible()
    assert Image.objects.filter(status="succeeded").count() == 2


def test_a_teammates_tab_sees_the_run_appear_at_the_top_and_fill(
    browser,  # noqa: F811
    live,
    user,
    other_user,
    fake_gateway,
    worker,  # noqa: F811
):
    fake_gateway.default_delay = 1.0
    with open_page(browser, live.url) as author, open_page(browser, live.url) as teammate:
        sign_in_as(author, user, live.url)
        generate(author, "An older run")
        author.wait_for_function(ALL_LOADED, arg=2, timeout=20_000)
        sign_in_as(teammate, other_user, live.url)
        teammate.get_by_text("An older run").wait_for()
        requests = record_requests(teammate)

        generate(author, "A new run by a teammate")
        # The run is made (the author's answer drew it; a loaded machine may take a while):
        # from then on, the teammate's tab has it within 5 s, pushed.
        author.locator("article.run").first.get_by_text("A new run by a teammate").wait_for(
            timeout=20_000
        )
        newest = teammate.locator("article.run").first
        newest.get_by_text("A new run by a teammate").wait_for(timeout=5_000)
        assert newest.locator("figure.is-queued, figure.is-running").count() == 2
        teammate.wait_for_function(ALL_LOADED, arg=2, timeout=20_000)

        assert teammate.locator("article.run").count() == 2
        assert "An older run" in teammate.locator("article.run").nth(1).inner_text()
        assert [url for url in requests if PROGRESS.search(url)] == []
        # Someone else's run: no Delete for the teammate.
        assert newest.get_by_role("button", name="Delete this run").count() == 0
        assert_accessible(teammate)  # the page with what the stream drew in it


def test_a_stream_cut_mid_run_loses_nothing(browser, live, user, fake_gateway, worker):  # noqa: F811
    fake_gateway.default_delay = 2.0
    with open_page(browser, live.url) as page:
        sign_in_as(page, user, live.url)
        requests = record_requests(page)
        # Only the stream may bring the tiles: the pollers' requests are refused.
        page.route(PROGRESS, lambda route: route.abort())
        generate(page, "A stream cut mid-run", count="4")
        page.locator("article.run figure.tile").first.wait_for()

        live.kill()  # the stream drops (as in a crash), with every tile still pending
        run = Run.objects.get()
        deadline = time.monotonic() + 20
        while Image.objects.filter(run=run, status="succeeded").count() < 4:
            assert time.monotonic() < deadline, "the worker did not finish"
            time.sleep(0.1)
        assert page.locator("article.run img").count() == 0  # nothing landed on the page yet
        live.start()

        page.wait_for_function(ALL_LOADED, arg=4, timeout=20_000)
        assert page.get_by_text("4 of 4 ready").is_visible()
        assert len([url for url in requests if "/events/" in url]) >= 2  # it reconnected
