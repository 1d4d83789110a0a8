"""The gateway's one error type, and the words it carries.

Every failure is a `GatewayError` whose message is a sentence a person understands and is safe to
show in the UI. Every string taken from the gateway passes `gateway_text`, which redacts the key
before anything is clipped, kept or shown; `redacting` is the net under it for the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from gallery.gateway.config import GatewayConfig

# Longest text kept from the gateway's error messages (codes and model names have their own).
MAX_DETAIL_CHARS = 500
REDACTED = "[redacted]"
# An echo of the key that the gateway itself cut short still carries a long run of it; runs this
# long are redacted too. Shorter ones (a masked "sk-…1234") are what providers show on purpose.
KEY_FRAGMENT_CHARS = 12


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


def status_sentence(status: int, *, attempts: int) -> str:
    """What an error status means, in words, then its number and how many tries it took."""
    sentence = _STATUS_SENTENCES.get(status, "The gateway answered with an error")
    sentence += f" (HTTP {status})."
    if attempts > 1:
        sentence += f" Gave up after {attempts} tries."
    return sentence


def with_detail(sentence: str, detail: str) -> str:
    return f"{sentence} The gateway said: {detail}" if detail else sentence


def transport_error(exc: httpx.HTTPError, config: GatewayConfig) -> GatewayError:
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
            message = f"Could not reach the gateway at {host} ({reason(exc, config)})."
        case httpx.RemoteProtocolError():
            message = "The gateway closed the connection without a complete answer."
        case httpx.NetworkError():
            message = f"The connection to the gateway broke ({reason(exc, config)})."
        case _:
            message = f"Talking to the gateway failed ({reason(exc, config)})."
    code = "timeout" if isinstance(exc, httpx.TimeoutException) else "unreachable"
    return GatewayError(message, code=code, retryable=True)


def reason(exc: Exception, config: GatewayConfig) -> str:
    return gateway_text(str(exc), config) or type(exc).__name__


def url_error(message: str) -> GatewayError:
    return GatewayError(message, code="url_fetch")


def too_large(what: str, limit: int) -> GatewayError:
    megabytes = limit / (1024 * 1024)
    return GatewayError(f"{what} is larger than the {megabytes:g} MB limit.", code="too_large")


def timeout_error(message: str) -> GatewayError:
    return GatewayError(message, code="timeout", retryable=True)


def private_url_error(what: str, host: str) -> GatewayError:
    return url_error(f"{what} points at a private or local address ({host}); it was not fetched.")


# --- Redaction ----------------------------------------------------------------------------------


@contextmanager
def redacting(config: GatewayConfig) -> Iterator[None]:
    """Whatever fails below, the key never leaves in a message (upstream may echo it).

    A net under `gateway_text`, which already redacts each string where it is taken from an
    answer; this catches the rest, such as a host name taken from a data[].url.
    """
    try:
        yield
    except GatewayError as exc:
        message = redact(exc.message, config.api_key)
        code = redact(exc.code, config.api_key) if exc.code else None
        if (message, code) != (exc.message, exc.code):
            raise GatewayError(
                message, status=exc.status, code=code, retryable=exc.retryable
            ) from None
        raise


def gateway_text(value: str, config: GatewayConfig, *, limit: int = MAX_DETAIL_CHARS) -> str:
    """A string taken from the gateway, made safe to show and store: the key redacted, then clipped.

    In that order: a cut first could leave a piece of an echoed key that redaction no longer
    recognises, while a cut after it can only shorten "[redacted]".
    """
    return clip(redact(value, config.api_key), limit)


def redact(text: str, key: str) -> str:
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


def clip(text: str, limit: int = MAX_DETAIL_CHARS) -> str:
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
