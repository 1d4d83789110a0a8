"""Mark the images no worker is looking after as interrupted (with Retry), so none stays pending,
and forget the live pages' events older than PUSH_EVENTS_KEEP_HOURS.

Every running worker does this every few seconds; run this from cron too (say every minute), so
that images are given up on even while no worker runs at all:
    ./studio.sh manage reap_stale
"""

from django.core.management.base import BaseCommand

from gallery.models import Event, Image


class Command(BaseCommand):
    help = (
        "Mark running images whose worker stopped beating (WORKER_STALE_SECONDS) and queued images "
        "no worker picked up (QUEUE_TIMEOUT_SECONDS) as interrupted."
    )

    def handle(self, **options) -> None:
        reaped = Image.objects.reap_stale()
        for reason, ids in reaped.items():
            if ids:
                listed = ", ".join(str(pk) for pk in sorted(ids))
                self.stdout.write(
                    f"Interrupted {len(ids)} image(s), {reason.name.lower().replace('_', ' ')}: "
                    f"{listed}."
                )
        if not any(reaped.values()):
            self.stdout.write("No stuck images.")
        if pruned := Event.objects.prune():
            self.stdout.write(f"Forgot {pruned} old event(s).")
