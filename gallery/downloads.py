"""Names for downloaded files: `<prompt-slug>-<model-slug>-<YYYYMMDD-HHMMSS>-<n>.<ext>`."""

import re
import unicodedata

from django.utils import timezone

from gallery.models import Image

_PROMPT_SLUG_LENGTH = 60


def _slug(text: str, *, limit: int) -> str:
    """ASCII letters, digits and hyphens only: safe in any file system and header."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:limit].rstrip("-")


def extension_for(image_format: str) -> str:
    return "jpg" if image_format == "jpeg" else (image_format or "bin")


def filename_for(image: Image) -> str:
    generation = image.generation
    created = timezone.localtime(generation.created_at).strftime("%Y%m%d-%H%M%S")
    prompt = _slug(generation.prompt, limit=_PROMPT_SLUG_LENGTH) or "image"
    model = _slug(image.model, limit=40) or "model"
    return f"{prompt}-{model}-{created}-{image.position + 1}.{extension_for(image.format)}"
