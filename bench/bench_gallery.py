"""The gallery's targets, on a seeded gallery of 25,000 runs / 100,000 images:

1. The first gallery page `GET /` and a deep page `GET /?before=<id>` (id in the middle of the
   runs): server time median <= 60 ms each, and the same number of SQL queries for both.
2. Full-text search (ranked over every match): a rare pair of words and the most common word,
   first page and a deep page each: median <= 60 ms, the same number of queries on every page.
3. A board of 2,000 images spread over the gallery, `GET /boards/<id>/` and a deep page: median
   <= 60 ms each, the same number of queries for both.
4. The lightbox fragment `GET /images/<id>/` (htmx): median <= 30 ms.
5. Bytes of the first page: its HTML plus every thumbnail it shows, against the originals of
   the images on it (the newest 20 runs, drawn full size by the offline renderer): <= 10 %.

Server time is measured in-process with Django's test Client (signed in as a seeded user), so it
is the view, its queries and its templates, without sockets or a web server.

    bench/bench_gallery.py                   # fresh data dir: migrate, seed (timed), measure, clean up
    bench/bench_gallery.py --data-dir DIR    # seed DIR if it has no runs, else reuse it; kept
    bench/bench_gallery.py --runs 500        # a quick smoke test
"""

import argparse
import html
import logging
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import report, summary_ms  # noqa: E402

USERNAME = "seed1"
WIRE_TARGET_KB = 20
WARMUP = 5
REQUESTS = 50
PAGE_TARGET_MS = 60
LIGHTBOX_TARGET_MS = 30
BYTES_TARGET = 0.10


class Unavailable(Exception):
    """A URL that does not answer 200 (yet): reported, not fatal to the other figures."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, help="seeded STUDIO_DATA_DIR to reuse (kept)")
    parser.add_argument("--runs", type=int, default=25_000, help="runs to seed (25000)")
    parser.add_argument("--images-per-run", type=int, default=4)
    parser.add_argument("--realistic", type=int, default=20, help="full-size newest runs (20)")
    parser.add_argument("--requests", type=int, default=REQUESTS, help="timed requests per URL")
    return parser.parse_args()


def count_runs(data_dir: Path) -> int:
    database = data_dir / "studio.sqlite3"
    if not database.exists():
        return 0
    try:
        with sqlite3.connect(database) as db:
            return db.execute("SELECT COUNT(*) FROM gallery_run").fetchone()[0]
    except sqlite3.OperationalError:  # not migrated yet
        return 0


def prepare(args: argparse.Namespace, env: dict, data_dir: Path) -> str:
    """Migrate and, unless the data dir already has a gallery, seed it. Returns a description."""
    manage = [sys.executable, "manage.py"]
    for command in (["migrate", "--no-input", "-v0"], ["collectstatic", "--no-input", "-v0"]):
        subprocess.run([*manage, *command], cwd=BASE_DIR, env=env, check=True)
    existing = count_runs(data_dir)
    if existing:
        return f"reusing {data_dir} ({existing:,} runs)"
    print(f"Seeding {data_dir} ...", flush=True)
    started = time.perf_counter()
    subprocess.run(
        [
            *manage, "seed_gallery",
            "--runs", str(args.runs),
            "--images-per-run", str(args.images_per_run),
            "--realistic", str(args.realistic),
        ],
        cwd=BASE_DIR, env=env, check=True,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    return (
        f"seeded {args.runs:,} runs / {args.runs * args.images_per_run:,} images "
        f"({args.realistic} realistic) in {seconds:.1f} s, including process start"
    )


# --- measuring (after django.setup()) --------------------------------------------------------------


def get(client, url: str, headers: dict | None = None):
    """One request; anything but a 200 raises Unavailable with what came back."""
    try:
        response = client.get(url, headers=headers)
    except Exception as exc:
        where = traceback.extract_tb(exc.__traceback__)[-1]
        raise Unavailable(
            f"GET {url} raised {type(exc).__name__}: {exc} "
            f"({Path(where.filename).name}:{where.lineno})"
        ) from exc
    if response.status_code != 200:
        body = b"".join(response.streaming_content) if response.streaming else response.content
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body.decode(errors="replace")))
        raise Unavailable(f"GET {url} answered {response.status_code}: {text.strip()[:200]}")
    return response


def body_bytes(response) -> int:
    if response.streaming:
        size = sum(len(chunk) for chunk in response.streaming_content)
        response.close()
        return size
    return len(response.content)


def timed(client, url: str, n: int, headers: dict | None = None) -> tuple[list[float], int]:
    """Server times of n requests after warm-ups, and the SQL queries of one request."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(WARMUP):
        get(client, url, headers)
    with CaptureQueriesContext(connection) as captured:
        get(client, url, headers)
    queries = len(captured)  # now: the next request clears the connection's query log
    times = []
    for _ in range(n):
        started = time.perf_counter()
        response = get(client, url, headers)
        times.append(time.perf_counter() - started)
        body_bytes(response)
    return times, queries


