"""Helpers for tests that run the studio as several real processes: web servers and workers on a
database of their own (a fresh PostgreSQL database on the server at 127.0.0.1:5432, or a
throwaway PostgreSQL cluster the test may stop and start), seeded and inspected through
`manage.py shell`, the way an operator would."""

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
from django.conf import settings as django_settings

from studio.web_server import web_command
from tests.browser import worker_env

BASE_DIR = Path(django_settings.BASE_DIR)
POSTGRES_URL = os.environ.get(
    "STUDIO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, *, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


def with_database(url: str, env: dict) -> dict:
    return {**env, "DATABASE_URL": url}


def manage(env: dict, *args: str, timeout: float = 120) -> str:
    done = subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def shell_json(env: dict, code: str):
    """Run `code` in `manage.py shell` on env's database; it must print one JSON value last."""
    out = manage(env, "shell", "--no-imports", "-c", code)
    return json.loads(out.strip().splitlines()[-1])


def start_worker_process(env: dict, **extra) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(BASE_DIR / "manage.py"), "studio_worker", "--interval", "0.05"],
        cwd=BASE_DIR,
        env={**env, **{k: str(v) for k, v in extra.items()}},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def start_web_process(env: dict, port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        web_command(port=port),
        cwd=BASE_DIR,
        env={**env, "DEBUG": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if not wait_until(lambda: _answers(port), timeout=30, interval=0.1):
        output = stop(process)
        raise AssertionError(f"The web server did not start:\n{output}")
    return process


def _answers(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    except httpx.HTTPError:
        return False
    return True


def stop(process: subprocess.Popen, *, timeout: float = 15) -> str:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.stdout.read() if process.stdout else ""


def postgres_or_skip() -> None:
    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not running at {POSTGRES_URL}: {exc}")


@contextlib.contextmanager
def postgres_database(server_url: str = POSTGRES_URL):
    """A fresh, migrated database on the server at `server_url`; its URL; dropped afterwards."""
    name = f"studio_procs_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = server_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class ThrowawayPostgres:
    """A PostgreSQL cluster of the test's own (initdb in a temporary folder, trust auth, a free
    port on 127.0.0.1), so the test may stop and start it; the machine's server is left alone."""

    def __init__(self):
        if not (PG_BIN / "initdb").exists():
            pytest.skip(f"PostgreSQL's programs are not in {PG_BIN}")
        self.folder = Path(tempfile.mkdtemp(prefix="studio-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        # initdb refuses to run as root: the cluster belongs to the postgres account then.
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.folder, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [*self._as, str(PG_BIN / program), *args],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"),
            "-w", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def process_env(settings, database_url: str, **extra) -> dict:
    """The environment of a studio process on `database_url`, with the test's other settings."""
    env = with_database(database_url, worker_env(settings))
    env.update({k: str(v) for k, v in extra.items()})
    return env
