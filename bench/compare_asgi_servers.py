"""Which ASGI server runs the studio: uvicorn, granian and daphne side by side (issue 10).

Not one of the `bench_*` benchmarks: it needs all three servers installed, and only one is
pinned (uvicorn, see requirements.txt). To run it again:

    pip install uvicorn==0.54.0 httptools==0.9.0 uvloop==0.23.0 granian==2.8.7 daphne==4.2.3
    python bench/compare_asgi_servers.py [streams]

For each server, one web process (and the real worker): the resident memory and thread count of
that process with no stream open and with `streams` live streams open (signed-in GET /events/),
the time for one change (a new run) to reach every stream, and pages per second (the sign-in
page, and the signed-in studio page, 8 clients at once for 5 s each) while the streams are open.
"""

import asyncio
import contextlib
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import COMPARE_RUN, Studio, child_pids, free_port

from studio.web_server import web_command

SERVERS = {
    "uvicorn": lambda port: web_command(port=port),  # as the studio runs it
    "granian": lambda port: [
        sys.executable, "-m", "granian", "--interface", "asgi", "--port", str(port),
        "--workers", "1", "--log-level", "warning", "--no-ws", "studio.asgi:application",
    ],
    "daphne": lambda port: [
        sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "-v", "0",
        "studio.asgi:application",
    ],
}  # fmt: skip


def proc_status(pid: int) -> tuple[float, int]:
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["Threads"])


def web_pid(process: subprocess.Popen) -> int:
    """The process serving requests (granian forks one worker under its main process)."""
    children = child_pids(process.pid)
    return children[0] if children else process.pid


async def open_streams(url: str, cookies, count: int, events: list) -> list:
    client = httpx.AsyncClient(base_url=url, cookies=cookies, timeout=None,  # noqa: S113 (streams)
                               limits=httpx.Limits(max_connections=count + 10))  # fmt: skip
    ready = asyncio.Semaphore(0)

    async def one(index: int) -> None:
        async with client.stream("GET", "/events/?after=0") as response:
            assert response.status_code == 200, response.status_code
            async for line in response.aiter_lines():
                if line.startswith("retry:"):
                    ready.release()
                if line.startswith("id:"):
                    events.append((index, time.perf_counter()))

    tasks = [asyncio.create_task(one(i)) for i in range(count)]
    for _ in range(count):
        await ready.acquire()
    return [client, tasks]


async def pages_per_second(url: str, path: str, cookies, seconds: float = 5.0) -> float:
    done = 0
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(base_url=url, cookies=cookies, timeout=30) as client:

        async def loop() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                response = await client.get(path)
                assert response.status_code == 200, response.status_code
                done += 1

        await asyncio.gather(*(loop() for _ in range(8)))
    return done / seconds


def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/accounts/login/", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError("The server did not start.")


async def measure(studio: Studio, name: str, streams: int) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(SERVERS[name](port), cwd=studio_dir(), env=studio.env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_ready(url)
        author = studio.client("user0")
        viewer = studio.client("user1")
        pid = web_pid(process)
        await pages_per_second(url, "/accounts/login/", {}, seconds=1)  # warm up
        idle_rss, idle_threads = proc_status(pid)
        events: list = []
        started = time.perf_counter()
        client, tasks = await open_streams(url, viewer.cookies, streams, events)
        opened = time.perf_counter() - started
        await asyncio.sleep(1)
        rss, threads = proc_status(pid)
        sent = time.perf_counter()
        response = await asyncio.to_thread(
            author.post, "/generate/", data={**COMPARE_RUN, "count": "1"}
        )
        assert response.status_code == 200, response.text[:300]
        while len({i for i, at in events if at > sent}) < streams:
            if time.perf_counter() - sent > 30:
                break
            await asyncio.sleep(0.01)
        reached = {}
        for index, at in events:
            if at > sent:
                reached.setdefault(index, at)
        fan_out = max(reached.values()) - sent if len(reached) == streams else float("nan")
        spread = max(reached.values()) - min(reached.values()) if reached else float("nan")
        signin = await pages_per_second(url, "/accounts/login/", {})
        studio_page = await pages_per_second(url, "/", viewer.cookies)
        peak_rss, peak_threads = proc_status(pid)
        print(
            f"  {name}: idle {idle_rss:.0f} MB, {idle_threads} threads; {streams} streams open "
            f"in {opened:.1f} s: {rss:.0f} MB, {threads} threads; a new run reached all "
            f"{fan_out * 1000:.0f} ms after its POST was sent (first to last: "
            f"{spread * 1000:.0f} ms); sign-in page {signin:.0f}/s, studio page "
            f"{studio_page:.0f}/s with the streams open ({peak_rss:.0f} MB, {peak_threads} "
            f"threads after)",
            flush=True,
        )
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.aclose()
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def studio_dir() -> Path:
    return Path(__file__).resolve().parent.parent


def main() -> None:
    streams = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    print(f"ASGI servers, one web process each, {streams} live streams:")
    with Studio(users=2, web_workers=1) as studio:
        for name in SERVERS:
            asyncio.run(measure(studio, name, streams))


if __name__ == "__main__":
    main()
