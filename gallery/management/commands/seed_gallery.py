"""Fill the gallery with many finished runs, quickly, for benchmarks and demos.

    manage.py seed_gallery --runs 25000 --images-per-run 4 [--users 5] [--seed 1] [--realistic 20]

Every image is finished ("succeeded"), with a real original and a real WebP thumbnail
in default storage. Most are small distinct PNGs (about 96x96 pixels, shaped like the ratio
the run asked for) whose thumbnail is the same picture as WebP, so 100,000 of them take a couple
of minutes. The newest ``--realistic`` runs are drawn full size by the offline renderer, with
the pipeline's own 512-px thumbnails, for measuring page bytes against originals.

Pictures are encoded in worker processes (``--workers``, default: one per CPU) while this
process writes the rows, in batches of ``--batch`` runs, one transaction each. The work is in
`gallery.seeding`: `plan` (what each run is, and the file names), `render` (the files), `store`
(the rows).
"""

from __future__ import annotations

import os
import time

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from gallery.models import Run
from gallery.seeding import plan, render, store

REFUSE_ABOVE = 1000


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
        runs, per_run = options["runs"], options["images_per_run"]
        users, realistic = options["users"], options["realistic"]
        batch = options["batch"]
        if runs < 1 or per_run < 1 or users < 1 or batch < 1:
            raise CommandError("--runs, --images-per-run, --users and --batch must be at least 1.")
        if not 0 <= realistic <= runs:
            raise CommandError("--realistic must be between 0 and --runs.")
        existing = Run.objects.count()
        if existing > REFUSE_ABOVE and not options["force"]:
            raise CommandError(
                f"The gallery already has {existing:,} runs (more than {REFUSE_ABOVE:,}); "
                "seeding would add to them. Pass --force to seed anyway."
            )
        self.verbosity, self.runs = options["verbosity"], runs
        started = time.perf_counter()

        authors, created = store.seed_users(users)
        if created:
            self._say(f"Created users {', '.join(created)} (password {store.PASSWORD!r})")
        on_disk = isinstance(default_storage, FileSystemStorage)
        root = None
        if on_disk:
            root = default_storage.location
            for folder in ("images/seed", "thumbs/seed"):
                os.makedirs(default_storage.path(folder), exist_ok=True)
        base_number = Run.objects.order_by("-id").values_list("id", flat=True).first() or 0
        planner = plan.Planner(
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
        executor = render.executor(workers)
        totals = {"runs": 0, "images": 0, "bytes": 0, "thumb_bytes": 0, "blocks": 0}
        try:
            pending: list[tuple[list[plan.PlannedRun], list]] = []
            in_flight = max(2, 3 * workers)
            for planned in plan.batches(planner, batch):
                jobs = render.submit(
                    executor, planned, root=root, thumb_max_side=settings.THUMBNAIL_MAX_SIDE
                )
                pending.append((planned, jobs))
                while sum(len(jobs) for _, jobs in pending) > in_flight:
                    self._store(*pending.pop(0), authors, root, totals, started)
            while pending:
                self._store(*pending.pop(0), authors, root, totals, started)
        finally:
            executor.shutdown(cancel_futures=True)
        store.remember_prompts(authors)

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
        lines.append(f"  the gallery now has {Run.objects.count():,} runs")
        if self.verbosity >= 1:
            self.stdout.write("\n".join(lines))

    def _say(self, message: str) -> None:
        if self.verbosity >= 1:
            self.stdout.write(message)

    def _store(self, planned, jobs, authors, root, totals, started) -> None:
        """Wait for a group's files, then write its runs and images in one transaction."""
        render.collect(planned, jobs, root=root, totals=totals)
        runs, images = store.write_runs(planned, authors)
        totals["runs"] += runs
        totals["images"] += images
        if self.verbosity >= 1 and (totals["runs"] % 2500 < runs or totals["runs"] == self.runs):
            self._say(
                f"  {totals['runs']:>7,} runs, {totals['images']:>8,} images, "
                f"{time.perf_counter() - started:6.1f} s"
            )
