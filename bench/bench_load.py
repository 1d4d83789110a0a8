"""A bounded load test on loopback: 20 members use the studio for 60 s, on SQLite (the default
stack: 2 web processes, 1 worker) and on PostgreSQL (2 web processes, 2 workers), one after the
other.

Each member signs in, keeps one live stream open (/events/, as an open tab does) and, with a
human's pauses (0.3-1.5 s), generates (a 2-image run, the loopback gateway answering in 1.0 s),
scrolls the gallery ("more" pages as htmx fragments), opens the lightbox, or reloads the page.
The gallery starts with 300 seeded runs. Figures: requests per second; p50/p95 of whole pages,
of fragments and of the POST that starts a run; 5xx answers (target 0); images lost (failed or
interrupted) or stuck (still pending 30 s after the end) (target 0).

    bench/bench_load.py                 # both databases
    bench/bench_load.py postgres        # one of them
    BENCH_STORAGE_ENV=s3.env bench/bench_load.py postgres
        # KEY=VALUE lines given to the studio's processes (deploy/studio.env.example's format):
        # e.g. AWS_STORAGE_BUCKET_NAME and the endpoint, to run on S3-compatible storage
"""

import collections
import contextlib
import os
import random
import re
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Studio, env_file, percentile, report, start_run

DURATION = 60.0
MEMBERS = 20
UPSTREAM_SECONDS = 1.0
SEEDED_RUNS = 300
RUN = {
    "prompt": "a lighthouse on a basalt cliff at dawn",
    "model": "alibaba/qwen-image-plus",
    "aspect_ratio": "1:1",
    "resolution": "0.5K",
    "count": "2",
    "action": "generate",
}
MORE = re.compile(r'hx-get="(/\?[^"]*before=\d+[^"]*)"')
IMAGE = re.compile(r'href="/images/(\d+)/"')
PAGE = {"HX-Request": "false"}  # the client sends HX-Request: true by default


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = collections.defaultdict(list)
        self.statuses: collections.Counter = collections.Counter()
        self.errors: list[str] = []
        self.events = 0
        self.run_ids: list[int] = []

    def timed(self, kind: str, call):
        started = time.perf_counter()
        try:
            response = call()
        except httpx.HTTPError as exc:
            with self.lock:
                self.errors.append(f"{kind}: {type(exc).__name__}: {exc}")
                self.statuses["error"] += 1
            return None
        with self.lock:
            self.times[kind].append(time.perf_counter() - started)
            self.statuses[response.status_code // 100 * 100] += 1
        return response


def member(studio: Studio, client: httpx.Client, stats: Stats, stop: threading.Event, seed: int):
    rng = random.Random(seed)
    more_url, image_ids = None, []
    while not stop.is_set():
        action = rng.choices(["generate", "scroll", "lightbox", "page"], [1, 4, 3, 1])[0]
        if action == "page" or (action == "scroll" and not more_url):
            response = stats.timed("page", lambda: client.get("/", headers=PAGE))
        elif action == "scroll":
            response = stats.timed("fragment", lambda url=more_url: client.get(url))
        elif action == "lightbox" and image_ids:
            pk = rng.choice(image_ids)
            response = stats.timed("fragment", lambda: client.get(f"/images/{pk}/"))
        elif action == "generate":
            started = time.perf_counter()
            try:
                run_id = start_run(client, RUN)
            except (AssertionError, httpx.HTTPError) as exc:
                with stats.lock:
                    stats.errors.append(f"generate: {exc}"[:300])
                    stats.statuses["error"] += 1
            else:
                with stats.lock:
                    stats.times["generate"].append(time.perf_counter() - started)
                    stats.statuses[200] += 1
                    stats.run_ids.append(run_id)
            response = None
        else:
            response = None
        if response is not None and response.status_code == 200:
            if found := MORE.search(response.text):
                more_url = found.group(1).replace("&amp;", "&")
            elif action == "scroll":
                more_url = None  # the end of the gallery: start again at the top
            image_ids = [int(pk) for pk in IMAGE.findall(response.text)] or image_ids
        stop.wait(rng.uniform(0.3, 1.5))


def live_stream(client: httpx.Client, stats: Stats, stop: threading.Event) -> None:
    """An open tab: the live stream, read until the end (reconnecting as a browser would)."""
    while not stop.is_set():
        with (
            contextlib.suppress(httpx.HTTPError),
            client.stream("GET", "/events/", headers=PAGE, timeout=None) as response,
        ):
            if response.status_code >= 500:
                with stats.lock:
                    stats.statuses[500] += 1
            for line in response.iter_lines():
                if line.startswith("id:"):
                    with stats.lock:
                        stats.events += 1
                if stop.is_set():
                    return
        stop.wait(0.5)


def load(database: str, workers: int, extra_env: dict) -> dict:
    with Studio(
        users=MEMBERS,
        gateway_delay=UPSTREAM_SECONDS,
        worker_processes=workers,
        database=database,
        env=extra_env,
    ) as studio:
        studio.manage("seed_gallery", "--runs", str(SEEDED_RUNS), "--workers", "0", "--force")
        clients = [studio.client(user) for user in studio.users]
        streams = [studio.client(user) for user in studio.users]
        stats, stop = Stats(), threading.Event()
        threads = [
            threading.Thread(target=live_stream, args=(c, stats, stop), daemon=True)
            for c in streams
        ]
        threads += [
            threading.Thread(target=member, args=(studio, c, stats, stop, i))
            for i, c in enumerate(clients)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        time.sleep(DURATION)
        stop.set()
        for thread in threads[len(streams) :]:
            thread.join()
        elapsed = time.perf_counter() - started
        load_average = os.getloadavg()[0]
        for client in streams:  # ends the streams still waiting for their next beat
            client.close()
        # Every image generated must end stored: wait for the last ones (1 s upstream each).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            pending = studio.statuses(stats.run_ids)
            if not pending.get("queued") and not pending.get("running"):
                break
            time.sleep(0.5)
        outcome = studio.statuses(stats.run_ids)
    return {"stats": stats, "elapsed": elapsed, "outcome": outcome, "load": load_average}


def summarise(name: str, result: dict) -> None:
    stats, outcome = result["stats"], result["outcome"]
    requests = sum(len(times) for times in stats.times.values())
    print(
        f"{name}: {MEMBERS} members for {DURATION:.0f} s, {len(stats.run_ids)} runs started "
        f"(machine load average {result['load']:.1f} on {os.cpu_count()} cores)"
    )
    print(f"  requests/s: {requests / result['elapsed']:.1f} ({requests} requests)")
    targets = {"page": 300, "fragment": 150, "generate": 150}
    for kind in ("page", "fragment", "generate"):
        times = [t * 1000 for t in stats.times[kind]]
        if not times:
            continue
        label = {"page": "pages", "fragment": "fragments", "generate": "POST /generate/"}[kind]
        print(f"    {label}: p50 {percentile(times, 0.5):.0f} ms, n={len(times)}")
        report(f"{label} p95", percentile(times, 0.95), targets[kind], "ms", digits=0)
    report("5xx answers", stats.statuses[500], 0, "answers", digits=0)
    report("requests failing to connect", stats.statuses["error"], 0, "requests", digits=0)
    lost = outcome.get("failed", 0) + outcome.get("interrupted", 0)
    stuck = outcome.get("queued", 0) + outcome.get("running", 0)
    report("images lost", lost, 0, "images", digits=0)
    report("images stuck", stuck, 0, "images", digits=0)
    print(f"    images stored: {outcome.get('succeeded', 0)}; live events read: {stats.events}")
    for error in stats.errors[:5]:
        print(f"    error: {error}")


def main(argv: list[str]) -> None:
    storage = env_file(os.environ.get("BENCH_STORAGE_ENV"))
    on_s3 = bool(storage.get("AWS_STORAGE_BUCKET_NAME"))
    setups = {
        "sqlite": ("SQLite + media folder, 2 web + 1 worker", "sqlite", 1, {}),
        "postgres": (
            f"PostgreSQL + {'S3' if on_s3 else 'media folder'}, 2 web + 2 workers",
            "postgres",
            2,
            storage,
        ),
    }
    chosen = [name for name in setups if not argv or name in argv]
    for name in chosen:
        label, database, workers, env = setups[name]
        summarise(label, load(database, workers, env))


if __name__ == "__main__":
    main(sys.argv[1:])
