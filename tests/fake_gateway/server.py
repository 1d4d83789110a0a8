"""A real loopback HTTP server that speaks the image gateway's protocol (see GATEWAY.md).

Tests, benchmarks and browser tests talk to it over real sockets instead of patching httpx:

    with FakeGateway() as fake:
        config = GatewayConfig(base_url=fake.base_url, api_key=fake.api_key)
        ...                                    # call the code under test
        [call] = fake.calls(path="images/generations", model="gpt-image-2")
        assert call.json["n"] == 1

What it answers by default
    POST /v1/images/generations, /v1/images/edits   200 with one real PNG (b64_json), a
        revised_prompt ("A picture of <prompt>") and usage.cost (`fake.cost`, default 0.01; None
        leaves usage out). The PNG's size follows the request: `aspect_ratio` (+ `image_size`
        tier 0.5K/1K/2K/4K, default 1K; 1K is about one megapixel) wins over `size` "WxH", as on
        the real gateway; otherwise 1024x1024. It is one flat colour, picked from model + prompt
        so different prompts give different images (`png_bytes`; an indexed PNG, so it costs
        microseconds even at 4K). A missing prompt, or an edit without (valid) input images, gets
        the gateway's 400 in the older envelope.
    GET /v1/models   {"data": fake.models} (DEFAULT_MODELS: three image models, one text model).
    A wrong or missing key gets 401 in the current envelope; unknown paths get 404.
    `fake.default_delay` seconds pass before every image call is answered (default 0).

Scripting faults: `fake.add_rule(...)`
    The first rule whose `model` and `path` match (None = any model; path None = any image call,
    use path="models" for the model list) and that has `times` left (None = forever) decides the
    answer, after `delay` seconds (on top of `default_delay`). Paths match on their end, so
    "edits", "images/edits" and "/v1/images/edits" are the same. Without `response=`, the rule
    answers `status` with `body` (dict/list as JSON, str as text, bytes raw; None gives a normal
    success for 200 and the current error envelope with a stock message otherwise) plus
    `headers`, e.g. add_rule(status=429, headers={"Retry-After": "1"}, times=1).
    `trickle=(n, seconds)` sends the rule's answer (any of them) slowly: the status line and
    headers at once, then the body n bytes at a time with `seconds` before each piece, until it
    is done or reset() / stop() drops the connection.

    Canned answers, by name (`response=`):
        error_new    {"error": {"message", "type", "param", "code"}}; status 400 unless given;
                     body str = the message, body dict = fields of the error object
        error_old    {"error": true, "status": ..., "message": ...}; same status/body rules
        not_json     an HTML page (status 200 unless given; body str replaces the page)
        empty_data   200 with "data": [] (what a content filter looks like)
        bad_base64   200 with b64_json that is not base64
        not_image    200 with valid base64 of bytes that are not an image
        bomb         200 with a tiny PNG whose header declares 30000x30000 pixels
        gzip_bomb    200 (or `status`), Content-Encoding: gzip: about 0.5 MB on the wire that inflates
                     to a 512 MB image answer ({"data": [{"b64_json": "AAAA…"}]}); `gzip_bomb()`
        nested_json  200 (or `status`) with 200,000 nested JSON arrays ("[[[…]]]"), for any path
        echo_key     200 success whose revised_prompt repeats the API key
        url          200 with data[].url: body str is the URL, else an https URL on the
                     built-in HTTPS image host (started on demand) serving the usual PNG
        no_usage     200 success without "usage"
        hang         never answers (until reset() or stop(); then the connection drops)
        close        drops the connection without answering

HTTPS image host (for data[].url): `start_https()` serves registered bytes over TLS on
127.0.0.1 with a throwaway `trustme` CA; `https_url_for(data)` registers bytes and returns their
URL (host "localhost" by default, so TLS checks the name via SNI; `trickle=` seconds sends the
body one byte at a time, a host that never quite stops); `ssl_context` is a client context
trusting the CA (pass it as GatewayConfig.verify). `https_requests` records its requests.

Every request is recorded (`fake.requests`, `fake.calls(path=..., model=...)`) as a
RecordedRequest: method, path, lower-case headers, json body or multipart fields/files
(UploadedFile), raw body, received_at (time.perf_counter(), comparable with the caller's clock),
and the `.model` / `.params` it carried. `fake.reset()` forgets rules and requests.

Each connection gets its own thread (HTTP/1.1 keep-alive), so hundreds of slow requests are
answered at once rather than one after another.

Standalone, for benchmarks and manual use:
    python -m tests.fake_gateway --port 8765 --delay 1.0
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import hashlib
import json
import math
import re
import secrets
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
import zlib
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

DEFAULT_API_KEY = "fake-gateway-key-4f9c2d71"
IMAGE_PATHS = ("/v1/images/generations", "/v1/images/edits")
HANG_SECONDS = 3600.0
NESTED_JSON_DEPTH = 200_000
GZIP_BOMB_BYTES = 512 * 1024 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Pixel side of a square image at each resolution tier (1K is about one megapixel).
TIER_SIDES = {"0.5K": 512, "1K": 1024, "2K": 2048, "4K": 4096}
MAX_SIDE = 8192
CANNED_RESPONSES = frozenset(
    {
        "error_new",
        "error_old",
        "not_json",
        "empty_data",
        "bad_base64",
        "not_image",
        "bomb",
        "gzip_bomb",
        "nested_json",
        "echo_key",
        "url",
        "no_usage",
        "hang",
        "close",
    }
)
DEFAULT_MODELS: list[dict[str, Any]] = [
    {
        "id": "gemini-3.1-flash-image-preview",
        "name": "Gemini 3.1 Flash Image (Preview)",
        "architecture": {
            "input_modalities": ["text", "image"],
            "output_modalities": ["text", "image"],
        },
    },
    {
        "id": "gpt-image-2",
        "name": "GPT Image 2",
        "architecture": {"input_modalities": ["text", "image"], "output_modalities": ["image"]},
    },
    {
        "id": "alibaba/qwen-image-plus",
        "name": "Qwen Image Plus",
        "architecture": {"input_modalities": ["text"], "output_modalities": ["image"]},
    },
    {
        "id": "gpt-4o-mini",
        "name": "GPT-4o mini",
        "architecture": {"input_modalities": ["text", "image"], "output_modalities": ["text"]},
    },
]
ERROR_DEFAULTS: dict[int, tuple[str, str, str]] = {  # status: (message, type, code)
    400: (
        "Invalid request parameters: prompt: Required",
        "invalid_request_error",
        "invalid_request",
    ),
    401: ("Invalid API key", "authentication_error", "invalid_api_key"),
    402: ("Insufficient credits: add credits to continue", "billing_error", "insufficient_credits"),
    403: ("This API key may not use this model", "permission_error", "forbidden"),
    404: ("Model not found", "invalid_request_error", "model_not_found"),
    413: ("Request entity too large", "invalid_request_error", "payload_too_large"),
    429: ("Rate limit exceeded, please retry later", "rate_limit_error", "rate_limited"),
    500: (
        "The model did not generate any images. "
        "Try a different model with image generation capabilities.",
        "server_error",
        "no_images",
    ),
    502: ("The upstream provider returned an error", "upstream_error", "upstream_error"),
    503: ("Service temporarily unavailable", "server_error", "unavailable"),
    504: ("The upstream provider timed out", "upstream_error", "upstream_timeout"),
}


@dataclass(frozen=True)
class UploadedFile:
    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    json: Any = None
    fields: dict[str, str] = field(default_factory=dict)
    files: list[UploadedFile] = field(default_factory=list)
    body: bytes = b""
    received_at: float = 0.0
    sni: str | None = None

    @property
    def model(self) -> str | None:
        source = self.json if isinstance(self.json, dict) else self.fields
        value = source.get("model")
        return value if isinstance(value, str) else None

    @property
    def params(self) -> dict[str, Any]:
        """The request's parameters, from the JSON body or the multipart text fields."""
        return dict(self.json) if isinstance(self.json, dict) else dict(self.fields)


