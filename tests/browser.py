"""Fixtures for browser tests: Debian's Chromium driven by Playwright, the live studio and a real
worker process sharing the test database (and the real web server, uvicorn, for tests that need
what only it does: live pages, as `./studio.sh run` serves them)."""

import contextlib
import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.db import connection

from studio.web_server import web_command
from tests.children import child_storage_env

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
BASE_DIR = Path(django_settings.BASE_DIR)


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail(
            "Chromium is not installed: run `apt-get install -y chromium` (./studio.sh test does)."
        )
    return path


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API keeps an event loop running in this thread while it is open, so it
    # lives per module (other tests call asyncio.run), and the test's own ORM calls, ordinary
    # synchronous code, must tell Django that is fine.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True
            )
            yield browser
            browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


DESKTOP = {"viewport": {"width": 1400, "height": 1000}}
# A phone held upright: narrow, touch, no hover (so tile actions show), as on an iPhone 15.
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@contextlib.contextmanager
def open_page(browser, base_url: str, **options):
    """A page in its own browser context (`options` are Playwright's context options: viewport,
    color_scheme, reduced_motion…) that fails the test if the page broke its own CSP."""
    context = browser.new_context(base_url=base_url, **{**DESKTOP, **options})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if msg.type == "error" else None,
    )
    yield page
    context.close()
    assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors


@pytest.fixture
def page(browser, live_server):
    with open_page(browser, live_server.url) as page:
        yield page


