"""Writes and checks for sharing one gateway key: the model allowlist, quotas and the budget,
the first admin account, invites, sign-up by email domain, members, and the team policy.

The gallery calls `allowed_models` to filter what the prompt box offers, and `run_permit` inside
the transaction that queues images, for a new run and a Retry alike: it alone decides whether
images may be queued. What counts towards quotas is described in team/selectors.py.
"""

import secrets
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from gallery.catalog import ModelSpec
from gallery.pricing import Estimate
from team import locks, selectors
from team.models import Invite, TeamPolicy
from team.money import usd

INVITE_DAYS_MAX = 30


class TeamError(Exception):
    """A refused request, with a sentence to show the person."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class RunRefused(TeamError):
    """A run (or a Retry) the team's rules do not let start; `title` heads the message's page."""

    title = "Can't run this"


class QuotaExceeded(RunRefused):
    """A run that would go over the daily image limit or the monthly budget; `resets_at` is
    when that limit starts afresh (local midnight, or the first of next month)."""

    title = "Over the limit"

    def __init__(self, message: str, *, resets_at=None):
        super().__init__(message)
        self.resets_at = resets_at


class ModelNotAllowed(RunRefused):
    """A run of a model the team no longer offers (the allowlist, or the gateway, dropped it)."""

    title = "Model not available"


class InviteUnusable(TeamError):
    """An invite link that cannot be used; `reason` is unknown, expired, used or revoked."""

    def __init__(self, message: str, *, reason: str):
        super().__init__(message)
        self.reason = reason


# --- the model allowlist ----------------------------------------------------------------------


def allowed_models(models: dict[str, ModelSpec]) -> dict[str, ModelSpec]:
    """The models the team may use, in the given order. An empty allowlist allows every model;
    the offline renderer is always allowed (it costs nothing). A model the gateway lists but the
    catalog does not know is hidden once an allowlist is set: admins choose from the catalog."""
    policy = TeamPolicy.current()
    return {model_id: spec for model_id, spec in models.items() if _allows(policy, spec)}


def _allows(policy: TeamPolicy, spec: ModelSpec) -> bool:
    return not policy.allowed_models or spec.offline or spec.id in policy.allowed_models


# --- quotas and the budget --------------------------------------------------------------------


def _locked_policy() -> TeamPolicy:
    """The policy, read after taking its lock (team/locks.py), which is held until the
    surrounding transaction ends, so callers that check and then write go one at a time."""
    locks.serialise("team policy")
    return TeamPolicy.current_for_update()


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def run_permit(*, user, estimate: Estimate) -> None:
    """Refuse images that may not be queued for `user`; otherwise return, holding the lock until
    the caller's transaction commits. The one check before a new run and before a Retry.

    `estimate` (gallery.pricing) prices each image to queue; a price is None when nothing knows
    it. In order: a model the allowlist no longer has (ModelNotAllowed), the person's daily
    image limit, then the team's monthly budget (QuotaExceeded).

    Call it inside `transaction.atomic()`, before writing the images: concurrent callers are
    serialised, so each sees the images (and the allowlist) the previous one wrote, and runs
    that together would cross a limit cannot both pass.
    """
    policy = _locked_policy()
    for spec in estimate.models:
        if not _allows(policy, spec):
            raise ModelNotAllowed(
                f"An admin has removed {spec.label} from the team's models, so it can't run any "
                "more."
            )
    now = timezone.now()
    limit = policy.daily_image_limit
    if limit is not None:
        left = max(0, limit - selectors.images_today(user=user, now=now))
        needed = len(estimate.images)
        if needed > left:
            have = "none" if left == 0 else str(left)
            message = (
                f"This run needs {_plural(needed, 'image')} but you have {have} left today "
                f"(limit {limit} a day)."
            )
            if left == 0:
                message += " The limit resets at midnight."
            midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
            raise QuotaExceeded(message, resets_at=midnight + timedelta(days=1))
    budget = policy.monthly_budget_usd
    if budget is not None:
        local = timezone.localtime(now)
        spent = selectors.spent_in_month(year=local.year, month=local.month)
        left = max(Decimal(0), budget - spent)
        if message := budget_refusal(budget=budget, left=left, estimate=estimate):
            next_month = (local.replace(day=28) + timedelta(days=4)).replace(
                day=1, hour=0, minute=0, second=0, microsecond=0
            )
            raise QuotaExceeded(message, resets_at=next_month)


def budget_refusal(*, budget: Decimal, left: Decimal, estimate: Estimate) -> str | None:
    """Why `left` of the month's `budget` cannot pay for the images `estimate` prices, or None.

    A model with no known price may run while some budget is left (its images then count at the
    gateway's reported cost); once the budget is used up it must not slip past it as if free.
    The prompt box shows the same sentence before Generate is pressed."""
    cost = estimate.known_cost
    if cost > left:
        if left <= 0:
            return (
                f"This run would cost about {usd(cost)} but this month's {usd(budget)} budget is "
                "used up."
            )
        return (
            f"This run would cost about {usd(cost)} but only {usd(left)} of this month's "
            f"{usd(budget)} budget is left."
        )
    unpriced = estimate.unpriced
    if unpriced and left <= 0:
        one = len(unpriced) == 1
        return (
            f"{' and '.join(unpriced)} {'has' if one else 'have'} no known price and this "
            f"month's {usd(budget)} budget is used up, so this run can't start. An admin can "
            f"raise the budget on the Team page, or give {'the model' if one else 'them'} a "
            "price in gallery/catalog.toml."
        )
    return None


# --- the policy -------------------------------------------------------------------------------


def _require_admin(actor) -> None:
    if not (actor.is_active and actor.is_staff):
        raise PermissionDenied("Only admins can manage the team.")


def policy_update(
    *,
    actor,
    allowed_models: list[str],
    daily_image_limit: int | None,
    monthly_budget_usd: Decimal | None,
    signup_domain: str,
) -> TeamPolicy:
    _require_admin(actor)
    with transaction.atomic():
        policy = _locked_policy()
        policy.allowed_models = list(dict.fromkeys(allowed_models))
        policy.daily_image_limit = daily_image_limit
        policy.monthly_budget_usd = monthly_budget_usd
        policy.signup_domain = signup_domain.strip().lstrip("@").lower()
        policy.updated_by = actor
        policy.save()
    return policy


# --- accounts: the first admin, invites and sign-up ----------------------------------------


def _account_create(*, username: str, email: str, password: str, admin: bool = False):
    """An account, with Django's username and password rules: a member, or with `admin` one
    that administers the studio (staff and superuser)."""
    users = get_user_model()
    if users.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": f"Someone is already called “{username}”."})
    if email and users.objects.filter(email__iexact=email).exists():
        raise ValidationError(
            {"email": "An account with this email already exists: sign in instead."}
        )
    user = users(
        username=username,
        email=users.objects.normalize_email(email),
        is_staff=admin,
        is_superuser=admin,
    )
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    user.set_password(password)
    user.full_clean()
    user.save()
    return user


def first_admin_create(*, username: str, email: str, password: str):
    """The first account, made on a fresh install's setup page: it administers the studio.
    Refused once any account exists, so two setup pages sent at once cannot both make one."""
    with transaction.atomic():
        locks.serialise("first account")
        if get_user_model().objects.exists():
            raise TeamError("This studio is already set up: sign in instead.")
        return _account_create(
            username=username, email=email.strip(), password=password, admin=True
        )


def invite_create(*, created_by, email: str = "", days: int = 7) -> tuple[Invite, str]:
    """A one-time invite link's record and its token. The token is returned only here: the
    database keeps its SHA-256 hash."""
    _require_admin(created_by)
    if not 1 <= days <= INVITE_DAYS_MAX:
        raise ValueError(f"An invite lasts from 1 to {INVITE_DAYS_MAX} days; got {days}.")
    token = secrets.token_urlsafe(32)
    invite = Invite.objects.create(
        token_hash=Invite.hash_token(token),
        email=get_user_model().objects.normalize_email(email.strip()),
        created_by=created_by,
        expires_at=timezone.now() + timedelta(days=days),
    )
    return invite, token


ASK_AGAIN = "Ask an admin of the studio for a new invite."


def invite_for_token(*, token: str, lock: bool = False) -> Invite:
    """The invite a link names, if it can still be used; else InviteUnusable saying why."""
    invites = Invite.objects.select_for_update() if lock else Invite.objects.all()
    invite = invites.filter(token_hash=Invite.hash_token(token)).first()
    if invite is None:
        raise InviteUnusable(
            "This invite link is not valid. Check that you copied all of it. " + ASK_AGAIN,
            reason="unknown",
        )
    if invite.revoked_at is not None:
        raise InviteUnusable(
            "This invite link was withdrawn by an admin. " + ASK_AGAIN, reason="revoked"
        )
    if invite.used_at is not None:
        raise InviteUnusable(
            "This invite link has already been used: each link works once. If the account is "
            "yours, sign in. " + ASK_AGAIN,
            reason="used",
        )
    if invite.is_expired:
        expired = timezone.localtime(invite.expires_at)
        raise InviteUnusable(
            f"This invite link expired on {expired:%-d %B %Y at %H:%M}. " + ASK_AGAIN,
            reason="expired",
        )
    return invite


def invite_accept(*, token: str, username: str, password: str, email: str = ""):
    """Create a member account with an invite and use the invite up, or change nothing."""
    with transaction.atomic():
        invite = invite_for_token(token=token, lock=True)
        if invite.email:
            if email and email.strip().lower() != invite.email.lower():
                raise ValidationError({"email": f"This invite is for {invite.email}."})
            email = invite.email
        user = _account_create(username=username, email=email.strip(), password=password)
        now = timezone.now()
        # Conditional, so two people racing with one link cannot both use it.
        claimed = Invite.objects.filter(
            pk=invite.pk, used_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
        ).update(used_at=now, used_by=user)
        if not claimed:
            raise InviteUnusable(
                "This invite link has just been used: each link works once. " + ASK_AGAIN,
                reason="used",
            )
    return user


def invite_revoke(*, actor, invite: Invite) -> None:
    _require_admin(actor)
    Invite.objects.filter(pk=invite.pk, used_at__isnull=True, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def email_in_domain(email: str, domain: str) -> bool:
    return bool(domain) and email.strip().lower().endswith("@" + domain.lower())


def signup_create(*, username: str, email: str, password: str):
    """Create a member account for someone with an email address at the sign-up domain.

    The studio sends no email, so this trusts the address as typed: it keeps strangers out of
    an internal studio, not a determined colleague-impersonator. Use invites where that matters.
    """
    domain = TeamPolicy.current().signup_domain
    if not domain:
        raise TeamError("Sign-up is closed: ask an admin for an invite.")
    if not email_in_domain(email, domain):
        raise ValidationError({"email": f"Use an email address ending in @{domain}."})
    with transaction.atomic():
        return _account_create(username=username, email=email.strip(), password=password)


# --- members ----------------------------------------------------------------------------------


def member_set_active(*, actor, member, active: bool) -> None:
    """Deactivate (or reactivate) an account. A deactivated member cannot sign in and is signed
    out of every session at their next request; their runs and images stay."""
    _require_admin(actor)
    if active:
        get_user_model().objects.filter(pk=member.pk).update(is_active=True)
        member.is_active = True
        return
    with transaction.atomic():
        _locked_policy()  # two admins deactivating each other go one at a time
        other_admins = (
            get_user_model()
            .objects.filter(is_active=True, is_staff=True)
            .exclude(pk=member.pk)
            .exists()
        )
        if member.is_staff and not other_admins:
            raise TeamError(
                f"{member.get_username()} is the last active admin, so the studio would have "
                "nobody to manage it: make someone else an admin first."
            )
        if member.pk == actor.pk:
            raise TeamError("You can't deactivate your own account: ask another admin.")
        if member.is_staff and not actor.is_superuser:
            raise TeamError(f"Only a superuser can deactivate {member.get_username()}, an admin.")
        get_user_model().objects.filter(pk=member.pk).update(is_active=False)
    member.is_active = False
