"""Fill the gallery with many finished runs, quickly, for benchmarks and demos.

    manage.py seed_gallery --runs 25000 --images-per-run 4 [--users 5] [--seed 1] [--realistic 20]

Every image row is a finished ("succeeded") tile with a real original and a real WebP thumbnail
in default storage. Most are small distinct PNGs (about 96x96 pixels, shaped like the ratio
the run asked for) whose thumbnail is the same picture as WebP, so 100,000 of them take a couple
of minutes. The newest ``--realistic`` runs are drawn full size by the offline renderer, with
the pipeline's own 512-px thumbnails, for measuring page bytes against originals.

Pictures are encoded in worker processes (``--workers``, default: one per CPU) while this
process writes the rows, in batches of ``--batch`` runs, one transaction each.

File names are ``images/seed/<run>-<n>.png`` and ``thumbs/seed/<run>-<n>.webp``, where <run>
counts on from the largest run id at the start, so it is the run's id when nothing else writes
runs meanwhile. It never exceeds that id, so a later seed never reuses a live seed run's name.

This module's top level imports no models: worker processes import it without Django set up.
"""

from __future__ import annotations

import io
import math
import os
import random
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from multiprocessing import get_context

from django.core.management.base import BaseCommand, CommandError

PASSWORD = "seed-passphrase"  # noqa: S105 (the seeded demo accounts' password)
SPREAD_DAYS = 180
REFUSE_ABOVE = 1000
SMALL_AREA = 96 * 96  # pixels of a seeded small image, whatever its shape
SMALL_JOB_IMAGES = 500  # small images one worker task encodes and writes
COMPARE_SHARE = 0.12
STAR_SHARE = 0.03
HISTORY_PER_USER = 20
MODEL_IDS = ("offline/aurora", "offline/mosaic", "offline/blueprint")
MODEL_WEIGHTS = (5, 3, 2)
RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3")
RATIO_WEIGHTS = (6, 6, 2, 3, 2, 2, 1)
RESOLUTIONS = ("0.5K", "1K", "2K")
RESOLUTION_WEIGHTS = (1, 7, 2)
QUALITIES = ("low", "medium", "high")

# Prompt parts: every combination reads like something a person would type, and the words give
# search something to find (and the offline renderer colours to pick for the realistic runs).
SUBJECTS = (
    "a red fox", "a lighthouse", "an old tram", "a koi pond", "a snowy owl", "a sailboat",
    "a mountain village", "a tea house", "a paper dragon", "a glass greenhouse", "an astronaut",
    "a cathedral", "a desert caravan", "a lone cabin", "a windmill", "a coral reef", "a robot",
    "a night market", "a bonsai tree", "a steam locomotive", "a jellyfish", "a hot-air balloon",
    "a city skyline", "a waterfall", "a cat on a windowsill", "a violin", "a library",
    "a bowl of ramen", "a vintage motorcycle", "a field of sunflowers", "a castle", "a whale",
)  # fmt: skip
PLACES = (
    "on a basalt cliff", "in a misty forest", "by a frozen lake", "under a cherry blossom tree",
    "in a neon-lit alley", "on the surface of the moon", "in a tropical lagoon", "in the desert",
    "on a rainy street", "among autumn leaves", "in a snowy valley", "above the clouds",
    "at the edge of the ocean", "in a quiet garden", "inside a glass dome", "on a floating island",
)  # fmt: skip
TIMES = (
    "at dawn", "at sunset", "at midnight", "at golden hour", "in soft morning light",
    "during a storm", "under the northern lights", "in spring rain", "on a foggy morning", "",
)  # fmt: skip
STYLES = (
    "watercolour", "oil painting", "35mm film photo", "isometric illustration", "low-poly render",
    "ukiyo-e woodblock print", "pixel art", "technical blueprint", "studio photograph",
    "pastel gouache", "cinematic still", "ink sketch", "vivid neon poster", "muted pastel",
)  # fmt: skip
EXTRAS = (
    "highly detailed", "wide angle", "shallow depth of field", "symmetrical composition",
    "dramatic lighting", "minimalist", "soft colours", "rich textures", "", "", "",
)  # fmt: skip