def children_database_url() -> str:
    """The test database's URL, for the processes a test starts (SQLite or PostgreSQL)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    login = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        login += ":" + quote(db["PASSWORD"], safe="")
    return f"postgresql://{login}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


def worker_env(settings, **extra) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": children_database_url(),
        **child_storage_env(settings),
        "LLM_GATEWAY_API_KEY": settings.LLM_GATEWAY_API_KEY,
        "LLM_GATEWAY_BASE_URL": settings.LLM_GATEWAY_BASE_URL,
        "OFFLINE_RENDER_DELAY": str(settings.OFFLINE_RENDER_DELAY),
        "GATEWAY_URL_FETCH_ALLOW_PRIVATE": "1" if settings.GATEWAY_URL_FETCH_ALLOW_PRIVATE else "0",
        "GATEWAY_URL_FETCH_CA_FILE": str(settings.GATEWAY_URL_FETCH_CA_FILE or ""),
        "LINK_FETCH_DEADLINE_SECONDS": str(settings.LINK_FETCH_DEADLINE_SECONDS),
        "GATEWAY_MAX_RETRY_AFTER": str(settings.GATEWAY_MAX_RETRY_AFTER),
        "WORKER_STALE_SECONDS": str(settings.WORKER_STALE_SECONDS),
        "QUEUE_TIMEOUT_SECONDS": str(settings.QUEUE_TIMEOUT_SECONDS),
        "DJANGO_SETTINGS_MODULE": "studio.settings",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def start_worker(settings, *, interval: float = 0.05, **extra) -> subprocess.Popen:
    """The real `studio_worker` command, as `./studio.sh run` starts it, on the test database."""
    return subprocess.Popen(
        [sys.executable, str(BASE_DIR / "manage.py"), "studio_worker", "--interval", str(interval)],
        cwd=BASE_DIR,
        env=worker_env(settings, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def start_web(settings, port: int, **extra) -> subprocess.Popen:
    """The web server as `./studio.sh run` starts it (uvicorn, one process; ASGI, so pages are
    live), on the test database. Unlike live_server (WSGI, so pages poll), it serves the live
    stream. DEBUG serves pages without collected static files."""
    return subprocess.Popen(
        web_command(port=port),
        cwd=BASE_DIR,
        env=worker_env(settings, DEBUG="1", **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def start_wsgi_web(settings, port: int, *, threads: int, **extra) -> subprocess.Popen:
    """gunicorn (gthread), one process of `threads` threads, on the test database: a bounded pool
    of threads, as a WSGI deployment has (pages poll there), for tests that must show nothing
    ties those threads up. DEBUG serves pages without collected static files."""
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "studio.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--threads", str(threads), "--worker-class", "gthread",
         "--graceful-timeout", "1", "--log-level", "warning"],
        cwd=BASE_DIR,
        env=worker_env(settings, DEBUG="1", **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip


def stop_worker(process: subprocess.Popen) -> str:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.stdout.read() if process.stdout else ""


@pytest.fixture
def worker(settings, transactional_db):
    process = start_worker(settings)
    yield process
    stop_worker(process)


def sign_in(page, username: str = "ada", password: str = "a-long-passphrase-1") -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("region", name="Gallery").wait_for()


@contextlib.contextmanager
def controls_refresh(page):
    """Wait until the prompt box's controls have been redrawn (after a model or Compare change):
    not just the answer, but htmx having swapped and settled it, so the next control found is
    the new one."""
    page.evaluate(
        """() => { if (window.settledControls === undefined) { window.settledControls = 0;
        document.body.addEventListener('htmx:afterSettle', e => {
            if (e.detail.target && e.detail.target.id === 'controls') window.settledControls++; }); } }"""
    )
    before = page.evaluate("window.settledControls")
    yield
    page.wait_for_function(f"() => window.settledControls > {before}")


def pick_models(page, *model_ids: str) -> None:
    """Turn Compare on (for several models) and choose each model, waiting for each redraw."""
    if len(model_ids) > 1:
        with controls_refresh(page):
            page.get_by_role("switch", name="Compare").check()
    for index, model_id in enumerate(model_ids):
        name = f"Model {index + 1}" if len(model_ids) > 1 else "Model"
        picker = page.get_by_role("combobox", name=name, exact=True)
        if index >= 2 and picker.count() == 0:
            with controls_refresh(page):
                page.get_by_role("button", name="+ Add model").click()
        if picker.input_value() != model_id:
            with controls_refresh(page):
                picker.select_option(model_id)


# --- accessibility: axe-core, vendored for the tests only (tests/vendor/axe-core/README.md) ----
AXE_SCRIPT = BASE_DIR / "tests" / "vendor" / "axe-core" / "axe.min.js"
# WCAG 2.0, 2.1 and 2.2 at levels A and AA, plus axe's best practices (headings, landmarks).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
BLOCKING_IMPACTS = {"serious", "critical"}
# The page's outline, which screen-reader users move by: axe calls these "moderate", but a page
# without a level-one heading or with two landmarks of the same name is hard to find one's way
# in, so they fail the test too.
STRUCTURE_RULES = {
    "page-has-heading-one",
    "heading-order",
    "empty-heading",
    "landmark-one-main",
    "landmark-unique",
    "landmark-no-duplicate-banner",
    "landmark-no-duplicate-contentinfo",
    "landmark-no-duplicate-main",
    "region",
}
AXE_RUN = """async ({context, tags}) => {
    const result = await axe.run(context || document, {
        runOnly: {type: 'tag', values: tags}, resultTypes: ['violations'],
    });
    return result.violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary})),
    }));
}"""


@functools.cache
def axe_source() -> str:
    return AXE_SCRIPT.read_text(encoding="utf-8")


def axe_violations(page, *, context: str | None = None) -> list[dict]:
    """axe-core's WCAG 2.x A/AA and best-practice violations on the page, or on the part the
    CSS selector `context` names (an open dialog, say)."""
    if not page.evaluate("typeof window.axe === 'object'"):
        # page.add_script_tag would add an inline <script>, which the page's CSP (nonces only)
        # refuses; evaluate runs through the DevTools protocol, outside the CSP.
        page.evaluate(axe_source())
    return page.evaluate(AXE_RUN, {"context": context, "tags": AXE_TAGS})


def describe_violations(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"]:
            summary = " ".join(node["summary"].split())
            lines.append(f"    {node['target']}\n      {summary}")
    return "\n".join(lines)


def assert_accessible(page, *, context: str | None = None) -> None:
    """Fail, with a readable list (rule, impact, elements, what to fix), if axe finds a serious
    or critical problem, or any problem with the page's headings and landmarks."""
    found = [
        violation
        for violation in axe_violations(page, context=context)
        if violation["impact"] in BLOCKING_IMPACTS or violation["id"] in STRUCTURE_RULES
    ]
    if found:
        scheme = page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
        width = page.viewport_size["width"] if page.viewport_size else "?"
        where = f"{page.url}{f' in {context}' if context else ''}"
        where += f" ({'dark' if scheme else 'light'}, {width}px wide)"
        pytest.fail(
            f"axe-core: {len(found)} accessibility rule(s) broken on {where}:\n"
            + describe_violations(found),
            pytrace=False,
        )
