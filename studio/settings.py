"""Settings for Image Studio.

Everything that differs between a laptop and a production deployment comes from environment
variables (see `.env.example`); the defaults give a working local studio on SQLite with a local
media folder and the offline renderer.
"""

import os
import secrets
import tempfile
from pathlib import Path

import dj_database_url
from django.utils.csp import CSP

from studio.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("STUDIO_DATA_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the data folder."""
    if key := env_str("SECRET_KEY"):
        return key
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_tasks_db",
    "gallery",
    "team",
    "api",
    "boards",
    "shares",
]

MIDDLEWARE = [
    # Outermost of all: every line logged while a request is handled carries its id.
    "studio.request_id.RequestIdMiddleware",
    # Outermost: it passes on a streamed response, whatever made it, as it is sent (ASGI).
    "studio.streaming.AsyncStreamingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Outermost but for security headers: it compresses what everything below produced.
    "studio.compression.CompressPagesMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "team.middleware.SecureCookiesOverHttpsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "team.middleware.FirstRunMiddleware",
    "team.middleware.LoginRequiredMiddleware",
]

ROOT_URLCONF = "studio.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
            ],
        },
    },
]

WSGI_APPLICATION = "studio.wsgi.application"
ASGI_APPLICATION = "studio.asgi.application"

# SQLite by default; PostgreSQL (or anything dj-database-url knows) through DATABASE_URL.
# SQLite runs in WAL mode with IMMEDIATE transactions so the web server and the worker's
# threads can write side by side without "database is locked" errors.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'studio.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0, minimum=0),
        # A kept connection is checked before each request reuses it, so a database restart
        # costs one reconnect, not an error page.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A database that does not answer (a restart, a network cut) fails a request, the health
    # check or a worker's poll within seconds instead of hanging it.
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int(
        "DATABASE_CONNECT_TIMEOUT", 5, minimum=1
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # Tests run on a real SQLite file (in WAL mode, like production), not a shared in-memory
    # database, so the worker's threads and processes see exactly what they would in use.
    # One file per test process, so two test runs on one machine never share a database.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"image-studio-test-{os.getpid()}.sqlite3")
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The only backend: Django's password check behind the sign-in rate limit, so every way of
# signing in (the studio's page, the admin's form, a test client) meets the same limit.
AUTHENTICATION_BACKENDS = ["team.backends.RateLimitedModelBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "studio"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media"))).resolve()
# Image files are never served from a public URL: a view checks the signed-in user first.
MEDIA_URL = "/media/"

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
if AWS_STORAGE_BUCKET_NAME := env_str("AWS_STORAGE_BUCKET_NAME"):
    # Images in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2…) instead of MEDIA_ROOT; the
    # bucket must exist. Objects are private: written without an ACL (the bucket's default,
    # owner only) and never linked to; the studio streams them to the browser after its
    # permission check (gallery/files.py). Credentials come from AWS_ACCESS_KEY_ID and
    # AWS_SECRET_ACCESS_KEY, or whatever else boto3 finds (an instance role, ~/.aws).
    STORAGES["default"] = {
        "BACKEND": "gallery.bucket.BucketStorage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            # Empty for AWS itself; http(s)://host:port for any other S3-compatible server.
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env_str("AWS_S3_REGION_NAME") or None,
            # "path" for servers without bucket subdomains (MinIO, most self-hosted ones).
            "addressing_style": env_str("AWS_S3_ADDRESSING_STYLE") or None,
            # A folder inside the bucket, so several studios can share one.
            "location": env_str("AWS_LOCATION").strip("/"),
            "default_acl": None,
            "querystring_auth": True,  # if a URL were ever made, never an unsigned one
            "file_overwrite": True,  # names are unique already: no HEAD before each write
            "timeouts": (
                env_float("AWS_S3_CONNECT_TIMEOUT", 5.0, minimum=0.1),
                env_float("AWS_S3_READ_TIMEOUT", 20.0, minimum=0.1),
                env_int("AWS_S3_MAX_ATTEMPTS", 3, minimum=1),
            ),
        },
    }

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
    }
}

# One cache for every web and worker process (the gateway's model list lives here): the
# database's table by default (made by `migrate`, gallery 0008, and by `runstudio`), Redis when
# REDIS_URL is set. A per-process cache would let processes disagree about which models exist.
REDIS_URL = env_str("REDIS_URL")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "studio_cache",
        }
    )
}

SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("TRUST_X_FORWARDED_PROTO", False) else None
)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# One line per event, each with what it is about: a request id (studio/request_id.py) or the
# run a worker is making (studio/logs.py). Nothing logs the gateway key (gateway/errors.py
# redacts it from every gateway text the studio keeps).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "studio.logs.RequestIdFilter"}},
    "formatters": {
        "line": {
            "()": "studio.logs.OneLineFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "line",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "gallery": {
            "handlers": ["console"],
            "level": env_str("LOG_LEVEL", "INFO"),
            "propagate": False,
        },
        "studio": {
            "handlers": ["console"],
            "level": env_str("LOG_LEVEL", "INFO"),
            "propagate": False,
        },
        "team": {
            "handlers": ["console"],
            "level": env_str("LOG_LEVEL", "INFO"),
            "propagate": False,
        },
        "django_tasks_db": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        # Each task's end is already logged by the runner, image by image.
        "django.tasks": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "django.server": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}

