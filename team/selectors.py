"""Reads: what the team has used and spent, who the members are, the invites still open.

What counts. An image counts towards the daily limit, the budget and the usage page from the
moment its run is queued, whatever happens to it later, except when it fails or is interrupted
(the gateway charges nothing for a call that failed), or is cancelled before the gateway charged
for it (a cancelled image whose answer arrived anyway keeps its cost, and counts). Deleting an
image does not give its quota or money back: it was made and paid for, and a limit that deleting
resets would be no limit. Its cost is the gateway's `usage.cost` once known, else the catalog
price recorded when it was queued (an estimate; a model the catalog has no price for counts as $0
until the gateway reports a cost, which is why `run_permit` lets it start only while some of the
budget is left).
Days and months are local (settings.TIME_ZONE) and follow the run's `created_at`.
"""

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import Case, Count, DecimalField, Q, Sum, Value, When
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from gallery import catalog
from gallery.models import Image
from team.models import Invite, TeamPolicy

NOT_CHARGED = (Image.Status.FAILED, Image.Status.INTERRUPTED, Image.Status.CANCELLED)
CHARGED = tuple(status for status in Image.Status.values if status not in NOT_CHARGED)


def counts_as_charged(prefix: str = "") -> Q:
    """The images that count (see the module's docstring); `prefix` reaches them from another
    model (e.g. "runs__images__")."""
    return Q(**{f"{prefix}status__in": CHARGED}) | Q(
        **{f"{prefix}status": Image.Status.CANCELLED, f"{prefix}cost__isnull": False}
    )


MONEY = DecimalField(max_digits=16, decimal_places=6)
ZERO = Decimal("0")


def _money(value) -> Decimal:
    return Value(value, output_field=MONEY)


# The cost of an image: what the gateway reported, else the catalog's price when it was queued.
IMAGE_COST = Coalesce("cost", "estimated_cost", _money(ZERO), output_field=MONEY)
# The part of that which is only an estimate (the gateway has not reported a cost).
IMAGE_ESTIMATE = Case(
    When(cost__isnull=True, then=Coalesce("estimated_cost", _money(ZERO), output_field=MONEY)),
    default=_money(ZERO),
    output_field=MONEY,
)


def charged_images():
    """Images that count towards quotas and the budget (see the module's docstring)."""
    return Image.objects.filter(counts_as_charged())


def day_start(now: datetime | None = None) -> datetime:
    """Local midnight at the start of today."""
    today = timezone.localdate(now)
    return timezone.make_aware(datetime.combine(today, time.min))


