"""A whole studio for benchmarks: fresh SQLite database, the web server as `./studio.sh run` starts
it (uvicorn, studio/web_server.py) + the real worker, the loopback gateway, and signed-in HTTP
clients. Nothing here is mocked: requests go over real sockets."""

import contextlib
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from studio.web_server import web_command  # noqa: E402
from tests.fake_gateway import FakeGateway  # noqa: E402

PASSWORD = "bench-passphrase-42"
# The PostgreSQL server benchmarks make a fresh database on (and drop afterwards).
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def env_file(path: str | None) -> dict[str, str]:
    """KEY=VALUE lines (deploy/studio.env.example's format), e.g. S3 settings for the studio."""
    if not path:
        return {}
    pairs = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.split(" #", 1)[0].strip()
    return pairs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def report(label: str, figure: float, target: float, unit: str = "ms", *, digits: int = 1) -> bool:
    """Print one measured figure (to `digits` decimals) beside its target (lower is better) and
    their ratio; a figure past its target says MISSED. Returns whether the target was met."""
    met = figure <= target
    ratio = figure / target if target else (0.0 if figure == 0 else float("inf"))
    verdict = "ok" if met else "MISSED"
    print(
        f"  {label}: {figure:.{digits}f} {unit} (target <= {target:g} {unit}, {ratio:.2f}x)"
        f" {verdict}"
    )
    return met