# --- The image gateway ------------------------------------------------------------------------
# With no key the studio offers only its built-in offline renderer.
LLM_GATEWAY_API_KEY = env_str("LLM_GATEWAY_API_KEY")
LLM_GATEWAY_BASE_URL = env_str("LLM_GATEWAY_BASE_URL", "https://api.llmgateway.io/v1").rstrip("/")
GATEWAY_CONNECT_TIMEOUT = env_float("GATEWAY_CONNECT_TIMEOUT", 10.0)
# Some models (GPT Image at high quality) take minutes; the gateway allows 10 minutes a call.
GATEWAY_READ_TIMEOUT = env_float("GATEWAY_READ_TIMEOUT", 600.0)
GATEWAY_WRITE_TIMEOUT = env_float("GATEWAY_WRITE_TIMEOUT", 60.0)
GATEWAY_POOL_TIMEOUT = env_float("GATEWAY_POOL_TIMEOUT", 30.0)
GATEWAY_MAX_RETRIES = env_int("GATEWAY_MAX_RETRIES", 2, minimum=0)
GATEWAY_MAX_RETRY_AFTER = env_float("GATEWAY_MAX_RETRY_AFTER", 30.0)
# The whole of GET /v1/models, connecting to the last byte: the page waits for it.
GATEWAY_MODELS_TIMEOUT = env_float("GATEWAY_MODELS_TIMEOUT", 3.0)
# The whole of one image call: connecting, sending, the gateway's work, retries and their waits,
# reading the answer and fetching a data[].url result. The timeouts above bound each wait, not
# their sum, so an answer trickling in a byte at a time would run for ever. The default is the
# gateway's own 10-minute limit plus 30 s to send and download; it is never below the read
# timeout, so raising that (a slow self-hosted server) does not silently cut calls short.
GATEWAY_CALL_DEADLINE = env_float(
    "GATEWAY_CALL_DEADLINE",
    max(630.0, GATEWAY_READ_TIMEOUT + 30),
    minimum=GATEWAY_READ_TIMEOUT,
)
GATEWAY_MODELS_CACHE_SECONDS = env_int("GATEWAY_MODELS_CACHE_SECONDS", 600, minimum=0)
# Largest image accepted from the gateway (decoded bytes) and when fetching a data[].url result.
GATEWAY_MAX_IMAGE_BYTES = env_int("GATEWAY_MAX_IMAGE_BYTES", 50 * 1024 * 1024, minimum=1)
# Largest answer read from an image call (decoded: a compressed body counts at its full size).
# The largest real answer, a 4K PNG as base64 JSON, is about 35 MB; 48 MB leaves a third again.
GATEWAY_MAX_RESPONSE_BYTES = env_int("GATEWAY_MAX_RESPONSE_BYTES", 48 * 1024 * 1024, minimum=1)
# Whether a data[].url result may point at a private or loopback address (tests only).
GATEWAY_URL_FETCH_ALLOW_PRIVATE = env_bool("GATEWAY_URL_FETCH_ALLOW_PRIVATE", False)
# A PEM file of extra certificate authorities trusted when fetching data[].url results.
GATEWAY_URL_FETCH_CA_FILE = env_str("GATEWAY_URL_FETCH_CA_FILE")
GATEWAY_EDITS_MULTIPART = env_bool("GATEWAY_EDITS_MULTIPART", False)
# Where image answers are streamed while they arrive (a 4K answer is ~18 MB once decoded): a
# folder on a local disk; empty means the system's temporary folder. Files there are removed
# as soon as their image is stored or refused.
GATEWAY_TEMP_DIR = env_str("GATEWAY_TEMP_DIR")

