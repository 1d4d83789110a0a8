"""Downloads: safe file names (`<prompt-slug>-<model-slug>-<YYYYMMDD-HHMMSS>-<n>.<ext>`), a
run's, a board's or a selection's images as a zip streamed to the client, and "Download as": the
original converted to PNG, JPEG or WebP on the fly."""

import contextlib
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterator
from typing import BinaryIO

from django.conf import settings
from django.utils import timezone

from gallery import files, imaging, media
from gallery.models import Image

# A converted image is written here first (in memory up to this size, then a temporary file),
# then streamed from it.
_SPOOL_BYTES = 4 * 1024 * 1024


class UnknownFormat(ValueError):
    pass


def target_format(text: str, *, original: str) -> str | None:
    """What "Download as" asked for: None for the original (also when it already is that
    format), else one of imaging.CONVERSIONS; raises UnknownFormat with a message."""
    text = (text or "").strip().lower()
    if text in ("", "original"):
        return None
    text = "jpeg" if text == "jpg" else text
    if text not in imaging.CONVERSIONS:
        raise UnknownFormat(
            f"“{text[:20]}” is not a format to download as: choose original, png, jpeg or webp."
        )
    return None if text == original else text


def converted(image: Image, to: str, *, wait: float | None) -> BinaryIO:
    """The image's original converted to `to`, as an open file to read from the start (the
    caller closes it; a response does once it is sent)."""
    with contextlib.ExitStack() as unless_converted:
        out = unless_converted.enter_context(tempfile.SpooledTemporaryFile(_SPOOL_BYTES))
        # Decoding needs to seek; a bucket's stream cannot: copied a piece at a time first.
        with (
            files.open_stream(image.file.name) as stored,
            tempfile.SpooledTemporaryFile(_SPOOL_BYTES) as source,
        ):
            while chunk := stored.read(CHUNK):
                source.write(chunk)
            source.seek(0)
            imaging.convert(source, out, to=to, wait=wait)
        out.seek(0)
        unless_converted.pop_all()  # converted: now the caller's to close
    return out


_PROMPT_SLUG_LENGTH = 60


def _slug(text: str, *, limit: int) -> str:
    """ASCII letters, digits and hyphens only: safe in any file system and header."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:limit].rstrip("-")


def filename_for(image: Image, *, image_format: str | None = None) -> str:
    """The download's name; `image_format` when it was converted."""
    run = image.run
    created = timezone.localtime(run.created_at).strftime("%Y%m%d-%H%M%S")
    prompt = _slug(run.prompt, limit=_PROMPT_SLUG_LENGTH) or "image"
    model = _slug(image.model, limit=40) or "model"
    ext = media.extension(image_format or image.format)
    return f"{prompt}-{model}-{created}-{image.position + 1}.{ext}"


class _Sink:
    """A write-only file that hands over what was written so far: zipfile writes into it, the
    response streams it out. zipfile sees it is not seekable and uses data descriptors."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._offset = 0

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        self._offset += len(data)
        return len(data)

    def tell(self) -> int:
        return self._offset

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


CHUNK = 256 * 1024


def zip_stream(images, *, to: str | None = None) -> Iterator[bytes]:
    """The images' original files (or, with `to`, each converted to that format) as one zip,
    produced piece by piece (never the whole zip, nor a whole image file, in memory). Images are
    already compressed, so entries are stored as they are. A storage failure part-way raises
    files.StorageError: the zip is left without its ending, so the download fails rather than
    looking complete."""
    sink = _Sink()
    used: set[str] = set()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED) as archive:
        for image in images:
            as_format = to if to and to != image.format else None
            name = filename_for(image, image_format=as_format)
            while name in used:  # two images cannot share a name inside one zip
                stem, dot, ext = name.rpartition(".")
                name = f"{stem}-{len(used)}{dot}{ext}"
            used.add(name)
            when = timezone.localtime(image.finished_at or image.run.created_at)
            info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
            with (
                _source(image, as_format) as source,
                archive.open(info, mode="w", force_zip64=True) as entry,
            ):
                while chunk := source.read(CHUNK):
                    entry.write(chunk)
                    yield sink.take()
        # Closing the archive writes the central directory.
    yield sink.take()


def _source(image: Image, to: str | None):
    if to is None:
        return files.open_stream(image.file.name)
    # The person is waiting on the stream: a busy studio waits its usual time, then says so.
    return converted(image, to, wait=settings.IMAGE_DECODE_WAIT_SECONDS)


def zip_name_for(run) -> str:
    created = timezone.localtime(run.created_at).strftime("%Y%m%d-%H%M%S")
    prompt = _slug(run.prompt, limit=_PROMPT_SLUG_LENGTH) or "images"
    return f"{prompt}-{created}.zip"


def zip_name_for_board(board) -> str:
    name = _slug(board.name, limit=_PROMPT_SLUG_LENGTH) or "board"
    return f"{name}-{timezone.localtime().strftime('%Y%m%d-%H%M%S')}.zip"