def process_peak_rss_mb(pid: int) -> float:
    """The peak resident memory (VmHWM) of a process, in MB, read from /proc."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def reset_peak_rss(pid: int) -> None:
    """Start the process's VmHWM afresh from its current size (Linux: clear_refs 5), so the next
    process_peak_rss_mb reads the peak of what happened since."""
    with open(f"/proc/{pid}/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (its threads included), from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_pids(pid: int) -> list[int]:
    """Direct children of a process (uvicorn's workers under its supervisor)."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{pid}/children") as children:
        return [int(p) for p in children.read().split()]
    return []


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary_ms(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"median {statistics.median(ms):.1f} ms, p90 {percentile(ms, 0.9):.1f} ms, "
        f"min {min(ms):.1f} ms (n={len(ms)})"
    )


class Studio:
    """`with Studio(users=8, gateway_delay=1.0) as studio:` — the stack, ready to take requests."""

    def __init__(
        self,
        *,
        users: int = 1,
        gateway_delay: float = 0.0,
        web_workers: int = 2,
        worker_processes: int = 1,
        env=None,
        gateway_options: dict | None = None,
        database: str = "sqlite",
    ):
        """`env`: extra environment for the studio's processes, or a function of the loopback
        gateway returning it (e.g. to trust its HTTPS host's CA); `gateway_options`: extra
        FakeGateway arguments (e.g. photo_size). `database`: "sqlite" (a fresh file) or
        "postgres" (a fresh database on BENCH_POSTGRES_URL's server)."""
        assert database in ("sqlite", "postgres")
        self.database = database
        self.users = [f"user{i}" for i in range(users)]
        self.gateway_delay = gateway_delay
        self.web_workers = web_workers
        self.worker_processes = worker_processes
        self.extra_env = env or {}
        self.gateway_options = gateway_options or {}
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> "Studio":
        self.tmp = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        self.gateway = self._stack.enter_context(
            FakeGateway(default_delay=self.gateway_delay, **self.gateway_options)
        )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = (
            self._stack.enter_context(postgres_database())
            if self.database == "postgres"
            else f"sqlite:///{self.tmp / 'studio.sqlite3'}"
        )
        self.env = {
            **os.environ,
            "STUDIO_DATA_DIR": str(self.tmp),
            "DATABASE_URL": self.database_url,
            # A line per request and per image would cost the figures more than they tell.
            "LOG_LEVEL": "WARNING",
            "LLM_GATEWAY_API_KEY": self.gateway.api_key,
            "LLM_GATEWAY_BASE_URL": self.gateway.base_url,
            "DJANGO_SETTINGS_MODULE": "studio.settings",
            **(self.extra_env(self.gateway) if callable(self.extra_env) else self.extra_env),
        }
        self.manage("migrate", "--no-input", "-v0")
        self.manage("collectstatic", "--no-input", "-v0")
        creates = ";".join(
            f"User.objects.create_user('{u}', '{u}@example.com', '{PASSWORD}')" for u in self.users
        )
        self.manage("shell", "-c", f"from django.contrib.auth.models import User; {creates}")
        self.web = self._spawn(web_command(port=self.port, workers=self.web_workers))
        self.workers = [
            self._spawn([sys.executable, "manage.py", "studio_worker", "-v0"])
            for _ in range(self.worker_processes)
        ]
        self._wait_ready()
        return self

    def __exit__(self, *exc) -> None:
        for process in (self.web, *self.workers):
            process.terminate()
        for process in (self.web, *self.workers):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        self._stack.close()

    def manage(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=self.env, check=True,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip

    def _spawn(self, cmd: list[str]) -> subprocess.Popen:
        return subprocess.Popen(cmd, cwd=BASE_DIR, env=self.env, stdout=subprocess.DEVNULL)

    def _wait_ready(self) -> None:
        """Until the page answers and /healthz counts every worker process alive."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                if httpx.get(f"{self.url}/accounts/login/", timeout=1).status_code == 200:
                    health = httpx.get(f"{self.url}/healthz", timeout=5).json()
                    if health["worker"].get("alive", 0) >= len(self.workers):
                        time.sleep(0.3)
                        return
            time.sleep(0.2)
        raise RuntimeError("The studio did not start within 30 s.")

    def client(self, username: str) -> httpx.Client:
        """An HTTP client signed in as `username`, carrying its CSRF token."""
        client = httpx.Client(base_url=self.url, timeout=30)
        page = client.get("/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        response = client.post(
            "/accounts/login/",
            data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        )
        assert response.status_code == 302, response.text[:300]
        client.headers["X-CSRFToken"] = client.cookies["csrftoken"]
        client.headers["HX-Request"] = "true"
        return client

    def db(self):
        """A DB-API connection to the studio's database (sqlite3 or psycopg), for counting."""
        if self.database == "postgres":
            import psycopg

            return psycopg.connect(self.database_url, autocommit=True)
        import sqlite3

        return sqlite3.connect(self.tmp / "studio.sqlite3", timeout=30)

    def statuses(self, run_ids: list[int]) -> dict[str, int]:
        """How many of these runs' images are in each status."""
        if not run_ids:
            return {}
        mark = "%s" if self.database == "postgres" else "?"
        marks = ",".join([mark] * len(run_ids))
        with contextlib.closing(self.db()) as db:
            rows = db.execute(
                f"SELECT status, COUNT(*) FROM gallery_image WHERE run_id IN ({marks}) GROUP BY status",  # noqa: S608
                run_ids,
            ).fetchall()
        return dict(rows)

    def stored(self, run_ids: list[int]) -> int:
        return self.statuses(run_ids).get("succeeded", 0)


@contextlib.contextmanager
def postgres_database():
    """A fresh database on POSTGRES_URL's server, its URL; dropped afterwards."""
    import uuid

    import psycopg

    name = f"studio_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


COMPARE_RUN = {
    "prompt": "a lighthouse on a basalt cliff at dawn",
    "compare": "on",
    "model": ["gemini-3.1-flash-image-preview", "gpt-image-2", "alibaba/qwen-image-plus"],
    "aspect_ratio": "16:9",
    "resolution": "1K",
    "quality": "low",
    "count": "4",
    "action": "generate",
}


def start_run(client: httpx.Client, data: dict = COMPARE_RUN) -> int:
    response = client.post("/generate/", data=data)
    assert response.status_code == 200, response.text[:500]
    return int(re.search(r'id="run-(\d+)"', response.text).group(1))


def wait_stored(studio: Studio, run_ids: list[int], expected: int, timeout: float = 60) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if studio.stored(run_ids) >= expected:
            return time.perf_counter()
        time.sleep(0.02)
    raise RuntimeError(f"Only {studio.stored(run_ids)} of {expected} images stored in {timeout} s")
