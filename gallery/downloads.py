"""Downloads: safe file names (`<prompt-slug>-<model-slug>-<YYYYMMDD-HHMMSS>-<n>.<ext>`) and a
run's images as a zip streamed to the client."""

import re
import unicodedata
import zipfile
from collections.abc import Iterator

from django.utils import timezone

from gallery import files, media
from gallery.models import Image

_PROMPT_SLUG_LENGTH = 60


def _slug(text: str, *, limit: int) -> str:
    """ASCII letters, digits and hyphens only: safe in any file system and header."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:limit].rstrip("-")


def filename_for(image: Image) -> str:
    run = image.run
    created = timezone.localtime(run.created_at).strftime("%Y%m%d-%H%M%S")
    prompt = _slug(run.prompt, limit=_PROMPT_SLUG_LENGTH) or "image"
    model = _slug(image.model, limit=40) or "model"
    return f"{prompt}-{model}-{created}-{image.position + 1}.{media.extension(image.format)}"


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


def zip_stream(images: list[Image]) -> Iterator[bytes]:
    """The images' original files as one zip, produced piece by piece (never the whole zip, nor
    a whole image, in memory). Images are already compressed, so entries are stored as they are.
    A storage failure part-way raises files.StorageError: the zip is left without its ending,
    so the download fails rather than looking complete."""
    sink = _Sink()
    used: set[str] = set()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED) as archive:
        for image in images:
            name = filename_for(image)
            while name in used:  # two images cannot share a name inside one zip
                stem, dot, ext = name.rpartition(".")
                name = f"{stem}-{len(used)}{dot}{ext}"
            used.add(name)
            when = timezone.localtime(image.finished_at or image.run.created_at)
            info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
            with (
                files.open_stream(image.file.name) as source,
                archive.open(info, mode="w", force_zip64=True) as entry,
            ):
                while chunk := source.read(CHUNK):
                    entry.write(chunk)
                    yield sink.take()
        # Closing the archive writes the central directory.
    yield sink.take()


def zip_name_for(run) -> str:
    created = timezone.localtime(run.created_at).strftime("%Y%m%d-%H%M%S")
    prompt = _slug(run.prompt, limit=_PROMPT_SLUG_LENGTH) or "images"
    return f"{prompt}-{created}.zip"
