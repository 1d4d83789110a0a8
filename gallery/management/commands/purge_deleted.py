"""Remove runs and images deleted more than DELETED_RETENTION_DAYS ago, files included, and the
images attached for edits that long ago that no run used.

Deleting in the studio only hides (so Undo works); run this daily, e.g. from cron:
    ./studio.sh manage purge_deleted
"""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand

from gallery import services


class Command(BaseCommand):
    help = (
        "Remove runs and images deleted longer ago than the retention period, and unused "
        "uploads as old, with their files."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--days",
            type=float,
            default=settings.DELETED_RETENTION_DAYS,
            help="Keep deleted items this many days (default: DELETED_RETENTION_DAYS).",
        )

    def handle(self, *, days: float, **options) -> None:
        removed = services.deleted_purge(older_than=timedelta(days=days))
        unused = services.uploads_purge(older_than=timedelta(days=days))
        self.stdout.write(
            f"Purged {removed['runs']} run(s) and {removed['images']} image(s); "
            f"deleted {removed['files']} file(s)."
        )
        self.stdout.write(
            f"Purged {unused['uploads']} unused upload(s); deleted {unused['files']} file(s)."
        )
        if removed["kept"] or unused["kept"]:
            self.stderr.write(
                f"Kept {removed['kept']} image(s) and {unused['kept']} upload(s) whose files the "
                "file storage would not delete; the next purge tries again."
            )