@dataclass
class Rule:
    model: str | None = None
    path: str | None = None
    status: int = 200
    body: bytes | str | dict | list | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    times: int | None = None
    response: str | None = None
    trickle: tuple[int, float] | None = None
    hits: int = 0

    def matches(self, request: RecordedRequest) -> bool:
        if self.path is None:
            if not (request.method == "POST" and request.path in IMAGE_PATHS):
                return False
        elif not path_matches(self.path, request.path):
            return False
        return self.model is None or self.model == request.model


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    chunked: bool = False
    trickle: tuple[int, float] | None = None  # (bytes, seconds before each piece)


class FakeGateway:
    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        port: int = 0,
        default_delay: float = 0.0,
        cost: float | None = 0.01,
    ) -> None:
        self.api_key = api_key
        self.port = port
        self.default_delay = default_delay
        self.cost = cost
        self.models: list[dict[str, Any]] = [dict(model) for model in DEFAULT_MODELS]
        self.rules: list[Rule] = []
        self._requests: list[RecordedRequest] = []
        self._https_requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._release_hangs = threading.Event()  # set (and replaced) by reset() and stop()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._https_server: _Server | None = None
        self._https_thread: threading.Thread | None = None
        self._https_lock = threading.Lock()
        self._ca: Any = None
        self._client_context: ssl.SSLContext | None = None
        self._blobs: dict[str, Reply] = {}
        self._connections: set[socket.socket] = set()

    # --- Life cycle ---------------------------------------------------------------------------

    def start(self) -> FakeGateway:
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", self.port), _GatewayHandler, self)
        self.port = self._server.server_address[1]
        self._thread = _serve_in_thread(self._server, "fake-gateway")
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
            self._https_requests.clear()
            released, self._release_hangs = self._release_hangs, threading.Event()
        released.set()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def https_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._https_requests)

    def calls(self, path: str | None = None, model: str | None = None) -> list[RecordedRequest]:
        return [
            request
            for request in self.requests
            if (path is None or path_matches(path, request.path))
            and (model is None or request.model == model)
        ]

    # --- HTTPS image host ---------------------------------------------------------------------

    def start_https(self) -> str:
        """Start the TLS image host (idempotent); returns its origin."""
        with self._https_lock:
            if self._https_server is None:
                import trustme  # test-only dependency; imported when actually needed

                self._ca = trustme.CA()
                server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                self._ca.issue_cert("localhost", "127.0.0.1").configure_cert(server_context)
                server_context.sni_callback = _remember_sni
                client_context = ssl.create_default_context()
                self._ca.configure_trust(client_context)
                self._client_context = client_context
                server = _Server(("127.0.0.1", 0), _ImageHostHandler, self)
                # The handshake happens in the handler thread, so a slow client blocks no one else.
                server.socket = server_context.wrap_socket(
                    server.socket, server_side=True, do_handshake_on_connect=False
                )
                self._https_server = server
                self._https_thread = _serve_in_thread(server, "fake-gateway-https")
            return f"https://localhost:{self._https_server.server_address[1]}"

    @property
    def https_port(self) -> int:
        self.start_https()
        assert self._https_server is not None
        return self._https_server.server_address[1]

    def write_ca_pem(self, path) -> str:
        """Write the HTTPS host's CA certificate (PEM) to `path`, for GATEWAY_URL_FETCH_CA_FILE."""
        self.start_https()
        self._ca.cert_pem.write_to_path(str(path))
        return str(path)

    @property
    def ssl_context(self) -> ssl.SSLContext:
        self.start_https()
        assert self._client_context is not None
        return self._client_context

    def https_url_for(
        self,
        data: bytes,
        *,
        content_type: str = "image/png",
        host: str = "localhost",
        chunked: bool = False,
        trickle: float = 0.0,
    ) -> str:
        """Serve `data` from the HTTPS image host; `chunked` leaves out Content-Length;
        `trickle` sends the body one byte every that many seconds (until reset() or stop())."""
        port = self.https_port
        token = secrets.token_hex(8)
        with self._lock:
            self._blobs[f"/files/{token}"] = Reply(
                200,
                data,
                content_type=content_type,
                chunked=chunked,
                trickle=(1, trickle) if trickle else None,
            )
        return f"https://{host}:{port}/files/{token}"

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
            return self._apply_rule(rule, request)
        if request.method == "GET" and path_matches("models", request.path):
            return json_reply(200, {"object": "list", "data": self.models})
        if is_image_call:
            if problem := request_problem(request):
                return error_reply(400, "error_old", problem)
            return json_reply(200, self.success_body(request))
        return error_reply(404, "error_new", f"Route {request.method} {request.path} not found")

    def _authorized(self, headers: dict[str, str]) -> bool:
        bearer = headers.get("authorization", "")
        return bearer == f"Bearer {self.api_key}" or headers.get("x-api-key") == self.api_key

    def _apply_rule(self, rule: Rule, request: RecordedRequest) -> Reply | str:
        if rule.response in ("hang", "close"):
            return rule.response
        if rule.response is None:
            if rule.body is None:
                reply = (
                    json_reply(200, self.success_body(request))
                    if rule.status < 400
                    else error_reply(rule.status, "error_new")
                )
            else:
                reply = body_reply(rule.status, rule.body)
        elif rule.response in ("error_new", "error_old"):
            status = rule.status if rule.status >= 400 else 400
            reply = error_reply(status, rule.response, rule.body)
        elif rule.response == "not_json":
            page = (
                rule.body
                if isinstance(rule.body, str)
                else "<html><body>Upstream hiccup</body></html>"
            )
            reply = Reply(rule.status, page.encode(), content_type="text/html; charset=utf-8")
        elif rule.response == "nested_json":
            depth = NESTED_JSON_DEPTH
            reply = Reply(rule.status, b"[" * depth + b"]" * depth)
        elif rule.response == "gzip_bomb":
            reply = Reply(rule.status, gzip_bomb(), headers={"Content-Encoding": "gzip"})
        else:
            reply = json_reply(rule.status, self._canned_success(rule, request))
        return Reply(
            reply.status,
            reply.body,
            content_type=rule.headers.get("Content-Type", reply.content_type),
            headers=reply.headers
            | {k: v for k, v in rule.headers.items() if k.lower() != "content-type"},
            trickle=rule.trickle,
        )

    def _canned_success(self, rule: Rule, request: RecordedRequest) -> dict[str, Any]:
        body = self.success_body(request, usage=rule.response != "no_usage")
        [item] = body["data"]
        match rule.response:
            case "empty_data":
                body["data"] = []
            case "bad_base64":
                item["b64_json"] = "this is not base64!!"
            case "not_image":
                item["b64_json"] = base64.b64encode(b"just some text, not an image").decode()
            case "bomb":
                item["b64_json"] = base64.b64encode(bomb_png()).decode()
            case "echo_key":
                item["revised_prompt"] = f"{item['revised_prompt']} (sent with key {self.api_key})"
            case "url":
                png = base64.b64decode(item.pop("b64_json"))
                item["url"] = rule.body if isinstance(rule.body, str) else self.https_url_for(png)
        return body

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


