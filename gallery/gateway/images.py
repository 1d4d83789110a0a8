"""The one seam to the image gateway (see GATEWAY.md): generations, edits and the model list.

All outbound HTTP of the studio goes through here, with explicit timeouts and one error type,
`GatewayError`, whose message is a sentence a person understands and is safe to show in the UI.
Pure Python and httpx: no ORM, and Django settings are read only by `GatewayConfig.from_settings`.

The gateway is not trusted to be well behaved. Every answer is read as a stream with a size limit
(`_read_body`), every exchange has an overall deadline as well as per-phase timeouts, every body
is parsed by `_parse_json` (whose failures are GatewayErrors), and every string taken from an
answer passes `_gateway_text`, which redacts the key before anything is clipped, kept or shown.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import ipaddress
import json
import logging
import math
import re
import socket
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

logger = logging.getLogger(__name__)

# Only these mean "try again shortly"; anything else may already have cost money or will not change.
RETRY_STATUSES = frozenset({429, 502, 503})
# Waits between tries when the gateway gives no Retry-After: 0.5 s, then 1 s, ...
RETRY_BACKOFF_SECONDS = 0.5
# Statuses (besides timeouts and broken connections) a caller may reasonably try again later.
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# A data[].url result is a plain file download: it should be quick, and a slow drip must not
# hold a worker for the gateway's 10-minute budget.
URL_FETCH_TIMEOUT = httpx.Timeout(10.0)
URL_FETCH_DEADLINE_SECONDS = 60.0
# Longest text kept from the gateway: its error messages, error codes and model names.
MAX_DETAIL_CHARS = 500
MAX_CODE_CHARS = 100
MAX_NAME_CHARS = 200
# A rewritten prompt is longer than the 4,000-character prompt it came from, but not a book.
MAX_REVISED_PROMPT_CHARS = 8000
REDACTED = "[redacted]"
# An echo of the key that the gateway itself cut short still carries a long run of it; runs this
# long are redacted too. Shorter ones (a masked "sk-…1234") are what providers show on purpose.
KEY_FRAGMENT_CHARS = 12
# Generous for a list of a few hundred models; error bodies are a sentence or two.
MAX_MODEL_LIST_BYTES = 8 * 1024 * 1024
MAX_ERROR_BODY_BYTES = 64 * 1024
# Compressed bodies are inflated at most this much at a time (see _decoded_chunks), and only
# in the encodings it reads: httpx would also offer br or zstd if their packages were installed.
INFLATE_PIECE_BYTES = 1024 * 1024
ACCEPT_ENCODING = "gzip, deflate"


@dataclass(frozen=True)
class GatewayConfig:
    base_url: str
    api_key: str = field(repr=False)
    connect_timeout: float = 10.0
    read_timeout: float = 600.0
    write_timeout: float = 60.0
    pool_timeout: float = 30.0
    max_retries: int = 2
    max_retry_after: float = 30.0
    max_image_bytes: int = 50 * 1024 * 1024
    allow_private_urls: bool = False
    verify: ssl.SSLContext | bool = True
    edits_multipart: bool = False
    models_timeout: float = 3.0
    call_deadline: float = 630.0
    max_response_bytes: int = 48 * 1024 * 1024

    @classmethod
    def from_settings(cls) -> GatewayConfig:
        # Imported here so the module stays usable (and importable) without Django configured.
        from django.conf import settings

        return cls(
            base_url=settings.LLM_GATEWAY_BASE_URL.rstrip("/"),
            api_key=settings.LLM_GATEWAY_API_KEY or "",
            connect_timeout=settings.GATEWAY_CONNECT_TIMEOUT,
            read_timeout=settings.GATEWAY_READ_TIMEOUT,
            write_timeout=settings.GATEWAY_WRITE_TIMEOUT,
            pool_timeout=settings.GATEWAY_POOL_TIMEOUT,
            max_retries=settings.GATEWAY_MAX_RETRIES,
            max_retry_after=settings.GATEWAY_MAX_RETRY_AFTER,
            max_image_bytes=settings.GATEWAY_MAX_IMAGE_BYTES,
            allow_private_urls=settings.GATEWAY_URL_FETCH_ALLOW_PRIVATE,
            edits_multipart=settings.GATEWAY_EDITS_MULTIPART,
            models_timeout=settings.GATEWAY_MODELS_TIMEOUT,
            call_deadline=settings.GATEWAY_CALL_DEADLINE,
            max_response_bytes=settings.GATEWAY_MAX_RESPONSE_BYTES,
            verify=_tls_with_ca(settings.GATEWAY_URL_FETCH_CA_FILE),
        )


@functools.cache
def _tls_with_ca(ca_file: str) -> ssl.SSLContext | bool:
    """Extra certificate authority for data[].url hosts (a company proxy, or the tests)."""
    if not ca_file:
        return True
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=ca_file)
    return context


class GatewayError(Exception):
    """Any failure talking to the gateway. `message` is safe to show people.

    `status` is the gateway's HTTP status when there was one, `code` the gateway's error code (or
    one of ours: timeout, unreachable, bad_response, content_filtered, bad_image_data,
    too_large, url_fetch), `retryable` whether trying again later may well work.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.retryable = retryable


