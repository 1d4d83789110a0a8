"""Reading an images answer as it arrives, without ever holding its images as one string.

A 4K image comes back as ~25 MB of base64 in one JSON string. Reading that body whole, then
json.loads and base64 on it, holds three or four copies of the image per image in flight and
blocks the event loop for ~100 ms. ``AnswerReader`` is fed the body chunk by chunk instead:

* every ``b64_json`` value is decoded as it streams past, in blocks of BLOCK_BYTES with pybase64,
  and the bytes are written to a sink the caller opens for it (a temporary file, say);
* everything else (the answer's small skeleton: ``created``, ``revised_prompt``, ``url``,
  ``usage``, an error envelope) is kept as JSON text, with a placeholder where each image was,
  and parsed with json.loads when the body is complete.

The reader's own memory is about one block plus the skeleton, whatever the size of the images or
the chunks. It is pure and synchronous (no Django, no httpx, no event loop): ``feed()`` costs tens
of microseconds per 64 KB chunk. gallery.gateway.spool feeds it every image answer, in a thread
so the event loop only moves bytes, with temporary files as sinks.

Strict like json.loads + base64.b64decode(validate=True) on what the studio uses: broken JSON,
a cut-short body and bad base64 are refused with an AnswerError. Two deliberate differences: a
text value over MAX_TEXT_VALUE_BYTES is clipped to that (its tail is skipped unread), and the
answer may be nested at most MAX_DEPTH deep, so a hostile body cannot exhaust the recursion limit.
"""

from __future__ import annotations

import binascii
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import pybase64

IMAGE_KEY = b"b64_json"

BLOCK_BYTES = 64 * 1024  # base64 text decoded per step: small enough to keep, big enough for SIMD
MAX_TEXT_VALUE_BYTES = 64 * 1024  # any other string longer than this is clipped to it
MAX_SKELETON_BYTES = 1024 * 1024  # the answer besides its images
MAX_DEPTH = 32
MAX_IMAGES = 16  # the gateway returns at most n=10; edits ask for up to 16

NOT_JSON = "The gateway's answer is not valid JSON."
TOO_DEEP = "The gateway's answer is nested too deeply to be read."
_BAD_BASE64 = "The gateway's image data is not valid base64."
_BRACKETS = re.compile(rb"[\[\]{}]")
_CONTROL = re.compile(rb"[\x00-\x1f]")
_NOT_SLASH_ESCAPE = re.compile(rb"\\[^/]|\\\Z")
_NOT_BASE64_ESCAPE = re.compile(rb"\\[^/nr]|\\\Z")


class AnswerError(Exception):
    """The answer cannot be read; ``message`` says why in words for a person, ``code`` is the
    gateway's error code for it (bad_response, bad_image_data, too_large)."""

    def __init__(self, message: str, *, code: str = "bad_response") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class ImageSink(Protocol):
    def write(self, data: bytes, /) -> object: ...


@dataclass(frozen=True)
class StreamedImage:
    """Stands in the payload where a ``b64_json`` string was; its bytes went to sink ``index``."""

    index: int
    size: int  # decoded bytes written


@dataclass(frozen=True)
class ParsedAnswer:
    payload: Any  # the answer's JSON, each b64_json value replaced by its StreamedImage
    images: tuple[StreamedImage, ...]

    @property
    def data(self) -> list | None:
        data = self.payload.get("data") if isinstance(self.payload, dict) else None
        return data if isinstance(data, list) else None


