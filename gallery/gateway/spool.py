"""Image answers streamed into temporary files as they arrive, never held whole in memory.

A 4K answer is ~25 MB of base64 JSON. `read_image_answer` takes the body as it comes off the
socket, a piece of PIECE_BYTES at a time, and hands each piece to a thread, which inflates it
(when compressed), counts it against the answer's size limit and feeds it to
`gallery.answer_stream.AnswerReader`: that pulls each ``b64_json`` value out, decodes it with
pybase64 and writes the bytes to a `Spool`, a temporary file in GATEWAY_TEMP_DIR. The event loop
only moves pieces around, so other downloads keep flowing while one answer is parsed, and the
memory an answer takes is a couple of pieces, however big its image.

Temporary files never outlive their use: an answer that fails (bad JSON, bad base64, too large,
cut short, the call cancelled) removes its files before the error leaves here, and the caller
removes the rest with `Spools.close()` (GatewayResult.close) once the image is stored. A file
whose owner is garbage-collected without closing it is removed then.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import threading
import time
import weakref
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from gallery import answer_stream
from gallery.gateway.errors import GatewayError, clip, too_large

if TYPE_CHECKING:
    import httpx

    from gallery.gateway.config import GatewayConfig

# Body handed to a thread at a time: big enough that a thread hop (~50 us) is noise, small enough
# that an answer holds little memory (this piece and the one being read).
PIECE_BYTES = 256 * 1024
# Compressed bodies are inflated at most this much at a time (a gzip bomb never lands whole).
INFLATE_PIECE_BYTES = 1024 * 1024
SPOOL_PREFIX = "studio-answer-"
SPOOL_SUFFIX = ".img"
# A file of ours untouched this long belongs to a process that died mid-answer (SIGKILL, power).
STALE_SPOOL_SECONDS = 6 * 3600

# Reading answers is short work (pybase64 and file writes release the GIL), kept apart from the
# worker's image pool so that decoding big images never holds up the downloads behind them.
_reading_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="studio-answer")


class Spool:
    """One image's bytes in a temporary file: written once, read any number of times, removed."""

    def __init__(self, directory: str, *, max_bytes: int) -> None:
        fd, self.path = tempfile.mkstemp(
            prefix=SPOOL_PREFIX, suffix=SPOOL_SUFFIX, dir=directory or None
        )
        self._file = os.fdopen(fd, "wb", buffering=0)
        self.size = 0
        self.max_bytes = max_bytes
        # Removed with its owner at the latest, even if nobody calls remove().
        self._finalizer = weakref.finalize(self, _unlink, self.path)

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise too_large("The image", self.max_bytes)
        self._file.write(data)

    def finish(self) -> None:
        self._file.close()

    def remove(self) -> None:
        self._file.close()
        self._finalizer()  # unlinks once; a file already moved away (into storage) is fine


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def remove_stale_answers(directory: str, *, older_than: float = STALE_SPOOL_SECONDS) -> int:
    """Remove answer files left behind by a process killed mid-answer, which no cleanup could
    reach: ours by name, untouched for `older_than` seconds (a live answer's file is written as
    it arrives and stored within minutes). Returns how many were removed."""
    folder = Path(directory or tempfile.gettempdir())
    cutoff = time.time() - older_than
    removed = 0
    for path in folder.glob(f"{SPOOL_PREFIX}*{SPOOL_SUFFIX}"):
        with contextlib.suppress(OSError):
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
    return removed


class Spools:
    """The temporary files of one answer. Once closed, no new one can be opened, so a thread still
    reading when the call was cancelled cannot leave a file behind."""

    def __init__(self, config: GatewayConfig) -> None:
        self._directory = config.temp_dir
        self._max_bytes = config.max_image_bytes
        self._lock = threading.Lock()
        self._closed = False
        self.files: list[Spool] = []

    def open(self, index: int) -> Spool:
        with self._lock:
            if self._closed:
                raise GatewayError("The call was stopped.", code="cancelled")
            spool = Spool(self._directory, max_bytes=self._max_bytes)
            self.files.append(spool)
            return spool

    def close(self, *, keep: frozenset[int] = frozenset()) -> None:
        """Remove every file but those whose index is in `keep` (handed on to the caller)."""
        with self._lock:
            self._closed = True
            files = list(self.files)
        for index, spool in enumerate(files):
            if index in keep:
                spool.finish()
            else:
                spool.remove()


