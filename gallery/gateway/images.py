"""Generations and edits: POST /images/generations and /images/edits, one image a call.

Each call has one overall deadline (GatewayConfig.call_deadline) covering every try, the waits
between them, reading the answer and fetching data[].url results. Only a status that means "try
again shortly" is retried; a broken connection is not, as the image may already be paid for.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import io
import json
import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any, BinaryIO

import httpcore
import httpx

from gallery.answer_stream import ParsedAnswer, StreamedImage
from gallery.gateway.config import GatewayConfig, default_tls, gateway_headers
from gallery.gateway.errors import (
    GatewayError,
    gateway_text,
    redacting,
    transport_error,
    with_detail,
)
from gallery.gateway.fetch import fetch_image_url
from gallery.gateway.reading import Answer, deadline, exchange, gateway_detail, status_error
from gallery.gateway.spool import Spool, Spools, read_image_answer

logger = logging.getLogger(__name__)

# Only these mean "try again shortly"; anything else may already have cost money or will not change.
RETRY_STATUSES = frozenset({429, 502, 503})
# Waits between tries when the gateway gives no Retry-After: 0.5 s, then 1 s, ...
RETRY_BACKOFF_SECONDS = 0.5
# A rewritten prompt is longer than the 4,000-character prompt it came from, but not a book.
MAX_REVISED_PROMPT_CHARS = 8000


class ImageData:
    """One image of an answer: its bytes in memory (a data[].url download, the offline renderer)
    or in a temporary file (a b64_json answer, streamed there by gateway.spool). Read it with
    `open()` or `read()`; `path` is the file, if there is one, for readers that want a name."""

    __slots__ = ("_data", "_spool", "revised_prompt")

    def __init__(
        self, data: bytes | None = None, *, revised_prompt: str = "", spool: Spool | None = None
    ) -> None:
        if (data is None) == (spool is None):
            raise ValueError("An image is either bytes or a temporary file.")
        self._data = data
        self._spool = spool
        self.revised_prompt = revised_prompt

    @property
    def path(self) -> str | None:
        return self._spool.path if self._spool is not None else None

    @property
    def size(self) -> int:
        return self._spool.size if self._spool is not None else len(self._data)

    @property
    def source(self) -> bytes | str:
        """The file's path, or the bytes: what gallery.imaging reads."""
        return self._spool.path if self._spool is not None else self._data

    def open(self) -> BinaryIO:
        return open(self._spool.path, "rb") if self._spool is not None else io.BytesIO(self._data)

    def read(self) -> bytes:
        with self.open() as file:
            return file.read()

    @property
    def data(self) -> bytes:
        """All the bytes at once; `open()` reads them a piece at a time."""
        return self.read()

    def discard(self) -> None:
        """Remove the temporary file, if any (a file moved away meanwhile is fine)."""
        if self._spool is not None:
            self._spool.remove()


@dataclass(frozen=True)
class GatewayResult:
    images: list[ImageData]
    cost: Decimal | None
    latency: float

    def close(self) -> None:
        """Remove the images' temporary files: call it once they are stored or refused."""
        for image in self.images:
            image.discard()

    def __enter__(self) -> GatewayResult:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass(frozen=True)
class InputImage:
    data: bytes
    mime: str
    filename: str


# httpcore reads a response 64 KB at a time, each read a trip through h11, httpcore, anyio and
# httpx: a 4K answer (~25 MB) took 37 ms of CPU to read at that size, 22 ms at 256 KB (asyncio
# hands over at most 256 KB a read anyway). The attribute is httpcore's own knob; it only sets
# how much one read may return.
httpcore.AsyncHTTP11Connection.READ_NUM_BYTES = 256 * 1024


def async_client(config: GatewayConfig) -> httpx.AsyncClient:
    """The client every concurrent call of one run shares (one connection pool)."""
    return httpx.AsyncClient(
        base_url=config.base_url,
        headers=gateway_headers(config),
        timeout=httpx.Timeout(
            connect=config.connect_timeout,
            read=config.read_timeout,
            write=config.write_timeout,
            pool=config.pool_timeout,
        ),
        # A compare run fans out models x count calls at once; none should queue for a socket.
        limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
        verify=default_tls(),
    )


