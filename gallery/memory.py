"""A process-wide budget for decoded pixels, so that big images are opened a few at a time.

Every image is checked against the pixel cap (and an upload against its file size) before it
is opened, but within those limits big decodes still add up: a 50-megapixel image holds 200 MB
once decoded, and eight landing at once (a batch of 4K model outputs, several people uploading)
took a web process to 2 GB. So every decode in gallery.imaging first reserves the memory it
will hold here, and waits while IMAGE_DECODE_BUDGET_MB is spent. Waiters go first come, first
served, so a big image is never starved by a stream of small ones; small images (a 1024x1024
picture holds 4 MB) fit beside each other and rarely wait at all.

The budget also sizes Pillow's pool of freed pixel blocks, so that memory one thread gave back
is what the next thread's image is decoded into.
"""

from __future__ import annotations

import collections
import contextlib
import os
import threading
from collections.abc import Iterator

from django.conf import settings
from PIL import Image


class BudgetTimeout(Exception):
    """The memory did not come free within the wait allowed."""


class DecodeBudget:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity  # bytes
        self._in_use = 0
        self._waiting: collections.deque[object] = collections.deque()
        self._changed = threading.Condition()

    @property
    def in_use(self) -> int:
        return self._in_use

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @contextlib.contextmanager
    def reserve(self, nbytes: int, *, wait: float | None) -> Iterator[None]:
        """Hold `nbytes` of the budget while the block runs.

        An image bigger than the whole budget runs alone rather than never. Raises BudgetTimeout
        if the memory is not free within `wait` seconds; None waits as long as it takes (the
        worker, which has nobody waiting on a page)."""
        nbytes = min(nbytes, self.capacity)
        ticket = object()
        with self._changed:
            self._waiting.append(ticket)
            try:
                admitted = self._changed.wait_for(
                    lambda: self._waiting[0] is ticket and self._in_use + nbytes <= self.capacity,
                    timeout=wait,
                )
                if admitted:
                    self._in_use += nbytes
            finally:
                self._waiting.remove(ticket)
                self._changed.notify_all()  # the next in line may fit too
        if not admitted:
            raise BudgetTimeout
        try:
            yield
        finally:
            with self._changed:
                self._in_use -= nbytes
                self._changed.notify_all()


class DecodeSlots:
    """At most `size` big decodes at once in this process, first come first served.

    The budget above bounds the memory of what is open; this bounds how many big images are
    being decoded at the same moment: a decode keeps a core busy for ~100 ms (a 4K PNG), so more
    at once than there are cores only holds more memory for longer, and starves the threads that
    read the answers still arriving."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._free = threading.Semaphore(size)
        self._busy = 0
        self._lock = threading.Lock()

    @property
    def busy(self) -> int:
        return self._busy

    @contextlib.contextmanager
    def take(self, *, wait: float | None) -> Iterator[None]:
        """Hold a slot while the block runs; BudgetTimeout if none frees within `wait` seconds
        (None waits as long as it takes)."""
        if not self._free.acquire(timeout=wait):
            raise BudgetTimeout
        with self._lock:
            self._busy += 1
        try:
            yield
        finally:
            with self._lock:
                self._busy -= 1
            self._free.release()


_slots: dict[int, DecodeSlots] = {}
_budgets: dict[int, DecodeBudget] = {}
_budgets_lock = threading.Lock()


def decode_budget() -> DecodeBudget:
    """This process's budget, IMAGE_DECODE_BUDGET_MB in size.

    Keyed by size so that a changed setting (tests do that) gets its own budget; a running
    studio only ever has one."""
    capacity = settings.IMAGE_DECODE_BUDGET_MB * 1_000_000
    with _budgets_lock:
        if capacity not in _budgets:
            _budgets[capacity] = DecodeBudget(capacity)
            _pool_freed_pixels(capacity)
        return _budgets[capacity]


def decode_slots() -> DecodeSlots:
    """This process's big-decode slots, IMAGE_DECODE_CONCURRENCY of them (keyed by size, as the
    budget is)."""
    size = settings.IMAGE_DECODE_CONCURRENCY
    with _budgets_lock:
        if size not in _slots:
            _slots[size] = DecodeSlots(size)
        return _slots[size]


def _pool_freed_pixels(capacity: int) -> None:
    """Let Pillow keep up to the budget's worth of freed pixel blocks, for any thread to reuse.

    Otherwise each freed block goes back to malloc, and glibc keeps it in the arena of the
    thread that freed it: eight threads taking turns on the 7000x7000 bomb, one at a time,
    grew a process by 2.6 GB; with the pool, by 420 MB. The pool holds at most the budget.
    PILLOW_BLOCKS_MAX, when set, is the operator's choice."""
    if "PILLOW_BLOCKS_MAX" not in os.environ:
        Image.core.set_blocks_max(capacity // Image.core.get_block_size())
