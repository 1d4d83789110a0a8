"""The seed's plan: what each run and image will be, decided in order from one seeded random
stream, so the same options give the same gallery.

File names are decided here: ``images/seed/<run>-<n>.png`` and ``thumbs/seed/<run>-<n>.webp``,
where <run> counts on from the largest run id at the start, so it is the run's id when nothing
else writes runs meanwhile. It never exceeds that id, so a later seed never reuses a live seed
run's name.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.management.base import CommandError
from django.utils import timezone

from gallery import catalog, pricing
from gallery.catalog import Choice

SPREAD_DAYS = 180
SMALL_AREA = 96 * 96  # pixels of a seeded small image, whatever its shape
COMPARE_SHARE = 0.12
STAR_SHARE = 0.03
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
            price = pricing.estimate(sent=[(spec, request.params)]).total
            self.requests[key] = (request, price)
        return self.requests[key]

    def run(self, index: int) -> PlannedRun:
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


def batches(planner: Planner, size: int) -> Iterator[list[PlannedRun]]:
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