def month_bounds(*, year: int, month: int) -> tuple[datetime, datetime]:
    """The first instant of the local month and of the next one."""
    start = timezone.make_aware(datetime(year, month, 1))
    following = datetime(year + month // 12, month % 12 + 1, 1)
    return start, timezone.make_aware(following)


def images_today(*, user, now: datetime | None = None) -> int:
    return (
        charged_images().filter(run__created_by=user, run__created_at__gte=day_start(now)).count()
    )


def spent_in_month(*, year: int, month: int) -> Decimal:
    start, end = month_bounds(year=year, month=month)
    spent = (
        charged_images()
        .filter(run__created_at__gte=start, run__created_at__lt=end)
        .aggregate(spent=Sum(IMAGE_COST))["spent"]
    )
    return spent or ZERO


def quota_status(*, user) -> dict:
    """What `user` has left today and what the team has left this month (None: unlimited)."""
    policy = TeamPolicy.current()
    now = timezone.now()
    local = timezone.localtime(now)
    spent = spent_in_month(year=local.year, month=local.month)
    limit = policy.daily_image_limit
    budget = policy.monthly_budget_usd
    return {
        "images_left_today": (
            None if limit is None else max(0, limit - images_today(user=user, now=now))
        ),
        "daily_limit": limit,
        "budget_left": None if budget is None else max(ZERO, budget - spent),
        "budget": budget,
        "spent": spent,
    }


# --- the usage page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class UsageRow:
    """Images one person made with one model on one day."""

    day: date
    username: str
    model: str
    model_label: str
    images: int
    cost: Decimal  # known costs plus estimates
    estimated: Decimal  # the part of `cost` priced from the catalog


@dataclass(frozen=True)
class UsageTotal:
    """A row of the per-person, per-model or per-day table."""

    key: str
    label: str
    images: int
    cost: Decimal
    estimated: Decimal
    day: date | None = None


@dataclass(frozen=True)
class UsageReport:
    year: int
    month: int
    rows: list[UsageRow]
    people: list[UsageTotal]
    models: list[UsageTotal]
    days: list[UsageTotal]  # every day of the month, empty ones included
    images: int
    cost: Decimal
    estimated: Decimal

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def slug(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def _totals(rows: list[UsageRow], key, label) -> list[UsageTotal]:
    grouped: dict[str, list] = {}
    for row in rows:
        entry = grouped.setdefault(key(row), [label(row), 0, ZERO, ZERO])
        entry[1] += row.images
        entry[2] += row.cost
        entry[3] += row.estimated
    totals = [UsageTotal(k, lab, n, cost, est) for k, (lab, n, cost, est) in grouped.items()]
    return sorted(totals, key=lambda t: (-t.cost, -t.images, t.label.lower()))


def usage_for_month(*, year: int, month: int) -> UsageReport:
    """Images and cost per day × person × model for a local calendar month, with totals."""
    start, end = month_bounds(year=year, month=month)
    grouped = (
        charged_images()
        .filter(run__created_at__gte=start, run__created_at__lt=end)
        .annotate(day=TruncDate("run__created_at"))
        .values("day", "run__created_by__username", "model")
        # Names unlike the model's fields: an alias "cost" would shadow Image.cost below it.
        .annotate(n_images=Count("id"), total=Sum(IMAGE_COST), estimate=Sum(IMAGE_ESTIMATE))
        .order_by("day", "run__created_by__username", "model")
    )
    known = catalog.known_models()
    rows = [
        UsageRow(
            day=g["day"],
            username=g["run__created_by__username"],
            model=g["model"],
            model_label=known[g["model"]].label if g["model"] in known else g["model"],
            images=g["n_images"],
            cost=g["total"] or ZERO,
            estimated=g["estimate"] or ZERO,
        )
        for g in grouped
    ]
    by_day = {t.key: t for t in _totals(rows, lambda r: r.day.isoformat(), lambda r: "")}
    days = []
    for number in range(1, calendar.monthrange(year, month)[1] + 1):
        day = date(year, month, number)
        found = by_day.get(day.isoformat())
        days.append(
            UsageTotal(
                key=day.isoformat(),
                label=f"{day:%a} {day.day}",
                images=found.images if found else 0,
                cost=found.cost if found else ZERO,
                estimated=found.estimated if found else ZERO,
                day=day,
            )
        )
    return UsageReport(
        year=year,
        month=month,
        rows=rows,
        people=_totals(rows, lambda r: r.username, lambda r: r.username),
        models=_totals(rows, lambda r: r.model, lambda r: r.model_label),
        days=days,
        images=sum(r.images for r in rows),
        cost=sum((r.cost for r in rows), ZERO),
        estimated=sum((r.estimated for r in rows), ZERO),
    )


# --- the team page ----------------------------------------------------------------------------


def members_with_usage(*, now: datetime | None = None):
    """Every account, admins first, each with `images_this_month`."""
    local = timezone.localtime(now or timezone.now())
    start, end = month_bounds(year=local.year, month=local.month)
    this_month = (
        Q(runs__created_at__gte=start)
        & Q(runs__created_at__lt=end)
        & counts_as_charged("runs__images__")
    )
    return (
        get_user_model()
        .objects.annotate(images_this_month=Count("runs__images", filter=this_month))
        .order_by("-is_active", "-is_staff", "username")
    )


def invites_pending():
    return Invite.objects.pending().select_related("created_by").order_by("expires_at")


def next_month(first_day: date) -> date:
    return (first_day.replace(day=28) + timedelta(days=4)).replace(day=1)


def previous_month(first_day: date) -> date:
    return (first_day - timedelta(days=1)).replace(day=1)


def quota_hint(*, user) -> dict | None:
    """quota_status for the prompt box, or None (one query) when the team sets no limits."""
    policy = TeamPolicy.current()
    if policy.daily_image_limit is None and policy.monthly_budget_usd is None:
        return None
    return quota_status(user=user)
