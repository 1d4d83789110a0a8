"""Several worker processes on one PostgreSQL database, as on several machines: they race for one
queue and never make an image twice; one killed mid-run loses only its own tiles (interrupted
within the bound) while the others go on; a database restart mid-run loses and strands nothing.

Each test has a database of its own (a fresh one on 127.0.0.1:5432, or a throwaway cluster it
may stop), seeded through `manage.py shell`, run by real `studio_worker` processes, and read
back with plain SQL."""

import collections
import signal
import time

import httpx
import psycopg
import pytest

from tests.processes import (
    ThrowawayPostgres,
    free_port,
    manage,
    postgres_database,
    postgres_or_skip,
    process_env,
    shell_json,
    start_web_process,
    start_worker_process,
    stop,
    wait_until,
)

GENERATIONS = "/v1/images/generations"

SEED = """
import json
from django.contrib.auth import get_user_model
from gallery.tasks import make_run_images
from tests.factories import make_run
user, _ = get_user_model().objects.get_or_create(username="ada")
runs = [make_run(user, models={models!r}, count={count}, prompt=f"{prefix} {{i}}") for i in range({runs})]
for run in runs:
    for _ in range({copies}):
        make_run_images.enqueue(run.pk)
print(json.dumps([run.pk for run in runs]))
"""


def seed(env: dict, *, runs: int, count: int, models: list[str], prefix: str, copies: int = 1):
    code = SEED.format(runs=runs, count=count, models=models, prefix=prefix, copies=copies)
    return shell_json(env, code)


def image_statuses(url: str, run_ids: list[int] | None = None) -> collections.Counter:
    with psycopg.connect(url) as db:
        if run_ids is None:
            rows = db.execute("SELECT status FROM gallery_image").fetchall()
        else:
            rows = db.execute(
                "SELECT status FROM gallery_image WHERE run_id = ANY(%s)", [run_ids]
            ).fetchall()
    return collections.Counter(status for (status,) in rows)


def claimed_by(url: str) -> set[str]:
    """The workers that claimed at least one task."""
    with psycopg.connect(url) as db:
        rows = db.execute("SELECT worker_ids FROM django_tasks_database_dbtaskresult").fetchall()
    return {worker for (ids,) in rows for worker in ids}


def worker_pid(url: str, worker_id: str) -> int:
    with psycopg.connect(url) as db:
        return db.execute(
            "SELECT pid FROM gallery_workerbeat WHERE worker_id = %s", [worker_id]
        ).fetchone()[0]


@pytest.fixture
def pg_env(settings, fake_gateway):
    postgres_or_skip()
    with postgres_database() as url:
        env = process_env(settings, url)
        manage(env, "migrate", "--no-input", "-v0")
        yield url, env


def test_workers_racing_for_one_queue_never_make_an_image_twice(pg_env, fake_gateway):
    url, env = pg_env
    fake_gateway.default_delay = 0.2
    # Every run's task is queued twice (a task delivered again, a double-clicked Retry), so
    # the workers race for the same images too, not only for tasks.
    seed(env, runs=12, count=4, models=["gpt-image-2"], prefix="race", copies=2)
    workers = [start_worker_process(env) for _ in range(3)]
    try:
        assert wait_until(lambda: image_statuses(url)["succeeded"] == 48, timeout=60), (
            image_statuses(url)
        )
        time.sleep(0.5)  # any second making of an image would call the gateway again by now
    finally:
        outputs = [stop(worker) for worker in workers]
    assert image_statuses(url) == {"succeeded": 48}
    calls = fake_gateway.calls(path=GENERATIONS)
    per_run = collections.Counter(call.json["prompt"] for call in calls)
    assert len(calls) == 48, per_run
    assert set(per_run.values()) == {4}
    assert len(claimed_by(url)) >= 2, "the workers did not race: one took every task"
    assert all("Traceback" not in output for output in outputs), outputs


def test_a_killed_worker_loses_only_its_tiles_while_the_others_go_on(
    pg_env, fake_gateway, settings
):
    url, env = pg_env
    stale = 5
    fake_gateway.add_rule(model="gpt-image-2", response="hang")
    [hanging] = seed(env, runs=1, count=2, models=["gpt-image-2"], prefix="hang")
    workers = [start_worker_process(env, WORKER_STALE_SECONDS=stale) for _ in range(2)]
    try:
        assert wait_until(lambda: image_statuses(url, [hanging])["running"] == 2, timeout=20)
        [owner] = claimed_by(url)
        victim = next(w for w in workers if w.pid == worker_pid(url, owner))
        survivor = next(w for w in workers if w is not victim)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=5)
        killed_at = time.monotonic()

        # The other worker goes on making new runs meanwhile.
        later = seed(env, runs=3, count=2, models=["alibaba/qwen-image-plus"], prefix="later")
        assert wait_until(lambda: image_statuses(url, later)["succeeded"] == 6, timeout=20)
        # And gives up on the dead worker's tiles once its heartbeat is older than the bound.
        assert wait_until(
            lambda: image_statuses(url, [hanging])["interrupted"] == 2, timeout=stale + 15
        )
        assert time.monotonic() - killed_at < stale + 15
        assert survivor.poll() is None
    finally:
        for worker in workers:
            stop(worker)
    with psycopg.connect(url) as db:
        errors = db.execute("SELECT error FROM gallery_image WHERE run_id = %s", [hanging])
        assert all("Retry" in error for (error,) in errors)


def test_a_database_restart_mid_run_loses_nothing_and_strands_nothing(settings, fake_gateway):
    cluster = ThrowawayPostgres()
    web = workers = None
    try:
        cluster.start()
        with postgres_database(cluster.url) as url:
            env = process_env(settings, url)
            manage(env, "migrate", "--no-input", "-v0")
            fake_gateway.default_delay = 2.0
            before = seed(env, runs=6, count=2, models=["gpt-image-2"], prefix="before")
            port = free_port()
            web = start_web_process(env, port)
            workers = [start_worker_process(env) for _ in range(2)]
            assert wait_until(lambda: image_statuses(url, before)["running"] >= 4, timeout=20)

            # The restart: the workers' tiles land while the database is away.
            cluster.stop()
            time.sleep(2.5)
            cluster.start()

            assert wait_until(lambda: image_statuses(url, before)["succeeded"] == 12, timeout=60), (
                image_statuses(url, before)
            )
            # Work queued after the restart is taken as before, and the web server answers.
            fake_gateway.default_delay = 0
            after = seed(env, runs=2, count=2, models=["gpt-image-2"], prefix="after")
            assert wait_until(lambda: image_statuses(url, after)["succeeded"] == 4, timeout=30)
            health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
            assert health.status_code == 200, health.text
            assert health.json()["queue"]["images_queued"] == 0
            assert image_statuses(url) == {"succeeded": 16}
            for process in (web, *workers):
                assert process.poll() is None, "a process died with the database"
    finally:
        outputs = [stop(p) for p in (web, *(workers or [])) if p is not None]
        cluster.destroy()
    assert all("Traceback" not in output for output in outputs), outputs
