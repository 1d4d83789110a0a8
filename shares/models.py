"""Share links: a read-only public page (no sign-in) for one run, one image or one board."""

import hashlib

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from boards.models import Board
from gallery.models import Image, Run


class ShareLink(models.Model):
    class Kind(models.TextChoices):
        RUN = "run", "Run"
        IMAGE = "image", "Image"
        BOARD = "board", "Board"

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="share_links"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    kind = models.CharField(max_length=8, choices=Kind)
    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    image = models.ForeignKey(
        Image, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    board = models.ForeignKey(
        Board, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # Only the token's SHA-256 is kept: the link is shown once, when it is made.
    token_hash = models.CharField(max_length=64, unique=True)
    include_prompt = models.BooleanField(default=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind="run", run__isnull=False, image__isnull=True, board__isnull=True)
                    | Q(kind="image", image__isnull=False, run__isnull=True, board__isnull=True)
                    | Q(kind="board", board__isnull=False, run__isnull=True, image__isnull=True)
                ),
                name="share_link_one_target",
            )
        ]

    def __str__(self) -> str:
        return f"share link {self.pk} ({self.kind})"

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None and not self.is_expired

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "Revoked"
        return "Expired" if self.is_expired else "Active"
