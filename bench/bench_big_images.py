"""Issue 10's big-answer rows, end to end: the studio as `./studio.sh run` starts it (uvicorn +
the real worker) against the loopback gateway answering every call in 1.0 s with a photo-like
PNG (tests/fake_gateway photo_size: noisy gradients that compress and decode like a photograph).

1. A 3x4 compare of 3840x2160 answers (~17 MB PNG, ~23 MB of base64 JSON each): POST -> all 12
   stored (target <= 1.6x the 1.0 s upstream).
2. Three such runs at once (36 images): all stored (<= 3x) with the worker's peak memory
   <= 600 MB.
3. 36 answers of 4096x4096 (~35 MB PNG, ~47 MB of JSON each) at once: none fails, all stored,
   the worker's peak memory bounded as above.

Also printed: the worker's CPU per image, and how far it is from the CPU-bound floor on this
machine (the images' CPU work spread over its cores after the 1.0 s upstream).

    bench/bench_big_images.py            # all rows
    bench/bench_big_images.py --repeats 1
"""

import argparse
import contextlib
import io
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    COMPARE_RUN,
    Studio,
    process_cpu_seconds,
    process_peak_rss_mb,
    report,
    reset_peak_rss,
    start_run,
    wait_stored,
)
from PIL import Image

from tests.fake_gateway import photo_b64, photo_png

UPSTREAM_SECONDS = 1.0
UHD = (3840, 2160)
SQUARE = (4096, 4096)
PEAK_TARGET_MB = 600


def runs_at_once(studio: Studio, runs: int) -> tuple[float, float, float]:
    """Start `runs` 12-image compares at the same moment (one user each); seconds until all are
    stored, the worker's peak RSS meanwhile (MB) and its CPU per image (ms)."""
    clients = [studio.client(user) for user in studio.users[:runs]]
    worker = studio.workers[0].pid
    reset_peak_rss(worker)
    cpu_before = process_cpu_seconds(worker)
    barrier = threading.Barrier(runs)
    ids: list[int] = []
    lock = threading.Lock()

    def go(client):
        barrier.wait()
        run_id = start_run(client, COMPARE_RUN)
        with lock:
            ids.append(run_id)

    threads = [threading.Thread(target=go, args=(client,)) for client in clients]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done = wait_stored(studio, ids, 12 * runs, timeout=180)
    cpu_ms = (process_cpu_seconds(worker) - cpu_before) * 1000 / (12 * runs)
    for client in clients:
        client.close()
    return done - started, process_peak_rss_mb(worker), cpu_ms


def machine_now() -> str:
    """How busy the machine is right now: its load average, and what one 3840x2160 PNG decode
    costs here (CPU and wall ms; ~107 ms on this machine idle), to read the figures against."""
    photo = photo_png(*UHD)
    cpu, wall = [], []
    for _ in range(3):
        started, started_cpu = time.perf_counter(), time.process_time()
        with Image.open(io.BytesIO(photo)) as picture:
            picture.load()
        cpu.append((time.process_time() - started_cpu) * 1000)
        wall.append((time.perf_counter() - started) * 1000)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (
        f"load average {load} on {os.cpu_count()} cores; one 4K PNG decode "
        f"{statistics.median(cpu):.0f} ms CPU, {statistics.median(wall):.0f} ms wall"
    )


def failed(studio: Studio) -> int:
    with contextlib.closing(studio.db()) as db:
        return db.execute("SELECT COUNT(*) FROM gallery_image WHERE status='failed'").fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="record the worker with py-spy meanwhile (collapsed stacks, for a flame graph)",
    )
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    for size in (UHD, SQUARE):
        photo_b64(*size)  # made (or read from the disk cache) before any clock runs
    met = True
    print(f"Machine before: {machine_now()}")
    with Studio(
        users=3, gateway_delay=UPSTREAM_SECONDS, gateway_options={"photo_size": UHD}
    ) as studio:
        runs_at_once(studio, 1)  # warm up: imports, connections, the first thumbnails
        if args.profile:
            profiler = subprocess.Popen(
                [Path(sys.executable).parent / "py-spy", "record", "--pid",
                 str(studio.workers[0].pid), "--rate", "200", "--threads", "--idle",
                 "--format", "raw", "--output", args.profile, "--nonblocking"],
                stdout=subprocess.DEVNULL,
            )  # fmt: skip

        one = [runs_at_once(studio, 1) for _ in range(args.repeats)]
        seconds = statistics.median(t for t, _, _ in one)
        cpu = statistics.median(c for _, _, c in one)
        print(f"3x4 compare of {UHD[0]}x{UHD[1]} PNG answers, upstream 1.0 s ({cores} cores):")
        print(f"  runs: {', '.join(f'{t:.2f} s' for t, _, _ in one)}")
        met &= report("click -> all 12 stored", seconds, 1.6 * UPSTREAM_SECONDS, "s", digits=2)
        floor = UPSTREAM_SECONDS + 12 * cpu / 1000 / cores
        print(f"  worker CPU per image {cpu:.0f} ms; CPU-bound floor here {floor:.2f} s")

        three = [runs_at_once(studio, 3) for _ in range(args.repeats)]
        seconds = statistics.median(t for t, _, _ in three)
        peak = max(p for _, p, _ in three)
        cpu = statistics.median(c for _, _, c in three)
        print("Three such runs at once (36 images):")
        print(f"  runs: {', '.join(f'{t:.2f} s, {p:.0f} MB' for t, p, _ in three)}")
        met &= report("click -> all 36 stored", seconds, 3 * UPSTREAM_SECONDS, "s", digits=2)
        met &= report("worker peak memory", peak, PEAK_TARGET_MB, "MB", digits=0)
        floor = UPSTREAM_SECONDS + 36 * cpu / 1000 / cores
        print(f"  worker CPU per image {cpu:.0f} ms; CPU-bound floor here {floor:.2f} s")

        studio.gateway.photo_size = SQUARE
        seconds, peak, cpu = runs_at_once(studio, 3)
        print(f"36 answers of {SQUARE[0]}x{SQUARE[1]} at once:")
        print(
            f"  all 36 stored in {seconds:.2f} s ({seconds / UPSTREAM_SECONDS:.1f}x the upstream)"
        )
        print(f"  worker CPU per image {cpu:.0f} ms")
        met &= report("images failed", failed(studio), 0, "", digits=0)
        met &= report("worker peak memory", peak, PEAK_TARGET_MB, "MB", digits=0)
        if args.profile:
            profiler.send_signal(signal.SIGINT)  # py-spy writes its file as it stops
            profiler.wait(timeout=60)
    print(f"Machine after: {machine_now()}")
    if not met:
        print("Some targets were MISSED (see above).")


if __name__ == "__main__":
    main()
