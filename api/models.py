"""Personal API tokens: how scripts and SDKs call the studio's /v1 API as a member."""

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiTokenQuerySet(models.QuerySet):
    def usable(self, *, now=None):
        """Tokens a request may still use: not revoked, not expired, their owner active."""
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True, user__is_active=True).exclude(
            expires_at__lte=now
        )


class ApiToken(models.Model):
    """A member's token. Only a SHA-256 hash of the secret is stored; the whole token is shown
    once, when it is made. `prefix` is its visible start, unique, which finds the row and keys
    the sign-in rate limit for guesses at it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=32, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Runs made with this token are private (only its owner and admins see them).
    private_runs = models.BooleanField(default=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_secret(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired


class ApiRequest(models.Model):
    """One /v1 request a token made, kept for the rate limit's window (api/rate_limit.py)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="+", db_index=False)
    at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["user", "at"], name="api_request_user_at"),
            models.Index(fields=["token", "at"], name="api_request_token_at"),
            models.Index(fields=["at"], name="api_request_at"),
        ]

    def __str__(self) -> str:
        return f"token {self.token_id} at {self.at:%H:%M:%S}"