@dataclass(frozen=True)
class ImageData:
    data: bytes
    revised_prompt: str


@dataclass(frozen=True)
class GatewayResult:
    images: list[ImageData]
    cost: Decimal | None
    latency: float


@dataclass(frozen=True)
class InputImage:
    data: bytes
    mime: str
    filename: str


def async_client(config: GatewayConfig) -> httpx.AsyncClient:
    """The client every concurrent call of one run shares (one connection pool)."""
    return httpx.AsyncClient(
        base_url=config.base_url,
        headers=_gateway_headers(config),
        timeout=httpx.Timeout(
            connect=config.connect_timeout,
            read=config.read_timeout,
            write=config.write_timeout,
            pool=config.pool_timeout,
        ),
        # A compare run fans out models x count calls at once; none should queue for a socket.
        limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
        verify=_default_tls(),
    )


async def generate_image(
    client: httpx.AsyncClient, config: GatewayConfig, *, model: str, prompt: str, params: dict
) -> GatewayResult:
    # n=1 always: several models ignore n, so the caller makes one call per image.
    body = {"model": model, "prompt": prompt, "n": 1, "response_format": "b64_json", **params}
    with _redacting(config):
        return await _images_call(client, config, "/images/generations", {"json": body})


async def edit_image(
    client: httpx.AsyncClient,
    config: GatewayConfig,
    *,
    model: str,
    prompt: str,
    images: list[InputImage],
    params: dict,
) -> GatewayResult:
    if config.edits_multipart:
        # For OpenAI-style servers: one file goes as "image", several as repeated "image[]".
        name = "image" if len(images) == 1 else "image[]"
        fields = {"model": model, "prompt": prompt, "n": "1"}
        fields |= {key: _form_value(value) for key, value in params.items() if value is not None}
        files = [(name, (image.filename, image.data, image.mime)) for image in images]
        request: dict[str, Any] = {"data": fields, "files": files}
    else:
        inputs = [{"image_url": _data_url(image)} for image in images]
        request = {"json": {"model": model, "prompt": prompt, "n": 1, "images": inputs, **params}}
    with _redacting(config):
        return await _images_call(client, config, "/images/edits", request)


def list_image_models(config: GatewayConfig) -> list[dict]:
    """The gateway's image models: [{"id", "name", "input_modalities"}].

    Fails fast: `models_timeout` bounds the whole exchange, body included, because the page waits
    for it. An event loop of its own gives a deadline that can stop a read already under way.
    """
    with _redacting(config):
        return asyncio.run(_list_image_models(config))


async def _list_image_models(config: GatewayConfig) -> list[dict]:
    late = f"The gateway did not list its models within {config.models_timeout:g} s."
    async with _deadline(config.models_timeout, late):
        try:
            async with httpx.AsyncClient(
                base_url=config.base_url,
                headers=_gateway_headers(config),
                timeout=config.models_timeout,
                verify=_default_tls(),
            ) as client:
                answer = await _exchange(
                    client,
                    client.build_request("GET", "/models"),
                    limit=MAX_MODEL_LIST_BYTES,
                    what="The gateway's model list",
                )
        except httpx.TimeoutException as exc:
            raise _timeout_error(late) from exc
        except httpx.HTTPError as exc:
            raise _transport_error(exc, config) from exc
    if not answer.is_success:
        raise _status_error(answer, attempts=1, config=config)
    payload = _parse_json(answer.body, what="The gateway's model list")
    entries = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(entries, list):
        raise GatewayError(
            "The gateway's model list is not in the expected shape (no data list).",
            code="bad_response",
        )
    return [
        {
            "id": _redact(entry["id"], config.api_key),  # kept whole: it is sent back as is
            "name": _gateway_text(
                entry["name"] if isinstance(entry.get("name"), str) else entry["id"],
                config,
                limit=MAX_NAME_CHARS,
            ),
            "input_modalities": _string_list(entry["architecture"].get("input_modalities")),
        }
        for entry in entries
        if _is_image_model(entry)
    ]


