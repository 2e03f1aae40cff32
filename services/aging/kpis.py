"""Receivables KPIs with their textbook definitions. Pure: no I/O, no clock.

Currency: every amount is a plain ``Decimal`` in one currency; compute each KPI per
currency. Mixing currencies in one call is not detected. Floats are refused.

Rounding (stated once, applied everywhere): each KPI is computed exactly in
``Decimal`` and rounded once, at the end, half-up (as a spreadsheet's ROUND does):

- days (DSO, best possible DSO, ADD, turnover days, average days late / to settle)
  to 0.01 day (``DAYS``);
- percentages (CEI, % paid on time) to 0.01 percentage point (``PERCENT``);
- AR turnover to 0.01 times (``TIMES``);
- the bad-debt ratio, a fraction, to 0.0001, i.e. 0.01 % (``RATIO``).

Every function takes ``quantum=`` to round otherwise, or ``quantum=None`` for the
unrounded value. A KPI built from others (ADD, turnover days) is computed from the
unrounded parts, so rounding never compounds.

A KPI that has no value for its inputs (no credit sales, no invoices, a zero
denominator) raises ``UndefinedKPI``; ``trend`` turns that into ``None`` for the
period, so one empty month does not break a trend.

Periods are inclusive calendar-date ranges and "days in period" is the actual number
of calendar days (January 31, a 2024 Q1 91, a leap year 366), not a 30/360 convention.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

DAYS = Decimal("0.01")
PERCENT = Decimal("0.01")
TIMES = Decimal("0.01")
RATIO = Decimal("0.0001")

_HUNDRED = Decimal(100)


class UndefinedKPI(ValueError):
    """The KPI has no value for these inputs (for example no credit sales in the period)."""


def _round(value: Decimal, quantum: Decimal | None) -> Decimal:
    return value if quantum is None else value.quantize(quantum, rounding=ROUND_HALF_UP)


def _amount(value: object, name: str) -> Decimal:
    # A float has already lost the cents; refuse it (as Money does) rather than guess.
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise TypeError(f"{name} must be a Decimal (or int), not {type(value).__name__}")
    amount = Decimal(value)
    if not amount.is_finite():
        raise ValueError(f"{name} must be finite, got {value}")
    return amount


def _days(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"days in period must be a whole number of at least 1, got {value!r}")
    return value


def _positive_sales(credit_sales: object) -> Decimal:
    sales = _amount(credit_sales, "credit_sales")
    if sales <= 0:
        raise UndefinedKPI(f"no credit sales in the period ({sales}); the KPI is undefined")
    return sales


# ---------------------------------------------------------------------------------------------
# Periods and trends


@dataclass(frozen=True, order=True)
class Period:
    """An inclusive range of business dates: ``start`` and ``end`` both belong to it."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"a period cannot end ({self.end}) before it starts ({self.start})")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        return cls(date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]))

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        if quarter not in (1, 2, 3, 4):
            raise ValueError(f"a quarter is 1 to 4, got {quarter}")
        first_month = 3 * quarter - 2
        return cls(cls.month(year, first_month).start, cls.month(year, first_month + 2).end)

    @classmethod
    def rolling(cls, end: date, days: int) -> Period:
        """The ``days`` calendar days ending on (and including) ``end``."""
        return cls(end - timedelta(days=_days(days) - 1), end)

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


