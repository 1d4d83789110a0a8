"""The live stream, GET /events/, driven in-process through the studio's ASGI application (as
uvicorn calls it): catching up from Last-Event-ID sends exactly what changed after it, drawn as
things are now; a change reaches an open stream at once (the real local push backend); nobody
is sent someone else's private run; refusals are sentences; under WSGI the page polls."""

import asyncio
import re
import time

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.test import AsyncClient, Client

from gallery import services
from gallery.models import Event, Image, Run
from gallery.push import stream
from studio.asgi import application
from tests.conftest import htmx_headers
from tests.factories import make_run

pytestmark = pytest.mark.django_db(transaction=True)

GENERATE = {"prompt": "a fox", "model": ["offline/aurora"], "count": "2", "action": "generate"}


def session_of(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[django_settings.SESSION_COOKIE_NAME].value


class Tab:
    """One open page's stream: the status, headers and messages it has received so far."""

    def __init__(self, *, session: str | None, query: str = "", headers=(), method="GET"):
        cookie = [(b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={session}".encode())]
        self.scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": "/events/", "raw_path": b"/events/",
            "query_string": query.encode(), "root_path": "",
            "headers": [(b"host", b"127.0.0.1"), *(cookie if session else []), *headers],
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
        }  # fmt: skip
        self.status = None
        self.body = b""
        self.more = True
        self._closed = asyncio.Event()

    async def __aenter__(self) -> "Tab":
        self.task = asyncio.create_task(application(self.scope, self._receive, self._send))
        await self.wait_for(
            lambda: self.status is not None and (b"retry:" in self.body or not self.more)
        )
        return self

    async def __aexit__(self, *exc) -> None:
        self._closed.set()
        await asyncio.wait_for(self.task, 5)

    async def _receive(self):
        await self._closed.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        else:
            self.body += message.get("body", b"")
            self.more = message.get("more_body", False)

    async def wait_for(self, condition, timeout: float = 5) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.task.done() and self.task.exception():
                raise self.task.exception()
            if time.monotonic() > deadline or self.task.done():
                raise AssertionError(f"Not received within {timeout} s: {self.body[-600:]!r}")
            await asyncio.sleep(0.005)

    @property
    def messages(self) -> list[dict]:
        """The messages received: {"id", "event", "data"} each (comments left out)."""
        found = []
        for block in self.body.decode().split("\n\n"):
            fields = {"data": []}
            for line in block.split("\n"):
                name, _, value = line.partition(": ")
                if name == "data":
                    fields["data"].append(value)
                elif name in ("id", "event"):
                    fields[name] = value
            if "id" in fields:
                found.append({**fields, "data": "\n".join(fields["data"])})
        return found

    @property
    def html(self) -> str:
        return "".join(message["data"] for message in self.messages)


def run_in(coroutine):
    return asyncio.run(coroutine)


def tile_ids(html: str) -> set[int]:
    return {int(pk) for pk in re.findall(r'<figure id="image-(\d+)"', html)}


def test_catching_up_from_last_event_id_sends_exactly_what_changed_after_it(user, other_user):
    run = make_run(user, count=3)
    first, second, _unchanged = run.images.all()
    Image.objects.claim(run.pk)
    seen = Event.objects.newest_id()
    Image.objects.succeed(first.pk, width=10, height=10, thumb_width=10, thumb_height=10)
    Image.objects.fail(second.pk, "The model refused.")

    session = session_of(other_user)

    async def scenario():
        # The browser reconnecting by itself sends Last-Event-ID, which wins over the page's
        # `after` (the event the page was first drawn at).
        headers = [(b"last-event-id", str(seen).encode())]
        async with Tab(session=session, query="after=0", headers=headers) as tab:
            await tab.wait_for(lambda: tab.messages)
            await asyncio.sleep(0.1)
        return tab

    tab = run_in(scenario())
    assert tab.status == 200
    [message] = tab.messages
    assert message["id"] == str(Event.objects.newest_id())
    assert tile_ids(message["data"]) == {first.pk, second.pk}  # not the third: unchanged since
    assert 'class="tile is-succeeded" hx-swap-oob="true"' in message["data"]
    assert "The model refused." in message["data"]
    assert f'id="run-{run.pk}-status"' in message["data"] and "1 of 3 ready, 1 failed" in tab.html
    # Someone else's run: no Retry for them, and no CSRF field (htmx sends the page's token).
    assert "Retry" not in tab.html and "csrfmiddlewaretoken" not in tab.html


def test_a_change_reaches_an_open_stream_at_once(user, other_user):
    run = make_run(user, count=2)
    session, after = session_of(other_user), Event.objects.newest_id()

    async def scenario():
        async with Tab(session=session, query=f"after={after}") as tab:
            await asyncio.sleep(0.2)  # the process's push listener is bound
            started = time.perf_counter()
            await asyncio.to_thread(Image.objects.claim, run.pk)
            await tab.wait_for(lambda: len(tile_ids(tab.html)) == 2)
            return tab, time.perf_counter() - started

    tab, seconds = run_in(scenario())
    assert tile_ids(tab.html) == set(run.images.values_list("pk", flat=True))
    assert seconds < 0.5, seconds
    assert "0 of 2 ready" in tab.html


def test_a_teammates_new_run_is_sent_whole_and_a_deleted_one_taken_off(user, other_user):
    author = Client()
    author.force_login(user)
    session = session_of(other_user)

    async def scenario():
        async with Tab(session=session, query="after=0") as tab:
            await asyncio.sleep(0.2)
            response = await asyncio.to_thread(
                author.post, "/generate/", GENERATE, headers=htmx_headers()
            )
            assert response.status_code == 200
            run = await asyncio.to_thread(Run.objects.get)
            await tab.wait_for(lambda: f'<article id="run-{run.pk}" class="run"' in tab.html)
            await asyncio.to_thread(services.run_delete, run=run)
            await tab.wait_for(
                lambda: f'<article id="run-{run.pk}" hx-swap-oob="delete">' in tab.html
            )
        return tab, run

    tab, run = run_in(scenario())
    whole = tab.html.split(f'<article id="run-{run.pk}" class="run"')[1]
    assert 'hx-swap-oob="true"' not in whole.split("</article>")[0].split("<figure")[0]


def test_someone_elses_private_run_is_never_sent(user, other_user, admin_user):
    author = Client()
    author.force_login(user)
    response = author.post("/generate/", {**GENERATE, "private": "on"}, headers=htmx_headers())
    assert response.status_code == 200
    run = Run.objects.get()
    Image.objects.claim(run.pk)
    services.run_delete(run=run)

    async def read(session: str) -> Tab:
        async with Tab(session=session, query="after=0") as tab:
            await asyncio.sleep(0.5)  # caught up (the removal), or nothing at all
        return tab

    for viewer in (user, admin_user):  # its author and admins: the removal
        tab = run_in(read(session_of(viewer)))
        assert f'<article id="run-{run.pk}" hx-swap-oob="delete">' in tab.html
    teammate = run_in(read(session_of(other_user)))
    assert teammate.messages == [] and f"run-{run.pk}" not in teammate.body.decode()
    assert tile_ids(teammate.body.decode()) == set()


def test_a_page_that_missed_too_much_is_asked_to_reload(user, other_user, settings):
    settings.PUSH_CATCH_UP_LIMIT = 2
    run = make_run(user, count=3)
    Image.objects.claim(run.pk)
    session = session_of(other_user)

    async def read(query: str) -> Tab:
        async with Tab(session=session, query=query) as tab:
            await tab.wait_for(lambda: tab.messages)
        return tab

    [too_many] = run_in(read("after=0")).messages
    assert (too_many["event"], too_many["id"]) == ("reload", str(Event.objects.newest_id()))
    first = Event.objects.order_by("pk").first().pk
    Event.objects.filter(pk=first).delete()  # pruned: the page cannot know what it missed
    [pruned] = run_in(read(f"after={first}")).messages
    assert pruned["event"] == "reload"
    caught_up = run_in(read(f"after={first + 1}")).messages  # two events: within the limit
    assert [m.get("event") for m in caught_up] == [None]


def test_signing_out_ends_the_stream_before_anything_more_is_sent(user, monkeypatch):
    monkeypatch.setattr(stream, "RECHECK_SIGN_IN_SECONDS", 0)
    run = make_run(user)
    session, after = session_of(user), Event.objects.newest_id()

    async def scenario():
        async with Tab(session=session, query=f"after={after}") as tab:
            await asyncio.sleep(0.2)
            await asyncio.to_thread(Session.objects.filter(session_key=session).delete)
            await asyncio.to_thread(Image.objects.claim, run.pk)
            await asyncio.wait_for(asyncio.shield(tab.task), 5)  # it ended by itself
        return tab

    tab = run_in(scenario())
    assert tab.messages == []


@pytest.mark.parametrize(
    ("session", "query", "method", "status", "sentence"),
    [
        (False, "after=0", "GET", 401, "Sign in to see the studio change live."),
        (True, "after=x1", "GET", 400, "The last event id must be a whole number"),
        (True, "after=99999999999999999999", "GET", 400, "The last event id must be from 0"),
        (True, "after=0", "POST", 405, "The live stream is read with GET."),
    ],
)
def test_refusals_are_sentences(user, session, query, method, status, sentence):
    cookie = session_of(user) if session else None

    async def scenario():
        async with Tab(session=cookie, query=query, method=method) as tab:
            pass
        return tab

    tab = run_in(scenario())
    assert tab.status == status
    assert tab.body.decode().startswith(sentence)


def test_a_page_served_by_asgi_listens_from_the_newest_event_and_under_wsgi_polls(user):
    make_run(user)
    Image.objects.claim(Run.objects.get().pk)
    newest = Event.objects.newest_id()

    async def page():
        client = AsyncClient()
        await client.aforce_login(user)
        return await client.get("/")

    asgi_page = run_in(page()).content.decode()
    assert f'<div id="live" data-events-url="/events/?after={newest}" hidden>' in asgi_page
    assert 'id="runs" class="runs" data-live-runs' in asgi_page

    wsgi = Client()
    wsgi.force_login(user)
    assert 'id="live"' not in wsgi.get("/").content.decode()
    assert wsgi.get("/events/").status_code == 204  # EventSource: do not come back
    assert "data-live-runs" not in wsgi.get("/?q=fox").content.decode()  # filtered: no new runs


def test_a_stream_cancelled_by_a_stopping_server_ends_quietly(user, caplog):
    """A stream never ends by itself: when the server stops with tabs open and its grace period
    runs out, uvicorn cancels the stream's task. That is the stream's normal end: it returns,
    instead of raising into uvicorn's "Exception in ASGI application" traceback."""
    session = session_of(user)

    async def scenario():
        async with Tab(session=session) as tab:
            tab.task.cancel()  # what uvicorn does once the graceful shutdown times out
            await asyncio.wait([tab.task], timeout=5)
            return tab.task

    with caplog.at_level("INFO", logger="gallery.push.stream"):
        task = run_in(scenario())
    assert task.done() and not task.cancelled() and task.exception() is None
    assert "the server is stopping" in caplog.text