# --- The images call ----------------------------------------------------------------------------


async def _images_call(
    client: httpx.AsyncClient, config: GatewayConfig, path: str, request: dict[str, Any]
) -> GatewayResult:
    started = time.perf_counter()
    late = f"The gateway did not finish answering within {config.call_deadline:g} s."
    # The deadline covers every try, the waits between them, reading the answer and fetching
    # data[].url results: the per-phase timeouts alone let a trickling answer run for ever.
    async with _deadline(config.call_deadline, late):
        answer, attempts = await _post_with_retries(client, config, path, request)
        if not answer.is_success:
            raise _status_error(answer, attempts=attempts, config=config)
        payload = _parse_json(answer.body, what="The gateway's answer")
        if not isinstance(payload, dict):
            raise GatewayError(
                "The gateway's answer is not JSON; is the base URL right?",
                code="bad_response",
            )
        items = payload.get("data")
        if not isinstance(items, list):
            detail = _gateway_detail(payload, config)
            raise GatewayError(
                _with_detail("The gateway's answer holds no image list.", detail),
                code="bad_response",
            )
        if not items:
            raise GatewayError(
                "The gateway returned no image — usually the provider's content filter blocked "
                "the prompt. Try rewording it or another model.",
                code="content_filtered",
            )
        images = [
            ImageData(
                data=await _image_bytes(item, config),
                revised_prompt=_revised_prompt(item, config),
            )
            for item in items
        ]
    return GatewayResult(images=images, cost=_cost(payload), latency=time.perf_counter() - started)


async def _post_with_retries(
    client: httpx.AsyncClient, config: GatewayConfig, path: str, request: dict[str, Any]
) -> tuple[_Answer, int]:
    attempt = 1
    while True:
        try:
            answer = await _exchange(
                client,
                client.build_request("POST", path, **request),
                limit=config.max_response_bytes,
                what="The gateway's answer",
            )
        except httpx.HTTPError as exc:
            # Not retried: the gateway may already be working on (and charging for) the image.
            raise _transport_error(exc, config) from exc
        if answer.status not in RETRY_STATUSES or attempt > config.max_retries:
            return answer, attempt
        delay = _retry_delay(answer, attempt=attempt, config=config)
        logger.info(
            "Gateway answered %s to %s (try %d of %d); trying again in %.1f s",
            answer.status,
            path,
            attempt,
            config.max_retries + 1,
            delay,
        )
        await asyncio.sleep(delay)
        attempt += 1


def _retry_delay(answer: _Answer, *, attempt: int, config: GatewayConfig) -> float:
    header = answer.headers.get("retry-after")
    wait = _parse_retry_after(header) if header else None
    if wait is None:
        return RETRY_BACKOFF_SECONDS * 2 ** (attempt - 1)
    # A gateway asking for minutes would stall the whole run; the cap keeps the wait bounded.
    return min(wait, config.max_retry_after)


def _parse_retry_after(value: str) -> float | None:
    """Retry-After as seconds or an HTTP date; None when it is neither."""
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(seconds, 0.0) if math.isfinite(seconds) else None


async def _image_bytes(item: object, config: GatewayConfig) -> bytes:
    if isinstance(item, dict):
        if isinstance(b64 := item.get("b64_json"), str) and b64:
            return _decode_b64(b64, config)
        if isinstance(url := item.get("url"), str) and url:
            return await _fetch_image_url(url, config)
    raise GatewayError(
        "The gateway's answer holds an image entry with neither b64_json nor url.",
        code="bad_response",
    )


