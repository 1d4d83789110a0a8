"""Who may do what with a board. A board someone may not see is a 404; one they see but may not
change (rename, delete) a 403. Shared boards are the team's: anyone who sees one may add images
to it, take them off and move it in the list. Which images someone may add is who may see them
(gallery.selectors), so nobody can put another member's private image on a board."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from boards import selectors
from boards.models import Board

NOT_YOURS = "Only the person who made this board, or an admin, can rename or delete it."
PRIVATE_NOT_YOURS = "This board is private to the person who made it: only they can share it."


def can_change(user, board: Board) -> bool:
    return user.is_staff or board.owner_id == user.pk


def can_share(user, board: Board) -> bool:
    """gallery.permissions.can_share's rule for a board: a private board, its owner alone."""
    return can_change(user, board) and (board.is_shared or board.owner_id == user.pk)


def board_for_view(request, pk: int) -> Board:
    try:
        return selectors.board_for_display(board_id=pk, viewer=request.user)
    except Board.DoesNotExist:
        raise Http404("No such board.") from None


def board_for_change(request, pk: int) -> Board:
    board = board_for_view(request, pk)
    if not can_change(request.user, board):
        raise PermissionDenied(NOT_YOURS)
    return board