# --- the plan: what each run and image will be ------------------------------------------------


@dataclass
class PlannedImage:
    model: str
    column: int
    position: int
    request: dict
    expected_width: int
    expected_height: int
    estimated_cost: Decimal | None
    starred: bool
    latency: float
    file_name: str
    thumb_name: str
    width: int  # of the file we will draw; realistic images are drawn at the expected size
    height: int
    paint_seed: int
    # Filled in from what the worker wrote:
    bytes: int = 0
    thumb_width: int = 0
    thumb_height: int = 0
    format: str = "png"


@dataclass
class PlannedRun:
    number: int  # names the files; the run's id when nothing else writes runs meanwhile
    user_index: int
    created_at: datetime
    prompt: str
    compare: bool
    model_ids: list[str]
    count: int
    settings: dict
    realistic: bool
    images: list[PlannedImage] = field(default_factory=list)


def make_prompt(rng: random.Random) -> str:
    parts = [f"{rng.choice(SUBJECTS)} {rng.choice(PLACES)}"]
    if moment := rng.choice(TIMES):
        parts[0] += f" {moment}"
    parts.append(rng.choice(STYLES))
    if extra := rng.choice(EXTRAS):
        parts.append(extra)
    return ", ".join(parts)


def small_size(width: int, height: int) -> tuple[int, int]:
    """A size of about SMALL_AREA pixels with the shape of width x height (e.g. 128x72)."""
    scale = math.sqrt(SMALL_AREA / (width * height))
    return max(8, round(width * scale)), max(8, round(height * scale))


class Planner:
    """Decides each run in order, from one seeded random stream: the same options give the same
    gallery. Runs add up to exactly runs x images-per-run images: a compare run with more
    images than that is balanced by the next single-model runs having fewer."""

    def __init__(
        self, *, runs: int, per_run: int, realistic: int, users: int, seed: int, base_number: int
    ):
        from django.utils import timezone

        from gallery import catalog

        self.catalog = catalog
        self.specs = catalog.known_models()
        missing = [m for m in MODEL_IDS if m not in self.specs]
        if missing:
            raise CommandError(f"The catalog has no {', '.join(missing)}.")
        self.runs, self.per_run, self.realistic = runs, per_run, realistic
        self.users, self.base_number = users, base_number
        self.rng = random.Random(seed)
        self.carry = 0  # images planned beyond runs x per_run so far
        self.requests: dict = {}
        now = timezone.now().replace(microsecond=0)
        self.start = now - timedelta(days=SPREAD_DAYS)
        self.step = timedelta(days=SPREAD_DAYS) / runs

    def _request(self, model_id: str, choice):
        key = (model_id, choice)
        if key not in self.requests:
            spec = self.specs[model_id]
            request = self.catalog.request_for(spec, choice)
            self.requests[key] = (request, self.catalog.estimated_price(spec, request.params))
        return self.requests[key]

    def run(self, index: int) -> PlannedRun:
        from gallery.catalog import Choice

        rng = self.rng
        realistic = index >= self.runs - self.realistic
        remaining = self.runs - index - 1
        compare = (
            self.per_run >= 2 and self.carry == 0 and remaining > 0 and rng.random() < COMPARE_SHARE
        )
        if compare:
            model_ids = rng.sample(MODEL_IDS, rng.choice((2, 2, 3)))
            count = math.ceil(self.per_run / len(model_ids))
        else:
            model_ids = rng.choices(MODEL_IDS, MODEL_WEIGHTS)
            count = max(1, self.per_run - self.carry)
        self.carry += len(model_ids) * count - self.per_run

        ratio = rng.choices(RATIOS, RATIO_WEIGHTS)[0]
        resolution = "1K" if realistic else rng.choices(RESOLUTIONS, RESOLUTION_WEIGHTS)[0]
        quality = rng.choice(QUALITIES) if "offline/blueprint" in model_ids else ""
        size = ""
        if model_ids == ["offline/mosaic"]:
            # A pixel-size model on its own: the form shows Size instead of ratio and resolution.
            sizes = self.specs["offline/mosaic"].sizes
            if realistic:  # 1K-ish sizes only
                sizes = [s for s in sizes if max(map(int, s.split("x"))) <= 1536]
            size = rng.choice(sizes)
            ratio, resolution = "", ""
        choice = Choice(aspect_ratio=ratio, resolution=resolution, size=size, quality=quality)

        number = self.base_number + index + 1
        jitter = rng.random() * 0.8
        run = PlannedRun(
            number=number,
            user_index=rng.randrange(self.users),
            created_at=self.start + self.step * (index + jitter),
            prompt=make_prompt(rng),
            compare=len(model_ids) > 1,
            model_ids=list(model_ids),
            count=count,
            settings={
                "aspect_ratio": ratio,
                "resolution": resolution,
                "size": size,
                "quality": quality,
            },
            realistic=realistic,
        )
        n = 0
        for column, model_id in enumerate(model_ids):
            request, price = self._request(model_id, choice)
            if realistic:
                width, height = request.width, request.height
            else:
                width, height = small_size(request.width, request.height)
            for position in range(count):
                n += 1
                run.images.append(
                    PlannedImage(
                        model=model_id,
                        column=column,
                        position=position,
                        request=dict(request.params),
                        expected_width=request.width,
                        expected_height=request.height,
                        estimated_cost=price,
                        starred=rng.random() < STAR_SHARE,
                        latency=round(rng.uniform(0.7, 3.5) * (2.5 if realistic else 1), 3),
                        file_name=f"images/seed/{number}-{n}.png",
                        thumb_name=f"thumbs/seed/{number}-{n}.webp",
                        width=width,
                        height=height,
                        paint_seed=rng.getrandbits(32),
                    )
                )
        return run


