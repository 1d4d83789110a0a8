"""Attaching an image by its link: the web thread only stores a "fetching" upload and answers;
the worker fetches within LINK_FETCH_DEADLINE_SECONDS; the chip polls until it shows the
thumbnail or why not; Generate waits for it. A slow host never holds a web thread."""

import re
import socket
import threading
import time
from datetime import timedelta

import httpx
import pytest
from django.test import Client
from django_tasks_db.models import DBTaskResult

from gallery import edits
from gallery.models import Run, Upload
from gallery.tasks import fetch_upload
from tests.browser import start_worker, start_wsgi_web, stop_worker
from tests.conftest import htmx_headers
from tests.factories import png_bytes

pytestmark = pytest.mark.django_db

TRICKLE = 0.1  # seconds between bytes: a ~100-byte PNG takes ~10 s, far past the deadline


@pytest.fixture
def image_host(fake_gateway, settings, tmp_path):
    """The fake's HTTPS image host, trusted, with a short fetch deadline."""
    settings.GATEWAY_URL_FETCH_ALLOW_PRIVATE = True  # the test's HTTPS host is on loopback
    settings.GATEWAY_URL_FETCH_CA_FILE = fake_gateway.write_ca_pem(tmp_path / "ca.pem")
    settings.LINK_FETCH_DEADLINE_SECONDS = 1.0
    fake_gateway.models = []  # the whole catalog, so gpt-image-2 can edit
    return fake_gateway


def attach_link(client, url: str, capture):
    """POST /uploads/ with a link, as attach.js does; the fetch is queued on commit."""
    with capture(execute=True):
        started = time.perf_counter()
        response = client.post("/uploads/", {"url": url}, headers=htmx_headers())
        elapsed = time.perf_counter() - started
    return response, elapsed


def run_queued_fetches() -> None:
    """What the worker does with the queued link fetches."""
    for task in DBTaskResult.objects.filter(task_path="gallery.tasks.fetch_upload"):
        fetch_upload.call(*task.args_kwargs["args"])


def chip(client, upload: Upload) -> str:
    response = client.get(f"/uploads/{upload.pk}/", headers=htmx_headers())
    assert response.status_code == 200
    return response.content.decode()


def edit_with(client, token: str, **headers):
    data = {"prompt": "make it blue", "model": ["gpt-image-2"], "source": [token]}
    return client.post("/generate/", data, headers=headers)


# --- the web thread never fetches ------------------------------------------------------------------


def test_a_slow_link_answers_at_once_with_a_fetching_chip(
    signed_in, image_host, django_capture_on_commit_callbacks
):
    url = image_host.https_url_for(png_bytes(64, 48), trickle=TRICKLE)
    response, elapsed = attach_link(signed_in, url, django_capture_on_commit_callbacks)
    assert response.status_code == 200, response.content
    # The web thread never contacted the host; and it answered long before the link could
    # have arrived (~10 s at TRICKLE), with room for a busy machine.
    assert not image_host.https_requests
    assert elapsed < 2.0
    upload = Upload.objects.get()
    assert upload.status == "fetching" and upload.source_url == url and not upload.file
    html = response.content.decode()
    assert f'name="source" value="upload:{upload.pk}"' in html
    assert 'role="status" aria-busy="true"' in html and "Fetching…" in html
    assert "localhost" in html  # the link's host names the chip
    assert f'hx-get="/uploads/{upload.pk}/" hx-trigger="every 1s"' in html
    assert "Check again" in html  # without JavaScript (inside <noscript>)
    [task] = DBTaskResult.objects.all()
    assert task.task_path == "gallery.tasks.fetch_upload"
    assert task.args_kwargs["args"] == [upload.pk]
    assert not image_host.https_requests  # nothing was fetched on the web thread
    # Its thumbnail does not exist yet: 404, not a 500.
    assert signed_in.get(f"/uploads/{upload.pk}/thumbnail.webp").status_code == 404


