"""Wake-ups for a worker process: a task was queued (push.announce_work, after the commit).

The worker's loop is threads, not asyncio: a daemon thread runs the push backend's listener in
an event loop of its own and sets a threading.Event. The worker still polls the queue every
WORKER_POLL_INTERVAL in case a wake-up is lost (a full socket buffer, a listener restarting);
the wake-up only makes it claim at once instead of at the next poll.
"""

import asyncio
import logging
import threading

from gallery import push

logger = logging.getLogger(__name__)

RESTART_PAUSE_SECONDS = (0.5, 1, 2, 5, 10)


class WorkWakeups:
    def __init__(self, *, on_wake=None):
        """`on_wake`: also called (in the listener's thread) on every wake-up, for work in
        progress that wants to look at what changed (gallery.runner.wake_runs)."""
        self._on_wake = on_wake
        self._woken = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="studio-wakeups", daemon=True)

    def start(self) -> "WorkWakeups":
        self._thread.start()
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is not None and loop.is_running():
            for task in asyncio.all_tasks(loop):
                loop.call_soon_threadsafe(task.cancel)
        self._thread.join(timeout=2)

    def wait(self, timeout: float) -> bool:
        """Until something may have been queued, or `timeout` seconds; True when woken."""
        woken = self._woken.wait(timeout)
        self._woken.clear()
        return woken

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._listen())
        except asyncio.CancelledError:
            pass
        finally:
            self._loop.close()

    def _wake(self, newest: int) -> None:
        self._woken.set()
        if self._on_wake is not None:
            self._on_wake()

    async def _listen(self) -> None:
        failures = 0
        while True:
            try:
                await push.backend().listen(self._wake)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: listen again after a pause, poll meanwhile
                pause = RESTART_PAUSE_SECONDS[min(failures, len(RESTART_PAUSE_SECONDS) - 1)]
                failures += 1
                logger.warning("Wake-up listener failed (%s); listening again in %s s", exc, pause)
                await asyncio.sleep(pause)