def months(first: date, last: date) -> tuple[Period, ...]:
    """Every calendar month touching ``first``..``last``, in order."""
    if last < first:
        raise ValueError(f"{last} is before {first}")
    periods = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        periods.append(Period.month(year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return tuple(periods)


def quarters(first: date, last: date) -> tuple[Period, ...]:
    """Every calendar quarter touching ``first``..``last``, in order."""
    if last < first:
        raise ValueError(f"{last} is before {first}")
    periods = []
    year, quarter = first.year, (first.month - 1) // 3 + 1
    while (year, quarter) <= (last.year, (last.month - 1) // 3 + 1):
        periods.append(Period.quarter(year, quarter))
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    return tuple(periods)


@dataclass(frozen=True)
class TrendPoint:
    period: Period
    value: Decimal | None  # None: the KPI is undefined for that period


def trend(periods: Iterable[Period], kpi: Callable[[Period], Decimal]) -> tuple[TrendPoint, ...]:
    """The KPI for each period, in the order given. ``kpi`` computes one period's value
    from whatever the caller closes over (balances, sales); an ``UndefinedKPI`` becomes
    ``None``, any other error propagates."""
    points = []
    for period in periods:
        try:
            value: Decimal | None = kpi(period)
        except UndefinedKPI:
            value = None
        points.append(TrendPoint(period, value))
    return tuple(points)


# ---------------------------------------------------------------------------------------------
# Days sales outstanding and its relatives


def dso_standard(ending_ar: Decimal, credit_sales: Decimal, days_in_period: int, *,
                 quantum: Decimal | None = DAYS) -> Decimal:
    """DSO, standard (period) method: ``ending AR / credit sales in period × days in period``.

    AR 120,000 at the end of a 90-day quarter with 360,000 credit sales: 30.00 days.
    """
    ar = _amount(ending_ar, "ending_ar")
    return _round(ar / _positive_sales(credit_sales) * _days(days_in_period), quantum)


@dataclass(frozen=True)
class PeriodSales:
    """Credit sales booked in one period (a calendar month, for the countback)."""

    period: Period
    credit_sales: Decimal

    def __post_init__(self) -> None:
        object.__setattr__(self, "credit_sales", _amount(self.credit_sales, "credit_sales"))


def dso_countback(ending_ar: Decimal, sales_by_month: Iterable[PeriodSales], *,
                  quantum: Decimal | None = DAYS) -> Decimal:
    """DSO, countback method: how many days of the most recent sales the ending AR holds.

    Walk back month by month from the period end. While the remaining AR covers a
    month's credit sales, count all that month's days and subtract its sales; in the
    month where it no longer does, count ``remaining AR / that month's sales × its
    days`` and stop. A month without sales counts in full.

    The months may come in any order but must be contiguous and cover enough history
    to exhaust the AR; otherwise the DSO is undefined. Zero AR gives 0 days.
    """
    ar = _amount(ending_ar, "ending_ar")
    if ar < 0:
        raise UndefinedKPI(f"ending AR is a credit balance ({ar}); countback DSO is undefined")
    newest_first = sorted(sales_by_month, key=lambda s: s.period.start, reverse=True)
    for later, earlier in zip(newest_first, newest_first[1:]):
        if earlier.period.end + timedelta(days=1) != later.period.start:
            raise ValueError(
                f"countback months must be contiguous: {earlier.period} then {later.period}")
    remaining, days = ar, Decimal(0)
    for month in newest_first:
        if remaining == 0:
            break
        if remaining >= month.credit_sales:
            days += month.period.days
            remaining -= month.credit_sales
        else:
            days += remaining / month.credit_sales * month.period.days
            remaining = Decimal(0)
    if remaining > 0:
        raise UndefinedKPI(
            f"ending AR {ar} exceeds the credit sales of the {len(newest_first)} months given "
            f"by {remaining}; give more history")
    return _round(days, quantum)


def best_possible_dso(current_ar: Decimal, credit_sales: Decimal, days_in_period: int, *,
                      quantum: Decimal | None = DAYS) -> Decimal:
    """Best possible DSO: ``current (not yet due) AR / credit sales × days in period``;
    the DSO the terms alone would give if nothing were overdue."""
    ar = _amount(current_ar, "current_ar")
    return _round(ar / _positive_sales(credit_sales) * _days(days_in_period), quantum)


def average_days_delinquent(ending_ar: Decimal, current_ar: Decimal, credit_sales: Decimal,
                            days_in_period: int, *, quantum: Decimal | None = DAYS) -> Decimal:
    """ADD = standard DSO − best possible DSO, both over the same period and sales,
    i.e. ``(ending AR − current AR) / credit sales × days``: the days past-due AR adds."""
    dso = dso_standard(ending_ar, credit_sales, days_in_period, quantum=None)
    best = best_possible_dso(current_ar, credit_sales, days_in_period, quantum=None)
    return _round(dso - best, quantum)


def collection_effectiveness_index(beginning_ar: Decimal, credit_sales: Decimal,
                                   ending_ar: Decimal, ending_current_ar: Decimal, *,
                                   quantum: Decimal | None = PERCENT) -> Decimal:
    """CEI, in percent: what was collected out of what could have been collected.

    ``(beginning AR + credit sales − ending AR) / (beginning AR + credit sales − ending
    current AR) × 100``. The denominator leaves out the AR not yet due at the end,
    which nobody could have collected; 100 is perfect collection.
    """
    begin = _amount(beginning_ar, "beginning_ar")
    sales = _amount(credit_sales, "credit_sales")
    end = _amount(ending_ar, "ending_ar")
    end_current = _amount(ending_current_ar, "ending_current_ar")
    collectible = begin + sales - end_current
    if collectible <= 0:
        raise UndefinedKPI(f"nothing was collectible in the period ({collectible}); CEI undefined")
    return _round((begin + sales - end) / collectible * _HUNDRED, quantum)


def _average_ar(beginning_ar: Decimal, ending_ar: Decimal) -> Decimal:
    average = (_amount(beginning_ar, "beginning_ar") + _amount(ending_ar, "ending_ar")) / 2
    if average <= 0:
        raise UndefinedKPI(f"average AR is {average}; AR turnover is undefined")
    return average


def ar_turnover(credit_sales: Decimal, beginning_ar: Decimal, ending_ar: Decimal, *,
                quantum: Decimal | None = TIMES) -> Decimal:
    """AR turnover (times per period) = ``credit sales / average AR``, where
    ``average AR = (beginning AR + ending AR) / 2``."""
    sales = _amount(credit_sales, "credit_sales")
    return _round(sales / _average_ar(beginning_ar, ending_ar), quantum)


def ar_turnover_days(credit_sales: Decimal, beginning_ar: Decimal, ending_ar: Decimal,
                     days_in_period: int, *, quantum: Decimal | None = DAYS) -> Decimal:
    """Days to collect by turnover = ``days in period / AR turnover``
    (equivalently ``average AR / credit sales × days``)."""
    turnover = ar_turnover(credit_sales, beginning_ar, ending_ar, quantum=None)
    if turnover <= 0:
        raise UndefinedKPI(f"AR turnover is {turnover}; turnover days are undefined")
    return _round(_days(days_in_period) / turnover, quantum)


def bad_debt_ratio(written_off: Decimal, credit_sales: Decimal, *,
                   quantum: Decimal | None = RATIO) -> Decimal:
    """Bad-debt ratio (a fraction) = ``amount written off in the period / credit sales
    in the period``; 0.0125 is 1.25 %."""
    return _round(_amount(written_off, "written_off") / _positive_sales(credit_sales), quantum)


# ---------------------------------------------------------------------------------------------
# Per-invoice settlement: days to settle, days late, paid on time


@dataclass(frozen=True)
class SettledInvoice:
    invoice_id: str
    invoice_date: date
    due_date: date
    settled_date: date
    amount: Decimal

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", _amount(self.amount, "amount"))


def days_to_settle(invoice: SettledInvoice) -> int:
    """``settled date − invoice date``, in calendar days."""
    return (invoice.settled_date - invoice.invoice_date).days


def days_late(invoice: SettledInvoice) -> int:
    """``max(0, settled date − due date)``, in calendar days; paid on the due date is 0."""
    return max(0, (invoice.settled_date - invoice.due_date).days)


def is_paid_on_time(invoice: SettledInvoice) -> bool:
    """Settled on or before the due date."""
    return invoice.settled_date <= invoice.due_date


def _invoices(invoices: Iterable[SettledInvoice]) -> list[SettledInvoice]:
    listed = list(invoices)
    if not listed:
        raise UndefinedKPI("no settled invoices; the KPI is undefined")
    return listed


def _total_amount(invoices: list[SettledInvoice]) -> Decimal:
    total = sum((i.amount for i in invoices), Decimal(0))
    if total <= 0:
        raise UndefinedKPI(f"settled invoices total {total}; an amount-weighted KPI is undefined")
    return total


def percent_paid_on_time(invoices: Iterable[SettledInvoice], *,
                         quantum: Decimal | None = PERCENT) -> Decimal:
    """% of settled invoices, by count, settled on or before their due date."""
    listed = _invoices(invoices)
    on_time = sum(1 for i in listed if is_paid_on_time(i))
    return _round(Decimal(on_time) / len(listed) * _HUNDRED, quantum)


def percent_amount_paid_on_time(invoices: Iterable[SettledInvoice], *,
                                quantum: Decimal | None = PERCENT) -> Decimal:
    """% of the settled amount settled on or before the due date (amount-weighted)."""
    listed = _invoices(invoices)
    on_time = sum((i.amount for i in listed if is_paid_on_time(i)), Decimal(0))
    return _round(on_time / _total_amount(listed) * _HUNDRED, quantum)


def average_days_to_settle(invoices: Iterable[SettledInvoice], *,
                           quantum: Decimal | None = DAYS) -> Decimal:
    """Simple mean of days to settle over the settled invoices."""
    listed = _invoices(invoices)
    return _round(Decimal(sum(days_to_settle(i) for i in listed)) / len(listed), quantum)


def amount_weighted_days_to_settle(invoices: Iterable[SettledInvoice], *,
                                   quantum: Decimal | None = DAYS) -> Decimal:
    """``Σ(amount × days to settle) / Σ amount``."""
    listed = _invoices(invoices)
    weighted = sum((i.amount * days_to_settle(i) for i in listed), Decimal(0))
    return _round(weighted / _total_amount(listed), quantum)


def average_days_late(invoices: Iterable[SettledInvoice], *,
                      quantum: Decimal | None = DAYS) -> Decimal:
    """Simple mean of days late over all settled invoices, on-time ones counting 0."""
    listed = _invoices(invoices)
    return _round(Decimal(sum(days_late(i) for i in listed)) / len(listed), quantum)


def amount_weighted_days_late(invoices: Iterable[SettledInvoice], *,
                              quantum: Decimal | None = DAYS) -> Decimal:
    """``Σ(amount × days late) / Σ amount`` over all settled invoices, on-time ones
    counting 0: a late large invoice weighs more than a late small one."""
    listed = _invoices(invoices)
    weighted = sum((i.amount * days_late(i) for i in listed), Decimal(0))
    return _round(weighted / _total_amount(listed), quantum)