def test_the_worker_stores_the_image_and_the_chip_shows_its_thumbnail(
    signed_in, image_host, django_capture_on_commit_callbacks
):
    url = image_host.https_url_for(png_bytes(64, 48)) + "?size=large"
    attach_link(signed_in, url, django_capture_on_commit_callbacks)
    upload = Upload.objects.get()
    assert 'aria-busy="true"' in chip(signed_in, upload)  # still fetching: keeps polling
    run_queued_fetches()
    upload.refresh_from_db()
    assert upload.status == "ready" and (upload.width, upload.height) == (64, 48)
    assert upload.format == "png" and upload.thumbnail and upload.error == ""
    html = chip(signed_in, upload)
    assert f'<img src="/uploads/{upload.pk}/thumbnail.webp"' in html
    assert f'alt="{url.split("/")[-1].split("?")[0]}"' in html  # named by the link's file
    assert "hx-get" not in html and "aria-busy" not in html  # done: polling stops
    assert signed_in.get(f"/uploads/{upload.pk}/thumbnail.webp").status_code == 200
    # And it can be edited now.
    response = edit_with(signed_in, f"upload:{upload.pk}")
    assert response.status_code == 302
    assert Run.objects.get().sources.get().upload == upload


def test_a_trickling_host_is_given_up_at_the_deadline_with_a_clear_error(
    signed_in, image_host, django_capture_on_commit_callbacks
):
    url = image_host.https_url_for(png_bytes(64, 48), trickle=TRICKLE)
    attach_link(signed_in, url, django_capture_on_commit_callbacks)
    started = time.perf_counter()
    run_queued_fetches()
    elapsed = time.perf_counter() - started
    assert 0.9 < elapsed < 2.0  # LINK_FETCH_DEADLINE_SECONDS is 1 here
    upload = Upload.objects.get()
    assert upload.status == "failed" and not upload.file
    assert upload.error == (
        "The image from localhost did not arrive within 1 s, so it was given up. Try another "
        "link, or save the image and attach the file."
    )
    html = chip(signed_in, upload)
    assert 'role="alert"' in html and "did not arrive within 1 s" in html
    assert 'aria-label="Remove the image from localhost"' in html
    assert "hx-get" not in html and "aria-busy" not in html


@pytest.mark.parametrize(
    ("serve", "message"),
    [
        (lambda host: host.https_url_for(b"just text", content_type="image/png"), "not an image"),
        (lambda host: host.https_url_for(png_bytes(20, 20))[:-4] + "gone", "HTTP 404"),
    ],
    ids=["not-an-image", "404"],
)
def test_what_the_link_holds_is_checked_in_the_worker_like_an_upload(
    signed_in, image_host, django_capture_on_commit_callbacks, serve, message
):
    attach_link(signed_in, serve(image_host), django_capture_on_commit_callbacks)
    run_queued_fetches()
    upload = Upload.objects.get()
    assert upload.status == "failed" and message in upload.error
    assert message in chip(signed_in, upload)


def test_a_name_that_resolves_to_a_private_address_is_refused_in_the_worker(
    signed_in, image_host, settings, django_capture_on_commit_callbacks
):
    url = image_host.https_url_for(png_bytes(20, 20))  # https://localhost:…
    settings.GATEWAY_URL_FETCH_ALLOW_PRIVATE = False
    response, _ = attach_link(signed_in, url, django_capture_on_commit_callbacks)
    assert response.status_code == 200  # a name: only resolving it tells, and that is not here
    run_queued_fetches()
    upload = Upload.objects.get()
    assert upload.status == "failed" and "private or local address" in upload.error
    assert not image_host.https_requests


# --- Generate waits for it ---------------------------------------------------------------------------


