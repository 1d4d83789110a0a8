"""Wake-ups between processes (gallery/push), each backend for real: a datagram between Unix
sockets, PostgreSQL's NOTIFY, Redis's PUBLISH. An announcement reaches a listener well within
100 ms; dead listeners are cleared away; the hub fans a wake-up out to every open stream and
listens again after its backend fails."""

import asyncio
import os
import secrets
import shutil
import socket
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
import redis
from django.db import connection

from gallery import push
from gallery.push import hub as hubs
from gallery.push.local import LocalBackend
from gallery.push.postgres import PostgresBackend
from gallery.push.redis_pubsub import RedisBackend

POSTGRES_URL = os.environ.get("PUSH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("PUSH_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
LATENCY_LIMIT = 0.1


async def wake_latencies(backend, announce, *, times: int = 3) -> tuple[list[int], list[float]]:
    """Listen with `backend`, call `announce(n)` `times` times (in a thread, as a committing
    process would) once listening; return the ids heard and how long each took to arrive."""
    heard: asyncio.Queue = asyncio.Queue()
    listening = asyncio.create_task(backend.listen(heard.put_nowait))
    ids, seconds = [], []
    try:
        await asyncio.sleep(0.3)  # subscribed
        for n in range(1, times + 1):
            started = time.perf_counter()
            await asyncio.to_thread(announce, n)
            ids.append(await asyncio.wait_for(heard.get(), 5))
            seconds.append(time.perf_counter() - started)
        return ids, seconds
    finally:
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)


def assert_at_once(seconds: list[float]) -> None:
    """Well within 100 ms (the best of three: one slow turn on a busy machine is not a poll),
    and none anywhere near a polling interval."""
    assert min(seconds) < LATENCY_LIMIT, seconds
    assert max(seconds) < 1.0, seconds


def test_local_sockets_wake_a_listener_at_once(tmp_path):
    backend = LocalBackend(folder=tmp_path / "push")
    ids, seconds = asyncio.run(wake_latencies(backend, backend.send))
    assert ids == [1, 2, 3]
    assert_at_once(seconds)
    assert list((tmp_path / "push").iterdir()) == []  # the listener removed its socket


def test_local_sockets_of_processes_that_are_gone_are_removed(tmp_path):
    folder = tmp_path / "push"
    folder.mkdir()
    dead = folder / "1234-dead.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as gone:
        gone.bind(str(dead))  # bound, then closed: as a process that died leaves it
    (folder / "notes.txt").write_text("not a socket of ours")
    LocalBackend(folder=folder).send(7)
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    LocalBackend(folder=tmp_path / "never-made").send(8)  # no listener yet: nothing to do


def test_local_folder_is_per_database_and_short_enough_for_a_socket(settings, tmp_path):
    # A short data folder of its own (pytest's tmp_path under xdist is already too long).
    short = Path(tempfile.mkdtemp(prefix="st-"))
    try:
        settings.DATA_DIR = short
        first = LocalBackend.for_database().folder
        assert first.parent == short / "push"
    finally:
        shutil.rmtree(short, ignore_errors=True)
    settings.DATA_DIR = tmp_path / ("deep" * 40)
    assert len(str(LocalBackend.for_database().folder)) < 100


def postgres_or_skip() -> psycopg.Connection:
    try:
        return psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not running at {POSTGRES_URL}: {exc}")


def test_postgres_notify_wakes_a_listener_at_once():
    sender = postgres_or_skip()
    channel = f"studio_test_{secrets.token_hex(4)}"
    params = psycopg.conninfo.conninfo_to_dict(POSTGRES_URL)
    backend = PostgresBackend(channel=channel, params=params, connection=sender)
    with sender:
        ids, seconds = asyncio.run(wake_latencies(backend, backend.send))
    assert ids == [1, 2, 3]
    assert_at_once(seconds)


