"""The seed's files: pictures drawn and written in worker processes, then gathered for the rows.

Most images are small distinct PNGs (about 96x96 pixels, shaped like the ratio the run asked for)
whose thumbnail is the same picture as WebP; the realistic ones are drawn full size by the offline
renderer, with the pipeline's own thumbnails.

This module's top level imports no models: worker processes import it without Django set up.
"""

from __future__ import annotations

import io
import os
import random
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from functools import cache
from multiprocessing import get_context
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gallery.seeding.plan import PlannedRun

SMALL_JOB_IMAGES = 500  # small images one worker task encodes and writes


def executor(workers: int) -> Executor:
    """`workers` processes drawing pictures, or none: then each job runs when it is submitted."""
    if workers:
        return ProcessPoolExecutor(workers, mp_context=get_context("forkserver"))
    return InProcess()


def _paint_small(width: int, height: int, seed: int, label: str):
    """A cheap, distinct picture: a two-tone background, a few shapes and the run's number."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)

    def colour(lightness: tuple[int, int]) -> tuple[int, int, int]:
        base = rng.randrange(*lightness)
        return tuple(min(255, max(0, base + rng.randrange(-90, 90))) for _ in range(3))

    im = Image.new("RGB", (width, height), colour((30, 120)))
    draw = ImageDraw.Draw(im)
    split = rng.randrange(height // 3, height)
    draw.rectangle((0, split, width, height), fill=colour((40, 160)))
    kind = rng.randrange(4)
    for _ in range(rng.randrange(3, 7)):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1, y1 = x0 + rng.randrange(6, width // 2 + 7), y0 + rng.randrange(6, height // 2 + 7)
        fill = colour((110, 230))
        if kind == 0:
            draw.rectangle((x0, y0, x1, y1), fill=fill)
        elif kind == 1:
            draw.ellipse((x0, y0, x1, y1), fill=fill)
        elif kind == 2:
            draw.line((x0, y0, x1, y1), fill=fill, width=rng.randrange(2, 6))
        else:
            draw.polygon([(x0, y0), (x1, y0 + rng.randrange(-9, 9)), (x0, y1)], fill=fill)
    draw.text((3, height - 12), label, fill=(255, 255, 255), font=_label_font())
    return im


@cache
def _label_font():
    from PIL import ImageFont

    return ImageFont.load_default_imagefont()  # the bitmap font: 10x cheaper than FreeType


def _encode_small(width: int, height: int, seed: int, label: str) -> tuple[bytes, bytes]:
    im = _paint_small(width, height, seed, label)
    png, webp = io.BytesIO(), io.BytesIO()
    im.save(png, "PNG", compress_level=1)
    # Lossless at method 0 is the quickest WebP for pictures this small.
    im.save(webp, "WEBP", lossless=True, quality=0, method=0)
    return png.getvalue(), webp.getvalue()


def render_job(job: dict) -> list[tuple]:
    """Draw and store a job's images; one result tuple per image, in order:
    (bytes, thumbnail bytes, thumb_width, thumb_height, format, original, thumbnail).

    With `root` set (file-system storage) the files are written here and the last two are None;
    otherwise the caller saves the returned bytes through the storage API."""
    root = job["root"]
    results = []
    if job["kind"] == "small":
        for file_name, thumb_name, width, height, seed, label in job["images"]:
            png, webp = _encode_small(width, height, seed, label)
            results.append(_stored(root, file_name, png, thumb_name, webp, width, height, "png"))
        return results

    from gallery import imaging, offline

    for file_name, thumb_name, spec in job["images"]:
        data = offline.render(**spec)
        processed = imaging.process_generated(data, thumb_max_side=job["thumb_max_side"])
        if (processed.width, processed.height) != (spec["width"], spec["height"]):
            raise RuntimeError(f"offline.render drew {processed.width}x{processed.height}")
        results.append(
            _stored(
                root,
                file_name,
                data,
                thumb_name,
                processed.thumbnail,
                processed.thumb_width,
                processed.thumb_height,
                processed.format,
            )
        )
    return results


def _stored(root, file_name, data, thumb_name, thumb, thumb_width, thumb_height, fmt) -> tuple:
    sizes = (len(data), len(thumb), thumb_width, thumb_height, fmt)
    if not root:
        return (*sizes, data, thumb)
    for name, content in ((file_name, data), (thumb_name, thumb)):
        with open(os.path.join(root, name), "wb") as f:
            f.write(content)
    return (*sizes, None, None)


class InProcess(Executor):
    """Runs each job at once; used for small seeds (no process start-up) and --workers 0."""

    def submit(self, fn, /, *args, **kwargs):
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


def submit(
    executor: Executor, planned: list[PlannedRun], *, root: str | None, thumb_max_side: int
) -> list[tuple[int, Future]]:
    """Hands a group's pictures to the workers: (images in the job, its future) per job."""
    images = [image for run in planned for image in run.images]
    if planned[0].realistic:
        jobs = []
        for run in planned:
            for image in run.images:
                spec = {
                    "prompt": run.prompt,
                    "width": image.width,
                    "height": image.height,
                    "style": image.model.removeprefix("offline/"),
                    "variant": image.position,
                    "quality": image.request.get("quality"),
                }
                job = {
                    "kind": "realistic",
                    "root": root,
                    "thumb_max_side": thumb_max_side,
                    "images": [(image.file_name, image.thumb_name, spec)],
                }
                # One image per task (~0.2 s each), so that the pool shares them out.
                jobs.append((1, executor.submit(render_job, job)))
        return jobs
    jobs = []
    labels = {
        id(image): f"{run.number}-{n}" for run in planned for n, image in enumerate(run.images, 1)
    }
    for start in range(0, len(images), SMALL_JOB_IMAGES):
        chunk = images[start : start + SMALL_JOB_IMAGES]
        job = {
            "kind": "small",
            "root": root,
            "images": [
                (i.file_name, i.thumb_name, i.width, i.height, i.paint_seed, labels[id(i)])
                for i in chunk
            ],
        }
        jobs.append((len(chunk), executor.submit(render_job, job)))
    return jobs


def collect(
    planned: list[PlannedRun], jobs: list[tuple[int, Future]], *, root: str | None, totals: dict
) -> None:
    """Waits for a group's files and records them on its planned images (saving them through
    the storage API when the workers could not write them), adding their sizes to `totals`."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    results = [result for _, future in jobs for result in future.result()]
    images = [image for run in planned for image in run.images]
    assert len(results) == len(images)
    for image, result in zip(images, results, strict=True):
        size, thumb_size, image.thumb_width, image.thumb_height, image.format = result[:5]
        image.bytes = size
        if root is None:
            data, thumb = result[5:]
            image.file_name = default_storage.save(image.file_name, ContentFile(data))
            image.thumb_name = default_storage.save(image.thumb_name, ContentFile(thumb))
        totals["bytes"] += size
        totals["thumb_bytes"] += thumb_size
        totals["blocks"] += -(-size // 4096) + -(-thumb_size // 4096)