# --- Requests and replies -----------------------------------------------------------------------


def path_matches(pattern: str, path: str) -> bool:
    pattern = pattern.strip("/")
    return path.strip("/") == pattern or path.endswith("/" + pattern)


def request_problem(request: RecordedRequest) -> str:
    """The gateway's 400 message for a malformed image request, or ""."""
    params = request.params
    if request.json is not None and not isinstance(request.json, dict):
        return "Invalid request parameters: body must be a JSON object"
    if not isinstance(params.get("prompt"), str) or not params["prompt"].strip():
        return "Invalid request parameters: prompt: Required"
    if not request.path.endswith("/edits"):
        return ""
    if isinstance(request.json, dict):
        images = request.json.get("images")
        if not isinstance(images, list) or not images:
            return "Invalid request parameters: images: Required"
        for index, image in enumerate(images):
            url = image.get("image_url") if isinstance(image, dict) else None
            if not isinstance(url, str) or not url.startswith(("https://", "data:")):
                return f"images[{index}].image_url must be an https URL or a base64 data URL"
        return ""
    if not any(upload.field in ("image", "image[]", "file") for upload in request.files):
        return "Invalid request parameters: image: Required"
    return ""


def json_reply(status: int, payload: Any) -> Reply:
    return Reply(status, json.dumps(payload).encode())


