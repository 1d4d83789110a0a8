"""Select many: "Select all" + Download over 1,000 images, the zip streamed as it is made.

1. Time to first byte of `POST /selection/` (action=download, all=1: everything the gallery
   shows, counted and read by the filters, not by ids), from sending the request: target
   <= 250 ms.
2. Memory stays flat while the whole zip is read: the process's peak RSS grows by <= 64 MB,
   however big the zip (it is several times that).

Seeds 250 runs x 4 images (seed_gallery; the newest 20 runs get full-size originals) into a
fresh data dir; measured in-process with Django's test Client (the view, its queries, zip
writing and file reads; no sockets).

    bench/bench_selection.py                 # fresh data dir, removed afterwards
    bench/bench_selection.py --runs 1000     # more images
"""

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import process_peak_rss_mb, report, reset_peak_rss  # noqa: E402

USERNAME = "seed1"
TTFB_TARGET_MS = 250
MEMORY_TARGET_MB = 64


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=250, help="runs to seed (250 = 1,000 images)")
    parser.add_argument("--realistic", type=int, default=20, help="full-size newest runs (20)")
    return parser.parse_args()


def current_rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def measure() -> bool:
    import django

    django.setup()
    logging.getLogger("django.request").setLevel(logging.CRITICAL)
    from django.contrib.auth import get_user_model
    from django.test import Client

    user = get_user_model().objects.get(username=USERNAME)
    user.is_staff = True  # everything seeded is visible: "Select all" takes every image
    user.save(update_fields=["is_staff"])
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    count = client.get("/selection/count/").json()["count"]

    ok = True
    for attempt in ("warm-up", "measured"):
        # From the request: the view reads the first file before it answers (image_views.
        # zip_response), so the first byte's wait is mostly inside client.post.
        started = time.perf_counter()
        response = client.post("/selection/", {"action": "download", "all": "1"})
        assert response.status_code == 200, response.status_code
        chunks = iter(response.streaming_content)
        first = next(chunks)
        ttfb = time.perf_counter() - started
        reset_peak_rss(os.getpid())
        before = current_rss_mb()
        size = len(first) + sum(len(chunk) for chunk in chunks)
        total = time.perf_counter() - started
        growth = process_peak_rss_mb(os.getpid()) - before
        response.close()
        if attempt == "measured":
            print(
                f'"Select all" + Download of {count:,} images: a {size / 1e6:.1f} MB zip '
                f"streamed in {total:.2f} s"
            )
            ok &= report("time to first byte", ttfb * 1000, TTFB_TARGET_MS, "ms")
            ok &= report("peak memory growth while streaming", growth, MEMORY_TARGET_MB, "MB")
    return ok


def main() -> int:
    args = parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="select-bench-")).resolve()
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "studio.settings",
            "STUDIO_DATA_DIR": str(data_dir),
            "LLM_GATEWAY_API_KEY": "",
        }
    )
    for name in ("DATABASE_URL", "MEDIA_ROOT", "AWS_STORAGE_BUCKET_NAME"):
        os.environ.pop(name, None)
    manage = [sys.executable, "manage.py"]
    try:
        subprocess.run([*manage, "migrate", "--no-input", "-v0"], cwd=BASE_DIR, check=True)
        subprocess.run(
            [*manage, "seed_gallery", "--runs", str(args.runs), "--realistic", str(args.realistic)],
            cwd=BASE_DIR, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        return 0 if measure() else 1
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
