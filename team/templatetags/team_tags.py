from django import template

from team.money import usd as format_usd
from team.money import usd_cents as format_usd_cents

register = template.Library()


@register.filter
def usd(amount) -> str:
    """An amount of dollars: {{ cost|usd }} → "$0.54"."""
    return format_usd(amount)


@register.filter
def usd_cents(amount) -> str:
    """A total to the cent: {{ report.cost|usd_cents }} → "$8.38"."""
    return format_usd_cents(amount)