async def read_image_answer(
    response: httpx.Response, config: GatewayConfig, *, what: str
) -> tuple[answer_stream.ParsedAnswer, Spools]:
    """Stream a successful image answer into temporary files; its parsed skeleton and the files.

    The caller owns the files it is given; on any failure (including cancellation) they are
    gone before this returns."""
    limit = config.max_response_bytes
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(what, limit)
    spools = Spools(config)
    body = _BodyReader(response, spools, limit=limit, what=what)
    loop = asyncio.get_running_loop()
    pending: asyncio.Future | None = None
    try:
        # Chunks are handed over as they came (a list, not joined): joining would copy the body.
        piece: list[bytes] = []
        size = 0
        async for chunk in response.aiter_raw():
            piece.append(chunk)
            size += len(chunk)
            if size >= PIECE_BYTES:
                if pending is not None:
                    await pending  # one piece parsed while the next is read, never more
                pending = loop.run_in_executor(_reading_pool, body.feed, piece)
                piece, size = [], 0
        if pending is not None:
            await pending
        pending = loop.run_in_executor(_reading_pool, body.finish, piece)
        parsed = await pending
    except BaseException:
        spools.close()
        if pending is not None and not pending.done():
            # Let the thread finish its piece (milliseconds) so no write lands after the cleanup.
            with contextlib.suppress(BaseException):
                await asyncio.shield(pending)
        raise
    return parsed, spools


class _BodyReader:
    """The thread side: inflate, count against the limit, parse. Called for one piece at a time."""

    def __init__(self, response: httpx.Response, spools: Spools, *, limit: int, what: str) -> None:
        self.limit = limit
        self.what = what
        self.received = 0
        self.reader = answer_stream.AnswerReader(spools.open)
        encoding = response.headers.get("content-encoding", "").strip().lower()
        if encoding in ("", "identity"):
            self.inflater = None
        elif encoding in ("gzip", "x-gzip", "deflate"):
            self.inflater = zlib.decompressobj(32 + zlib.MAX_WBITS)  # gzip or deflate, either
        else:
            raise GatewayError(
                f"{what} uses a compression the studio cannot read ({clip(encoding, 40)}).",
                code="bad_response",
            )

    def feed(self, chunks: list[bytes]) -> None:
        try:
            for raw in chunks:
                if self.inflater is None:
                    self._take(raw)
                    continue
                while raw:
                    self._take(self.inflater.decompress(raw, INFLATE_PIECE_BYTES))
                    raw = self.inflater.unconsumed_tail
        except zlib.error as exc:
            raise GatewayError(
                f"{self.what} is not valid compressed data.", code="bad_response"
            ) from exc

    def finish(self, chunks: list[bytes]) -> answer_stream.ParsedAnswer:
        self.feed(chunks)
        if self.inflater is not None:
            self._take(self.inflater.flush())
        try:
            return self.reader.close()
        except answer_stream.AnswerError as exc:
            raise answer_error(exc) from None

    def _take(self, data: bytes) -> None:
        self.received += len(data)
        if self.received > self.limit:
            raise too_large(self.what, self.limit)
        try:
            self.reader.feed(data)
        except answer_stream.AnswerError as exc:
            raise answer_error(exc) from None


def answer_error(exc: answer_stream.AnswerError) -> GatewayError:
    """The reader's refusal in the words the gateway package uses for the same fault."""
    message = {
        answer_stream.NOT_JSON: "The gateway's answer is not JSON; is the base URL right?",
        answer_stream.TOO_DEEP: "The gateway's answer is nested too deeply to be read as JSON.",
    }.get(exc.message, exc.message)
    return GatewayError(message, code=exc.code)