def _decode_b64(text: str, config: GatewayConfig) -> bytes:
    if text.startswith("data:"):
        text = text.partition(",")[2]
    compact = "".join(text.split())  # some servers wrap base64 in lines
    # Refuse an oversized image before spending memory on decoding it.
    if len(compact) // 4 * 3 > config.max_image_bytes + 2:
        raise _too_large("The image", config.max_image_bytes)
    try:
        data = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise GatewayError(
            "The gateway's image data is not valid base64.", code="bad_image_data"
        ) from exc
    if not data:
        raise GatewayError("The gateway returned an empty image.", code="bad_image_data")
    if len(data) > config.max_image_bytes:
        raise _too_large("The image", config.max_image_bytes)
    return data


def _revised_prompt(item: object, config: GatewayConfig) -> str:
    value = item.get("revised_prompt") if isinstance(item, dict) else None
    return (
        _gateway_text(value, config, limit=MAX_REVISED_PROMPT_CHARS)
        if isinstance(value, str)
        else ""
    )


def _cost(payload: dict) -> Decimal | None:
    usage = payload.get("usage")
    cost = usage.get("cost") if isinstance(usage, dict) else None
    if isinstance(cost, bool) or not isinstance(cost, int | float | str):
        return None
    try:
        value = Decimal(str(cost))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


# --- data[].url results -------------------------------------------------------------------------


async def _fetch_image_url(
    url: str, config: GatewayConfig, *, what: str = "The gateway's image URL"
) -> bytes:
    """Download an image URL the gateway handed back, without letting it reach inside our network.

    The hostname is resolved once, every address is checked, and the connection goes to a checked
    address (TLS still verifies the name through SNI), so DNS rebinding cannot swap in a private
    address between the check and the connect.
    """
    target = checked_image_url(url, config, what=what)
    host = target.raw_host.decode("ascii")
    try:
        async with asyncio.timeout(URL_FETCH_DEADLINE_SECONDS):
            addresses = await _resolve(host, target.port or 443)
            if not config.allow_private_urls:
                for address in addresses:
                    if _is_private(address):
                        raise _private_url_error(what, host)
            return await _download(target, addresses, config)
    except TimeoutError as exc:
        raise _url_error(
            f"Downloading the image from {host} took longer than {URL_FETCH_DEADLINE_SECONDS:g} s."
        ) from exc
    except httpx.TimeoutException as exc:
        raise _url_error(f"The image host {host} did not answer in time.") from exc
    except httpx.HTTPError as exc:
        raise _url_error(
            f"Could not download the image from {host} ({_reason(exc, config)})."
        ) from exc


def checked_image_url(
    url: str, config: GatewayConfig, *, what: str = "The image link"
) -> httpx.URL:
    """The checks on an image URL that need no network: valid, https, with a host, and not a
    private address written as a number. Fetching repeats them, then checks every address the
    host resolves to; callers use this to refuse a bad link at once, before queueing a fetch."""
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise _url_error(f"{what} is not a valid URL.") from exc
    if target.scheme != "https":
        raise _url_error(f"{what} is not https; only https image URLs are fetched.")
    host = target.raw_host.decode("ascii")
    if not host:
        raise _url_error(f"{what} has no host.")
    if not config.allow_private_urls:
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None  # a name: checked once it is resolved
        if literal is not None and _is_private(str(literal)):
            raise _private_url_error(what, host)
    return target


async def fetch_image(url: str, config: GatewayConfig) -> bytes:
    """Download an image from a link a person gave (to edit it), with the same guards as a
    data[].url result: https only, never a private or local address, size-capped."""
    with _redacting(config):
        return await _fetch_image_url(url, config, what="The image link")


async def _resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise _url_error(f"Could not resolve the image host {host}.") from exc
    # dict.fromkeys keeps the resolver's order (it prefers what is reachable) without duplicates.
    return list(dict.fromkeys(str(info[4][0]).partition("%")[0] for info in infos))


def _is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        not ip.is_global
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


