"""Boards: named collections of the gallery's images, shared with the team or private to their
owner. An image can be on several boards; deleting a board leaves its images where they were."""

from django.conf import settings
from django.db import models

from gallery.models import Image


class Board(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="boards"
    )
    name = models.CharField(max_length=100)
    # Shared boards are the team's (everyone sees them and adds to them); a private one is seen
    # by its owner and admins only.
    is_shared = models.BooleanField(default=True)
    # The team's order of the boards list (smallest first); gaps are fine.
    position = models.IntegerField(default=0, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.name


class BoardImage(models.Model):
    """An image on a board. A board shows its images newest first: by image id."""

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="entries")
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="board_entries")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["board", "image"], name="board_image_once"),
        ]
        indexes = [models.Index(fields=["board", "-image"], name="board_newest_first")]

    def __str__(self) -> str:
        return f"image {self.image_id} on board {self.board_id}"
