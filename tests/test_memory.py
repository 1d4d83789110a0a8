"""The decode budget: how many bytes of decoded pixels a process holds at once, and who waits."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from gallery.memory import BudgetTimeout, DecodeBudget, decode_budget


def test_an_image_bigger_than_the_whole_budget_runs_alone_rather_than_never():
    budget = DecodeBudget(100)

    with budget.reserve(500, wait=0):
        assert budget.in_use == 100
        with pytest.raises(BudgetTimeout), budget.reserve(1, wait=0.05):
            pass
    assert budget.in_use == 0


def test_waiters_go_in_turn_so_a_big_image_is_not_starved_by_small_ones():
    budget = DecodeBudget(100)
    admitted = []
    first_holds = threading.Event()
    let_go = threading.Event()

    def take(name: str, nbytes: int, hold: threading.Event | None = None):
        with budget.reserve(nbytes, wait=5):
            admitted.append(name)
            if hold is not None:
                first_holds.set()
                hold.wait(5)

    with ThreadPoolExecutor(max_workers=3) as pool:
        pool.submit(take, "holder", 60, let_go)
        first_holds.wait(5)
        big = pool.submit(take, "big", 80)
        _until(lambda: budget.waiting == 1)
        small = pool.submit(take, "small", 10)  # would fit beside the holder, but is second
        _until(lambda: budget.waiting == 2)
        time.sleep(0.05)
        assert admitted == ["holder"]
        let_go.set()
        big.result(5)
        small.result(5)
    assert admitted == ["holder", "big", "small"]
    assert budget.in_use == 0


def _until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_a_waiter_that_gives_up_leaves_no_trace():
    budget = DecodeBudget(100)
    with (
        budget.reserve(100, wait=0),
        pytest.raises(BudgetTimeout),
        budget.reserve(50, wait=0.05),
    ):
        pass
    assert budget.waiting == 0
    with budget.reserve(100, wait=0):  # nobody is left queued in front
        assert budget.in_use == 100


def test_the_process_has_one_budget_sized_by_the_setting(settings):
    settings.IMAGE_DECODE_BUDGET_MB = 123
    assert decode_budget() is decode_budget()
    assert decode_budget().capacity == 123_000_000