# --- drawing and writing files (runs in worker processes) ---------------------------------------


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


class _InProcess(Executor):
    """Runs each job at once; used for small seeds (no process start-up) and --workers 0."""

    def submit(self, fn, /, *args, **kwargs):
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


# --- the command --------------------------------------------------------------------------------


class Command(BaseCommand):
    help = "Seed the gallery with many finished runs and real image files (benchmarks, demos)."

    def add_arguments(self, parser):
        parser.add_argument("--runs", type=int, default=25_000, help="runs to add (25000)")
        parser.add_argument(
            "--images-per-run", type=int, default=4, help="images per run on average (4)"
        )
        parser.add_argument("--users", type=int, default=5, help="authors seed1..seedN (5)")
        parser.add_argument("--seed", type=int, default=1, help="random seed (1)")
        parser.add_argument(
            "--realistic",
            type=int,
            default=0,
            metavar="N",
            help="the newest N runs get full-size offline renders and 512-px thumbnails",
        )
        parser.add_argument(
            "--force", action="store_true", help=f"seed even if over {REFUSE_ABOVE} runs exist"
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="processes drawing pictures (default: one per CPU; 0 draws in this process)",
        )
        parser.add_argument("--batch", type=int, default=500, help="runs per transaction (500)")

    def handle(self, *args, **options):
        from django.core.files.storage import FileSystemStorage, default_storage
        from django.db import connection

        from gallery.models import Generation

        runs, per_run = options["runs"], options["images_per_run"]
        users, realistic = options["users"], options["realistic"]
        batch = options["batch"]
        if runs < 1 or per_run < 1 or users < 1 or batch < 1:
            raise CommandError("--runs, --images-per-run, --users and --batch must be at least 1.")
        if not 0 <= realistic <= runs:
            raise CommandError("--realistic must be between 0 and --runs.")
        existing = Generation.objects.count()
        if existing > REFUSE_ABOVE and not options["force"]:
            raise CommandError(
                f"The gallery already has {existing:,} runs (more than {REFUSE_ABOVE:,}); "
                "seeding would add to them. Pass --force to seed anyway."
            )
        self.verbosity, self.runs = options["verbosity"], runs
        started = time.perf_counter()

        authors = self._users(users)
        on_disk = isinstance(default_storage, FileSystemStorage)
        root = None
        if on_disk:
            root = default_storage.location
            for folder in ("images/seed", "thumbs/seed"):
                os.makedirs(default_storage.path(folder), exist_ok=True)
        base_number = Generation.objects.order_by("-id").values_list("id", flat=True).first() or 0
        planner = Planner(
            runs=runs,
            per_run=per_run,
            realistic=realistic,
            users=users,
            seed=options["seed"],
            base_number=base_number,
        )
        workers = options["workers"]
        if workers is None:
            workers = 0 if runs * per_run < 1000 and realistic < 4 else (os.cpu_count() or 1)
        self._say(
            f"Seeding {runs:,} runs (~{runs * per_run:,} images, {realistic} realistic) "
            f"by {users} users into {connection.settings_dict['NAME']} "
            f"and {root or type(default_storage).__name__}, {workers or 'no'} worker processes"
        )
        executor: Executor = (
            ProcessPoolExecutor(workers, mp_context=get_context("forkserver"))
            if workers
            else _InProcess()
        )
        totals = {"runs": 0, "images": 0, "bytes": 0, "thumb_bytes": 0, "blocks": 0}
        try:
            pending: list[tuple[list[PlannedRun], list]] = []
            in_flight = max(2, 3 * workers)
            for planned in self._batches(planner, batch):
                pending.append((planned, self._submit(executor, planned, root)))
                while sum(len(jobs) for _, jobs in pending) > in_flight:
                    self._store(*pending.pop(0), authors, root, totals, started)
            while pending:
                self._store(*pending.pop(0), authors, root, totals, started)
        finally:
            executor.shutdown(cancel_futures=True)
        self._remember_prompts(authors)

        elapsed = time.perf_counter() - started
        total_bytes = totals["bytes"] + totals["thumb_bytes"]
        lines = [
            f"Seeded {totals['runs']:,} runs and {totals['images']:,} images "
            f"({realistic} realistic runs) by {users} users in {elapsed:.1f} s.",
            f"  files: {2 * totals['images']:,} ({total_bytes / 1e6:,.1f} MB: originals "
            f"{totals['bytes'] / 1e6:,.1f} MB, thumbnails {totals['thumb_bytes'] / 1e6:,.1f} MB)",
        ]
        if on_disk:
            lines.append(
                f"  on disk: about {totals['blocks'] * 4096 / 1e6:,.1f} MB in 4 KiB blocks, "
                f"under {root}"
            )
        lines.append(f"  the gallery now has {Generation.objects.count():,} runs")
        if self.verbosity >= 1:
            self.stdout.write("\n".join(lines))

    # --- steps ---

    def _say(self, message: str) -> None:
        if self.verbosity >= 1:
            self.stdout.write(message)

    def _users(self, count: int) -> list:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.hashers import make_password

        user_model = get_user_model()
        names = [f"seed{i}" for i in range(1, count + 1)]
        found = {u.get_username(): u for u in user_model.objects.filter(username__in=names)}
        missing = [name for name in names if name not in found]
        if missing:
            # One hash for all of them: hashing costs most of a second each.
            password = make_password(PASSWORD)
            for name in missing:
                user = user_model.objects.create_user(name, f"{name}@example.com")
                user.password = password
                user.save(update_fields=["password"])
                found[name] = user
            self._say(f"Created users {', '.join(missing)} (password {PASSWORD!r})")
        return [found[name] for name in names]

    def _batches(self, planner: Planner, size: int):
        """Runs in order, in groups of `size` (one transaction each); the realistic runs, which
        come last, start a group of their own."""
        group: list[PlannedRun] = []
        for index in range(planner.runs):
            run = planner.run(index)
            if group and run.realistic != group[-1].realistic:
                yield group
                group = []
            group.append(run)
            if len(group) >= size:
                yield group
                group = []
        if group:
            yield group

    def _submit(self, executor: Executor, planned: list[PlannedRun], root: str | None) -> list:
        from django.conf import settings

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
                        "thumb_max_side": settings.THUMBNAIL_MAX_SIDE,
                        "images": [(image.file_name, image.thumb_name, spec)],
                    }
                    # One image per task (~0.2 s each), so that the pool shares them out.
                    jobs.append((1, executor.submit(render_job, job)))
            return jobs
        jobs = []
        labels = {
            id(image): f"{run.number}-{n}"
            for run in planned
            for n, image in enumerate(run.images, 1)
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

    def _store(self, planned, jobs, authors, root, totals, started) -> None:
        """Wait for a group's files, then write its runs and images in one transaction."""
        from django.core.files.base import ContentFile
        from django.core.files.storage import default_storage
        from django.db import transaction
        from django.db.models import OuterRef, Subquery

        from gallery.models import Generation, Image

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

        with transaction.atomic():
            generations = Generation.objects.bulk_create(
                Generation(
                    created_by=authors[run.user_index],
                    prompt=run.prompt,
                    compare=run.compare,
                    model_ids=run.model_ids,
                    count=run.count,
                    settings=run.settings,
                )
                for run in planned
            )
            # created_at is auto_now_add: bulk_create stamped "now"; spread them over the months.
            for generation, run in zip(generations, planned, strict=True):
                generation.created_at = run.created_at
            Generation.objects.bulk_update(generations, ["created_at"], batch_size=250)
            rows = []
            for generation, run in zip(generations, planned, strict=True):
                for image in run.images:
                    started_at = run.created_at + timedelta(seconds=0.05)
                    rows.append(
                        Image(
                            generation=generation,
                            model=image.model,
                            column=image.column,
                            position=image.position,
                            status=Image.Status.SUCCEEDED,
                            request=image.request,
                            expected_width=image.expected_width,
                            expected_height=image.expected_height,
                            attempts=1,
                            started_at=started_at,
                            finished_at=started_at + timedelta(seconds=image.latency),
                            file=image.file_name,
                            thumbnail=image.thumb_name,
                            width=image.width,
                            height=image.height,
                            thumb_width=image.thumb_width,
                            thumb_height=image.thumb_height,
                            bytes=image.bytes,
                            format=image.format,
                            latency=image.latency,
                            cost=image.estimated_cost,
                            estimated_cost=image.estimated_cost,
                            starred=image.starred,
                        )
                    )
            Image.objects.bulk_create(rows, batch_size=2000)
            # queued_at is auto_now_add too: a tile is queued when its run is created.
            Image.objects.filter(generation_id__in=[g.pk for g in generations]).update(
                queued_at=Subquery(
                    Generation.objects.filter(pk=OuterRef("generation_id")).values("created_at")[:1]
                )
            )
        totals["runs"] += len(generations)
        totals["images"] += len(rows)
        if self.verbosity >= 1 and (
            totals["runs"] % 2500 < len(generations) or totals["runs"] == self.runs
        ):
            self._say(
                f"  {totals['runs']:>7,} runs, {totals['images']:>8,} images, "
                f"{time.perf_counter() - started:6.1f} s"
            )

    def _remember_prompts(self, authors: list) -> None:
        """Each author's newest prompts in their recent-prompts list, as if they had typed them."""
        from gallery.models import Generation, PromptHistory

        rows = []
        for user in authors:
            seen = set()
            newest = Generation.objects.filter(created_by=user).order_by("-id")
            for prompt, created_at in newest.values_list("prompt", "created_at")[:100]:
                if prompt not in seen and len(seen) < HISTORY_PER_USER:
                    seen.add(prompt)
                    rows.append(
                        PromptHistory(
                            user=user,
                            prompt=prompt,
                            prompt_hash=PromptHistory.hash_prompt(prompt),
                            used_at=created_at,
                        )
                    )
        PromptHistory.objects.bulk_create(rows, ignore_conflicts=True)
