from django.apps import AppConfig


class GalleryConfig(AppConfig):
    name = "gallery"

    def ready(self) -> None:
        from django.db import transaction
        from django.tasks.signals import task_enqueued

        from gallery import push

        def wake_workers(sender, **kwargs) -> None:
            # After the task's row commits (at once outside a transaction), so a woken worker
            # finds it.
            transaction.on_commit(push.announce_work)

        task_enqueued.connect(wake_workers, weak=False, dispatch_uid="gallery.wake_workers")
