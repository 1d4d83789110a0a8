"""Logs: one line per event, each with what it is about (a request id, or the run a worker is
making), from the real web server and worker processes; never the gateway key."""

import logging
import re

import httpx
import pytest

from gallery.tasks import make_run_images
from studio.logs import OneLineFormatter, RequestIdFilter, about
from team import services as team_services
from tests.browser import children_database_url, start_worker, stop_worker
from tests.factories import make_run
from tests.processes import free_port, process_env, start_web_process, stop, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_each_request_has_an_id_on_its_answer_and_its_log_lines(settings, admin_user):
    _, token = team_services.invite_create(created_by=admin_user, email="new@example.com")
    port = free_port()
    web = start_web_process(process_env(settings, children_database_url()), port)
    base = f"http://127.0.0.1:{port}"
    try:
        given = httpx.get(f"{base}/healthz", headers={"X-Request-ID": "lb-7f3a.42"}, timeout=10)
        forged = httpx.get(
            f"{base}/accounts/login/", headers={"X-Request-ID": "x] FAKE line"}, timeout=10
        )
        missing = httpx.get(f"{base}/nowhere/", timeout=10)
        invite = httpx.get(f"{base}/invite/{token}/?email=secret@example.com", timeout=10)
    finally:
        output = stop(web)
    assert given.headers["X-Request-ID"] == "lb-7f3a.42"
    made = forged.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made) and missing.headers["X-Request-ID"] != made
    lines = output.splitlines()
    assert any(re.search(r"\[lb-7f3a\.42\] GET /healthz (200|503) ", line) for line in lines), (
        output
    )
    assert any(f"[{made}] GET /accounts/login/ 200 " in line for line in lines), output
    assert "FAKE line" not in output
    not_found = [line for line in lines if "GET /nowhere/ 404" in line]
    assert not_found and f"[{missing.headers['X-Request-ID']}]" in not_found[0]
    # An invite's token is a secret; what a person typed in a query may be personal.
    assert invite.status_code == 200
    assert token not in output and "secret@example.com" not in output
    assert any(
        f"[{invite.headers['X-Request-ID']}] GET /invite/<token>/ 200" in line for line in lines
    )


def test_the_worker_logs_each_run_by_id_and_never_the_key(user, fake_gateway, settings):
    key = fake_gateway.api_key
    fake_gateway.add_rule(
        model="gpt-image-2", status=400, body={"error": {"message": f"Key {key} is not allowed"}}
    )
    fake_gateway.add_rule(model="alibaba/qwen-image-plus", response="echo_key")
    run = make_run(user, models=["gpt-image-2", "alibaba/qwen-image-plus"])
    make_run_images.enqueue(run.pk)
    worker = start_worker(settings)
    try:
        assert wait_until(
            lambda: set(run.images.values_list("status", flat=True)) == {"failed", "succeeded"},
            timeout=15,
        )
    finally:
        output = stop_worker(worker)
    failed, stored = run.images.order_by("column")
    lines = [line for line in output.splitlines() if f"[run-{run.pk}]" in line]
    assert any(f"Making image(s) {failed.pk}, {stored.pk}" in line for line in lines), output
    assert any(f"Image {failed.pk} failed: " in line and "[redacted]" in line for line in lines)
    assert any(f"Image {stored.pk} stored" in line for line in lines), output
    assert key not in output
    assert key[:12] not in output


def test_a_traceback_stays_on_its_line(capsys):
    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter("%(levelname)s [%(request_id)s] %(message)s"))
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("tests.one-line")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with about("req-1"):
            try:
                raise ValueError("first\nsecond")
            except ValueError:
                logger.exception("It broke")
        logger.warning("Outside")
    finally:
        logger.removeHandler(handler)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2, lines
    assert (
        lines[0].startswith("ERROR [req-1] It broke\\nTraceback")
        and "ValueError: first\\nsecond" in lines[0]
    )
    assert lines[1] == "WARNING [-] Outside"
