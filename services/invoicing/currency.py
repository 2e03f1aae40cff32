"""Functional-currency amounts: what a document is worth in the tenant's own currency.

Rules, pure and stated once:

- The rate is the one the ERP published for the document's issue date. Rates are
  published on business days, so when the issue date has none, the latest rate of
  the RATE_LOOKBACK_DAYS days before it is used (a Friday rate serves the weekend
  and a Monday holiday). Older than that, the rate is missing.
- A rate published in either direction serves: EUR->USD 1.0850 converts a USD
  amount into EUR by dividing by 1.0850.
- The converted amount is rounded half-up to the functional currency's minor unit.
- No rate is no amount: the document says `rate_missing`, never a silent 1.0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Any

from libs.events.money import MINOR_UNITS, check_currency

RATE_LOOKBACK_DAYS = 4

# Enough digits that a division never rounds a cent before the final quantize.
_PRECISE = Context(prec=60)


@dataclass(frozen=True)
class FunctionalCurrencies:
    """The currency each tenant keeps its books in, from settings."""

    default: str
    per_tenant: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_currency(self.default)
        for tenant, currency in self.per_tenant.items():
            try:
                check_currency(currency)
            except ValueError as error:
                raise ValueError(f"functional currency of tenant {tenant!r}: {error}") from None

    def of(self, tenant: str) -> str:
        return self.per_tenant.get(tenant, self.default)


@dataclass(frozen=True)
class PublishedRate:
    from_currency: str
    to_currency: str
    rate: Decimal
    rate_date: date

    def as_dict(self) -> dict[str, Any]:
        return {"from_currency": self.from_currency, "to_currency": self.to_currency,
                "rate": self.rate, "rate_date": self.rate_date}


@dataclass(frozen=True)
class Conversion:
    functional_currency: str
    functional_amount: Decimal | None
    rate: PublishedRate | None

    @property
    def rate_missing(self) -> bool:
        return self.functional_amount is None


def convert(amount: Decimal, currency: str, functional_currency: str,
            rate: PublishedRate | None) -> Conversion:
    """`amount` in `currency`, in the functional currency at `rate` (None: no rate known)."""
    if currency == functional_currency:
        return Conversion(functional_currency, amount, None)
    if rate is None:
        return Conversion(functional_currency, None, None)
    pair = (rate.from_currency, rate.to_currency)
    with localcontext(_PRECISE):
        if pair == (currency, functional_currency):
            exact = amount * rate.rate
        elif pair == (functional_currency, currency):
            exact = amount / rate.rate
        else:
            raise ValueError(f"a {pair[0]}->{pair[1]} rate cannot convert {currency} into "
                             f"{functional_currency}")
    quantum = Decimal(1).scaleb(-MINOR_UNITS[functional_currency])
    return Conversion(functional_currency,
                      exact.quantize(quantum, rounding=ROUND_HALF_UP, context=_PRECISE), rate)
