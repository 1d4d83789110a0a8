"""One listener per web process, fanning wake-ups out to that process's open streams.

The hub runs on the server's event loop: the backend's listener calls `wake(newest id)`, which
sets each subscribed stream's asyncio.Event. A stream holds no thread while it waits. Should the
listener fail (a database or Redis restart), it is started again after a pause, and every stream
is woken so that nothing committed meanwhile waits for the next change. As a last resort, the
hub also looks at the newest event id once per heartbeat, so a wake-up lost on the way (a process
that died between committing and announcing) delays a change by a heartbeat at most.
"""

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Awaitable, Callable

from django.conf import settings

logger = logging.getLogger(__name__)

RESTART_PAUSE_SECONDS = (0.5, 1, 2, 5)


class Hub:
    def __init__(self, *, backend, newest_id: Callable[[], Awaitable[int]]):
        """`newest_id`: reads the newest event id from the database (the heartbeat check)."""
        self.backend = backend
        self.newest = 0
        self._newest_id = newest_id
        self._streams: set[asyncio.Event] = set()
        self._tasks: list[asyncio.Task] = []
        # What streams at the same point share (read once, not once per open page): valid until
        # the next wake-up, when it is emptied.
        self.shared: dict = {}

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._listen(), name="push-listen"),
                asyncio.create_task(self._check(), name="push-check"),
            ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def wake(self, event_id: int | None = None) -> None:
        """Events up to `event_id` exist (None: something may have changed)."""
        if event_id == 0:
            return  # push.WORK_QUEUED: for the workers, nothing for pages
        if event_id is not None:
            self.newest = max(self.newest, event_id)
        self.shared.clear()
        for woken in self._streams:
            woken.set()

    @contextlib.contextmanager
    def subscription(self):
        """An asyncio.Event set whenever something may have changed, while the block runs."""
        woken = asyncio.Event()
        self._streams.add(woken)
        try:
            yield woken
        finally:
            self._streams.discard(woken)

    @property
    def listeners(self) -> int:
        return len(self._streams)

    async def _listen(self) -> None:
        failures = 0
        while True:
            try:
                await self.backend.listen(self.wake)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: listen again after a pause
                pause = RESTART_PAUSE_SECONDS[min(failures, len(RESTART_PAUSE_SECONDS) - 1)]
                failures += 1
                logger.warning("Push listener failed (%s); listening again in %s s", exc, pause)
                await asyncio.sleep(pause)
            self.wake()

    async def _check(self) -> None:
        while True:
            await asyncio.sleep(settings.PUSH_HEARTBEAT_SECONDS)
            try:
                newest = await self._newest_id()
            except Exception as exc:  # the database is away: try at the next beat
                logger.warning("Could not read the newest event: %s", exc)
                continue
            if newest > self.newest:
                self.wake(newest)


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub]" = weakref.WeakKeyDictionary()


def for_running_loop(*, backend, newest_id) -> Hub:
    """The hub of the running event loop (one per web process), started on first use."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub(backend=backend, newest_id=newest_id)
        hub.start()
    return hub


async def stop_running_loop() -> None:
    """Stop the running loop's hub, if it started (the server is stopping): its listener lets
    go of what it holds (the local backend's socket file)."""
    hub = _hubs.pop(asyncio.get_running_loop(), None)
    if hub is not None:
        await hub.stop()