def test_postgres_notify_sent_inside_a_transaction_arrives_at_commit():
    sender = postgres_or_skip()
    channel = f"studio_test_{secrets.token_hex(4)}"
    params = psycopg.conninfo.conninfo_to_dict(POSTGRES_URL)
    backend = PostgresBackend(channel=channel, params=params, connection=sender)
    heard: list[int] = []

    async def scenario() -> None:
        listening = asyncio.create_task(backend.listen(heard.append))
        await asyncio.sleep(0.3)
        with sender.transaction():
            await asyncio.to_thread(backend.send, 43)
            await asyncio.sleep(0.2)
            assert heard == []  # not before the commit
        await asyncio.sleep(0.2)
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)

    with sender:
        asyncio.run(scenario())
    assert heard == [43]


def redis_or_skip() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.skip(f"Redis is not running at {REDIS_URL}: {exc}")
    return client


def test_redis_publish_wakes_a_subscriber_at_once():
    redis_or_skip().close()
    backend = RedisBackend(url=REDIS_URL, channel=f"studio-test-{secrets.token_hex(4)}")
    ids, seconds = asyncio.run(wake_latencies(backend, backend.send))
    assert ids == [1, 2, 3]
    assert_at_once(seconds)


def test_the_backend_follows_the_configuration(settings):
    push.backend.cache_clear()
    try:
        settings.PUSH_BACKEND, settings.REDIS_URL = "", ""
        # Unset: PostgreSQL's own LISTEN/NOTIFY on PostgreSQL, local sockets otherwise.
        on_postgres = connection.vendor == "postgresql"
        assert push.backend_name() == ("postgres" if on_postgres else "local")
        settings.REDIS_URL = REDIS_URL
        assert push.backend_name() == "redis"
        assert isinstance(push.backend(), RedisBackend)
        settings.PUSH_BACKEND = "postgres"
        assert push.backend_name() == "postgres"
        settings.PUSH_BACKEND = "carrier-pigeon"
        with pytest.raises(Exception, match="PUSH_BACKEND must be one of local, postgres, redis"):
            push.backend_name()
    finally:
        push.backend.cache_clear()


def test_announcing_never_fails_the_change_that_was_made(settings, caplog):
    push.backend.cache_clear()
    try:
        settings.PUSH_BACKEND, settings.REDIS_URL = "redis", "redis://127.0.0.1:1/0"
        push.announce(5)  # nothing listens on port 1: logged, not raised
    finally:
        push.backend.cache_clear()
    assert "Could not announce event 5" in caplog.text


class FlakyBackend:
    """A backend whose first listen fails (a database restart), then hears one wake-up."""

    def __init__(self):
        self.listens = 0

    async def listen(self, wake) -> None:
        self.listens += 1
        if self.listens == 1:
            raise ConnectionError("the database went away")
        wake(9)
        await asyncio.Event().wait()


def test_the_hub_wakes_every_stream_and_listens_again_after_a_failure():
    async def scenario() -> tuple[list[bool], int, int]:
        backend = FlakyBackend()

        async def newest() -> int:
            return 0

        hub = hubs.Hub(backend=backend, newest_id=newest)
        with hub.subscription() as first, hub.subscription() as second:
            hub.start()
            await asyncio.wait_for(asyncio.gather(first.wait(), second.wait()), 5)
            await asyncio.sleep(0.7)  # the pause after the failure, then the second listen
            woken = [first.is_set(), second.is_set()]
            await hub.stop()
        return woken, backend.listens, hub.newest

    woken, listens, newest = asyncio.run(scenario())
    assert woken == [True, True]
    assert listens == 2
    assert newest == 9


def test_work_queued_wakes_a_workers_listener_and_no_page(tmp_path):
    """push.WORK_QUEUED (a task was queued) reaches a listener on the local sockets (the
    worker's), and a web process's hub ignores it: pages have nothing new to read."""
    backend = LocalBackend(folder=tmp_path / "push")
    ids, seconds = asyncio.run(
        wake_latencies(backend, lambda _n: backend.send(push.WORK_QUEUED), times=2)
    )
    assert ids == [push.WORK_QUEUED, push.WORK_QUEUED]
    assert_at_once(seconds)

    async def hub_hears_work() -> bool:
        async def newest() -> int:
            return 0

        hub = hubs.Hub(backend=backend, newest_id=newest)
        with hub.subscription() as stream:
            hub.wake(push.WORK_QUEUED)
            return stream.is_set()

    assert asyncio.run(hub_hears_work()) is False
