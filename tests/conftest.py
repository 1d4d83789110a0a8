"""Shared fixtures: people, signed-in clients, a media folder (or bucket folder) per test, the
loopback gateway and the loopback S3 server."""

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import Client

from gallery import catalog
from team.middleware import forget_users_exist
from tests import storage
from tests.fake_gateway import DEFAULT_MODELS, FakeGateway
from tests.s3_server import S3Server

BUCKET = "studio-tests"


@pytest.fixture(scope="session", autouse=True)
def _close_connections_before_the_test_database_goes(django_db_setup, django_db_blocker):
    """Threads the tests ran code in keep their connections for the life of the process (the
    runner's database thread, asgiref's thread for ASGI requests, threads racing each other),
    and PostgreSQL will not drop a database someone is still connected to: end those sessions
    before the test database is dropped."""
    yield
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )


@pytest.fixture(scope="session")
def _env_bucket():
    """The bucket the environment names (CI's S3 pass), made if missing; None without one."""
    options = storage.bucket_options(django_settings)
    if options is None:
        return None
    from django.core.files.storage import storages

    client = storages.create_storage(django_settings.STORAGES["default"]).connection.meta.client
    storage.ensure_bucket(client, options["bucket_name"])
    return options


DB_FIXTURES = {
    "db",
    "transactional_db",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
}


def _uses_database(request) -> bool:
    return bool(
        request.node.get_closest_marker("django_db") or DB_FIXTURES & set(request.fixturenames)
    )


@pytest.fixture(autouse=True)
def _isolated(request, settings, tmp_path, _env_bucket):
    """Each test gets its own media folder (or its own folder in the environment's bucket), an
    empty cache and offline mode unless it asks.

    The cache is the database's table (shared by every process), so a test that may use the
    database has it set up first, then the cache emptied; a test that may not (a pure function
    that caches the gateway's model list, say) gets a cache of its own in memory instead."""
    uses_database = _uses_database(request)
    if uses_database:
        request.getfixturevalue("_django_db_helper")
    else:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.MEDIA_ROOT = tmp_path / "media"
    if _env_bucket is not None:
        storage.use_bucket(
            settings, bucket=_env_bucket["bucket_name"], endpoint_url=_env_bucket["endpoint_url"]
        )
    settings.LLM_GATEWAY_API_KEY = ""
    settings.OFFLINE_RENDER_DELAY = 0
    # Real hashing costs ~0.5 s a password; tests make many accounts and prove nothing with it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    cache.clear()
    forget_users_exist()
    yield
    cache.clear()
    forget_users_exist()


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("ada", "ada@example.com", "a-long-passphrase-1")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user(
        "grace", "grace@example.com", "a-long-passphrase-2"
    )


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser(
        "root", "root@example.com", "a-long-passphrase-3"
    )


@pytest.fixture
def clients(user, other_user, admin_user) -> dict[str, Client]:
    """A signed-in test client each for the owner (`user`), a second member and an admin: the
    three people every permission test asks."""
    made = {}
    for name, person in (("owner", user), ("member", other_user), ("admin", admin_user)):
        client = Client()
        client.force_login(person)
        made[name] = client
    return made


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture(scope="session")
def _gateway_server():
    with FakeGateway() as server:
        yield server


@pytest.fixture
def fake_gateway(_gateway_server, settings):
    """The loopback gateway, reset, with the studio pointed at it (online mode)."""
    _gateway_server.reset()
    _gateway_server.models = [dict(m) for m in DEFAULT_MODELS]
    _gateway_server.default_delay = 0
    _gateway_server.cost = 0.01
    _gateway_server.photo_size = None
    settings.LLM_GATEWAY_API_KEY = _gateway_server.api_key
    settings.LLM_GATEWAY_BASE_URL = _gateway_server.base_url
    settings.GATEWAY_MAX_RETRY_AFTER = 0.2
    yield _gateway_server
    _gateway_server.reset()


@pytest.fixture(scope="session")
def _s3_server():
    with S3Server() as server:
        storage.ensure_bucket(
            storage.s3_client(
                server.url,
                aws_access_key_id=storage.TEST_KEY,
                aws_secret_access_key=storage.TEST_KEY,
            ),
            BUCKET,
        )
        yield server


@pytest.fixture
def bucket(_s3_server, settings):
    """The loopback S3 server (moto) as the studio's storage, in a folder of this test's own,
    with no faults; short timeouts and two attempts, so a hang fails in about two seconds."""
    _s3_server.clear()
    storage.use_bucket(
        settings,
        bucket=BUCKET,
        endpoint_url=_s3_server.url,
        region_name="us-east-1",
        access_key=storage.TEST_KEY,
        secret_key=storage.TEST_KEY,
        addressing_style="path",
        timeouts=(1.0, 1.0, 2),
    )
    yield _s3_server
    _s3_server.clear()


@pytest.fixture
def offline_models():
    return catalog.available_models()


def htmx_headers(url: str = "/") -> dict:
    return {"HX-Request": "true", "HX-Current-URL": f"http://testserver{url}"}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test reports what the database held when it failed (images, their
    errors, the newest events): "the tile never showed" then says whether the worker or the page
    was behind."""
    report = yield
    if report.failed and call.when == "call" and item.get_closest_marker("browser"):
        try:
            from gallery.models import Event, Image

            images = Image.objects.order_by("pk").values_list("pk", "run_id", "status", "error")
            events = Event.objects.order_by("-pk").values_list("pk", "kind", "run_id", "image_id")
            lines = [
                f"image {pk} run {run}: {status} {error[:80]}" for pk, run, status, error in images
            ]
            lines += [
                f"event {pk}: {kind} run {run} image {image}"
                for pk, kind, run, image in events[:30]
            ]
            report.sections.append(("studio state at failure", "\n".join(lines) or "(no images)"))
        except Exception as exc:  # the report must not fail for want of a database
            report.sections.append(("studio state at failure", f"could not be read: {exc!r}"))
    return report
