"""The real worker process: runs in parallel, and no tile stays pending when it dies."""

import signal
import time

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from gallery.models import Image, Run, Upload, WorkerBeat
from gallery.tasks import fetch_upload, make_run_images
from gallery.worker import ConcurrentWorker
from tests.browser import start_worker, stop_worker
from tests.factories import make_run, png_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def wait_until(condition, *, timeout: float, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


def statuses(run) -> list[str]:
    return list(run.images.order_by("column", "position").values_list("status", flat=True))


def test_one_slow_run_never_queues_another_behind_it(user, other_user, fake_gateway, settings):
    fake_gateway.add_rule(model="gpt-image-2", delay=3.0)
    slow = make_run(user, models=["gpt-image-2"], count=2)
    fast = make_run(other_user, models=["alibaba/qwen-image-plus"], count=2)
    make_run_images.enqueue(slow.pk)
    make_run_images.enqueue(fast.pk)
    worker = start_worker(settings)
    try:
        assert wait_until(lambda: statuses(fast) == ["succeeded", "succeeded"], timeout=10)
        assert set(statuses(slow)) == {"running"}  # still in flight, yet the other run finished
        assert wait_until(lambda: statuses(slow) == ["succeeded", "succeeded"], timeout=10)
    finally:
        output = stop_worker(worker)
    assert "Traceback" not in output


def test_a_killed_worker_leaves_no_tile_pending(user, fake_gateway, settings):
    settings.WORKER_STALE_SECONDS = 5
    fake_gateway.add_rule(model="gpt-image-2", response="hang")
    run = make_run(user, models=["gpt-image-2", "alibaba/qwen-image-plus"], count=2)
    make_run_images.enqueue(run.pk)
    worker = start_worker(settings)
    try:
        # The quick model's tiles land; the hanging model's tiles are in flight.
        assert wait_until(lambda: statuses(run).count("succeeded") == 2, timeout=10)
        assert statuses(run).count("running") == 2
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=5)
    finally:
        stop_worker(worker)

    killed_at = time.monotonic()
    # A new worker (as ./studio.sh run restarts it) marks them interrupted once the dead
    # worker's heartbeat is older than WORKER_STALE_SECONDS.
    replacement = start_worker(settings)
    try:
        assert wait_until(
            lambda: statuses(run).count("interrupted") == 2,
            timeout=settings.WORKER_STALE_SECONDS + 10,
        )
    finally:
        stop_worker(replacement)
    bound = time.monotonic() - killed_at
    assert bound < settings.WORKER_STALE_SECONDS + 10
    interrupted = run.images.filter(status="interrupted")
    assert all("Retry" in image.error for image in interrupted)
    assert run.images.filter(status="succeeded").count() == 2  # nothing else lost


def test_a_stopped_worker_finishes_its_runs_first(user, fake_gateway, settings):
    fake_gateway.add_rule(model="gpt-image-2", delay=1.0)
    run = make_run(user, models=["gpt-image-2"], count=2)
    make_run_images.enqueue(run.pk)
    worker = start_worker(settings)
    try:
        assert wait_until(lambda: set(statuses(run)) == {"running"}, timeout=10)
        worker.send_signal(signal.SIGTERM)  # Ctrl+C / a deploy: finish what is running
        worker.wait(timeout=10)
    finally:
        output = stop_worker(worker)
    assert statuses(run) == ["succeeded", "succeeded"], output


def test_a_second_stop_signal_marks_unfinished_tiles_interrupted_at_once(
    user, fake_gateway, settings
):
    fake_gateway.add_rule(model="gpt-image-2", response="hang")
    run = make_run(user, models=["gpt-image-2"])
    make_run_images.enqueue(run.pk)
    worker = start_worker(settings)
    try:
        assert wait_until(lambda: statuses(run) == ["running"], timeout=10)
        worker.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=10)
    finally:
        stop_worker(worker)
    image = Image.objects.get(run=run)
    assert image.status == "interrupted" and "stopped" in image.error
    task = DBTaskResult.objects.get()
    assert task.status == "FAILED" and "stopped at once" in task.traceback


def test_a_second_stop_signal_leaves_runs_alone_that_only_share_an_id_with_a_link_fetch(
    user, fake_gateway, settings, tmp_path
):
    """The worker also fetches attached links (tasks that take an upload's id): stopping it at
    once must not mistake that id for a run's and interrupt someone else's run."""
    settings.GATEWAY_URL_FETCH_ALLOW_PRIVATE = True
    settings.GATEWAY_URL_FETCH_CA_FILE = fake_gateway.write_ca_pem(tmp_path / "ca.pem")
    settings.LINK_FETCH_DEADLINE_SECONDS = 10
    run = make_run(user, models=["gpt-image-2"])  # run by another worker, say
    run.images.update(status="running")
    Run.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())
    slow = fake_gateway.https_url_for(png_bytes(), trickle=0.1)
    upload = Upload.objects.create(pk=run.pk, created_by=user, status="fetching", source_url=slow)
    fetch_upload.enqueue(upload.pk)
    worker = start_worker(settings)
    try:
        assert wait_until(lambda: len(fake_gateway.https_requests) == 1, timeout=10)
        worker.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=10)
    finally:
        stop_worker(worker)
    assert statuses(run) == ["running"]


