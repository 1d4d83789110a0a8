"""The offline renderer: deterministic, prompt-seeded pictures drawn locally with Pillow.

It stands in for a model when no gateway key is set, so a newcomer sees the whole studio work.
Everything is seeded from a hash of the arguments, so the same request gives the same bytes.

`generate` is what the runner calls in place of the gateway; `render` and `edit` draw the
pictures, each style in its own module (aurora, mosaic, blueprint), with the prompt's colours in
`palette`, the shared painting helpers, label and PNG encoding in `canvas`, and the reworking of
source pictures in `edits`.
"""

from __future__ import annotations

import asyncio
import functools
import io
import time
from concurrent.futures import Executor
from decimal import Decimal

from django.conf import settings
from PIL import Image

from gallery import gateway
from gallery.offline import aurora, blueprint, edits, mosaic
from gallery.offline.canvas import add_label, encode_png
from gallery.offline.palette import palette_for, seeded

_PAINTERS = {"aurora": aurora.paint, "mosaic": mosaic.paint, "blueprint": blueprint.paint}
_EDITORS = {
    "aurora": edits.edit_aurora,
    "mosaic": edits.edit_mosaic,
    "blueprint": edits.edit_blueprint,
}

STYLES = tuple(_PAINTERS)
MAX_SIDE = 8192

_DETAIL = {"low": 0.6, "medium": 1.0, "high": 1.5}


async def generate(
    *,
    model: str,
    prompt: str,
    params: dict,
    inputs: list[gateway.InputImage],
    width: int,
    height: int,
    variant: int,
    executor: Executor,
) -> gateway.GatewayResult:
    """One image for an "offline/<style>" model, behind the same result type as the gateway.

    The drawing is CPU work, so it runs on `executor` (the runner's image pool, which bounds
    that work for the whole process), never on the event loop. The wait before it is
    OFFLINE_RENDER_DELAY, so progress shows as it would with a real model.
    """
    started = time.perf_counter()
    await asyncio.sleep(settings.OFFLINE_RENDER_DELAY)
    style = model.removeprefix("offline/")
    in_pool = functools.partial(asyncio.get_running_loop().run_in_executor, executor)
    if inputs:
        data = await in_pool(
            lambda: encode_as(
                edit(
                    prompt=prompt,
                    sources=[i.data for i in inputs],
                    width=width,
                    height=height,
                    style=style,
                    variant=variant,
                ),
                image_format=params.get("output_format", "png"),
                compression=params.get("output_compression"),
            )
        )
    else:
        # A generation sent an output format (the API passes it on, as GPT Image takes it)
        # comes back in it too; without one, the PNG as rendered.
        data = await in_pool(
            lambda: encode_as(
                render(
                    prompt=prompt,
                    width=width,
                    height=height,
                    style=style,
                    variant=variant,
                    quality=params.get("quality"),
                ),
                image_format=params.get("output_format", "png"),
                compression=params.get("output_compression"),
            )
        )
    return gateway.GatewayResult(
        images=[gateway.ImageData(data=data, revised_prompt="")],
        cost=Decimal("0"),
        latency=time.perf_counter() - started,
    )


def render(
    *,
    prompt: str,
    width: int,
    height: int,
    style: str,
    variant: int = 0,
    quality: str | None = None,
) -> bytes:
    """A PNG of exactly width x height; the same arguments always give the same bytes."""
    _check(width=width, height=height, style=style)
    return encode_png(add_label(_paint(prompt, width, height, style, variant, quality)))


def edit(
    *, prompt: str, sources: list[bytes], width: int, height: int, style: str, variant: int = 0
) -> bytes:
    """A visible, deterministic reworking of sources[0] (others become insets), as a PNG."""
    _check(width=width, height=height, style=style)
    if not sources:
        raise ValueError("edit needs at least one source image")
    palette = palette_for(prompt)
    rng = seeded("edit", prompt, style, variant)
    base = edits.cover(edits.decode_source(sources[0], palette, max(width, height)), width, height)
    im = _EDITORS[style](prompt, base, palette, rng)
    others = [
        edits.decode_source(source, palette, max(width, height) // 4) for source in sources[1:4]
    ]
    edits.insets(im, others, palette)
    return encode_png(add_label(im))


def encode_as(png: bytes, *, image_format: str = "png", compression: int | None = None) -> bytes:
    """Re-encode a rendered PNG as the edit's requested output format (png, jpeg or webp).
    `compression` is OpenAI's output_compression, 0-100, where 100 keeps the most quality."""
    if image_format not in ("jpeg", "webp"):
        return png
    quality = 90 if compression is None else min(100, max(1, compression))
    with Image.open(io.BytesIO(png)) as im:
        out = io.BytesIO()
        im.convert("RGB").save(out, "JPEG" if image_format == "jpeg" else "WEBP", quality=quality)
    return out.getvalue()


def _check(*, width: int, height: int, style: str) -> None:
    if style not in STYLES:
        raise ValueError(f"unknown offline style {style!r}; expected one of {STYLES}")
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise ValueError(f"size {width}x{height} is outside 1..{MAX_SIDE} pixels a side")


def _paint(
    prompt: str, width: int, height: int, style: str, variant: int, quality: str | None
) -> Image.Image:
    """The picture without its label."""
    detail = _DETAIL.get(quality or "medium", 1.0)
    rng = seeded("render", prompt, style, variant, quality)
    return _PAINTERS[style](prompt, width, height, palette_for(prompt), rng, detail)