async def _download(target: httpx.URL, addresses: list[str], config: GatewayConfig) -> bytes:
    # No auth header here: the URL's host is not the gateway. No redirects: they skip the checks.
    async with httpx.AsyncClient(
        verify=_default_tls() if config.verify is True else config.verify,
        timeout=URL_FETCH_TIMEOUT,
        follow_redirects=False,
        trust_env=False,
    ) as fetcher:
        failure: Exception = _url_error(f"The image host {target.host} has no address.")
        for address in addresses:
            request = fetcher.build_request(
                "GET",
                target.copy_with(host=address),
                headers={
                    "Host": target.netloc.decode("ascii"),
                    "Accept": "image/*",
                    "Accept-Encoding": ACCEPT_ENCODING,
                },
                extensions={"sni_hostname": target.raw_host.decode("ascii")},
            )
            try:
                response = await fetcher.send(request, stream=True)
            except httpx.ConnectError as exc:
                failure = exc  # try the host's next address
                continue
            try:
                return await _read_capped(response, config)
            finally:
                await response.aclose()
        raise failure


async def _read_capped(response: httpx.Response, config: GatewayConfig) -> bytes:
    if response.status_code != 200:
        raise _url_error(f"The image URL answered with HTTP {response.status_code}.")
    data = await _read_body(response, limit=config.max_image_bytes, what="The image")
    if not data:
        raise _url_error("The image URL returned an empty file.")
    return data


# --- Reading answers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Answer:
    """A gateway answer read in full, within its size limit: what the rest of the module parses."""

    status: int
    headers: httpx.Headers
    body: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300


async def _exchange(
    client: httpx.AsyncClient, request: httpx.Request, *, limit: int, what: str
) -> _Answer:
    """Send `request` and read its answer: a success body up to `limit` bytes, an error body up
    to MAX_ERROR_BODY_BYTES (a longer or garbled one adds no detail; the status still speaks)."""
    response = await client.send(request, stream=True)
    try:
        if response.is_success:
            body = await _read_body(response, limit=limit, what=what)
        else:
            try:
                body = await _read_body(
                    response, limit=MAX_ERROR_BODY_BYTES, what="The gateway's error message"
                )
            except GatewayError:
                body = b""
    finally:
        await response.aclose()
    return _Answer(status=response.status_code, headers=response.headers, body=body)


async def _read_body(response: httpx.Response, *, limit: int, what: str) -> bytes:
    """The body, decoded, refused as soon as it passes `limit` bytes: every answer is read here,
    so none can take more memory than its limit, however small it was on the wire."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(what, limit)
    chunks: list[bytes] = []
    received = 0
    try:
        async for chunk in _decoded_chunks(response, what=what):
            received += len(chunk)
            if received > limit:
                raise _too_large(what, limit)
            chunks.append(chunk)
    except zlib.error as exc:
        raise GatewayError(f"{what} is not valid compressed data.", code="bad_response") from exc
    return b"".join(chunks)


async def _decoded_chunks(response: httpx.Response, *, what: str) -> AsyncIterator[bytes]:
    """The body as it arrives, inflated at most INFLATE_PIECE_BYTES at a time.

    Not httpx's own decoding: it inflates a whole network read at once, so 64 KB of a gzip bomb
    becomes a single 64 MB chunk before any limit can look at it.
    """
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        async for chunk in response.aiter_raw():
            yield chunk
        return
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise GatewayError(
            f"{what} uses a compression the studio cannot read ({_clip(encoding, 40)}).",
            code="bad_response",
        )
    inflater = zlib.decompressobj(32 + zlib.MAX_WBITS)  # zlib tells gzip and deflate apart
    async for chunk in response.aiter_raw():
        while chunk:
            yield inflater.decompress(chunk, INFLATE_PIECE_BYTES)
            chunk = inflater.unconsumed_tail
    yield inflater.flush()  # at most the tail of one back-reference once the input is used up


def _parse_json(body: bytes, *, what: str) -> Any:
    """The body as JSON. Any way that can fail is the gateway's fault and a GatewayError, including
    nesting deep enough to exhaust Python's recursion limit (a RecursionError, not a ValueError)."""
    try:
        return json.loads(body)
    except RecursionError as exc:
        raise GatewayError(
            f"{what} is nested too deeply to be read as JSON.", code="bad_response"
        ) from exc
    except ValueError as exc:  # also undecodable bytes (UnicodeDecodeError)
        raise GatewayError(
            f"{what} is not JSON; is the base URL right?", code="bad_response"
        ) from exc


def _json_or_none(body: bytes) -> Any:
    try:
        return _parse_json(body, what="The body")
    except GatewayError:
        return None