def verdict(times: list[float], target_ms: float) -> str:
    return "ok" if statistics.median(times) * 1000 <= target_ms else "MISSED"


def same_queries(label: str, counts: dict) -> bool:
    """Whether every page measured ran the same number of SQL queries (printed either way)."""
    if len(counts) < 2:
        return False
    same = len(set(counts.values())) == 1
    print(f"  {label}: " + ("the same" if same else f"DIFFERENT {counts} MISSED"))
    return same


def measure_pages(client, args: argparse.Namespace, pages: list[tuple[str, str]]) -> dict:
    """Median server time of each (label, url) against PAGE_TARGET_MS; {label: queries}, or
    None for a page that could not be measured."""
    counts = {}
    for label, url in pages:
        try:
            times, queries = timed(client, url, args.requests)
        except Unavailable as exc:
            print(f"  {label}: not measured. {exc}")
            counts[label] = None
            continue
        counts[label] = queries
        report(f"{label} median", statistics.median(times) * 1000, PAGE_TARGET_MS)
        print(f"    {summary_ms(times)}; {queries} SQL queries")
    return counts


def deep_search_url(client, q: str, matches: int) -> str:
    """A search page about halfway through the results (at most 25 pages in), reached as a
    person would: following each page's "Older" link (its after_rank cursor)."""
    url = f"/?q={q}"
    for _ in range(min(25, matches // 2 // 20)):
        page = get(client, url, headers={"HX-Request": "true", "HX-Target": "gallery-more"})
        more = re.search(r'hx-get="/([^"]*after_rank=[^"]*)"', page.content.decode())
        if not more:
            break
        url = "/" + html.unescape(more[1])
    return url


def common_word() -> str:
    """The most common word of 5+ letters in the newest 2,000 prompts (in ~20 % of runs)."""
    from collections import Counter

    from gallery.models import Run

    counts = Counter()
    for prompt in Run.objects.order_by("-id").values_list("prompt", flat=True)[:2000]:
        counts.update({w.lower() for w in re.findall(r"[A-Za-z]{5,}", prompt)})
    return counts.most_common(1)[0][0] if counts else "image"


def measure_search(client, args: argparse.Namespace, user) -> bool:
    """Full-text search, ranked over all matches, keyset-paged: two words from the newest
    prompt, and the most common word; first page and a deep page (reached through the pages'
    own cursors) each; median <= PAGE_TARGET_MS and the same number of queries on every page."""
    from gallery import selectors
    from gallery.models import Run

    prompt = Run.objects.order_by("-id").values_list("prompt", flat=True).first() or ""
    words = [w for w in re.findall(r"[A-Za-z]{5,}", prompt)][:2] or ["image"]
    ok, counts = True, {}
    for q in ("+".join(words), common_word()):
        query = selectors.GalleryQuery(q=q.replace("+", " "))
        matches = selectors.runs_matching(viewer=user, query=query).count()
        try:
            deep = deep_search_url(client, q, matches)
        except Unavailable as exc:
            print(f"  full-text search q={q}: not measured. {exc}")
            ok = False
            continue
        print(f"  full-text search q={q} ({matches:,} matching runs):")
        pages = [(f"q={q}, first page", f"/?q={q}"), (f"q={q}, deep page {deep}", deep)]
        measured = measure_pages(client, args, pages)
        ok &= all(n is not None for n in measured.values())
        counts.update(measured)
    return same_queries("search queries, every page", counts) and ok


BOARD_NAME = "Bench board"
BOARD_EVERY = 50  # one image in 50 of the gallery: 2,000 of 100,000


def bench_board(user):
    """A shared board holding every BOARD_EVERY-th image of the gallery (made once per data
    dir), spread over all of it, as a long-lived team board would be."""
    from boards.models import Board, BoardImage
    from gallery.models import Image

    board = Board.objects.filter(name=BOARD_NAME, owner=user).first()
    if board is None:
        board = Board.objects.create(name=BOARD_NAME, owner=user, is_shared=True)
        ids = Image.objects.filter(status=Image.Status.SUCCEEDED).order_by("pk")
        ids = ids.values_list("pk", flat=True)
        BoardImage.objects.bulk_create(
            BoardImage(board=board, image_id=pk, added_by=user)
            for i, pk in enumerate(ids.iterator())
            if i % BOARD_EVERY == 0
        )
    return board


def measure_board(client, args: argparse.Namespace, user) -> bool:
    """A board page `GET /boards/<id>/` and a deep page `?before=<image id halfway>`: median
    <= PAGE_TARGET_MS each, and the same number of queries for both."""
    board = bench_board(user)
    ids = list(board.entries.order_by("-image_id").values_list("image_id", flat=True))
    if not ids:
        print("  board page: not measured (no images on the bench board)")
        return False
    url = f"/boards/{board.pk}/"
    print(f"  board page, a board of {len(ids):,} images spread over the gallery:")
    pages = [("board, first page", url), ("board, deep page", f"{url}?before={ids[len(ids) // 2]}")]
    counts = measure_pages(client, args, pages)
    return same_queries("board queries, first vs deep page", counts) and all(
        n is not None for n in counts.values()
    )


def measure(args: argparse.Namespace, description: str) -> bool:
    import django

    django.setup()
    # A failing view is reported once below, not also as a logged traceback.
    logging.getLogger("django.request").setLevel(logging.CRITICAL)
    from django.contrib.auth import get_user_model
    from django.db.models import Max, Min
    from django.test import Client
    from django.urls import NoReverseMatch, reverse

    from gallery.models import Image, Run

    ok = True
    user = get_user_model().objects.filter(username=USERNAME).first()
    if user is None:
        print(f"No user {USERNAME!r}: the data dir was not seeded by seed_gallery.")
        return False
    # SERVER_NAME: a host ALLOWED_HOSTS accepts without setup_test_environment().
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    bounds = Run.objects.aggregate(low=Min("id"), high=Max("id"))
    runs, images = Run.objects.count(), Image.objects.count()
    middle = (bounds["low"] + bounds["high"]) // 2
    print(f"Gallery of {runs:,} runs / {images:,} images ({description}):")

    page_queries = {}
    for label, url in (("first page", "/"), ("deep page", f"/?before={middle}")):
        try:
            times, queries = timed(client, url, args.requests)
        except Unavailable as exc:
            print(f"  {label} {url}: not measured. {exc}")
            ok = False
            continue
        page_queries[label] = queries
        print(
            f"  GET {url} ({label}): {summary_ms(times)}  (target median <= {PAGE_TARGET_MS} ms: "
            f"{verdict(times, PAGE_TARGET_MS)}); {queries} SQL queries"
        )
    if len(page_queries) == 2:
        same = len(set(page_queries.values())) == 1
        print(
            "  queries, first page vs deep page: "
            + ("the same" if same else f"DIFFERENT {page_queries}")
        )

    ok &= measure_search(client, args, user)
    ok &= measure_board(client, args, user)

    image = (
        Image.objects.filter(run_id__lte=middle, status=Image.Status.SUCCEEDED)
        .order_by("-run_id", "column", "position")
        .first()
    )
    try:
        url = reverse("image_detail", args=[image.pk])
    except NoReverseMatch:
        url = f"/images/{image.pk}/"
    try:
        times, queries = timed(client, url, args.requests, {"HX-Request": "true"})
        print(
            f"Lightbox fragment GET {url} (htmx, run #{image.run_id}): {summary_ms(times)}"
            f"  (target median <= {LIGHTBOX_TARGET_MS} ms: {verdict(times, LIGHTBOX_TARGET_MS)})"
            f"; {queries} SQL queries"
        )
    except Unavailable as exc:
        print(f"Lightbox fragment {url}: not measured. {exc}")
        ok = False

    try:
        ok = page_bytes(client) and ok
    except Unavailable as exc:
        print(f"First page bytes: not measured. {exc}")
        ok = False
    return ok


def page_bytes(client) -> bool:
    """HTML of the first page plus its thumbnails, against the originals of its images."""
    from gallery.models import Image

    page = get(client, "/")
    html_size = len(page.content)
    sources = [
        html.unescape(src)
        for src in re.findall(r"<img\b[^>]*?\bsrc=\"([^\"]+)\"", page.content.decode())
    ]
    sources = [src for src in sources if not src.startswith("data:")]
    thumbs_size, failed = 0, []
    for src in sources:
        try:
            thumbs_size += body_bytes(get(client, src))
        except Unavailable as exc:
            failed.append(str(exc))
    ids = {int(m) for src in sources for m in re.findall(r"/images/(\d+)/", src)}
    shown = list(Image.objects.filter(pk__in=ids).values_list("bytes", "width", "height"))
    originals = sum(size or 0 for size, _, _ in shown)
    full_size = sum(1 for _, width, height in shown if max(width or 0, height or 0) >= 512)
    total = html_size + thumbs_size
    print(
        f"First page bytes: HTML {html_size / 1024:.1f} KB + {len(sources)} <img> "
        f"{thumbs_size / 1024:.1f} KB = {total / 1024:.1f} KB"
    )
    wire_ok = wire_bytes(client, page)
    if not originals:
        print("  no images with originals found on the first page: ratio not measured")
        return False
    ratio = total / originals
    print(
        f"  vs. the originals of its {len(shown)} images ({full_size} full-size): "
        f"{originals / 1e6:.2f} MB -> {ratio:.1%}  (target <= {BYTES_TARGET:.0%}: "
        f"{'ok' if ratio <= BYTES_TARGET else 'MISSED'})"
    )
    if full_size < len(shown):
        print("  (seed with --realistic 20 so that the first page shows full-size originals)")
    for message in failed[:3]:
        print(f"  {message}")
    return not failed and wire_ok


def wire_bytes(client, page) -> bool:
    """The first page and a "more" page as a browser receives them (gzip), against 20 KB."""
    more_url = html.unescape(re.search(r'hx-get="([^"]*before=[^"]*)"', page.content.decode())[1])
    gzip = {"Accept-Encoding": "gzip, deflate, br"}
    first = get(client, "/", headers=gzip)
    more = get(
        client, more_url, headers={**gzip, "HX-Request": "true", "HX-Target": "gallery-more"}
    )
    print("  on the wire (gzip), 20 runs x 4 images:")
    return all(
        [
            report("first page", body_bytes(first) / 1024, WIRE_TARGET_KB, "KB"),
            report("a 'more' page", body_bytes(more) / 1024, WIRE_TARGET_KB, "KB"),
        ]
    )


def main() -> int:
    args = parse_args()
    keep = args.data_dir is not None
    data_dir = (args.data_dir or Path(tempfile.mkdtemp(prefix="seed-bench-"))).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "studio.settings",
            "STUDIO_DATA_DIR": str(data_dir),
            "LLM_GATEWAY_API_KEY": "",  # offline: no gateway calls inside the timed views
        }
    )
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("MEDIA_ROOT", None)
    os.environ.pop("AWS_STORAGE_BUCKET_NAME", None)
    try:
        description = prepare(args, dict(os.environ), data_dir)
        ok = measure(args, description)
    finally:
        if keep:
            print(f"(data kept in {data_dir}; pass --data-dir {data_dir} to measure it again)")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
