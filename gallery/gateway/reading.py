"""Reading the gateway's answers, none of which is trusted to be well behaved.

Every answer is read as a stream within a size limit (`read_body`), inflated a piece at a time,
parsed by `parse_json` (whose failures are GatewayErrors) and held to an overall deadline as well
as per-phase timeouts (`deadline`). An error answer becomes a GatewayError saying what the status
means, with the gateway's own message when it gave one (`status_error`).
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from gallery.gateway.errors import (
    GatewayError,
    clip,
    gateway_text,
    status_sentence,
    timeout_error,
    too_large,
    with_detail,
)

if TYPE_CHECKING:
    from gallery.gateway.config import GatewayConfig

# Error bodies are a sentence or two; a longer one adds nothing a person could act on.
MAX_ERROR_BODY_BYTES = 64 * 1024
# Compressed bodies are inflated at most this much at a time (see decoded_chunks).
INFLATE_PIECE_BYTES = 1024 * 1024
# Longest error code kept from the gateway.
MAX_CODE_CHARS = 100
# Statuses (besides timeouts and broken connections) a caller may reasonably try again later.
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Answer:
    """A gateway answer read in full, within its size limit: what the rest of the package parses."""

    status: int
    headers: httpx.Headers
    body: bytes
    streamed: Any = None  # what `read_success` made of a successful answer, instead of body

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300


async def exchange(
    client: httpx.AsyncClient,
    request: httpx.Request,
    *,
    limit: int,
    what: str,
    read_success: Callable[[httpx.Response], Awaitable[Any]] | None = None,
) -> Answer:
    """Send `request` and read its answer: a success body up to `limit` bytes (or, given
    `read_success`, whatever that makes of the streamed response), an error body up to
    MAX_ERROR_BODY_BYTES (a longer or garbled one adds no detail; the status still speaks)."""
    response = await client.send(request, stream=True)
    try:
        if response.is_success and read_success is not None:
            streamed = await read_success(response)
            return Answer(response.status_code, response.headers, b"", streamed=streamed)
        if response.is_success:
            body = await read_body(response, limit=limit, what=what)
        else:
            try:
                body = await read_body(
                    response, limit=MAX_ERROR_BODY_BYTES, what="The gateway's error message"
                )
            except GatewayError:
                body = b""
    finally:
        await response.aclose()
    return Answer(status=response.status_code, headers=response.headers, body=body)


async def read_body(response: httpx.Response, *, limit: int, what: str) -> bytes:
    """The body, decoded, refused as soon as it passes `limit` bytes: every answer is read here,
    so none can take more memory than its limit, however small it was on the wire."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(what, limit)
    chunks: list[bytes] = []
    received = 0
    try:
        async for chunk in _decoded_chunks(response, what=what):
            received += len(chunk)
            if received > limit:
                raise too_large(what, limit)
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
            f"{what} uses a compression the studio cannot read ({clip(encoding, 40)}).",
            code="bad_response",
        )
    inflater = zlib.decompressobj(32 + zlib.MAX_WBITS)  # zlib tells gzip and deflate apart
    async for chunk in response.aiter_raw():
        while chunk:
            yield inflater.decompress(chunk, INFLATE_PIECE_BYTES)
            chunk = inflater.unconsumed_tail
    yield inflater.flush()  # at most the tail of one back-reference once the input is used up


def parse_json(body: bytes, *, what: str) -> Any:
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
        return parse_json(body, what="The body")
    except GatewayError:
        return None


@asynccontextmanager
async def deadline(seconds: float, message: str) -> AsyncIterator[None]:
    """A limit on a whole exchange. Per-phase timeouts bound each wait, not their sum: an answer
    trickling in a byte at a time restarts the read timeout with every byte."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError as exc:
        raise timeout_error(message) from exc


# --- Error answers ------------------------------------------------------------------------------


def status_error(answer: Answer, *, attempts: int, config: GatewayConfig) -> GatewayError:
    """The error for an unsuccessful answer: what its status means, then what the gateway said."""
    payload = _json_or_none(answer.body)
    detail = (
        _plain_text_detail(answer, config) if payload is None else gateway_detail(payload, config)
    )
    return GatewayError(
        with_detail(status_sentence(answer.status, attempts=attempts), detail),
        status=answer.status,
        code=_gateway_code(payload, config),
        retryable=answer.status in TRANSIENT_STATUSES,
    )


def gateway_detail(payload: object, config: GatewayConfig) -> str:
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
            return gateway_text(value, config)
    return ""


def _gateway_code(payload: object, config: GatewayConfig) -> str | None:
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        for key in ("code", "type"):
            if isinstance(error.get(key), str) and error[key]:
                return gateway_text(error[key], config, limit=MAX_CODE_CHARS)
    return None


def _plain_text_detail(answer: Answer, config: GatewayConfig) -> str:
    # A proxy's HTML error page says nothing a person can act on, nor does JSON that would not
    # parse; a short text body may.
    text = answer.body.decode("utf-8", "replace").strip()
    content_type = answer.headers.get("content-type", "")
    if not text or text.startswith("<") or "html" in content_type or "json" in content_type:
        return ""
    return gateway_text(text, config)
