"""The fake gateway itself: its life cycle, scripting, the requests it recorded, and how it
routes each request to an answer."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
from typing import Any

from tests.fake_gateway.answers import (
    CANNED_RESPONSES,
    DEFAULT_MODELS,
    Rule,
    error_reply,
    request_problem,
    rule_reply,
)
from tests.fake_gateway.https_host import HttpsImageHost
from tests.fake_gateway.images import colour_for, image_size_for, photo_b64, png_b64
from tests.fake_gateway.plumbing import Handler, Server, serve_in_thread
from tests.fake_gateway.wire import IMAGE_PATHS, RecordedRequest, Reply, json_reply, path_matches

DEFAULT_API_KEY = "fake-gateway-key-4f9c2d71"
HANG_SECONDS = 3600.0


class FakeGateway(HttpsImageHost):
    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        port: int = 0,
        default_delay: float = 0.0,
        cost: float | None = 0.01,
        photo_size: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.port = port
        self.default_delay = default_delay
        self.cost = cost
        self.photo_size = photo_size
        self.models: list[dict[str, Any]] = [dict(model) for model in DEFAULT_MODELS]
        self.rules: list[Rule] = []
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._release_hangs = threading.Event()  # set (and replaced) by reset() and stop()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._abandoned: list[tuple[RecordedRequest, float]] = []

    # --- Life cycle ---------------------------------------------------------------------------

    def start(self) -> FakeGateway:
        self._stopping.clear()
        self._server = Server(("127.0.0.1", self.port), _GatewayHandler, self)
        self.port = self._server.server_address[1]
        self._thread = serve_in_thread(self._server, "fake-gateway")
        return self

    def stop(self) -> None:
        # Wake delayed and hanging handlers first, so nothing waits on them.
        self._stopping.set()
        self._release_hangs.set()
        for server, thread in (
            (self._server, self._thread),
            (self._https_server, self._https_thread),
        ):
            if server is not None:
                server.shutdown()
                server.server_close()
            if thread is not None:
                thread.join(timeout=5)
        with self._lock:
            connections = list(self._connections)
        for connection in connections:  # idle keep-alive connections block their thread in recv
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._server = self._thread = self._https_server = self._https_thread = None

    def __enter__(self) -> FakeGateway:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # --- Scripting ----------------------------------------------------------------------------

    def add_rule(
        self,
        *,
        model: str | None = None,
        path: str | None = None,
        status: int = 200,
        body: bytes | str | dict | list | None = None,
        headers: dict | None = None,
        delay: float = 0.0,
        times: int | None = None,
        response: str | None = None,
        trickle: tuple[int, float] | None = None,
    ) -> Rule:
        if response is not None and response not in CANNED_RESPONSES:
            raise ValueError(
                f"Unknown canned response {response!r}; one of {sorted(CANNED_RESPONSES)}"
            )
        rule = Rule(
            model=model,
            path=path,
            status=status,
            body=body,
            headers=dict(headers or {}),
            delay=delay,
            times=times,
            response=response,
            trickle=trickle,
        )
        with self._lock:
            self.rules.append(rule)
        return rule

    def reset(self) -> None:
        """Forget rules and recorded requests, and drop hanging requests.

        Models, cost and default_delay stay as set. Lets one server serve a whole test session.
        """
        with self._lock:
            self.rules.clear()
            self._requests.clear()
            self._abandoned.clear()
            self._https_requests.clear()
            released, self._release_hangs = self._release_hangs, threading.Event()
        released.set()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def abandoned(self) -> list[tuple[RecordedRequest, float]]:
        """The hanging requests whose client closed the connection while waiting, each with
        when the close was seen (time.perf_counter())."""
        with self._lock:
            return list(self._abandoned)

    def calls(self, path: str | None = None, model: str | None = None) -> list[RecordedRequest]:
        return [
            request
            for request in self.requests
            if (path is None or path_matches(path, request.path))
            and (model is None or request.model == model)
        ]

    # --- Answering ----------------------------------------------------------------------------

    def _record(self, request: RecordedRequest, *, https: bool = False) -> None:
        with self._lock:
            (self._https_requests if https else self._requests).append(request)

    def _take_rule(self, request: RecordedRequest) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if (rule.times is None or rule.hits < rule.times) and rule.matches(request):
                    rule.hits += 1
                    return rule
        return None

    def _answer(self, request: RecordedRequest) -> Reply | str:
        """The reply for a gateway request, or "hang" / "close"."""
        if not self._authorized(request.headers):
            return error_reply(401, "error_new")
        rule = self._take_rule(request)
        is_image_call = request.method == "POST" and request.path in IMAGE_PATHS
        delay = (self.default_delay if is_image_call else 0.0) + (rule.delay if rule else 0.0)
        if delay > 0:
            self._stopping.wait(delay)
        if rule is not None:
            return rule_reply(self, rule, request)
        if request.method == "GET" and path_matches("models", request.path):
            return json_reply(200, {"object": "list", "data": self.models})
        if is_image_call:
            if problem := request_problem(request):
                return error_reply(400, "error_old", problem)
            if self.photo_size is not None:
                return self._photo_reply(request)
            return json_reply(200, self.success_body(request))
        return error_reply(404, "error_new", f"Route {request.method} {request.path} not found")

    def _authorized(self, headers: dict[str, str]) -> bool:
        bearer = headers.get("authorization", "")
        return bearer == f"Bearer {self.api_key}" or headers.get("x-api-key") == self.api_key

    def success_body(self, request: RecordedRequest, *, usage: bool = True) -> dict[str, Any]:
        """The gateway's 200 answer for an image request: one PNG sized as asked."""
        params = request.params
        prompt = str(params.get("prompt", ""))
        width, height = image_size_for(params)
        colour = colour_for(request.model or "", prompt)
        body: dict[str, Any] = {
            "created": int(time.time()),
            "data": [
                {
                    "b64_json": png_b64(width, height, colour),
                    "revised_prompt": f"A picture of {prompt}",
                }
            ],
        }
        if usage and self.cost is not None:
            body["usage"] = {"prompt_tokens": 0, "completion_tokens": 0, "cost": self.cost}
        return body

    def _photo_reply(self, request: RecordedRequest) -> Reply:
        """success_body with the photo, put together as bytes: json.dumps would scan the
        ~25-47 MB of base64 on every call, CPU the benchmarks' studio should have."""
        body = self.success_body(request)
        body["data"][0]["b64_json"] = "PHOTO"
        head, _, tail = json.dumps(body).encode().partition(b'"PHOTO"')
        return Reply(200, b"".join((head, b'"', photo_b64(*self.photo_size), b'"', tail)))