class AnswerReader:
    """`feed()` the body's chunks in order, then `close()` for the parsed answer.

    ``open_sink(index)`` is called when the index-th image value starts and returns where its
    decoded bytes are written (anything with ``write``); the reader never closes it. After an
    AnswerError the reader and whatever its sinks received are to be thrown away.
    """

    def __init__(
        self,
        open_sink: Callable[[int], ImageSink],
        *,
        max_image_bytes: int | None = None,
        max_images: int = MAX_IMAGES,
        max_skeleton_bytes: int = MAX_SKELETON_BYTES,
        max_depth: int = MAX_DEPTH,
    ) -> None:
        self._open_sink = open_sink
        self._max_image_bytes = max_image_bytes
        self._max_images = max_images
        self._max_skeleton_bytes = max_skeleton_bytes
        self._max_depth = max_depth
        self._skeleton = bytearray()
        self._depth = 0
        self._last = 0  # the last byte of structure seen (not whitespace)
        self._after_image_key = False  # the last string read was "b64_json"
        self._value: _TextValue | _ImageValue | None = None  # the string being read
        self._odd_backslashes = False  # the string read so far ends inside an escape
        self._token = secrets.token_hex(8)  # placeholders a hostile answer cannot forge
        self._images: list[StreamedImage] = []
        self._clipped: list[str] = []

    def feed(self, chunk: bytes) -> None:
        """Read the next piece of the body, of any size and cut at any byte."""
        if not isinstance(chunk, bytes):
            chunk = bytes(chunk)
        view = memoryview(chunk)
        pos, end = 0, len(chunk)
        while pos < end:
            if self._value is None:
                quote = chunk.find(b'"', pos)
                self._structure(chunk[pos : end if quote < 0 else quote])
                if quote < 0:
                    return
                self._open_value()
            else:
                quote = self._closing_quote(chunk, pos)
                self._value.add(view[pos : end if quote < 0 else quote])
                if quote < 0:
                    self._odd_backslashes = self._escaped(chunk, pos, end)
                    return
                self._close_value()
            pos = quote + 1

    def close(self) -> ParsedAnswer:
        """The parsed answer, once the whole body has been fed."""
        if self._value is not None or self._depth > 0:
            raise AnswerError("The gateway's answer is cut short.")
        if not self._skeleton.strip():
            raise AnswerError("The gateway's answer is empty.")
        try:
            payload = json.loads(self._skeleton.decode("utf-8-sig"))
        except (ValueError, RecursionError):  # also undecodable bytes (UnicodeDecodeError)
            raise AnswerError(NOT_JSON) from None
        return ParsedAnswer(payload=self._resolve(payload), images=tuple(self._images))

    # --- between strings --------------------------------------------------------------------

    def _structure(self, part: bytes) -> None:
        if not part:
            return
        self._keep(part)
        for bracket in _BRACKETS.finditer(part):
            self._depth += 1 if bracket.group() in (b"[", b"{") else -1
            if self._depth > self._max_depth:
                raise AnswerError(TOO_DEEP)
        if stripped := part.rstrip():
            self._last = stripped[-1]

    def _keep(self, part: bytes) -> None:
        if len(self._skeleton) + len(part) > self._max_skeleton_bytes:
            raise AnswerError(
                "The gateway's answer holds more text than the studio reads "
                f"({self._max_skeleton_bytes // 1024} KB besides its images).",
                code="too_large",
            )
        self._skeleton += part

    def _open_value(self) -> None:
        self._odd_backslashes = False
        if self._after_image_key and self._last == ord(":"):
            index = len(self._images)
            if index >= self._max_images:
                raise AnswerError(f"The gateway's answer holds more than {index} images.")
            sink = self._open_sink(index)
            self._value = _ImageValue(sink, index=index, max_bytes=self._max_image_bytes)
        else:
            self._value = _TextValue()

    def _close_value(self) -> None:
        value, self._value = self._value, None
        self._last = ord('"')
        self._after_image_key = False
        if isinstance(value, _ImageValue):
            self._images.append(value.finish())
            self._keep(self._placeholder("i", len(self._images) - 1))
        elif value.clipped is not None:
            self._clipped.append(value.clipped)
            self._keep(self._placeholder("t", len(self._clipped) - 1))
        else:
            self._keep(b'"' + value.raw + b'"')
            self._after_image_key = value.raw == IMAGE_KEY or (
                b"\\" in value.raw and len(value.raw) < 64 and _json_text(value.raw) == "b64_json"
            )

    def _placeholder(self, kind: str, index: int) -> bytes:
        return f'"{self._token}{kind}{index}"'.encode()

    def _resolve(self, payload: Any) -> Any:
        """The payload with each placeholder replaced by what it stands for (no recursion: the
        depth is bounded, but a loop needs no reasoning about the stack)."""

        def real(value: Any) -> Any:
            if not (isinstance(value, str) and value.startswith(self._token)):
                return value
            kind, index = value[len(self._token)], int(value[len(self._token) + 1 :])
            return self._images[index] if kind == "i" else self._clipped[index]

        root = [payload]
        pending: list[list | dict] = [root]
        while pending:
            node = pending.pop()
            if isinstance(node, dict):
                resolved = {real(key): real(value) for key, value in node.items()}
                node.clear()
                node.update(resolved)
                children = node.values()
            else:
                node[:] = [real(value) for value in node]
                children = node
            pending.extend(child for child in children if isinstance(child, list | dict))
        return root[0]

    # --- inside a string --------------------------------------------------------------------

    def _closing_quote(self, chunk: bytes, start: int) -> int:
        """Where the open string ends in chunk[start:], or -1. Base64 holds no quote, so this is
        one C-speed find per chunk; only an escaped quote (in a text value) loops again."""
        search = start
        while (quote := chunk.find(b'"', search)) >= 0:
            if not self._escaped(chunk, start, quote):
                return quote
            search = quote + 1
        return -1

    def _escaped(self, chunk: bytes, start: int, at: int) -> bool:
        """Whether chunk[at] follows an odd run of backslashes, counting the string's part in
        earlier chunks (chunk[start] is where this chunk's part of the string begins)."""
        run = _backslashes_before(chunk, start, at)
        odd = run % 2 == 1
        return odd ^ self._odd_backslashes if run == at - start else odd


