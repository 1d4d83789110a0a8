"""Writes: making, renaming, moving and deleting boards; putting images on them and taking
them off. Callers check who may (boards/permissions.py); the images added are only ever those
the adder may see."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max

from boards import selectors
from boards.models import Board, BoardImage
from gallery import selection

MAX_NAME = 100
# Rows per INSERT: SQLite lowers it to its own limit; PostgreSQL takes at most 65,535
# parameters (a BoardImage row is four).
INSERT_BATCH = 5000


@dataclass(frozen=True)
class Added:
    """What putting images on a board did: `new` ones put on it, `already` there before."""

    new: int
    already: int

    def __bool__(self) -> bool:
        return bool(self.new or self.already)

    def sentence(self, board: Board) -> str:
        """What the person is told (the board page's and the selection bar's Add to board)."""
        if not self.new:
            were = "That image was" if self.already == 1 else f"Those {self.already:,} images were"
            return f"{were} on “{board.name}” already."
        added = f"Added {self.new:,} image{'s' if self.new != 1 else ''} to “{board.name}”"
        if self.already:
            return (
                f"{added}; {self.already:,} {'was' if self.already == 1 else 'were'} on it already."
            )
        return f"{added}."


class BoardRefused(ValueError):
    """A board change that cannot be made; `message` says why, to a person."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise BoardRefused("Give the board a name.")
    if not name.isprintable():
        raise BoardRefused("A board's name can only have letters, digits, spaces and signs.")
    if len(name) > MAX_NAME:
        raise BoardRefused(f"A board's name can be at most {MAX_NAME} characters.")
    return name


def board_create(*, owner, name: str, shared: bool = True) -> Board:
    name = _clean_name(name)
    with transaction.atomic():
        last = Board.objects.aggregate(last=Max("position"))["last"]
        return Board.objects.create(
            owner=owner, name=name, is_shared=shared, position=(last or 0) + 1
        )


def board_create_with_images(
    *, owner, name: str, shared: bool, image_ids: Iterable[int]
) -> tuple[Board, Added]:
    """A new board starting with those of these images its owner may see, and how many: both or
    neither (too many ids refuses the board too)."""
    with transaction.atomic():
        board = board_create(owner=owner, name=name, shared=shared)
        return board, board_add_images(board=board, viewer=owner, image_ids=image_ids, empty=True)


def board_rename(*, board: Board, name: str, shared: bool | None = None) -> Board:
    board.name = _clean_name(name)
    fields = ["name"]
    if shared is not None:
        board.is_shared = shared
        fields.append("is_shared")
    board.save(update_fields=fields)
    return board


def board_delete(*, board: Board) -> None:
    """The board goes; its images stay in the gallery (and on other boards)."""
    board.delete()


def board_move(*, board: Board, viewer, direction: str) -> bool:
    """Swap the board with its neighbour above ("up") or below ("down") in the list the viewer
    sees; False at either end."""
    visible = selectors.boards_visible_to(viewer)
    if direction == "up":
        neighbour = visible.filter(position__lt=board.position).order_by("-position").first()
    else:
        neighbour = visible.filter(position__gt=board.position).order_by("position").first()
    if neighbour is None:
        return False
    with transaction.atomic():
        Board.objects.filter(pk=board.pk).update(position=neighbour.position)
        Board.objects.filter(pk=neighbour.pk).update(position=board.position)
    board.position, neighbour.position = neighbour.position, board.position
    return True


def boards_reorder(*, viewer, board_ids: list[int]) -> None:
    """Put the viewer's boards in this order (a drag in the list): the positions they held,
    handed out again in the new order. Boards the viewer cannot see keep theirs."""
    with transaction.atomic():
        boards = list(selectors.boards_visible_to(viewer).filter(pk__in=board_ids))
        if len(boards) != len(set(board_ids)):
            raise BoardRefused("The list has changed; reload the page and try again.")
        positions = sorted(board.position for board in boards)
        order = {pk: index for index, pk in enumerate(board_ids)}
        for board in boards:
            board.position = positions[order[board.pk]]
        Board.objects.bulk_update(boards, ["position"])


def _visible_image_ids(viewer, image_ids: Iterable[int]) -> list[int]:
    ids = list(dict.fromkeys(image_ids))
    if len(ids) > selection.most():  # the select-many bar's limit, for every bulk action
        raise BoardRefused(
            f"That is {len(ids):,} images; act on at most {selection.most():,} at a time."
        )
    return list(selectors.images_shown(viewer).filter(pk__in=ids).values_list("pk", flat=True))


def board_add_images(
    *, board: Board, viewer, image_ids: Iterable[int], empty: bool = False
) -> Added:
    """Put the images the viewer may see on the board (those already there stay), and say how
    many went on and how many were there already. Images the viewer may not see are ignored,
    as if they did not exist. `empty`: the board was just made (nothing to count)."""
    ids = _visible_image_ids(viewer, image_ids)
    on_it = BoardImage.objects.filter(board=board, image_id__in=ids)
    already = on_it.count() if ids and not empty else 0
    BoardImage.objects.bulk_create(
        [BoardImage(board=board, image_id=pk, added_by=viewer) for pk in ids],
        ignore_conflicts=True,
        # One INSERT for as many as one request may name (SQLite splits by its own limit).
        batch_size=INSERT_BATCH,
    )
    return Added(new=len(ids) - already, already=already)


def board_remove_images(*, board: Board, viewer, image_ids: Iterable[int]) -> int:
    ids = _visible_image_ids(viewer, image_ids)
    removed, _ = BoardImage.objects.filter(board=board, image_id__in=ids).delete()
    return removed


def image_set_boards(*, image, viewer, board_ids: set[int]) -> None:
    """Put the image on exactly these of the boards the viewer sees (the "Add to board" picker's
    ticks); boards the viewer cannot see are left as they are."""
    visible = set(selectors.boards_visible_to(viewer).values_list("pk", flat=True))
    wanted = board_ids & visible
    with transaction.atomic():
        BoardImage.objects.filter(image=image, board_id__in=visible - wanted).delete()
        BoardImage.objects.bulk_create(
            [BoardImage(board_id=pk, image=image, added_by=viewer) for pk in wanted],
            ignore_conflicts=True,
        )
