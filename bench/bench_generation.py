"""Issue 2's targets, measured end to end over HTTP against gunicorn + the real worker:

1. Fan-out: a 3-model x 4-image compare, the loopback gateway answering each call in 1.0 s:
   time from POST to all 12 images stored (target <= 1.3 s; sequential would be 12 s).
2. Concurrency: 8 users start such a run at the same moment: all 96 images stored (<= 1.5 s).
3. The POST that starts a run: median answer time (target <= 50 ms).
"""

import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import COMPARE_RUN, Studio, start_run, summary_ms, wait_stored

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


def eight_users(studio: Studio, repeats: int = 3) -> list[float]:
    clients = [studio.client(u) for u in studio.users[:8]]
    times = []
    for _ in range(repeats):
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
        time.sleep(0.5)
    return times


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
        eight = eight_users(studio)
        print("8 users start a 12-image compare at the same moment (96 images):")
        print(f"  all 96 stored: {summary_ms(eight)}  (target <= 1500 ms)")
        posts = post_latency(studio)
        print("The POST that starts a run (htmx, 1 image, answer includes the new run's HTML):")
        print(f"  {summary_ms(posts)}  (target median <= 50 ms)")


if __name__ == "__main__":
    main()
