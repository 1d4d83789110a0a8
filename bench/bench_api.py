"""Issue 12's latency target: what the studio's own API adds to an image call.

The same small request (GPT Image 2, 1024x1024, n=1) sent, in turn, straight to the loopback
gateway and to the studio's POST /v1/images/generations (uvicorn + the real worker, as
`./studio.sh run` serves it, harness.py): the studio's answer comes after its token is checked,
the run is written and queued, the worker has made the call, stored the original and its
thumbnail, and the answer is read back from storage. Added latency = studio - direct, per pair.
Target: median <= 50 ms; p95 is reported against 100 ms (this benchmark's own bar).
"""

import contextlib
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import BASE_DIR, Studio, percentile, report

PAIRS = 40
WARM_UP = 5
BODY = {"model": "gpt-image-2", "prompt": "a small red kite", "n": 1, "size": "1024x1024"}
MAKE_TOKEN = (
    "from django.contrib.auth.models import User; from api.tokens import token_create; "
    "print(token_create(user=User.objects.get(username='user0'), name='bench')[1])"
)


def make_token(studio: Studio) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", MAKE_TOKEN],
        cwd=BASE_DIR, env=studio.env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip().splitlines()[-1]


def timed(client: httpx.Client, url: str, headers: dict, marks: list | None = None) -> float:
    started = time.perf_counter()
    sent_at = time.time()
    response = client.post(url, json=BODY, headers=headers)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text[:300]
    assert response.json()["data"][0]["b64_json"]
    if marks is not None:
        marks.append((sent_at, sent_at + elapsed))
    return elapsed


STAGES = """SELECT r.created_at, i.queued_at, i.started_at, i.finished_at, i.latency
            FROM gallery_image i JOIN gallery_run r ON r.id = i.run_id ORDER BY i.id"""


def stages(studio: Studio, marks: list) -> dict[str, float]:
    """Where the time of a call through the studio went (medians, ms), from the rows' clocks."""
    with contextlib.closing(studio.db()) as db:
        rows = db.execute(STAGES).fetchall()[-len(marks) :]
    seen: dict[str, list[float]] = {}
    for (sent, answered), (created, queued, started, finished, latency) in zip(
        marks, rows, strict=True
    ):
        created, queued, started, finished = (
            datetime.fromisoformat(t).timestamp() for t in (created, queued, started, finished)
        )
        for name, ms in (
            ("token checked, run written and queued", created - sent),
            ("worker picks the task up", started - queued),
            ("upstream call", latency),
            ("image checked, thumbnailed, stored", finished - started - latency),
            ("answer read back and sent", answered - finished),
        ):
            seen.setdefault(name, []).append(ms * 1000)
    return {name: statistics.median(values) for name, values in seen.items()}


def main() -> int:
    with Studio(users=1, web_workers=1) as studio:
        token = make_token(studio)
        direct = (f"{studio.gateway.base_url}/images/generations",
                  {"Authorization": f"Bearer {studio.gateway.api_key}"})  # fmt: skip
        via_studio = (f"{studio.url}/v1/images/generations", {"Authorization": f"Bearer {token}"})
        added, straight, through, marks = [], [], [], []
        with httpx.Client(timeout=60) as client:
            for _ in range(WARM_UP):
                timed(client, *direct)
                timed(client, *via_studio)
            for _ in range(PAIRS):
                a = timed(client, *direct)
                b = timed(client, *via_studio, marks)
                straight.append(a * 1000)
                through.append(b * 1000)
                added.append((b - a) * 1000)
        print(f"  gateway directly: median {statistics.median(straight):.1f} ms")
        print(f"  through the studio: median {statistics.median(through):.1f} ms (n={PAIRS})")
        for name, ms in stages(studio, marks).items():
            print(f"    {name}: median {ms:.1f} ms")
        ok = report("added latency, median", statistics.median(added), 50)
        ok &= report("added latency, p95", percentile(added, 0.95), 100)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