def _backslashes_before(data: bytes | bytearray, start: int, at: int) -> int:
    """How many backslashes stand just before data[at], not looking before data[start]."""
    window = data[max(start, at - 16) : at]
    run = len(window) - len(window.rstrip(b"\\"))
    if run == len(window) and at - run > start:  # a long run: measure it whole, still in C
        window = data[start:at]
        run = len(window) - len(window.rstrip(b"\\"))
    return run


class _TextValue:
    """A string other than an image: kept whole up to MAX_TEXT_VALUE_BYTES, else clipped."""

    def __init__(self) -> None:
        self.raw = bytearray()
        self.clipped: str | None = None

    def add(self, part: memoryview) -> None:
        if self.clipped is not None:
            return
        self.raw += part
        if len(self.raw) > MAX_TEXT_VALUE_BYTES:
            head = bytes(self.raw[:MAX_TEXT_VALUE_BYTES])
            self.clipped = _json_text(_whole_characters(head[: _escape_boundary(head)]))
            self.raw = bytearray()


class _ImageValue:
    """One b64_json value: JSON-escaped base64 in, decoded bytes out to the sink, a block at a
    time. What is not decoded yet (less than a block, the tail of an escape, or the last 1-3
    characters of a 4-character base64 group) waits in ``pending``."""

    def __init__(self, sink: ImageSink, *, index: int, max_bytes: int | None) -> None:
        self.sink = sink
        self.index = index
        self.max_bytes = max_bytes
        self.pending = bytearray()
        self.first = True  # the first block may start with a data: URL prefix
        self.padded = False  # base64 padding seen: nothing may follow it
        self.size = 0

    def add(self, part: memoryview) -> None:
        # Slices of a block keep memory bounded when a caller feeds the whole body at once.
        for offset in range(0, len(part), BLOCK_BYTES):
            self.pending += part[offset : offset + BLOCK_BYTES]
            if len(self.pending) >= BLOCK_BYTES:
                self._decode(final=False)

    def finish(self) -> StreamedImage:
        self._decode(final=True)
        return StreamedImage(index=self.index, size=self.size)

    def _decode(self, *, final: bool) -> None:
        pending = self.pending
        if not self.first and b"\\" not in pending:
            # The usual block: plain base64, decoded straight from the buffer.
            usable = len(pending) if final else len(pending) - len(pending) % 4
            if not usable:
                return
            with memoryview(pending) as view, view[:usable] as text:
                try:
                    decoded = pybase64.b64decode(text, validate=True)
                except (binascii.Error, ValueError):
                    decoded = None  # spaces, or an error: let the careful path say which
            if decoded is not None:
                self._check_padding(ends_padded=pending[usable - 1] == ord("="))
                del pending[:usable]
                self._write(decoded)
                return
        cut = len(pending) if final else _escape_boundary(pending)
        text = _base64_characters(bytes(pending[:cut]))
        del pending[:cut]
        if self.first:
            self.first = False
            if text.startswith(b"data:"):  # a data: URL, as some servers send
                _, comma, text = text.partition(b",")
                if not comma:
                    raise AnswerError(_BAD_BASE64, code="bad_image_data")
        usable = len(text) if final else len(text) - len(text) % 4
        if usable:
            decoded = _b64decode(text[:usable])
            self._check_padding(ends_padded=text[usable - 1] == ord("="))
            self._write(decoded)
        pending[:0] = text[usable:]  # plain base64 characters are valid JSON string text

    def _check_padding(self, *, ends_padded: bool) -> None:
        if self.padded:  # more characters after a block that ended in "="
            raise AnswerError(_BAD_BASE64, code="bad_image_data")
        self.padded = ends_padded

    def _write(self, decoded: bytes) -> None:
        self.size += len(decoded)
        if self.max_bytes is not None and self.size > self.max_bytes:
            raise AnswerError(
                f"The image is over the {self.max_bytes / (1024 * 1024):g} MB limit.",
                code="too_large",
            )
        if decoded:
            self.sink.write(decoded)