def body_reply(status: int, body: bytes | str | dict | list) -> Reply:
    if isinstance(body, bytes):
        return Reply(status, body, content_type="application/octet-stream")
    if isinstance(body, str):
        return Reply(status, body.encode(), content_type="text/plain; charset=utf-8")
    return json_reply(status, body)


def error_reply(status: int, envelope: str, body: str | dict | Any = None) -> Reply:
    message, kind, code = ERROR_DEFAULTS.get(
        status, (f"Request failed with status {status}", "server_error", "error")
    )
    if isinstance(body, str):
        message = body
    if envelope == "error_old":
        return json_reply(status, {"error": True, "status": status, "message": message})
    error = {"message": message, "type": kind, "param": None, "code": code}
    if isinstance(body, dict):
        error.update(body)
    return json_reply(status, {"error": error})


def parse_body(
    headers: dict[str, str], body: bytes
) -> tuple[Any, dict[str, str], list[UploadedFile]]:
    content_type = headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        return (None, *parse_multipart(body, content_type))
    if not body:
        return None, {}, []
    try:
        return json.loads(body), {}, []
    except ValueError:
        return None, {}, []


def parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, str], list[UploadedFile]]:
    boundary = _header_param("content-type", content_type, "boundary")
    fields: dict[str, str] = {}
    files: list[UploadedFile] = []
    if not boundary:
        return fields, files
    for part in body.split(b"--" + boundary.encode())[1:]:
        if part.startswith(b"--"):  # the closing delimiter
            break
        head, _, data = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        data = data.removesuffix(b"\r\n")
        part_headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            part_headers[name.strip().lower()] = value.strip()
        disposition = part_headers.get("content-disposition", "")
        name = _header_param("content-disposition", disposition, "name") or ""
        filename = _header_param("content-disposition", disposition, "filename")
        if filename is None:
            fields[name] = data.decode("utf-8", "replace")
        else:
            content = part_headers.get("content-type", "application/octet-stream")
            files.append(
                UploadedFile(field=name, filename=filename, content_type=content, data=data)
            )
    return fields, files


