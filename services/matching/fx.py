"""Exchange rates for cash in another currency than the invoice: pure, in memory.

The ERP publishes a rate per business day (`ExchangeRatePublished`); matching converts a
payment into the invoice's currency at the rate of the payment's value date, by the same
rules as invoicing (services/invoicing/currency.py): when that day has none, the latest
rate of the RATE_LOOKBACK_DAYS before it; a rate published in either direction serves;
the converted amount is rounded half-up to the invoice currency's minor unit; no rate is
no conversion, never a silent 1.0.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext

from libs.events.invoicing import AppliedExchangeRate
from libs.events.money import MINOR_UNITS

RATE_LOOKBACK_DAYS = 4

# Enough digits that a division never rounds a cent before the final quantize.
_PRECISE = Context(prec=60)


def convert(rate: AppliedExchangeRate, amount: Decimal, currency: str) -> Decimal:
    """`amount` in `currency` (one side of the rate's pair) in the other side's currency."""
    with localcontext(_PRECISE):
        if currency == rate.from_currency:
            exact, target = amount * rate.rate, rate.to_currency
        elif currency == rate.to_currency:
            exact, target = amount / rate.rate, rate.from_currency
        else:
            raise ValueError(f"a {rate.from_currency}/{rate.to_currency} rate cannot "
                             f"convert {currency}")
    quantum = Decimal(1).scaleb(-MINOR_UNITS.get(target, 2))
    return exact.quantize(quantum, rounding=ROUND_HALF_UP, context=_PRECISE)


def in_words(rate: AppliedExchangeRate) -> str:
    return f"{rate.from_currency}/{rate.to_currency} {rate.rate} of {rate.rate_date.isoformat()}"


def pair_key(one: str, other: str) -> str:
    """The same key for both directions of a pair: what a payment waits for."""
    first, second = sorted((one, other))
    return f"fx:{first}/{second}"


class ExchangeRates:
    """The published rates of one tenant, by pair and day; a correction replaces the day's."""

    def __init__(self) -> None:
        self._days: dict[tuple[str, str], list[date]] = {}
        self._rates: dict[tuple[str, str, date], Decimal] = {}

    def record(self, from_currency: str, to_currency: str, rate_date: date,
               rate: Decimal) -> None:
        key = (from_currency, to_currency, rate_date)
        if key not in self._rates:
            days = self._days.setdefault((from_currency, to_currency), [])
            days.insert(bisect_right(days, rate_date), rate_date)
        self._rates[key] = rate

    def rate_on(self, paid_in: str, owed_in: str, on: date) -> AppliedExchangeRate | None:
        """The rate converting `paid_in` into `owed_in` for a value date `on`: the latest
        published in the lookback, in either direction; the direct one on a tie."""
        best: AppliedExchangeRate | None = None
        for pair in ((paid_in, owed_in), (owed_in, paid_in)):
            days = self._days.get(pair)
            if not days:
                continue
            position = bisect_right(days, on)
            if position == 0:
                continue
            day = days[position - 1]
            if on - day > timedelta(days=RATE_LOOKBACK_DAYS):
                continue
            if best is None or day > best.rate_date:
                best = AppliedExchangeRate(from_currency=pair[0], to_currency=pair[1],
                                           rate=self._rates[(*pair, day)], rate_date=day)
        return best