class _GatewayHandler(Handler):
    def do_GET(self) -> None:
        self.answer()

    def do_POST(self) -> None:
        self.answer()

    def answer(self) -> None:
        fake = self.server.fake
        request = self.read_request()
        fake._record(request)
        release = fake._release_hangs  # the one current when the request came in
        reply = fake._answer(request)
        if reply == "hang":
            self.hang(request, release)
        if isinstance(reply, str):  # hang (now over) or close: drop the connection unanswered
            self.close_connection = True
            return
        self.send(reply, release)

    def hang(self, request: RecordedRequest, release: threading.Event) -> None:
        """Answer nothing until released, watching the socket: a client that gives up and
        closes its connection is noted in `fake.abandoned()`."""
        fake = self.server.fake
        deadline = time.monotonic() + HANG_SECONDS
        while not release.is_set() and time.monotonic() < deadline:
            readable, _, _ = select.select([self.connection], [], [], 0.02)
            if not readable:
                continue
            try:
                peeked = self.connection.recv(1, socket.MSG_PEEK)
            except OSError:
                peeked = b""
            if not peeked:  # end of stream: the client closed the connection
                with fake._lock:
                    fake._abandoned.append((request, time.perf_counter()))
                return
            release.wait(0.02)  # bytes of a next request (not expected while waiting)
