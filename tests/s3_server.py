"""A real S3 API on loopback for the tests: moto's server (`moto[server]`) in a thread, behind a
fault switch, so a test can make the bucket answer 500 or 503, or hang, for some requests.

    with S3Server() as s3:
        s3.fail("PUT", status=503)            # every write answers 503
        s3.fail("GET", status=500, path="thumbs/")  # reads of thumbnails answer 500
        s3.hang("PUT")                        # writes never answer (until released)
        s3.stall("GET", after=512 * 1024)     # bodies stop after 512 KB (until released)
        s3.clear()

Requests are counted by method (`s3.requests`), so a test can see what reached the bucket.
"""

import threading
import time
from collections import Counter
from dataclasses import dataclass

from moto.moto_server.threaded_moto_server import MotoRequestHandler
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

ERROR_CODES = {500: "InternalError", 503: "ServiceUnavailable"}
HANG_LIMIT_SECONDS = 60.0


@dataclass
class Fault:
    method: str
    path: str
    status: int | None  # None: hang
    times: int | None  # how many requests it hits (None: all)
    stall_after: int | None = None  # answer, but stop sending the body after this many bytes


class S3Server:
    def __init__(self) -> None:
        self._app = DomainDispatcherApplication(create_backend_app)
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self.requests: Counter[str] = Counter()
        self._server = make_server(
            "127.0.0.1", 0, self, threaded=True, request_handler=MotoRequestHandler
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "S3Server":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._release.set()
        self._server.shutdown()
        self._thread.join(timeout=10)

    # --- faults -----------------------------------------------------------------------------
    def fail(self, method: str, *, status: int, path: str = "", times: int | None = None) -> None:
        """Answer `status` (an S3 error document) to `method` requests whose path contains
        `path`, `times` times (None: until cleared)."""
        with self._lock:
            self._faults.append(Fault(method.upper(), path, status, times))

    def hang(self, method: str, *, path: str = "") -> None:
        """Never answer `method` requests (until cleared or the server stops)."""
        with self._lock:
            self._release.clear()
            self._faults.append(Fault(method.upper(), path, None, None))

    def stall(self, method: str, *, after: int, path: str = "") -> None:
        """Answer `method` requests, but send only the first `after` bytes of the body until
        released (clear(), release() or the server stopping; at most HANG_LIMIT_SECONDS)."""
        with self._lock:
            self._release.clear()
            self._faults.append(Fault(method.upper(), path, None, None, stall_after=after))

    def release(self) -> None:
        self._release.set()

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._release.set()
            self.requests.clear()

    def _fault_for(self, method: str, path: str) -> Fault | None:
        with self._lock:
            self.requests[method] += 1
            for fault in self._faults:
                if fault.method == method and fault.path in path:
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    # --- WSGI -------------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        fault = self._fault_for(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""))
        if fault is None:
            return self._app(environ, start_response)
        if fault.stall_after is not None:
            return self._stalled(self._app(environ, start_response), fault.stall_after)
        _drain(environ)
        if fault.status is None:
            self._release.wait(HANG_LIMIT_SECONDS)
            time.sleep(0.05)
            status = 503
        else:
            status = fault.status
        code = ERROR_CODES.get(status, "InternalError")
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>Injected by the tests</Message>"
            "<RequestId>tests</RequestId></Error>"
        ).encode()
        start_response(
            f"{status} {code}",
            [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))],
        )
        return [body]

    def _stalled(self, chunks, after: int):
        data = b"".join(chunks)
        yield data[:after]
        self._release.wait(HANG_LIMIT_SECONDS)
        yield data[after:]


def _drain(environ) -> None:
    """Read the request's body, so the client is not cut off while still sending it."""
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length:
        stream.read(int(length))
    elif environ.get("wsgi.input_terminated"):
        stream.read()
