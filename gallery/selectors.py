"""Reads: the gallery (filtered, keyset pages), one run, one image and its neighbours, prompts."""

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import (
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast
from django.utils import timezone

from gallery import search
from gallery.models import EditSource, Event, Image, PromptHistory, Run

GALLERY_PAGE_SIZE = 20


@dataclass(frozen=True)
class GalleryQuery:
    """What the gallery is narrowed to; it lives in the URL so a view can be shared. The dates
    come from studio.params.parse_date, whose range leaves room for the day after `date_to`."""

    q: str = ""
    model: str = ""
    starred: bool = False
    date_from: date | None = None
    date_to: date | None = None
    author_id: int | None = None
    # A board the viewer may see (checked by the view): runs with an image on it, each showing
    # only those. `board_order`: walked in the board's own order (newest image first, as the
    # board's page shows it) rather than the gallery's (newest run first, then column/position).
    board_id: int | None = None
    board_order: bool = False
    # Facets: runs with an image of this shape (a key of ASPECTS), with an image someone edited
    # (an edit the viewer can see), with an image that failed (or was interrupted).
    aspect: str = ""
    has_edits: bool = False
    failed: bool = False
    via_api: bool = False  # made through the API (with a token), not the studio's pages

    @property
    def is_filtered(self) -> bool:
        return bool(
            self.q or self.model or self.starred or self.date_from or self.date_to
            or self.author_id or self.board_id or self.aspect or self.has_edits or self.failed
            or self.via_api
        )  # fmt: skip


# The aspect-ratio facet: an image's shape as it was asked for (expected_width × height, set for
# every image, finished or not), within 3% of the ratio; or just its orientation.
ASPECT_TOLERANCE = 0.03
ASPECTS = {
    "landscape": "Landscape",
    "portrait": "Portrait",
    "1:1": "1:1 (square)",
    "4:3": "4:3",
    "3:4": "3:4",
    "3:2": "3:2",
    "2:3": "2:3",
    "16:9": "16:9",
    "9:16": "9:16",
    "21:9": "21:9",
}


def _shape(aspect: str) -> Q:
    if aspect == "landscape":
        return Q(expected_width__gt=F("expected_height"))
    if aspect == "portrait":
        return Q(expected_width__lt=F("expected_height"))
    wide, high = (int(part) for part in aspect.split(":"))
    # The width this ratio would give, in floating point (integers divide whole on PostgreSQL).
    ratio = Cast("expected_height", FloatField()) * wide / high
    return Q(
        expected_width__gte=ExpressionWrapper(ratio * (1 - ASPECT_TOLERANCE), FloatField()),
        expected_width__lte=ExpressionWrapper(ratio * (1 + ASPECT_TOLERANCE), FloatField()),
    )


def runs_visible_to(viewer) -> QuerySet:
    """Runs the viewer may see: not deleted, and not someone else's private run (admins see all)."""
    return _not_private_from(viewer, Run.objects.filter(deleted_at__isnull=True))


def _not_private_from(viewer, runs: QuerySet) -> QuerySet:
    if not viewer.is_staff:
        runs = runs.filter(Q(is_private=False) | Q(created_by=viewer))
    return runs


def may_see(viewer, run: Run) -> bool:
    """runs_visible_to's rule for one run already read (the live stream draws a change once
    for every page of a process, then keeps it from those who may not see it)."""
    return run.deleted_at is None and _not_private_from_one(viewer, run)


def saw_before_deletion(viewer, run: Run) -> bool:
    """A deleted run the viewer may have been shown while it was there."""
    return run.deleted_at is not None and _not_private_from_one(viewer, run)


def _not_private_from_one(viewer, run: Run) -> bool:
    return viewer.is_staff or not run.is_private or run.created_by_id == viewer.pk


def in_visible_run(viewer, *, through: str = "run") -> Q:
    """A filter for rows (images, edit sources) that belong, by `through`, to a run the viewer
    may see.

    Joins rather than `run__in=<visible runs>`: SQLite would build the whole list of
    visible runs first, which costs ~10 ms at 25,000 runs for a single-image lookup."""
    conditions = Q(**{f"{through}__deleted_at__isnull": True})
    if not viewer.is_staff:
        public = Q(**{f"{through}__is_private": False})
        conditions &= public | Q(**{f"{through}__created_by": viewer})
    return conditions


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _ranked_page(
    viewer, query: GalleryQuery, *, after: tuple[int, int] | None, limit: int
) -> list[Run]:
    """A page of a search: the ranking, then the runs (and their images), however deep. Each
    run carries its `search_score`, which the next page's cursor holds."""
    words = search.words_of(query.q)
    if not words:
        return []
    others = _filtered(runs_visible_to(viewer), replace(query, q=""), viewer)
    sql, params = search.ranked_sql(others, words, after=after, limit=limit)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ranked = cursor.fetchall()
    found = _with_images(runs_visible_to(viewer), query).in_bulk([run_id for run_id, _ in ranked])
    page = []
    for run_id, score in ranked:
        if run := found.get(run_id):  # unless it went away meanwhile
            run.search_score = score
            page.append(run)
    return page


def _filtered(runs: QuerySet, query: GalleryQuery, viewer) -> QuerySet:
    if query.q:
        runs = search.matching(runs, query.q)
    if query.author_id:
        runs = runs.filter(created_by_id=query.author_id)
    if query.via_api:
        runs = runs.exclude(api_token_name="")
    if query.date_from:
        runs = runs.filter(created_at__gte=_local_midnight(query.date_from))
    if query.date_to:
        runs = runs.filter(created_at__lt=_local_midnight(query.date_to + timedelta(days=1)))
    if query.model:
        runs = runs.filter(Exists(Image.objects.filter(run=OuterRef("pk"), model=query.model)))
    if query.starred:
        runs = runs.filter(
            Exists(Image.objects.filter(run=OuterRef("pk"), starred=True, deleted_at__isnull=True))
        )
    shown = Image.objects.filter(run=OuterRef("pk"), deleted_at__isnull=True)
    if query.aspect:
        runs = runs.filter(Exists(shown.filter(_shape(query.aspect))))
    if query.failed:
        failed = [Image.Status.FAILED, Image.Status.INTERRUPTED]
        runs = runs.filter(Exists(shown.filter(status__in=failed)))
    if query.has_edits:
        edits = EditSource.objects.filter(
            in_visible_run(viewer), image__run=OuterRef("pk"), image__deleted_at__isnull=True
        )
        runs = runs.filter(Exists(edits))
    if query.board_id:
        from boards.models import BoardImage  # boards depends on the gallery, not the reverse

        on_board = BoardImage.objects.filter(
            board_id=query.board_id, image__run=OuterRef("pk"), image__deleted_at__isnull=True
        )
        runs = runs.filter(Exists(on_board))
    return runs


def runs_matching(*, viewer, query: GalleryQuery) -> QuerySet:
    """Every run the gallery shows the viewer for these filters (all pages)."""
    return _filtered(runs_visible_to(viewer), query, viewer)


def images_in_view(images: QuerySet, query: GalleryQuery) -> QuerySet:
    """Of a run's images, those the gallery shows for these filters: filtered by a board, only
    the ones on it (the other filters choose runs). What the page draws (_with_images), what
    Select all takes (selection.shown) and what the lightbox walks (_walked)."""
    if query.board_id:
        images = images.filter(board_entries__board_id=query.board_id)
    return images


def _with_images(runs: QuerySet, query: GalleryQuery | None = None) -> QuerySet:
    """The runs with their images as the gallery draws them (images_in_view)."""
    images = Image.objects.filter(deleted_at__isnull=True).order_by("column", "position")
    if query is not None:
        images = images_in_view(images, query)
    return runs.select_related("created_by").prefetch_related(
        Prefetch("images", queryset=images),
        Prefetch("sources", queryset=EditSource.objects.select_related("image", "upload")),
    )


def runs_for_gallery(
    *,
    viewer,
    query: GalleryQuery = GalleryQuery(),
    before_id: int | None = None,
    after_rank: tuple[int, int] | None = None,
    limit: int = GALLERY_PAGE_SIZE,
) -> list[Run]:
    """One page of runs, keyed (no OFFSET): the same queries however deep the page. Returns up
    to `limit + 1` runs; the extra one (last) says another page exists.

    Newest first, the next page's cursor being the last id shown (`before_id`). With a search,
    best match first over all matches (ties newest first), the next page's cursor being the
    last run's (search_score, id) (`after_rank`)."""
    if query.q:
        return _ranked_page(viewer, query, after=after_rank, limit=limit + 1)
    runs = runs_matching(viewer=viewer, query=query)
    if before_id is not None:
        runs = runs.filter(pk__lt=before_id)
    return list(_with_images(runs.order_by("-id"), query)[: limit + 1])


def run_for_display(*, run_id: int, viewer) -> Run:
    """Raises Run.DoesNotExist for unknown, deleted or foreign private runs."""
    return _with_images(runs_visible_to(viewer)).get(pk=run_id)


def image_for_display(*, image_id: int, viewer) -> Image:
    """A finished, visible image with its run and author (Image.DoesNotExist otherwise)."""
    return (
        Image.objects.select_related("run__created_by")
        .filter(in_visible_run(viewer), status=Image.Status.SUCCEEDED, deleted_at__isnull=True)
        .get(pk=image_id)
    )


def image_neighbours(
    *, image: Image, viewer, query: GalleryQuery = GalleryQuery()
) -> tuple[tuple[int, str] | None, tuple[int, str] | None]:
    """The images before and after this one in gallery order (newest run first; within a run,
    column then position), across runs and pages, within the same filters: (id, file name).

    Three small queries that walk indexes: the run's own images, then, only if needed, the
    first image of the nearest newer and older runs that match and have one. Within a search,
    the runs' order is the search's (best match first), as its pages show it. Filtered by a
    board, the walk is the gallery's over the board's images; from the board's own page
    (`board_order`, without a search), the board's order (newest image first), as it shows it."""
    if query.board_id and query.board_order and not query.q:
        from boards.selectors import board_neighbours

        return board_neighbours(board_id=query.board_id, image=image, viewer=viewer)
    shown = _walked(query)
    siblings = list(
        shown.filter(run_id=image.run_id).order_by("column", "position").values_list("pk", "file")
    )
    index = next((i for i, (pk, _) in enumerate(siblings) if pk == image.pk), None)
    preceding = siblings[index - 1] if index else None
    following = siblings[index + 1] if index is not None and index + 1 < len(siblings) else None
    if query.q:
        if following is None or preceding is None:
            return _ranked_neighbours(image, viewer, query, preceding, following)
        return preceding, following
    runs = _filtered(runs_visible_to(viewer), query, viewer).filter(
        Exists(shown.filter(run=OuterRef("pk")))
    )
    if following is None:
        older = runs.filter(pk__lt=image.run_id).order_by("-pk").values("pk")[:1]
        following = shown.filter(run_id=Subquery(older)).order_by("column", "position")
        following = following.values_list("pk", "file").first()
    if preceding is None:
        newer = runs.filter(pk__gt=image.run_id).order_by("pk").values("pk")[:1]
        preceding = shown.filter(run_id=Subquery(newer)).order_by("-column", "-position")
        preceding = preceding.values_list("pk", "file").first()
    return preceding, following


def _walked(query: GalleryQuery) -> QuerySet:
    """The images the lightbox walks: the finished ones in view."""
    shown = Image.objects.filter(status=Image.Status.SUCCEEDED, deleted_at__isnull=True)
    return images_in_view(shown, query)


def _ranked_neighbours(image: Image, viewer, query: GalleryQuery, preceding, following):
    """image_neighbours' walk across runs within a search: the nearest runs in the search's
    order, with one more query (the run's score). A run that does not match (a link edited by
    hand) has neighbours within itself only."""
    words = search.words_of(query.q)
    score = search.score_of(image.run_id, words) if words else None
    if score is None:
        return preceding, following
    shown = _walked(query)
    runs = _filtered(runs_visible_to(viewer), replace(query, q=""), viewer).filter(
        Exists(shown.filter(run=OuterRef("pk")))
    )
    place = (score, image.run_id)
    # RawSQL: ranked_sql's text is fixed there; the search and cursor are passed as parameters.
    if following is None:
        sql, params = search.ranked_sql(runs, words, after=place, limit=1, columns="m.run_id")
        following = shown.filter(run_id=RawSQL(sql, params))  # noqa: S611
        following = following.order_by("column", "position")
        following = following.values_list("pk", "file").first()
    if preceding is None:
        sql, params = search.ranked_sql(runs, words, before=place, limit=1, columns="m.run_id")
        preceding = shown.filter(run_id=RawSQL(sql, params))  # noqa: S611
        preceding = preceding.order_by("-column", "-position")
        preceding = preceding.values_list("pk", "file").first()
    return preceding, following


def recent_prompts(*, user, limit: int = 20) -> list[PromptHistory]:
    return list(PromptHistory.objects.filter(user=user).order_by("-used_at", "-id")[:limit])


def image_lineage(*, image: Image, viewer) -> tuple[list[EditSource], list[Image]]:
    """What this image was edited from (its run's inputs), and the edits made of it (the first
    finished image of each visible run that took it as an input)."""
    sources = list(EditSource.objects.filter(run_id=image.run_id).select_related("image", "upload"))
    edits = list(
        Image.objects.filter(
            in_visible_run(viewer),
            run__sources__image=image,
            status=Image.Status.SUCCEEDED,
            deleted_at__isnull=True,
        )
        .order_by("-run_id", "column", "position")
        .select_related("run")
    )
    first_per_run: dict[int, Image] = {}
    for edit in edits:
        first_per_run.setdefault(edit.run_id, edit)
    return sources, list(first_per_run.values())


def events_after(*, after: int, limit: int) -> list[Event]:
    """The changes after event `after`, oldest first, at most `limit`."""
    return list(Event.objects.filter(pk__gt=after).order_by("pk")[:limit])


def event_exists(*, event_id: int) -> bool:
    return Event.objects.filter(pk=event_id).exists()


def runs_with_images(*, run_ids) -> list[Run]:
    """These runs as the gallery draws them, whoever may see them (deleted ones too): for
    drawing once and then showing each person what may_see lets them."""
    return list(_with_images(Run.objects.filter(pk__in=run_ids)))
