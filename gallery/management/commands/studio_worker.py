"""`manage.py studio_worker`: the studio's task worker (gallery/worker.py), many runs at once."""

import logging

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.crypto import get_random_string

from gallery.worker import ConcurrentWorker


def _names(text: str) -> list[str]:
    return [name for name in text.split(",") if name]


class Command(BaseCommand):
    help = "Run the studio's task worker (many runs at once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--concurrency", type=int, default=settings.WORKER_CONCURRENCY)
        parser.add_argument("--interval", type=float, default=settings.WORKER_POLL_INTERVAL)
        parser.add_argument("--batch", action="store_true", help="Run what is queued, then exit.")
        parser.add_argument(
            "--queue-name",
            default="default",
            help="The queues to take tasks from, separated by commas; '*' for all.",
        )
        parser.add_argument(
            "--exclude-queues",
            default="",
            help="Queues to leave alone, separated by commas (only with --queue-name='*').",
        )

    def handle(
        self, *, concurrency, interval, batch, queue_name, exclude_queues, verbosity, **options
    ) -> None:
        queue_names, excluded = _names(queue_name), _names(exclude_queues)
        if not queue_names:
            raise CommandError("Name at least one queue with --queue-name (or '*' for all).")
        if excluded and "*" not in queue_names:
            raise CommandError("--exclude-queues can only be used with --queue-name='*'.")
        level = logging.WARNING if verbosity == 0 else logging.INFO
        logging.getLogger("gallery").setLevel(level)
        worker = ConcurrentWorker(
            concurrency=concurrency,
            queue_names=queue_names,
            excluded_queue_names=excluded,
            interval=interval,
            batch=batch,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id=get_random_string(32),
        )
        worker.configure_signals()
        worker.run()