def _escape_boundary(raw: bytes | bytearray) -> int:
    """The length of `raw` (which starts at an escape boundary) that ends on one, so a block never
    splits `\\/` or `\\u002F` in two."""
    end = len(raw)
    start = raw.rfind(b"\\", max(0, end - 6))
    if start < 0:
        return end
    if _backslashes_before(raw, 0, start) % 2 == 1:
        return end  # the second half of an escaped backslash: complete
    needed = 6 if start + 1 < end and raw[start + 1] == ord("u") else 2
    return start if end - start < needed else end


def _base64_characters(raw: bytes) -> bytes:
    """The base64 in a piece of JSON string text: escapes undone, whitespace dropped."""
    text = raw
    if b"\\" in raw:
        # When every backslash starts one of the escapes below (so none is escaped itself), C-speed
        # replacements cannot meet half of an escape: `\/` (legal JSON, PHP's default) and line
        # breaks. Anything else goes through json.loads.
        if not _NOT_SLASH_ESCAPE.search(raw):
            text = raw.translate(None, b"\\")
        elif not _NOT_BASE64_ESCAPE.search(raw):
            text = b"".join(raw.split(b"\\n"))  # faster than replace() when lines are short
            if b"\\" in text:
                text = text.replace(b"\\r", b"").translate(None, b"\\")
        else:
            return _spaceless(_json_text(raw))
    if b" " not in text:
        return text
    if _CONTROL.search(text):  # a raw line break inside a JSON string
        raise AnswerError(NOT_JSON)
    return _spaceless(text.decode("ascii", "replace"))


def _spaceless(text: str) -> bytes:
    try:
        return "".join(text.split()).encode("ascii")
    except UnicodeEncodeError:
        raise AnswerError(_BAD_BASE64, code="bad_image_data") from None


def _b64decode(text: bytes) -> bytes:
    try:
        return pybase64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        if _CONTROL.search(text):  # a raw line break inside a JSON string
            raise AnswerError(NOT_JSON) from None
        raise AnswerError(_BAD_BASE64, code="bad_image_data") from None


def _json_text(raw: bytes | bytearray) -> str:
    """The text of a JSON string's raw contents (without its quotes)."""
    try:
        return json.loads('"' + raw.decode("utf-8") + '"')
    except ValueError:  # also bad UTF-8
        raise AnswerError(NOT_JSON) from None


def _whole_characters(raw: bytes) -> bytes:
    """`raw` without a UTF-8 character cut off at its end."""
    lead = len(raw) - 1
    while lead >= 0 and raw[lead] & 0xC0 == 0x80:
        lead -= 1
    if lead < 0 or raw[lead] < 0xC0:
        return raw
    length = 2 if raw[lead] < 0xE0 else 3 if raw[lead] < 0xF0 else 4
    return raw[:lead] if len(raw) - lead < length else raw
