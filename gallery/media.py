"""File facts: what the stored image files are called, what their formats are called, and the
URLs that serve them.

Every stored picture has a name made here: a generated image `images/<YYYY>/<MM>/<run>-<image>-
<token>.<ext>` with its thumbnail `thumbs/<YYYY>/<MM>/<run>-<image>-<token>.webp`, an attached
image `<token>.<ext>` with `<token>.webp` (its fields put them under `uploads/`). The token is
new for every file written, so it doubles as the file's version: the URLs that serve an image
carry it (`?v=<token>`), and the files behind such a URL never change, so browsers may keep them
for a year. Thumbnails are always WebP; originals keep the format they arrived in.
"""

import uuid
from dataclasses import dataclass

from django.utils import timezone

from gallery import links

# The formats imaging.py accepts, by the name it gives them (Pillow's, lower case).
MIME_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "gif": "image/gif"}
THUMBNAIL_FORMAT = "webp"
THUMBNAIL_MIME = MIME_TYPES[THUMBNAIL_FORMAT]

# Folders (strftime patterns) of the files; the models' upload_to uses the same.
IMAGE_FOLDER = "images/%Y/%m/"
THUMBNAIL_FOLDER = "thumbs/%Y/%m/"
UPLOAD_FOLDER = "uploads/%Y/%m/"
UPLOAD_THUMBNAIL_FOLDER = "uploads/thumbs/%Y/%m/"

_NO_VERSION = "0"


@dataclass(frozen=True)
class StoredNames:
    """The names to store an original and its thumbnail under."""

    file: str
    thumbnail: str


def extension(image_format: str) -> str:
    """The file extension for a format: `jpeg` is written `jpg`, as people expect."""
    return "jpg" if image_format == "jpeg" else (image_format or "bin")


def mime_type(image_format: str) -> str:
    return MIME_TYPES.get(image_format, "application/octet-stream")


def image_names(*, run_id: int, image_id: int, image_format: str) -> StoredNames:
    """Where the worker stores a generated image and its thumbnail. It writes through the
    storage, not the model's fields, so the folders are put in here."""
    stem = f"{run_id}-{image_id}-{_token()}"
    now = timezone.now()
    return StoredNames(
        file=f"{now.strftime(IMAGE_FOLDER)}{stem}.{extension(image_format)}",
        thumbnail=f"{now.strftime(THUMBNAIL_FOLDER)}{stem}.{THUMBNAIL_FORMAT}",
    )


def upload_names(*, image_format: str) -> StoredNames:
    """Names for an attached image and its thumbnail; the Upload's fields add the folders."""
    stem = _token()
    return StoredNames(
        file=f"{stem}.{extension(image_format)}", thumbnail=f"{stem}.{THUMBNAIL_FORMAT}"
    )


def _token() -> str:
    return uuid.uuid4().hex[:12]


def version(file_name: str) -> str:
    """The token of a stored file's name (the part of its stem after the last hyphen): it
    changes whenever the file does. Names made elsewhere still give a value that goes with
    the name: the benchmark seed's `images/seed/<run>-<n>.png` (gallery/seeding/plan.py) gives
    <n>, and the storage's `_<random>` suffix on a clash stays part of the token."""
    if not file_name:
        return _NO_VERSION
    stem = file_name.rpartition("/")[2].partition(".")[0]
    return stem.rpartition("-")[2] or _NO_VERSION


# URLs that serve files. Gallery pages draw many tiles: these use links.url_for, not reverse().
def image_thumbnail_url(image_id: int, file_name: str) -> str:
    return f"{links.url_for('image_thumbnail', image_id)}?v={version(file_name)}"


def image_original_url(image_id: int, file_name: str) -> str:
    return f"{links.url_for('image_original', image_id)}?v={version(file_name)}"


def upload_thumbnail_url(upload_id: int) -> str:
    """An attached image never changes: its URL needs no version."""
    return links.url_for("upload_thumbnail", upload_id)