async def generate_image(
    client: httpx.AsyncClient, config: GatewayConfig, *, model: str, prompt: str, params: dict
) -> GatewayResult:
    # n=1 always: several models ignore n, so the caller makes one call per image.
    body = {"model": model, "prompt": prompt, "n": 1, "response_format": "b64_json", **params}
    with redacting(config):
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
    with redacting(config):
        return await _images_call(client, config, "/images/edits", request)


async def _images_call(
    client: httpx.AsyncClient, config: GatewayConfig, path: str, request: dict[str, Any]
) -> GatewayResult:
    started = time.perf_counter()
    late = f"The gateway did not finish answering within {config.call_deadline:g} s."
    # The deadline covers every try, the waits between them, reading the answer and fetching
    # data[].url results: the per-phase timeouts alone let a trickling answer run for ever.
    async with deadline(config.call_deadline, late):
        answer, attempts = await _post_with_retries(client, config, path, request)
        if not answer.is_success:
            raise status_error(answer, attempts=attempts, config=config)
        parsed, spools = answer.streamed
        try:
            images, payload = await _answer_images(parsed, spools, config)
        except BaseException:
            spools.close()
            raise
    return GatewayResult(images=images, cost=_cost(payload), latency=time.perf_counter() - started)


async def _answer_images(
    parsed: ParsedAnswer, spools: Spools, config: GatewayConfig
) -> tuple[list[ImageData], dict]:
    """The answer's images (their files handed on; any other file removed) and its payload."""
    payload = parsed.payload
    if not isinstance(payload, dict):
        raise GatewayError(
            "The gateway's answer is not JSON; is the base URL right?",
            code="bad_response",
        )
    items = payload.get("data")
    if not isinstance(items, list):
        detail = gateway_detail(payload, config)
        raise GatewayError(
            with_detail("The gateway's answer holds no image list.", detail),
            code="bad_response",
        )
    if not items:
        raise GatewayError(
            "The gateway returned no image — usually the provider's content filter blocked "
            "the prompt. Try rewording it or another model.",
            code="content_filtered",
        )
    images = []
    for item in items:
        images.append(await _image(item, spools, config))
    kept = {image.path for image in images}
    spools.close(keep=frozenset(i for i, spool in enumerate(spools.files) if spool.path in kept))
    return images, payload


async def _post_with_retries(
    client: httpx.AsyncClient, config: GatewayConfig, path: str, request: dict[str, Any]
) -> tuple[Answer, int]:
    attempt = 1
    while True:
        try:
            answer = await exchange(
                client,
                client.build_request("POST", path, **request),
                limit=config.max_response_bytes,
                what="The gateway's answer",
                read_success=functools.partial(
                    read_image_answer, config=config, what="The gateway's answer"
                ),
            )
        except httpx.HTTPError as exc:
            # Not retried: the gateway may already be working on (and charging for) the image.
            raise transport_error(exc, config) from exc
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


def _retry_delay(answer: Answer, *, attempt: int, config: GatewayConfig) -> float:
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


async def _image(item: object, spools: Spools, config: GatewayConfig) -> ImageData:
    if isinstance(item, dict):
        revised_prompt = _revised_prompt(item, config)
        if isinstance(streamed := item.get("b64_json"), StreamedImage):
            if not streamed.size:
                raise GatewayError("The gateway returned an empty image.", code="bad_image_data")
            return ImageData(spool=spools.files[streamed.index], revised_prompt=revised_prompt)
        if isinstance(url := item.get("url"), str) and url:
            data = await fetch_image_url(url, config)
            return ImageData(data=data, revised_prompt=revised_prompt)
    raise GatewayError(
        "The gateway's answer holds an image entry with neither b64_json nor url.",
        code="bad_response",
    )


def _revised_prompt(item: object, config: GatewayConfig) -> str:
    value = item.get("revised_prompt") if isinstance(item, dict) else None
    return (
        gateway_text(value, config, limit=MAX_REVISED_PROMPT_CHARS)
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


def _data_url(image: InputImage) -> str:
    return f"data:{image.mime};base64,{base64.b64encode(image.data).decode('ascii')}"


def _form_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)