def test_generate_is_refused_while_a_link_is_still_being_fetched(
    signed_in, image_host, django_capture_on_commit_callbacks
):
    url = image_host.https_url_for(png_bytes(64, 48), trickle=TRICKLE)
    attach_link(signed_in, url, django_capture_on_commit_callbacks)
    token = f"upload:{Upload.objects.get().pk}"
    htmx = edit_with(signed_in, token, **htmx_headers())
    assert htmx.status_code == 422
    html = htmx.content.decode()
    assert edits.STILL_FETCHING in html
    assert 'aria-busy="true"' in html  # the chip is drawn again, still polling
    plain = edit_with(signed_in, token)
    assert plain.status_code == 400 and edits.STILL_FETCHING in plain.content.decode()
    assert not Run.objects.exists()
    # The controls and the estimate treat it as attached (an edit), without complaint.
    controls = signed_in.get("/controls/", {"model": "gpt-image-2", "source": token})
    assert controls.status_code == 200 and ">Background</label>" in controls.content.decode()
    assert signed_in.get("/estimate/", {"model": "gpt-image-2", "source": token}).status_code == 200


def test_generate_is_refused_with_a_link_that_failed(
    signed_in, image_host, django_capture_on_commit_callbacks
):
    url = image_host.https_url_for(png_bytes(64, 48), trickle=TRICKLE)
    attach_link(signed_in, url, django_capture_on_commit_callbacks)
    run_queued_fetches()
    response = edit_with(signed_in, f"upload:{Upload.objects.get().pk}")
    assert response.status_code == 400
    assert "The image from localhost could not be fetched; remove it" in response.content.decode()
    assert not Run.objects.exists()


def test_a_fetch_no_worker_finished_reads_as_failed_and_is_never_fetched_late(
    signed_in, image_host, settings, django_capture_on_commit_callbacks
):
    url = image_host.https_url_for(png_bytes(64, 48))
    attach_link(signed_in, url, django_capture_on_commit_callbacks)
    upload = Upload.objects.get()
    # The worker died (or never ran) and the deadline plus its grace went by.
    gone = settings.LINK_FETCH_DEADLINE_SECONDS + Upload.FETCH_GRACE_SECONDS + 1
    Upload.objects.filter(pk=upload.pk).update(
        created_at=upload.created_at - timedelta(seconds=gone)
    )
    html = chip(signed_in, upload)
    assert "Fetching the image took too long" in html and "aria-busy" not in html
    response = edit_with(signed_in, f"upload:{upload.pk}")
    assert response.status_code == 400 and "could not be fetched" in response.content.decode()
    # A worker that picks the task up now records the failure instead of fetching.
    run_queued_fetches()
    upload.refresh_from_db()
    assert upload.status == "failed" and upload.error == Upload.FETCH_TOO_LONG
    assert not image_host.https_requests


def test_a_chip_is_only_its_owners(client, user, other_user, image_host):
    client.force_login(user)
    client.post("/uploads/", {"url": image_host.https_url_for(png_bytes())}, headers=htmx_headers())
    upload = Upload.objects.get()
    client.force_login(other_user)
    assert client.get(f"/uploads/{upload.pk}/", headers=htmx_headers()).status_code == 404
    assert client.get("/uploads/999999/", headers=htmx_headers()).status_code == 404


def test_an_overlong_link_is_refused_at_once(signed_in):
    response = signed_in.post(
        "/uploads/", {"url": "https://example.com/" + "a" * 3000}, headers=htmx_headers()
    )
    assert response.status_code == 400 and "too long" in response.content.decode()
    assert not Upload.objects.exists()


# --- without JavaScript ---------------------------------------------------------------------------


