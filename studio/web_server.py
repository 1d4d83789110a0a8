"""The web server's command line, written once: `manage.py runstudio`, the benchmarks' harness
and the browser tests all start the studio this way.

uvicorn serves the ASGI application (studio/asgi.py): Django's pages as before, each request's
synchronous view on a thread of its own, and the live streams as coroutines, so hundreds of open
tabs hold no thread (measured against granian and daphne in bench/compare_asgi_servers.py).
`workers` processes share the port; each has its own push listener (gallery/push)."""

import sys

# Open streams are ended after this long when the server stops (the pages reconnect).
GRACEFUL_SHUTDOWN_SECONDS = 3


def web_command(
    *, host: str = "127.0.0.1", port: int, workers: int = 1, access_log: bool = False
) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "studio.asgi:application",
        "--host", host, "--port", str(port), "--workers", str(workers),
        "--loop", "uvloop", "--http", "httptools",
        # https is decided by Django (TRUST_X_FORWARDED_PROTO), not by uvicorn's own guess.
        "--no-proxy-headers",
        "--timeout-keep-alive", "30",
        "--timeout-graceful-shutdown", str(GRACEFUL_SHUTDOWN_SECONDS),
        "--log-level", "info" if access_log else "warning",
        "--access-log" if access_log else "--no-access-log",
    ]  # fmt: skip
