"""Issue 2's targets, measured end to end over HTTP against the studio's web server + the real
worker:

1. Fan-out: a 3-model x 4-image compare, the loopback gateway answering each call in 1.0 s:
   time from POST to all 12 images stored (target <= 1.3 s; sequential would be 12 s).
2. Concurrency: 8 users start such a run at the same moment: all 96 images stored (<= 1.5 s).
3. The POST that starts a run: median answer time (target <= 50 ms).
4. Issue 10: the worker's CPU per image in (2), user + system time of the worker process over
   the round divided by 96 (target <= 8 ms); the web server's is printed beside it.
"""

import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    COMPARE_RUN,
    Studio,
    child_pids,
    process_cpu_seconds,
    report,
    start_run,
    summary_ms,
    wait_stored,
)

UPSTREAM_SECONDS = 1.0


def fan_out(studio: Studio, repeats: int = 5) -> list[float]:
    client = studio.client(studio.users[0])
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run_id = start_run(client)
        done = wait_stored(studio, [run_id], 12)
        times.append(done - started)
        time.sleep(0.3)
    return times


def web_cpu_seconds(studio: Studio) -> float:
    return sum(process_cpu_seconds(pid) for pid in [studio.web.pid, *child_pids(studio.web.pid)])


def eight_users(studio: Studio, repeats: int = 3) -> tuple[list[float], list[float], list[float]]:
    """Seconds until all 96 are stored, and the worker's and the web server's CPU per image
    (ms), for each round."""
    clients = [studio.client(u) for u in studio.users[:8]]
    worker = studio.workers[0].pid
    times, worker_cpu, web_cpu = [], [], []
    for _ in range(repeats):
        worker_before, web_before = process_cpu_seconds(worker), web_cpu_seconds(studio)
        barrier = threading.Barrier(len(clients))
        ids: list[int] = []
        lock = threading.Lock()

        def go(client):
            barrier.wait()
            run_id = start_run(client)
            with lock:
                ids.append(run_id)

        threads = [threading.Thread(target=go, args=(c,)) for c in clients]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        done = wait_stored(studio, ids, 96)
        times.append(done - started)
        worker_cpu.append((process_cpu_seconds(worker) - worker_before) * 1000 / 96)
        web_cpu.append((web_cpu_seconds(studio) - web_before) * 1000 / 96)
        time.sleep(0.5)
    return times, worker_cpu, web_cpu


def post_latency(studio: Studio, n: int = 60) -> list[float]:
    client = studio.client(studio.users[0])
    data = {**COMPARE_RUN, "count": "1", "model": ["alibaba/qwen-image-plus"], "compare": ""}
    for _ in range(5):  # warm up connections and caches
        client.post("/generate/", data=data)
    times = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.post("/generate/", data=data)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200
        time.sleep(0.02)
    return times


def main() -> None:
    with Studio(users=8, gateway_delay=UPSTREAM_SECONDS) as studio:
        fan = fan_out(studio)
        print("Fan-out, 3 models x 4 images, upstream 1.0 s per call:")
        print(f"  POST -> 12 stored: {summary_ms(fan)}  (target <= 1300 ms)")
        print(
            f"  vs. sequential 12 x 1.0 s: {12 / statistics.median(fan):.1f}x faster; "
            f"overhead over one call: {(statistics.median(fan) - UPSTREAM_SECONDS) * 1000:.0f} ms"
        )
        eight, worker_cpu, web_cpu = eight_users(studio)
        print("8 users start a 12-image compare at the same moment (96 images):")
        print(f"  all 96 stored: {summary_ms(eight)}  (target <= 1500 ms)")
        report("worker CPU per image", statistics.median(worker_cpu), 8.0, "ms")
        print(f"  web server CPU per image {statistics.median(web_cpu):.1f} ms (not in the target)")
        posts = post_latency(studio)
        print("The POST that starts a run (htmx, 1 image, answer includes the new run's HTML):")
        print(f"  {summary_ms(posts)}  (target median <= 50 ms)")


if __name__ == "__main__":
    main()
