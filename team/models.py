"""The team's rules (allowlist, quotas, budget, sign-up domain), invites and sign-in attempts."""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class TeamPolicy(models.Model):
    """The one row of team-wide settings (pk=1). Until an admin saves it, or a run is checked
    against it, there is no row and `current()` answers with the defaults."""

    # Catalog model ids the team may use; empty means every model. Offline ones are always allowed.
    allowed_models = models.JSONField(default=list, blank=True)
    # Images one person may make per day (local midnight to midnight); null means unlimited.
    daily_image_limit = models.PositiveIntegerField(null=True, blank=True)
    # What the whole team may spend per calendar month, in USD; null means unlimited.
    monthly_budget_usd = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    # Anyone with an email address at this domain may create an account at /signup/.
    signup_domain = models.CharField(max_length=253, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = "team policy"
        verbose_name_plural = "team policy"
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="team_policy_singleton")]

    def __str__(self) -> str:
        return "Team policy"

    @classmethod
    def current(cls) -> "TeamPolicy":
        """The team's rules, for reading: pages read them, and reading never writes."""
        return cls.objects.filter(pk=1).first() or cls(pk=1)

    @classmethod
    def current_for_update(cls) -> "TeamPolicy":
        """The team's rules, for a writer that holds the policy's lock: its row, made if need be."""
        policy, _ = cls.objects.get_or_create(pk=1)
        return policy


class InviteQuerySet(models.QuerySet):
    def pending(self, *, now=None):
        """Invites that can still be used: not used, not revoked, not expired."""
        now = now or timezone.now()
        return self.filter(used_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now)


def _default_expiry():
    return timezone.now() + timedelta(days=7)


class Invite(models.Model):
    """A one-time link to create an account. Only a hash of its token is stored: the link is shown
    to the admin once, and a copy of the database cannot be used to sign up."""

    token_hash = models.CharField(max_length=64, unique=True)
    # When set, the account made with this invite must use this email address.
    email = models.EmailField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invites_sent"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(default=_default_expiry)
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="invite_used",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InviteQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"invite {self.pk} ({self.email or 'anyone'})"

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def is_usable(self) -> bool:
        return self.used_at is None and self.revoked_at is None and not self.is_expired


class LoginAttempt(models.Model):
    """A sign-in attempt, recorded before the password is checked and deleted when it succeeds,
    so what stays are failures, kept for the rate limit's window (team/signin_limit.py)."""

    username = models.CharField(max_length=150)  # lower-cased, as typed
    ip = models.GenericIPAddressField(null=True, blank=True)
    attempted_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["username", "attempted_at"], name="login_attempt_user"),
            models.Index(fields=["ip", "attempted_at"], name="login_attempt_ip"),
        ]

    def __str__(self) -> str:
        return f"{self.username} from {self.ip} at {self.attempted_at:%Y-%m-%d %H:%M}"