@asynccontextmanager
async def _deadline(seconds: float, message: str) -> AsyncIterator[None]:
    """A limit on a whole exchange. Per-phase timeouts bound each wait, not their sum: an answer
    trickling in a byte at a time restarts the read timeout with every byte."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError as exc:
        raise _timeout_error(message) from exc


# --- Errors -------------------------------------------------------------------------------------

# Each says what happened in words; the status number follows for whoever has to dig further.
_STATUS_SENTENCES = {
    400: "The gateway rejected the request's parameters",
    401: "The gateway did not accept the API key; an admin needs to check the gateway key",
    402: "The gateway account is out of credits",
    403: "The gateway refused this request (forbidden)",
    404: "The gateway does not know this model or endpoint",
    413: "The request was too large for the gateway (try fewer or smaller input images)",
    429: "The gateway is rate limiting requests",
    500: "The gateway had an internal error",
    502: "The image provider behind the gateway returned an error",
    503: "The gateway is unavailable right now",
    504: "The gateway timed out waiting for the image provider",
}


def _status_error(answer: _Answer, *, attempts: int, config: GatewayConfig) -> GatewayError:
    status = answer.status
    sentence = _STATUS_SENTENCES.get(status, "The gateway answered with an error")
    sentence += f" (HTTP {status})."
    if attempts > 1:
        sentence += f" Gave up after {attempts} tries."
    payload = _json_or_none(answer.body)
    detail = (
        _plain_text_detail(answer, config) if payload is None else _gateway_detail(payload, config)
    )
    return GatewayError(
        _with_detail(sentence, detail),
        status=status,
        code=_gateway_code(payload, config),
        retryable=status in TRANSIENT_STATUSES,
    )


def _gateway_detail(payload: object, config: GatewayConfig) -> str:
    """The gateway's own message from either envelope:
    {"error": {"message": ...}} (current) or {"error": true, "message": ...} (older)."""
    if not isinstance(payload, dict):
        return ""
    error = payload.get("error")
    candidates = [
        error.get("message") if isinstance(error, dict) else error,
        payload.get("message"),
        payload.get("detail"),
    ]
    for value in candidates:
        if isinstance(value, str) and value.strip():
            return _gateway_text(value, config)
    return ""


def _gateway_code(payload: object, config: GatewayConfig) -> str | None:
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        for key in ("code", "type"):
            if isinstance(error.get(key), str) and error[key]:
                return _gateway_text(error[key], config, limit=MAX_CODE_CHARS)
    return None


def _plain_text_detail(answer: _Answer, config: GatewayConfig) -> str:
    # A proxy's HTML error page says nothing a person can act on, nor does JSON that would not
    # parse; a short text body may.
    text = answer.body.decode("utf-8", "replace").strip()
    content_type = answer.headers.get("content-type", "")
    if not text or text.startswith("<") or "html" in content_type or "json" in content_type:
        return ""
    return _gateway_text(text, config)


def _with_detail(sentence: str, detail: str) -> str:
    return f"{sentence} The gateway said: {detail}" if detail else sentence


def _gateway_text(value: str, config: GatewayConfig, *, limit: int = MAX_DETAIL_CHARS) -> str:
    """A string taken from the gateway, made safe to show and store: the key redacted, then clipped.

    In that order: a cut first could leave a piece of an echoed key that redaction no longer
    recognises, while a cut after it can only shorten "[redacted]".
    """
    return _clip(_redact(value, config.api_key), limit)


def _redact(text: str, key: str) -> str:
    """`text` with the key, and any run of KEY_FRAGMENT_CHARS or more of its characters, replaced
    by [redacted]."""
    if not key or not text:
        return text
    width = min(len(key), KEY_FRAGMENT_CHARS)
    windows = {key[start : start + width] for start in range(len(key) - width + 1)}
    spans: list[list[int]] = []
    for start in sorted(found for window in windows for found in _find_all(text, window)):
        if spans and start <= spans[-1][1]:
            spans[-1][1] = start + width  # overlapping runs of the key: one redaction
        else:
            spans.append([start, start + width])
    pieces, position = [], 0
    for start, end in spans:
        pieces += [text[position:start], REDACTED]
        position = end
    return "".join(pieces) + text[position:]


def _find_all(text: str, part: str) -> Iterator[int]:
    found = text.find(part)
    while found != -1:
        yield found
        found = text.find(part, found + 1)


def _clip(text: str, limit: int = MAX_DETAIL_CHARS) -> str:
    """`text` on one line, cut to `limit` characters. Only the words that fit are looked at, so a
    megabyte of text costs no more than a sentence."""
    words: list[str] = []
    length = -1
    for match in re.finditer(r"\S+", text):
        words.append(match[0])
        length += 1 + len(match[0])
        if length > limit:
            break
    line = " ".join(words)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _transport_error(exc: httpx.HTTPError, config: GatewayConfig) -> GatewayError:
    host = httpx.URL(config.base_url).netloc.decode("ascii")
    match exc:
        case httpx.ConnectTimeout():
            message = (
                f"Could not connect to the gateway at {host} within {config.connect_timeout:g} s."
            )
        case httpx.ReadTimeout():
            message = f"The gateway did not answer within {config.read_timeout:g} s."
        case httpx.WriteTimeout():
            message = (
                f"Sending the request to the gateway took longer than {config.write_timeout:g} s."
            )
        case httpx.PoolTimeout():
            message = (
                f"No connection to the gateway came free within {config.pool_timeout:g} s "
                "(too many requests at once)."
            )
        case httpx.ConnectError():
            message = f"Could not reach the gateway at {host} ({_reason(exc, config)})."
        case httpx.RemoteProtocolError():
            message = "The gateway closed the connection without a complete answer."
        case httpx.NetworkError():
            message = f"The connection to the gateway broke ({_reason(exc, config)})."
        case _:
            message = f"Talking to the gateway failed ({_reason(exc, config)})."
    code = "timeout" if isinstance(exc, httpx.TimeoutException) else "unreachable"
    return GatewayError(message, code=code, retryable=True)


def _reason(exc: Exception, config: GatewayConfig) -> str:
    return _gateway_text(str(exc), config) or type(exc).__name__


def _url_error(message: str) -> GatewayError:
    return GatewayError(message, code="url_fetch")


def _too_large(what: str, limit: int) -> GatewayError:
    megabytes = limit / (1024 * 1024)
    return GatewayError(f"{what} is larger than the {megabytes:g} MB limit.", code="too_large")


def _timeout_error(message: str) -> GatewayError:
    return GatewayError(message, code="timeout", retryable=True)


def _private_url_error(what: str, host: str) -> GatewayError:
    return _url_error(f"{what} points at a private or local address ({host}); it was not fetched.")


@contextmanager
def _redacting(config: GatewayConfig) -> Iterator[None]:
    """Whatever fails below, the key never leaves in a message (upstream may echo it).

    A net under `_gateway_text`, which already redacts each string where it is taken from an
    answer; this catches the rest, such as a host name taken from a data[].url.
    """
    try:
        yield
    except GatewayError as exc:
        message = _redact(exc.message, config.api_key)
        code = _redact(exc.code, config.api_key) if exc.code else None
        if (message, code) != (exc.message, exc.code):
            raise GatewayError(
                message, status=exc.status, code=code, retryable=exc.retryable
            ) from None
        raise


# --- Small helpers ------------------------------------------------------------------------------


@functools.cache
def _default_tls() -> ssl.SSLContext:
    # Loading the CA bundle takes tens of milliseconds; every client can share one context.
    return httpx.create_ssl_context()


def _gateway_headers(config: GatewayConfig) -> dict[str, str]:
    return {"Authorization": f"Bearer {config.api_key}", "Accept-Encoding": ACCEPT_ENCODING}


def _data_url(image: InputImage) -> str:
    return f"data:{image.mime};base64,{base64.b64encode(image.data).decode('ascii')}"


def _form_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _string_list(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


# The longest model id the studio stores (gallery.models.Image.model); a longer one, or one with
# control characters, is not a model anyone could pick.
MAX_MODEL_ID_CHARS = 200


def _is_image_model(entry: object) -> bool:
    if not isinstance(entry, dict) or not isinstance(model_id := entry.get("id"), str):
        return False
    if not 0 < len(model_id) <= MAX_MODEL_ID_CHARS or not model_id.isprintable():
        return False
    architecture = entry.get("architecture")
    if not isinstance(architecture, dict):
        return False
    outputs = architecture.get("output_modalities")
    return isinstance(outputs, list) and "image" in outputs
