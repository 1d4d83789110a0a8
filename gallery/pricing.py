"""What images cost by the catalog: the one place a price is worked out.

A price depends on the model and on what it is sent (a Gemini image at 4K costs more than at
1K), so `estimate` takes each model with the params it is sent: a new run maps the person's
choice onto each model first (`catalog.request_for`); a Retry and the runner price the request an
image stores. The prompt box's estimate line, the team's quota and budget check, each image's
`estimated_cost` and the cost stored when the gateway reports none all come from here.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from gallery import catalog
from gallery.catalog import ModelSpec


@dataclass(frozen=True)
class Estimate:
    """One (model, catalog price) pair per image to queue, model by model in the order the
    run's images are numbered; a price is None when nothing knows it."""

    images: tuple[tuple[ModelSpec, Decimal | None], ...]

    @property
    def total(self) -> Decimal | None:
        """The whole price, or None when any image's price is unknown."""
        prices = [price for _, price in self.images]
        return None if None in prices else sum(prices, Decimal(0))

    @property
    def known_cost(self) -> Decimal:
        """What the images with a known price cost together."""
        return sum((price for _, price in self.images if price is not None), Decimal(0))

    @property
    def unpriced(self) -> list[str]:
        """The names of the models whose price is unknown, each once."""
        return list(dict.fromkeys(spec.label for spec, price in self.images if price is None))

    @property
    def models(self) -> list[ModelSpec]:
        return list({spec.id: spec for spec, _ in self.images}.values())


def estimate(*, sent: Sequence[tuple[ModelSpec, dict]], count: int = 1) -> Estimate:
    """`count` images of each model sent its params, priced from the catalog."""
    return Estimate(
        images=tuple(
            (spec, price)
            for spec, params in sent
            for price in [catalog.estimated_price(spec, params)] * count
        )
    )