# --- Images and the worker --------------------------------------------------------------------
IMAGE_MAX_PIXELS = env_int("IMAGE_MAX_PIXELS", 50_000_000, minimum=1)
THUMBNAIL_MAX_SIDE = env_int("THUMBNAIL_MAX_SIDE", 512, minimum=64)
# Megabytes of decoded pixels one process may hold at once (uploads and model outputs alike);
# more images wait their turn. An image counts twice its decoded size (the working copy), so
# 512 opens one of the largest allowed (50 megapixels) at a time, three 4096x4096 ones, or
# dozens of ordinary ones.
IMAGE_DECODE_BUDGET_MB = env_int("IMAGE_DECODE_BUDGET_MB", 512, minimum=1)
# How long an upload waits for that budget before it is refused as "the studio is busy".
IMAGE_DECODE_WAIT_SECONDS = env_float("IMAGE_DECODE_WAIT_SECONDS", 10.0)
# Big images (4 megapixels and up) one process decodes at the same time, whatever the budget
# above would allow: each decode keeps a core busy, so more than the cores only adds memory.
IMAGE_DECODE_CONCURRENCY = env_int(
    "IMAGE_DECODE_CONCURRENCY", os.process_cpu_count() or 2, minimum=1
)
# Seconds the offline renderer waits before answering, so progress is visible as with real models.
OFFLINE_RENDER_DELAY = env_float("OFFLINE_RENDER_DELAY", 0.6)
# Runs one worker process works on at the same time (each fans out all its calls at once).
WORKER_CONCURRENCY = env_int("WORKER_CONCURRENCY", 16, minimum=1)
WORKER_POLL_INTERVAL = env_float("WORKER_POLL_INTERVAL", 0.05)
# Processes `manage.py runstudio` starts: web server processes (uvicorn) and task workers. More
# workers, on this machine or others sharing the database, share the queue.
WEB_PROCESSES = env_int("WEB_PROCESSES", 2, minimum=1)
WORKER_PROCESSES = env_int("WORKER_PROCESSES", 1, minimum=0)
# A worker told to stop (SIGTERM: a deploy, Ctrl+C) finishes what it is making for up to this
# long; what is still unfinished then is handed back to the queue for another worker. Keep the
# process manager's stop timeout above it (deploy/studio-worker@.service: TimeoutStopSec).
WORKER_STOP_GRACE_SECONDS = env_float("WORKER_STOP_GRACE_SECONDS", 30.0)
# A running run whose worker has not reported for this long is marked interrupted. It is also
# how old the newest worker heartbeat may be before /healthz says no worker is running.
# A run being made looks for cancelled images when a push wake-up says so, and at least this
# often (a lost wake-up): one indexed read per run.
WORKER_CANCEL_CHECK_SECONDS = env_float("WORKER_CANCEL_CHECK_SECONDS", 1.0, minimum=0.05)
WORKER_STALE_SECONDS = env_int("WORKER_STALE_SECONDS", 45, minimum=5)
# A queued image no worker has picked up for this long is marked interrupted.
QUEUE_TIMEOUT_SECONDS = env_int("QUEUE_TIMEOUT_SECONDS", 900, minimum=10)
# An attached image link is fetched by the worker, and must arrive whole within this many
# seconds (a host sending one byte at a time is given up on, not waited for).
LINK_FETCH_DEADLINE_SECONDS = env_float("LINK_FETCH_DEADLINE_SECONDS", 20.0, minimum=1.0)
CSRF_FAILURE_VIEW = "team.account_views.csrf_failure"
# Deleted runs and images can be restored (Undo) until `manage.py purge_deleted` removes them.
DELETED_RETENTION_DAYS = env_float("DELETED_RETENTION_DAYS", 7.0)
# Select many: one action (star, delete, download) takes at most this many images.
SELECTION_MAX_IMAGES = env_int("SELECTION_MAX_IMAGES", 5000, minimum=1)

# --- Live pages (gallery/push) ----------------------------------------------------------------
# How a change wakes the pages showing it: "local" (Unix datagram sockets in DATA_DIR/push: one
# machine), "postgres" (LISTEN/NOTIFY) or "redis" (pub/sub on REDIS_URL). Empty: redis when
# REDIS_URL is set, else postgres on PostgreSQL, else local.
PUSH_BACKEND = env_str("PUSH_BACKEND")
# The pub/sub channel (postgres, redis): studios sharing a Redis need channels of their own.
PUSH_CHANNEL = env_str("PUSH_CHANNEL", "image_studio_events")
# An open page hears from its stream at least this often (a comment), so dead tabs are noticed.
PUSH_HEARTBEAT_SECONDS = env_float("PUSH_HEARTBEAT_SECONDS", 15.0, minimum=0.1)
# A page reconnecting after more than this many changes is asked to reload instead.
PUSH_CATCH_UP_LIMIT = env_int("PUSH_CATCH_UP_LIMIT", 500, minimum=1)
# Changes are kept this long for pages to catch up from (pruned by the worker and reap_stale).
PUSH_EVENTS_KEEP_HOURS = env_float("PUSH_EVENTS_KEEP_HOURS", 24.0, minimum=0.01)

# --- The studio's own API (api/) ------------------------------------------------------------
# How long a /v1 call waits for its images to be stored before answering 504 (they still land in
# the gallery): the gateway's own 10 minutes a call, plus time to queue and store.
API_WAIT_SECONDS = env_float("API_WAIT_SECONDS", 630.0, minimum=1.0)
# How long a `response_format=url` link to an image's original works.
API_URL_SECONDS = env_int("API_URL_SECONDS", 3600, minimum=1)
# Requests a minute (a sliding 60 s) one token may make, and one member's tokens together; over
# either, a 429 with Retry-After (api/rate_limit.py). 0: no limit.
API_RATE_PER_MINUTE = env_int("API_RATE_PER_MINUTE", 60, minimum=0)
API_RATE_PER_MINUTE_PER_MEMBER = env_int("API_RATE_PER_MINUTE_PER_MEMBER", 120, minimum=0)
