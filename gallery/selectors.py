"""Reads: the gallery, one run, the tiles still in flight, a person's recent prompts."""

from django.db.models import Prefetch, QuerySet

from gallery.models import Generation, Image, PromptHistory

GALLERY_PAGE_SIZE = 20


def _with_tiles(generations: QuerySet) -> QuerySet:
    return generations.select_related("created_by").prefetch_related(
        Prefetch("images", queryset=Image.objects.order_by("column", "position"))
    )


def generations_for_gallery(*, before_id: int | None = None, limit: int = GALLERY_PAGE_SIZE):
    """One page of runs, newest first, keyed on id (no OFFSET).

    Returns up to `limit + 1` runs: the extra one only says that another page exists."""
    runs = Generation.objects.visible()
    if before_id is not None:
        runs = runs.filter(pk__lt=before_id)
    return list(_with_tiles(runs.order_by("-id"))[: limit + 1])


def generation_for_display(*, generation_id: int) -> Generation:
    return _with_tiles(Generation.objects.visible()).get(pk=generation_id)


def recent_prompts(*, user, limit: int = 20) -> list[PromptHistory]:
    return list(PromptHistory.objects.filter(user=user).order_by("-used_at", "-id")[:limit])
