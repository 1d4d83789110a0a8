"""Rows and real image files for tests (and the gallery seeding command's shapes)."""

import functools
import io
import struct
import zlib

from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image as PILImage

from gallery import catalog
from gallery.catalog import Choice
from gallery.models import Image, Run


# Cached: the same small picture is asked for thousands of times, and encoding costs milliseconds.
@functools.cache
def png_bytes(width: int = 64, height: int = 36, colour=(200, 80, 40)) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


@functools.cache
def webp_bytes(width: int = 64, height: int = 36, colour=(200, 80, 40)) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (width, height), colour).save(buffer, "WEBP")
    return buffer.getvalue()


def jpeg_bytes(width: int = 16, height: int = 16, colour=(60, 180, 90), **options) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (width, height), colour).save(buffer, "JPEG", quality=95, **options)
    return buffer.getvalue()


@functools.cache
def zeros_png(width: int = 7000, height: int = 7000, *, palette: bool = False) -> bytes:
    """A PNG of nothing but zeros: the classic decompression bomb (7000x7000 RGBA is 190 KB that
    decodes to 196 MB). Compressed a block of rows at a time, so making it allocates little."""
    row = bytes(1 + width * (1 if palette else 4))  # filter byte, then the pixels
    deflate = zlib.compressobj(6)
    rows = [deflate.compress(row * 100) for _ in range(height // 100)]
    rows += [deflate.compress(row * (height % 100)), deflate.flush()]
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 3 if palette else 6, 0, 0, 0)
    chunks = [(b"IHDR", ihdr), *([(b"PLTE", bytes(3))] if palette else [])]
    chunks += [(b"IDAT", b"".join(rows)), (b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        for kind, body in chunks
    )


def wide_gamut_profile() -> bytes:
    """A small, valid ICC v2 display profile with Adobe RGB (1998) primaries and gamma 2.2: the
    kind a camera or photo editor embeds, and one whose colours differ visibly from sRGB."""

    def s15(value: float) -> bytes:
        return struct.pack(">i", round(value * 65536))

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ \0\0\0\0" + s15(x) + s15(y) + s15(z)

    gamma = b"curv\0\0\0\0" + struct.pack(">IH", 1, 0x0233) + b"\0\0"  # 2.2, u8Fixed8
    name = b"Wide gamut test profile\0"
    desc = b"desc\0\0\0\0" + struct.pack(">I", len(name)) + name + bytes(78)
    tags = [
        (b"desc", desc),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.60974, 0.31111, 0.01947)),
        (b"gXYZ", xyz(0.20528, 0.62567, 0.06087)),
        (b"bXYZ", xyz(0.14919, 0.06322, 0.74457)),
        *((trc, gamma) for trc in (b"rTRC", b"gTRC", b"bTRC")),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        data += bytes(-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data
    header = (
        struct.pack(">I4sI", offset + len(body), b"", 0x02100000)
        + b"mntrRGB XYZ "
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acsp"
        + bytes(28)
        + s15(0.9642)
        + s15(1.0)
        + s15(0.8249)
        + bytes(48)
    )
    return header + struct.pack(">I", len(tags)) + table + body


def make_run(
    user,
    *,
    prompt: str = "a red fox in the snow",
    models: list[str] | None = None,
    count: int = 1,
    choice: Choice | None = None,
) -> Run:
    """A run with queued images, as run_start writes it (without enqueuing a task)."""
    models = models or ["offline/aurora"]
    choice = choice or Choice(aspect_ratio="16:9", resolution="1K")
    run = Run.objects.create(
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
                run=run,
                model=model_id,
                column=column,
                position=position,
                request=request.params,
                expected_width=request.width,
                expected_height=request.height,
            )
    return run


def make_succeeded_image(image: Image, *, width: int = 64, height: int = 36) -> Image:
    """Give an image a real stored PNG and WebP thumbnail, as the runner does."""
    data = png_bytes(width, height)
    image.file.save(f"{image.run_id}-{image.pk}-test.png", ContentFile(data), save=False)
    image.thumbnail.save(
        f"{image.run_id}-{image.pk}-test.webp",
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


def listed_models(*model_ids: str) -> list[dict]:
    """`GET /v1/models` entries for the loopback gateway (`fake_gateway.models = ...`): a gateway
    that still lists a model offers it, past catalog.toml's `deactivated` date too (the only way
    to offer an edit-only model now that the gateway has deactivated every one)."""
    entries = []
    for model_id in model_ids:
        spec = catalog.known_models().get(model_id)
        inputs = ["text", "image"] if spec is None or spec.accepts_images else ["text"]
        entries.append(
            {
                "id": model_id,
                "name": spec.label if spec else model_id,
                "architecture": {"input_modalities": inputs, "output_modalities": ["image"]},
            }
        )
    return entries
