"""What one process learns, the others know: several web processes share one cache (the
database's table by default, Redis with REDIS_URL), so they agree on the gateway's model list and
fetch it once between them, and a change seen through one is seen through all.

Everything else a process keeps in memory is either shared through the database (sign-in
attempts, sessions, quotas, the event log, worker heartbeats) or is about that process alone
(its decode memory budget, its thread pools, the images it is making, the push listener, parsed
catalog.toml, reversed URL halves, TLS contexts): each such place says why in a comment."""

import time

import httpx
import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection

from tests.browser import children_database_url
from tests.processes import free_port, process_env, start_web_process, stop, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

REDIS_URL = "redis://127.0.0.1:6379/14"


def painter(name: str) -> dict:
    return {
        "id": f"acme/{name.lower().replace(' ', '-')}",
        "name": name,
        "architecture": {"input_modalities": ["text"], "output_modalities": ["image"]},
    }


def model_list_calls(fake_gateway) -> int:
    return len(fake_gateway.calls(path="models"))


def studio_page(base: str, cookies: dict) -> str:
    response = httpx.get(f"{base}/", cookies=cookies, timeout=15)
    assert response.status_code == 200
    return response.text


def two_web_processes(settings, fake_gateway, signed_in, **extra):
    env = process_env(
        settings,
        children_database_url(),
        GATEWAY_MODELS_CACHE_SECONDS=3,
        **extra,
    )
    ports = [free_port(), free_port()]
    processes = [start_web_process(env, port) for port in ports]
    cookies = {django_settings.SESSION_COOKIE_NAME: signed_in.cookies["sessionid"].value}
    return processes, [f"http://127.0.0.1:{port}" for port in ports], cookies


def check_the_model_list_is_shared(settings, fake_gateway, signed_in, **extra):
    fake_gateway.models = [painter("Night Painter")]
    processes, (first, second), cookies = two_web_processes(
        settings, fake_gateway, signed_in, **extra
    )
    try:
        before = model_list_calls(fake_gateway)
        assert "Night Painter" in studio_page(first, cookies)
        assert model_list_calls(fake_gateway) == before + 1
        # The other process draws the same models from the shared cache: no call of its own.
        assert "Night Painter" in studio_page(second, cookies)
        assert model_list_calls(fake_gateway) == before + 1

        # The gateway's list changes; once the cached copy is due, whichever process draws a page
        # first fetches it, and the other sees the change without asking the gateway again.
        fake_gateway.models = [painter("Dawn Painter")]
        time.sleep(3.2)
        assert wait_until(lambda: "Dawn Painter" in studio_page(first, cookies), timeout=5)
        calls = model_list_calls(fake_gateway)
        page = studio_page(second, cookies)
        assert "Dawn Painter" in page and "Night Painter" not in page
        assert model_list_calls(fake_gateway) == calls
    finally:
        for process in processes:
            stop(process)


def test_web_processes_share_the_model_list_through_the_database(settings, fake_gateway, signed_in):
    check_the_model_list_is_shared(settings, fake_gateway, signed_in)


def test_web_processes_share_the_model_list_through_redis(settings, fake_gateway, signed_in):
    try:
        server = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        server.ping()
    except redis.ConnectionError as exc:
        pytest.skip(f"Redis is not running at {REDIS_URL}: {exc}")
    for key in server.scan_iter("*gateway-image-models*"):
        server.delete(key)
    check_the_model_list_is_shared(settings, fake_gateway, signed_in, REDIS_URL=REDIS_URL)
    # It was Redis that held it, not the database's table.
    assert list(server.scan_iter("*gateway-image-models*"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM studio_cache")
        assert cursor.fetchone()[0] == 0
