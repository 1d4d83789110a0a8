"""What the usage page draws: totals, the budget gauge and the cost-per-day chart's geometry.

The chart is inline SVG sized with SVG attributes (the CSP forbids style attributes)."""

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from team.money import usd, usd_cents
from team.selectors import UsageReport, UsageTotal, next_month, previous_month

CHART_WIDTH = 720
CHART_HEIGHT = 220
PLOT_LEFT = 56  # room for the cost axis labels
PLOT_RIGHT = 8
PLOT_TOP = 12
PLOT_BOTTOM = 26  # room for the day labels
GRID_STEPS = (Decimal("0.5"), Decimal("1"))


def nice_ceiling(value: Decimal) -> Decimal:
    """The smallest 1, 2 or 5 × 10ⁿ at or above `value`: a round top for the cost axis."""
    if value <= 0:
        return Decimal(0)
    exponent = value.adjusted()
    for multiple in ("1", "2", "5", "10"):
        candidate = Decimal(multiple).scaleb(exponent)
        if candidate >= value:
            return candidate
    raise AssertionError("unreachable: 10 × 10ⁿ is always above")


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class CostChart:
    bars: list[Bar]
    day_ticks: list[Tick]  # x positions
    cost_ticks: list[Tick]  # y positions
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    plot_left: int = PLOT_LEFT
    plot_right: int = CHART_WIDTH - PLOT_RIGHT
    baseline: int = CHART_HEIGHT - PLOT_BOTTOM

    @classmethod
    def for_days(cls, days: list[UsageTotal]) -> "CostChart":
        plot_width = CHART_WIDTH - PLOT_LEFT - PLOT_RIGHT
        plot_height = CHART_HEIGHT - PLOT_TOP - PLOT_BOTTOM
        baseline = CHART_HEIGHT - PLOT_BOTTOM
        slot = plot_width / max(1, len(days))
        top = nice_ceiling(max((d.cost for d in days), default=Decimal(0)))
        bars = []
        for index, day in enumerate(days):
            if day.cost <= 0 and day.images == 0:
                continue
            # A day with images but no cost (free models) still shows a sliver.
            height = max(2.0, float(day.cost / top) * plot_height) if top > 0 else 2.0
            images = f"{day.images} image" + ("" if day.images == 1 else "s")
            bars.append(
                Bar(
                    x=round(PLOT_LEFT + index * slot + slot * 0.15, 2),
                    y=round(baseline - height, 2),
                    width=round(slot * 0.7, 2),
                    height=round(height, 2),
                    title=f"{day.day:%-d %B}: {usd_cents(day.cost)}, {images}",
                )
            )
        numbered = {1, 5, 10, 15, 20, 25, len(days)}
        day_ticks = [
            Tick(round(PLOT_LEFT + index * slot + slot / 2, 2), str(index + 1))
            for index in range(len(days))
            if index + 1 in numbered
        ]
        cost_ticks = [Tick(float(baseline), "$0")]
        if top > 0:
            cost_ticks += [
                Tick(round(baseline - float(step) * plot_height, 2), usd(top * step))
                for step in GRID_STEPS
            ]
        return cls(bars=bars, day_ticks=day_ticks, cost_ticks=cost_ticks)


@dataclass(frozen=True)
class UsagePage:
    report: UsageReport
    budget: Decimal | None
    chart: CostChart
    is_current: bool
    previous: date
    following: date | None  # None for the current month: the future has no usage

    @classmethod
    def build(cls, *, report: UsageReport, budget: Decimal | None, this_month: date) -> "UsagePage":
        first = report.first_day
        return cls(
            report=report,
            budget=budget,
            chart=CostChart.for_days(report.days),
            is_current=first == this_month,
            previous=previous_month(first),
            following=next_month(first) if first < this_month else None,
        )

    @property
    def budget_used_percent(self) -> int | None:
        if not self.budget:
            return None
        percent = (self.report.cost / self.budget * 100).quantize(1, rounding=ROUND_HALF_UP)
        return int(percent)

    @property
    def budget_left(self) -> Decimal | None:
        if self.budget is None:
            return None
        return max(Decimal(0), self.budget - self.report.cost)

    @property
    def gauge_width(self) -> int:
        """The budget bar's filled width, out of 100 (an SVG attribute, capped at full)."""
        return min(100, self.budget_used_percent or 0)