def _header_param(header: str, value: str, param: str) -> str | None:
    message = Message()
    message[header] = value
    found = message.get_param(param, header=header)
    return found if isinstance(found, str) else None


# --- Images -------------------------------------------------------------------------------------


def image_size_for(params: dict[str, Any]) -> tuple[int, int]:
    """Pixel size for a request: aspect_ratio (+ image_size tier) wins over size, as upstream."""
    ratio = str(params.get("aspect_ratio") or "")
    tier = str(params.get("image_size") or "")
    if match := re.fullmatch(r"(\d+):(\d+)", ratio):
        across, down = int(match[1]), int(match[2])
        if across and down:
            area = TIER_SIDES.get(tier, 1024) ** 2
            width = math.sqrt(area * across / down)
            return _clamp(width, width * down / across)
    if match := re.fullmatch(r"(\d+)x(\d+)", str(params.get("size") or "")):
        return _clamp(int(match[1]), int(match[2]))
    side = TIER_SIDES.get(tier, 1024)
    return side, side


def _clamp(width: float, height: float) -> tuple[int, int]:
    # Multiples of 8 like real models, and never big enough to exhaust the test machine.
    def side(value: float) -> int:
        return min(MAX_SIDE, max(8, round(value / 8) * 8))

    return side(width), side(height)


def colour_for(model: str, prompt: str) -> tuple[int, int, int]:
    digest = hashlib.sha256(f"{model}\n{prompt}".encode()).digest()
    return digest[0], digest[1], digest[2]


def png_bytes(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    """A real one-colour PNG, made in microseconds so hundreds of calls cost nothing.

    It is an indexed PNG: every pixel is palette entry 0, so the compressed pixel rows depend
    only on the size (cached) and the colour lives in the 3-byte palette.
    """
    header = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)  # 8-bit, indexed colour
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"PLTE", bytes(colour))
        + _chunk(b"IDAT", _blank_rows(width, height))
        + _chunk(b"IEND", b"")
    )


@functools.lru_cache(maxsize=32)
def _blank_rows(width: int, height: int) -> bytes:
    return zlib.compress(bytes(1 + width) * height)  # per row: filter type 0, then index 0s


def png_b64(width: int, height: int, colour: tuple[int, int, int]) -> str:
    return base64.b64encode(png_bytes(width, height, colour)).decode("ascii")