def test_a_second_stop_signal_interrupts_only_the_tiles_this_worker_is_making(
    user, fake_gateway, settings
):
    """Another worker may be making another tile of the same run (a Retry, say): it is left to
    finish; what is interrupted is exactly what this process claimed."""
    fake_gateway.add_rule(model="gpt-image-2", response="hang")
    run = make_run(user, models=["gpt-image-2"], count=2)
    elsewhere, here = run.images.all()
    Image.objects.filter(pk=elsewhere.pk).update(status="running")
    Run.objects.beat(run.pk)
    make_run_images.enqueue(run.pk, [here.pk])
    worker = start_worker(settings)
    try:
        assert wait_until(lambda: len(fake_gateway.calls()) == 1, timeout=10)
        worker.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=10)
    finally:
        stop_worker(worker)
    assert statuses(run) == ["running", "interrupted"]
    assert "stopped" in Image.objects.get(pk=here.pk).error


def test_a_task_on_an_excluded_queue_is_not_claimed(user, settings):
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "bulk"]}
    }
    wanted, left = make_run(user), make_run(user)
    make_run_images.enqueue(wanted.pk)
    skipped = make_run_images.using(queue_name="bulk").enqueue(left.pk)
    worker = ConcurrentWorker(
        concurrency=2,
        queue_names=["*"],
        excluded_queue_names=["bulk"],
        interval=0.01,
        batch=True,  # run what it may take, then return
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
    )
    worker.run()
    assert statuses(wanted) == ["succeeded"]
    assert statuses(left) == ["queued"]
    assert DBTaskResult.objects.get(pk=skipped.id).status == "READY"


def test_excluding_queues_needs_every_queue_to_start_from():
    with pytest.raises(CommandError, match="only be used with --queue-name='\\*'"):
        call_command("studio_worker", "--exclude-queues=bulk")


def test_a_stopped_worker_hands_back_what_outlives_its_grace_period(user, fake_gateway, settings):
    """A deploy stops a worker while a model takes minutes: after WORKER_STOP_GRACE_SECONDS the
    unfinished images go back to the queue, and another worker makes them."""
    fake_gateway.add_rule(model="gpt-image-2", response="hang", times=2)
    run = make_run(user, models=["gpt-image-2"], count=2)
    make_run_images.enqueue(run.pk)
    worker = start_worker(settings, WORKER_STOP_GRACE_SECONDS=1)
    try:
        assert wait_until(lambda: len(fake_gateway.calls()) == 2, timeout=10)
        assert statuses(run) == ["running", "running"]
        stopped_at = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=10)
        assert time.monotonic() - stopped_at < 5
    finally:
        output = stop_worker(worker)
    assert statuses(run) == ["queued", "queued"], output
    assert "handed back" in output
    assert DBTaskResult.objects.filter(status="READY").count() == 1
    # The stopped worker's own task row is ended, not left "running" for a worker that is gone.
    assert not DBTaskResult.objects.filter(status="RUNNING").exists()
    ended = DBTaskResult.objects.get(status="FAILED")
    assert "queued again" in ended.traceback

    replacement = start_worker(settings)
    try:
        assert wait_until(lambda: statuses(run) == ["succeeded", "succeeded"], timeout=15)
    finally:
        stop_worker(replacement)
    assert len(fake_gateway.calls()) == 4


def test_a_queued_run_is_claimed_at_once_not_at_the_next_poll(user, fake_gateway, settings):
    """Queuing a task wakes the workers (push.announce_work): with a 5 s poll, each run still
    starts within a fraction of a second."""
    worker = start_worker(settings, interval=5)
    try:
        assert wait_until(lambda: WorkerBeat.objects.exists(), timeout=15)
        time.sleep(0.5)  # its wake-up listener is bound
        waits = []
        for _ in range(3):
            run = make_run(user, models=["gpt-image-2"], count=1)
            queued = time.monotonic()
            make_run_images.enqueue(run.pk)
            assert wait_until(lambda run=run: set(statuses(run)) != {"queued"}, timeout=10)
            waits.append(time.monotonic() - queued)
            assert wait_until(lambda run=run: statuses(run) == ["succeeded"], timeout=10)
    finally:
        output = stop_worker(worker)
    assert "Traceback" not in output
    assert max(waits) < 1.0, waits
