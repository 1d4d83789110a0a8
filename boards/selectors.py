"""Reads: the boards a person sees, one board's images (newest first, keyset pages), the
boards an image is on. Which images a person may see is the gallery's rule
(gallery.selectors.in_visible_run), called here, never restated."""

from django.db.models import Count, Q, QuerySet

from boards.models import Board, BoardImage
from gallery import selectors as gallery_selectors
from gallery.models import Image

BOARD_PAGE_SIZE = 60


def boards_visible_to(viewer) -> QuerySet:
    """Shared boards and the viewer's own private ones; admins see every board (as they see
    every private run)."""
    boards = Board.objects.all()
    if viewer.is_staff:
        return boards
    return boards.filter(Q(is_shared=True) | Q(owner=viewer))


def board_for_display(*, board_id: int, viewer) -> Board:
    """Board.DoesNotExist for unknown boards and someone else's private board."""
    return boards_visible_to(viewer).select_related("owner").get(pk=board_id)


def images_shown(viewer) -> QuerySet:
    """Finished, not deleted images of runs the viewer may see."""
    return Image.objects.filter(
        gallery_selectors.in_visible_run(viewer),
        status=Image.Status.SUCCEEDED,
        deleted_at__isnull=True,
    )


def boards_with_counts(*, viewer) -> list[Board]:
    """The boards list: each with how many of its images the viewer may see."""
    visible = gallery_selectors.in_visible_run(viewer, through="entries__image__run")
    shown = (
        visible
        & Q(entries__image__status=Image.Status.SUCCEEDED)
        & Q(entries__image__deleted_at__isnull=True)
    )
    boards = boards_visible_to(viewer).select_related("owner")
    counted = boards.annotate(image_count=Count("entries", filter=shown))
    return list(counted.order_by("position", "pk"))  # Meta.ordering is not applied with GROUP BY


def board_images(
    *, board: Board, viewer, before_id: int | None = None, limit: int = BOARD_PAGE_SIZE
) -> list[Image]:
    """One page of the board's images the viewer may see, newest first, keyed on the image id
    (no OFFSET); up to `limit + 1`, the extra one saying another page exists."""
    images = _on_board(viewer, board.pk, **({"lt": before_id} if before_id is not None else {}))
    images = images.select_related("run__created_by")
    return list(images.order_by("-board_entries__image_id")[: limit + 1])


def _on_board(viewer, board_id: int, **image_id) -> QuerySet:
    """The board's images the viewer may see, with `lt=` / `gt=` an image id, in one filter()
    so that the board's entries are joined once; ordered by `board_entries__image_id`, a page
    walks the board's index (board, -image) and stops at the page's end. Ordered by the
    image's own id, the database would read and sort every entry of the board first (2,000
    entries: 20 ms)."""
    bounds = {f"board_entries__image_id__{op}": pk for op, pk in image_id.items()}
    return images_shown(viewer).filter(board_entries__board_id=board_id, **bounds)


def board_neighbours(
    *, board_id: int, image: Image, viewer
) -> tuple[tuple[int, str] | None, tuple[int, str] | None]:
    """The images before and after this one in the board's order (newest first): (id, file)."""
    newer = _on_board(viewer, board_id, gt=image.pk).order_by("board_entries__image_id")
    older = _on_board(viewer, board_id, lt=image.pk).order_by("-board_entries__image_id")
    return newer.values_list("pk", "file").first(), older.values_list("pk", "file").first()


def boards_of_image(*, image: Image, viewer) -> set[int]:
    """The ids of the boards (of those the viewer sees) this image is on."""
    return set(
        BoardImage.objects.filter(
            image=image, board__in=boards_visible_to(viewer).values("pk")
        ).values_list("board_id", flat=True)
    )
