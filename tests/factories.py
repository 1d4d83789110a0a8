"""Rows and real image files for tests (and the gallery seeding command's shapes)."""

import io

from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image as PILImage

from gallery import catalog
from gallery.catalog import Choice
from gallery.models import Generation, Image


def png_bytes(width: int = 64, height: int = 36, colour=(200, 80, 40)) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


def webp_bytes(width: int = 64, height: int = 36, colour=(200, 80, 40)) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (width, height), colour).save(buffer, "WEBP")
    return buffer.getvalue()


def make_generation(
    user,
    *,
    prompt: str = "a red fox in the snow",
    models: list[str] | None = None,
    count: int = 1,
    choice: Choice | None = None,
) -> Generation:
    """A run with queued tiles, as generation_start writes it (without enqueuing a task)."""
    models = models or ["offline/aurora"]
    choice = choice or Choice(aspect_ratio="16:9", resolution="1K")
    generation = Generation.objects.create(
        created_by=user,
        prompt=prompt,
        compare=len(models) > 1,
        model_ids=models,
        count=count,
        settings={"aspect_ratio": choice.aspect_ratio, "resolution": choice.resolution},
    )
    for column, model_id in enumerate(models):
        # A model only the gateway lists gets its generic controls, as the studio gives it.
        spec = catalog.known_models().get(model_id) or catalog.generic_spec(model_id)
        request = catalog.request_for(spec, choice)
        for position in range(count):
            Image.objects.create(
                generation=generation,
                model=model_id,
                column=column,
                position=position,
                request=request.params,
                expected_width=request.width,
                expected_height=request.height,
            )
    return generation


def make_succeeded_image(image: Image, *, width: int = 64, height: int = 36) -> Image:
    """Give a tile a real stored PNG and WebP thumbnail, as the runner does."""
    data = png_bytes(width, height)
    image.file.save(f"{image.generation_id}-{image.pk}-test.png", ContentFile(data), save=False)
    image.thumbnail.save(
        f"{image.generation_id}-{image.pk}-test.webp",
        ContentFile(webp_bytes(width, height)),
        save=False,
    )
    image.status = Image.Status.SUCCEEDED
    image.width, image.height = width, height
    image.thumb_width, image.thumb_height = width, height
    image.bytes = len(data)
    image.format = "png"
    image.latency = 1.5
    image.finished_at = timezone.now()
    image.save()
    return image
