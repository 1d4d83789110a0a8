"""The stored files: the one place that writes, reads and deletes them.

Originals, thumbnails and attached images live in Django's default storage: a folder
(`MEDIA_ROOT`, the default) or an S3-compatible bucket (`AWS_STORAGE_BUCKET_NAME`, see
gallery/bucket.py). Whatever the storage does wrong (a full disk, a bucket answering 500 or 503,
a timeout) comes out of here as `StorageError` with a sentence a person understands, and
`FileMissing` when the file is simply not there, so the callers decide what it means for them:
a tile fails with Retry, a file view answers 503, a purge keeps the row for next time.

Reads are streamed: `open()` gives a file to read in pieces (from a bucket, the object's body as
it arrives), never the whole file first, so serving a 40 MB original costs a piece of memory.
"""

import logging
from dataclasses import dataclass

from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage

logger = logging.getLogger(__name__)

WRITE_FAILED = "The file storage could not store the file."
READ_FAILED = "The file storage did not give the file back just now; try again in a moment."
MISSING = "This file is missing from the file storage."


class StorageError(Exception):
    """The storage failed (not the caller's input): `message` says so in a sentence."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class FileMissing(StorageError):
    """The storage answered, and the file is not there."""

    def __init__(self, message: str = MISSING):
        super().__init__(message)


def _errors() -> tuple[type[BaseException], ...]:
    """What the storage raises when it fails: OSError for a folder, and the storage's own
    (botocore's) errors for a bucket."""
    return (OSError, *getattr(default_storage, "errors", ()))


def _missing(exc: BaseException) -> bool:
    if isinstance(exc, FileNotFoundError):
        return True
    is_missing = getattr(default_storage, "is_missing", None)
    return bool(is_missing and is_missing(exc))


@dataclass(frozen=True)
class Stored:
    """The names two files were stored under (an original and its thumbnail)."""

    file: str
    thumbnail: str


def save(name: str, content: bytes | File) -> str:
    """Store `content` (bytes, or a file read a piece at a time) under `name` (or a free name
    like it); the name it was stored under."""
    try:
        return default_storage.save(
            name, ContentFile(content) if isinstance(content, bytes) else content
        )
    except _errors() as exc:
        logger.warning("Could not store %s: %s", name, exc)
        raise StorageError(WRITE_FAILED) from exc


def save_pair(
    file_name: str, content: bytes | File, thumbnail_name: str, thumbnail: bytes | File
) -> Stored:
    """Store an original and its thumbnail, both or neither: when the second write fails the
    first file is removed again, so nothing is left that no row points at."""
    stored_file = save(file_name, content)
    try:
        stored_thumbnail = save(thumbnail_name, thumbnail)
    except StorageError:
        discard(stored_file)
        raise
    return Stored(file=stored_file, thumbnail=stored_thumbnail)


class StoredFile:
    """A stored file opened for reading in pieces: `read(n)`, `close()`, its `size` in bytes
    (known before the first byte is read, for Content-Length). A failure while reading is a
    StorageError too."""

    def __init__(self, stream, size: int | None):
        self._stream = stream
        self.size = size

    def read(self, n: int = -1) -> bytes:
        try:
            return self._stream.read(n)
        except _errors() as exc:
            logger.warning("Reading a stored file failed: %s", exc)
            raise StorageError(READ_FAILED) from exc

    def close(self) -> None:
        try:
            self._stream.close()
        except _errors():
            pass

    def __enter__(self) -> "StoredFile":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def open_stream(name: str) -> StoredFile:
    """The stored file `name`, to read in pieces. Raises FileMissing or StorageError."""
    if not name:
        raise FileMissing()
    try:
        opener = getattr(default_storage, "open_stream", None)
        if opener is not None:  # a bucket: the object's body as it arrives
            stream, size = opener(name)
        else:
            stream = default_storage.open(name, "rb")
            size = stream.size
    except _errors() as exc:
        if _missing(exc):
            raise FileMissing() from exc
        logger.warning("Could not open %s: %s", name, exc)
        raise StorageError(READ_FAILED) from exc
    return StoredFile(stream, size)


def read(name: str) -> bytes:
    """All of the stored file `name` (an input image the worker sends upstream)."""
    with open_stream(name) as stored:
        return stored.read()


def delete(name: str) -> None:
    """Remove the stored file `name`; one already gone is not an error. Raises StorageError."""
    if not name:
        return
    try:
        default_storage.delete(name)
    except _errors() as exc:
        if _missing(exc):
            return
        logger.warning("Could not delete %s: %s", name, exc)
        raise StorageError("The file storage could not delete the file.") from exc


def discard(name: str) -> None:
    """Remove a file just written whose record will not be kept; a failure is only logged."""
    try:
        delete(name)
    except StorageError:
        logger.warning("Left %s in the file storage: it could not be removed", name)
