"""The live stream, GET /events/: Server-Sent Events for one open page.

A plain ASGI application (studio/asgi.py routes the path here, ahead of Django's handler): an
open stream is a coroutine waiting on the hub, holding no thread and no database connection.
Through Django's handler, each request keeps a thread of its own (and, once the session is read,
a database connection) until its response ends, which for a stream is when the tab closes.

It signs the person in as Django does (the session cookie, `auth.get_user`), then:
1. catches up: the changes after the event id the page was drawn at (`?after=`), or the last one
   it received (`Last-Event-ID`, which browsers send when they reconnect by themselves);
2. waits for the hub and sends what changed (gallery/live.py), each message with its event id;
3. every PUSH_HEARTBEAT_SECONDS with nothing to send, a comment line, which also finds closed
   tabs. The person is checked again before anything is sent (at most once a minute), so
   signing out or being deactivated stops the stream.

Database work (the session, the events, drawing tiles) runs on a small pool of threads of its
own, each keeping its connection, shared by every stream of the process; what changed is read
and drawn once for all the streams at the same point (gallery/live.py)."""

import asyncio
import contextlib
import io
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.contrib import auth
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.db import InterfaceError, OperationalError, connections
from django.utils.module_loading import import_string

from gallery import live, push
from gallery.models import Event
from gallery.push import hub as hubs
from studio import params

logger = logging.getLogger(__name__)

DB_THREADS = 4
# How long a sign-in check holds before the person is checked again.
RECHECK_SIGN_IN_SECONDS = 60.0
RECONNECT_MILLISECONDS = 1000

_db = ThreadPoolExecutor(max_workers=DB_THREADS, thread_name_prefix="studio-stream-db")


async def in_db(func, *args, **kwargs):
    """Run database work on the streams' threads; a connection gone bad (a database restart) is
    opened again and the work tried once more (it only reads)."""

    def call():
        try:
            return func(*args, **kwargs)
        except (OperationalError, InterfaceError) as exc:
            logger.warning("Stream database connection lost (%s); reconnecting", exc)
            connections.close_all()
            return func(*args, **kwargs)

    return await asyncio.get_running_loop().run_in_executor(_db, call)


def current_hub() -> hubs.Hub:
    return hubs.for_running_loop(
        backend=push.backend(), newest_id=lambda: in_db(Event.objects.newest_id)
    )


async def application(scope, receive, send) -> None:
    request = ASGIRequest(scope, io.BytesIO())
    if request.method not in ("GET", "HEAD"):
        return await _refuse(send, 405, "The live stream is read with GET.")
    try:
        request.get_host()
    except DisallowedHost:
        return await _refuse(send, 400, "That host name is not served here.")
    try:
        after = _last_seen(request)
    except params.BadParameter as exc:
        return await _refuse(send, 400, exc.message)
    viewer = await in_db(_signed_in, request)
    if viewer is None:
        return await _refuse(send, 401, "Sign in to see the studio change live.")
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/event-stream; charset=utf-8"),
                (b"cache-control", b"no-cache, no-store"),
                (b"x-accel-buffering", b"no"),
                (b"x-content-type-options", b"nosniff"),
            ],
        }
    )
    if request.method == "HEAD":
        return await send({"type": "http.response.body", "body": b""})
    stream = Stream(request=request, viewer=viewer, after=after, send=send)
    try:
        with contextlib.suppress(OSError):  # the tab went away mid-write
            await stream.run(receive)
    except asyncio.CancelledError:
        # The server is stopping and its grace period is over: a stream never ends by itself,
        # so this is its normal end, not an error (the tab reconnects and catches up).
        logger.info("Live stream closed: the server is stopping.")


class Stream:
    def __init__(self, *, request, viewer, after: int, send):
        self.request = request
        self.viewer = viewer
        self.after = after
        self.send = send
        self.closed = False
        self.checked_at = time.monotonic()

    async def run(self, receive) -> None:
        with current_hub().subscription() as woken:
            watcher = asyncio.create_task(self._watch(receive, woken))
            try:
                await self._write(f"retry: {RECONNECT_MILLISECONDS}\n\n")
                catching_up = True
                while not self.closed:
                    woken.clear()
                    if not await self._send_changes(catching_up=catching_up):
                        return
                    catching_up = False
                    try:
                        await asyncio.wait_for(woken.wait(), settings.PUSH_HEARTBEAT_SECONDS)
                    except TimeoutError:
                        await self._write(": still here\n\n")
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher

    async def _watch(self, receive, woken: asyncio.Event) -> None:
        """The tab closed (or the server is stopping): end the stream."""
        while (await receive())["type"] != "http.disconnect":
            pass
        self.closed = True
        woken.set()

    async def _send_changes(self, *, catching_up: bool) -> bool:
        """Send everything after `self.after`; False when the stream should end."""
        while True:
            changes = await self._changes(catching_up=catching_up)
            if changes.last_id == self.after and not changes.reload:
                return True
            html = await in_db(changes.html_for, self.viewer) if not changes.reload else ""
            if html and not await self._still_signed_in():
                return False
            self.after = changes.last_id
            if changes.reload:
                await self._write(f"id: {self.after}\nevent: reload\ndata: reload\n\n")
                return True
            if html:
                data = "".join(f"data: {line}\n" for line in html.splitlines())
                await self._write(f"id: {self.after}\n{data}\n")
            catching_up = False

    async def _changes(self, *, catching_up: bool) -> live.Changes:
        """The changes after `self.after`: read once for all the process's streams at that
        point until the next wake-up (hundreds of open pages read and draw a change once)."""
        hub = current_hub()
        key = (self.after, catching_up)
        shared = hub.shared.get(key)
        if shared is None:
            shared = hub.shared[key] = asyncio.ensure_future(
                in_db(
                    live.changes_after,
                    after=self.after,
                    limit=settings.PUSH_CATCH_UP_LIMIT,
                    catching_up=catching_up,
                )
            )
        try:
            return await asyncio.shield(shared)
        except Exception:
            if hub.shared.get(key) is shared:
                del hub.shared[key]
            raise

    async def _still_signed_in(self) -> bool:
        """Checked before anything is sent, at most every RECHECK_SIGN_IN_SECONDS."""
        if time.monotonic() - self.checked_at < RECHECK_SIGN_IN_SECONDS:
            return True
        viewer = await in_db(_signed_in, self.request)
        self.checked_at = time.monotonic()
        if viewer is None or viewer.pk != self.viewer.pk:
            return False
        self.viewer = viewer
        return True

    async def _write(self, text: str) -> None:
        await self.send({"type": "http.response.body", "body": text.encode(), "more_body": True})


def _last_seen(request) -> int:
    """The id of the last event the page has: the browser's Last-Event-ID when it reconnects
    by itself, else the `after` the page was drawn with."""
    text = request.headers.get("Last-Event-ID") or request.GET.get("after") or "0"
    return params.parse_int(text, minimum=0, maximum=params.ID_MAX, what="The last event id")


def _signed_in(request):
    """The active person the session cookie signs in (as Django's middleware would), or None."""
    engine = import_string(settings.SESSION_ENGINE)
    request.session = engine.SessionStore(request.COOKIES.get(settings.SESSION_COOKIE_NAME))
    user = auth.get_user(request)
    return user if user.is_authenticated and user.is_active else None


async def _refuse(send, status: int, message: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": message.encode()})
