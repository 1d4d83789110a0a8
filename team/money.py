"""Amounts of US dollars as people read them."""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
TENTH_CENT = Decimal("0.001")


def usd(amount: Decimal | int | None) -> str:
    """Dollars as "$50.00" or "$0.54". A sub-dollar amount with a fraction of a cent keeps it
    ("$0.134"), so one image's price never reads as "$0.13" or, worse, "$0.00"."""
    if amount is None:
        return ""
    amount = Decimal(amount)
    cents = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    if cents != amount and abs(amount) < 1:
        return f"${amount.quantize(TENTH_CENT, rounding=ROUND_HALF_UP)}"
    return f"${cents:,}"


def usd_cents(amount: Decimal | int | None) -> str:
    """Dollars to the cent, for columns of totals ("$0.30", "$12.00"); "<$0.01" for less."""
    if amount is None:
        return ""
    amount = Decimal(amount)
    if 0 < amount < Decimal("0.005"):
        return "<$0.01"
    return f"${amount.quantize(CENT, rounding=ROUND_HALF_UP):,}"