@functools.cache
def bomb_png(width: int = 30_000, height: int = 30_000) -> bytes:
    """A valid-looking PNG of a few hundred bytes whose header declares width x height pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(bytes(1 + width * 3) * 4)  # a few rows; a decoder would want the rest
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", rows) + _chunk(b"IEND", b"")


@functools.cache
def gzip_bomb(size: int = GZIP_BOMB_BYTES) -> bytes:
    """A gzip body that inflates to an image answer of about `size` bytes, its b64_json all "A".

    Made in a fraction of a second rather than by compressing `size` bytes: after a full flush
    the compressor starts afresh, so every 1 MB block of "A"s compresses to the same bytes and
    one compressed block can simply be repeated. The gzip trailer's CRC is computed alongside.
    """
    head, tail, block = b'{"data": [{"b64_json": "', b'"}]}', b"A" * (1024 * 1024)
    blocks = (size - len(head) - len(tail)) // len(block)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)  # raw deflate: we add the frame
    start = deflate.compress(head) + deflate.flush(zlib.Z_FULL_FLUSH)
    middle = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    end = deflate.compress(tail) + deflate.flush()
    crc = zlib.crc32(head)
    for _ in range(blocks):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(tail, crc)
    length = len(head) + blocks * len(block) + len(tail)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # gzip, deflate, no name, no time
    trailer = struct.pack("<II", crc, length & 0xFFFFFFFF)
    return header + start + middle * blocks + end + trailer


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


# --- Server plumbing ----------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for hanging or keep-alive handlers
    request_queue_size = 1024  # hundreds of clients connect at once in the benchmarks
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type, fake: FakeGateway) -> None:
        self.fake = fake
        super().__init__(address, handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can stall without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (a timeout test, a failed TLS check) is not worth a traceback.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def _serve_in_thread(server: _Server, name: str) -> threading.Thread:
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, name=name, daemon=True
    )
    thread.start()
    return thread


def _remember_sni(ssl_socket: Any, server_name: str | None, context: ssl.SSLContext) -> None:
    ssl_socket.fake_sni = server_name


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real gateway
    server_version = "FakeGateway/1.0"
    timeout = 120  # idle keep-alive connections go away eventually
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.fake._lock:
            self.server.fake._connections.add(self.connection)
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.fake._lock:
                self.server.fake._connections.discard(self.connection)

    def log_message(self, *args: Any) -> None:
        pass  # tests read fake.requests; a line per request would only be noise

    def read_request(self) -> RecordedRequest:
        headers = {name.lower(): value for name, value in self.headers.items()}
        length = int(headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        json_body, fields, files = parse_body(headers, body)
        return RecordedRequest(
            method=self.command,
            path=urlsplit(self.path).path,
            headers=headers,
            json=json_body,
            fields=fields,
            files=files,
            body=body,
            received_at=time.perf_counter(),
            sni=getattr(self.connection, "fake_sni", None),
        )

    def send(self, reply: Reply, release: threading.Event | None = None) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.trickle:
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.flush()
            size, seconds = reply.trickle
            for start in range(0, len(reply.body), size):
                if (release or self.server.fake._stopping).wait(seconds):
                    self.close_connection = True  # reset() or stop(): drop it half-sent
                    return
                self.wfile.write(reply.body[start : start + size])
                self.wfile.flush()
        elif reply.chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(reply.body), 16 * 1024):
                piece = reply.body[start : start + 16 * 1024]
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        self.wfile.flush()


class _GatewayHandler(_Handler):
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
            release.wait(HANG_SECONDS)
        if isinstance(reply, str):  # hang (now over) or close: drop the connection unanswered
            self.close_connection = True
            return
        self.send(reply, release)


class _ImageHostHandler(_Handler):
    def do_GET(self) -> None:
        fake = self.server.fake
        request = self.read_request()
        fake._record(request, https=True)
        with fake._lock:
            reply = fake._blobs.get(request.path)
        self.send(reply or Reply(404, b"not found", content_type="text/plain"))


# --- Standalone ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a fake image gateway on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each image answer")
    parser.add_argument("--key", default=DEFAULT_API_KEY, help="the API key it accepts")
    parser.add_argument("--cost", type=float, default=0.01, help="usage.cost of each image")
    args = parser.parse_args(argv)
    fake = FakeGateway(api_key=args.key, port=args.port, default_delay=args.delay, cost=args.cost)
    with fake:
        print(f"LLM_GATEWAY_BASE_URL={fake.base_url}")
        print(f"LLM_GATEWAY_API_KEY={fake.api_key}")
        print("Serving; Ctrl+C stops.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