def test_without_javascript_a_link_sent_with_the_form_is_fetched_by_the_worker_too(
    signed_in, image_host, django_capture_on_commit_callbacks
):
    url = image_host.https_url_for(png_bytes(64, 48), trickle=TRICKLE)
    data = {"prompt": "make it blue", "model": ["gpt-image-2"], "image_link": url}
    with django_capture_on_commit_callbacks(execute=True):
        started = time.perf_counter()
        response = signed_in.post("/generate/", data)
        elapsed = time.perf_counter() - started
    assert not image_host.https_requests  # the web thread never contacted the host
    assert elapsed < 2.0  # the link would take ~10 s (TRICKLE); room for a busy machine
    # The page again, with the chip fetching, a way to check again, and why nothing started.
    assert response.status_code == 400
    html = response.content.decode()
    upload = Upload.objects.get()
    assert upload.status == "fetching"
    assert edits.STILL_FETCHING in html
    assert f'value="upload:{upload.pk}"' in html and "Fetching…" in html
    assert 'name="action" value="refresh"' in html and "Check again" in html
    assert not Run.objects.exists()
    # Once the worker has it (here from a quick host instead), "Check again" shows the
    # thumbnail and Generate starts the edit.
    Upload.objects.filter(pk=upload.pk).update(
        source_url=image_host.https_url_for(png_bytes(64, 48))
    )
    run_queued_fetches()
    token = f"upload:{upload.pk}"
    again = signed_in.post("/generate/", {**data, "image_link": "", "source": [token],
                                          "action": "refresh"})  # fmt: skip
    assert f'src="/uploads/{upload.pk}/thumbnail.webp"' in again.content.decode()
    assert (
        signed_in.post("/generate/", {**data, "image_link": "", "source": [token]}).status_code
        == 302
    )
    assert Run.objects.get().sources.get().upload_id == upload.pk


# --- the real web server stays responsive ----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.django_db(transaction=True)
def test_slow_links_do_not_tie_up_the_web_server(user, image_host, settings):
    """gunicorn with 4 threads (a bounded pool, as a WSGI deployment has; the studio's own
    server, uvicorn, gives each request a thread), the real worker, and 8 attaches of links to a
    host sending one byte at a time: sign-in still answers at once."""
    settings.LINK_FETCH_DEADLINE_SECONDS = 2.0
    signed = Client()
    signed.force_login(user)
    port = free_port()
    web = start_wsgi_web(settings, port, threads=4)
    worker = start_worker(settings)
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_until(lambda: _answers(f"{base}/accounts/login/"), timeout=30)
        with httpx.Client(base_url=base, timeout=10) as client:
            client.cookies.set("sessionid", signed.cookies["sessionid"].value)
            page = client.get("/")
            assert page.status_code == 200
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
            headers = {"X-CSRFToken": token, "HX-Request": "true"}
            answers: list[tuple[float, int, str]] = []

            def attach() -> None:
                started = time.perf_counter()
                try:
                    url = image_host.https_url_for(png_bytes(64, 48), trickle=TRICKLE)
                    response = client.post("/uploads/", data={"url": url}, headers=headers)
                    answers.append((time.perf_counter() - started, response.status_code,
                                    response.text))  # fmt: skip
                except httpx.HTTPError as exc:
                    answers.append((time.perf_counter() - started, 0, repr(exc)))

            threads = [threading.Thread(target=attach) for _ in range(8)]
            for thread in threads:
                thread.start()
            # The slow downloads are under way (in the worker; before, in the web threads).
            assert wait_until(lambda: len(image_host.https_requests) >= 4, timeout=10)
            signs_in = []
            for _ in range(3):
                started = time.perf_counter()
                assert httpx.get(f"{base}/accounts/login/", timeout=5).status_code == 200
                signs_in.append(time.perf_counter() - started)
            for thread in threads:
                thread.join()
        assert max(signs_in) < 1.0, signs_in
        assert all(status == 200 and "Fetching…" in text for _, status, text in answers), answers
        assert max(elapsed for elapsed, _, _ in answers) < 1.0, answers
        # The worker gives every one of them up by the deadline, with the reason.
        assert wait_until(
            lambda: Upload.objects.filter(status="failed").count() == 8, timeout=10
        ), list(Upload.objects.values_list("status", flat=True))
        assert all(
            "did not arrive within 2 s" in e for e in Upload.objects.values_list("error", flat=True)
        )
    finally:
        web_output = stop_worker(web)
        worker_output = stop_worker(worker)
    assert "Traceback" not in web_output + worker_output, web_output + worker_output


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
