"""When open invoices will be paid, from how each customer has paid before. Pure: no I/O.

The rule, stated once:

- A customer's *settlement delay* on an invoice is ``settled on - due date`` in days:
  negative when it paid early, 0 on the due date.
- An invoice still open on the as-of date, ``d`` days past due (negative if not yet
  due), will be paid after ``d`` days of delay: so only the customer's past delays
  greater than ``d`` say when. The expected delay is their median (the lower one of
  an even count, so a whole day), and the expected payment date is the due date
  plus it.
- A customer with fewer than ``MIN_HISTORY`` such delays borrows the tenant's (every
  customer's) delays greater than ``d``; an invoice later than anything ever seen is
  expected the next day.

The weekly cash-in forecast sums the open amounts by the ISO week of their expected
payment date. ``backtest`` measures both on invoices whose settlement is known: it
predicts as of past dates from what was known then, and compares with what happened.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

MIN_HISTORY = 3


@dataclass(frozen=True)
class Invoice:
    """An invoice as the prediction sees it; ``settled_on`` None while it is unpaid."""

    invoice_id: str
    customer_id: str
    currency: str
    issue_date: date
    due_date: date
    amount: Decimal  # what is (or was, for the backtest) open
    settled_on: date | None = None
    invoice_number: str = ""

    @property
    def delay(self) -> int:
        assert self.settled_on is not None
        return (self.settled_on - self.due_date).days


class DelayHistory:
    """Settlement delays with their counts, to take medians beyond a number of days."""

    def __init__(self, counts: Counter[int] | None = None) -> None:
        self._delays = sorted((counts or Counter()).items())
        self._keys = [delay for delay, _ in self._delays]
        self._counts_from = [0] * (len(self._delays) + 1)  # how many delays at index i or later
        for index in range(len(self._delays) - 1, -1, -1):
            self._counts_from[index] = self._counts_from[index + 1] + self._delays[index][1]

    def count_beyond(self, days: int) -> int:
        return self._counts_from[bisect.bisect_right(self._keys, days)]

    def median_beyond(self, days: int) -> int | None:
        """The lower median of the delays greater than ``days``; None if there are none."""
        start = bisect.bisect_right(self._keys, days)
        total = self._counts_from[start]
        if total == 0:
            return None
        position = (total - 1) // 2  # the lower middle, counting from 0
        for delay, count in self._delays[start:]:
            if position < count:
                return delay
            position -= count
        raise AssertionError("unreachable: the counts add up to total")


@dataclass(frozen=True)
class Prediction:
    invoice: Invoice
    expected_on: date
    basis: str  # "customer", "tenant" or "beyond history"
    history: int  # how many past delays the expectation rests on


class PaymentBehaviour:
    """What each customer's past payments say, and the tenant's as a fallback."""

    def __init__(self, by_customer: dict[str, Counter[int]], tenant: Counter[int] | None = None,
                 min_history: int = MIN_HISTORY) -> None:
        """``tenant`` defaults to every customer's delays together; give it when
        ``by_customer`` holds only the customers asked about."""
        self.min_history = min_history
        self.customers = {customer: DelayHistory(counts)
                          for customer, counts in by_customer.items()}
        if tenant is None:
            tenant = Counter()
            for counts in by_customer.values():
                tenant.update(counts)
        self.tenant = DelayHistory(tenant)

    @classmethod
    def learn(cls, settled: Iterable[Invoice], min_history: int = MIN_HISTORY
              ) -> PaymentBehaviour:
        by_customer: dict[str, Counter[int]] = defaultdict(Counter)
        for invoice in settled:
            by_customer[invoice.customer_id][invoice.delay] += 1
        return cls(by_customer, min_history=min_history)

    def predict(self, invoice: Invoice, as_of: date) -> Prediction:
        overdue = (as_of - invoice.due_date).days
        own = self.customers.get(invoice.customer_id, DelayHistory())
        if own.count_beyond(overdue) >= self.min_history:
            history, basis = own, "customer"
        else:
            history, basis = self.tenant, "tenant"
        delay = history.median_beyond(overdue)
        if delay is None:
            return Prediction(invoice, as_of + timedelta(days=1), "beyond history", 0)
        return Prediction(invoice, invoice.due_date + timedelta(days=delay), basis,
                          history.count_beyond(overdue))


# ---------------------------------------------------------------------------------------------
# The weekly cash-in forecast


def week_start(day: date) -> date:
    """The Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass(frozen=True)
class WeekOfCash:
    currency: str
    week_start: date
    amount: Decimal
    invoices: int

    @property
    def week(self) -> str:
        return iso_week(self.week_start)


def weekly_cash_in(expected: Iterable[tuple[Invoice, date]], as_of: date, weeks: int
                   ) -> list[WeekOfCash]:
    """Open amounts by currency and ISO week of their expected payment, for the ``weeks``
    weeks from the one after ``as_of`` begins in (what is expected outside them is left
    out). Every week appears for every currency, with zero where nothing is expected."""
    first = week_start(as_of + timedelta(days=1))
    starts = [first + timedelta(weeks=index) for index in range(weeks)]
    amounts: dict[tuple[str, date], Decimal] = defaultdict(Decimal)
    counts: Counter[tuple[str, date]] = Counter()
    currencies = set()
    for invoice, expected_on in expected:
        currencies.add(invoice.currency)
        key = (invoice.currency, week_start(expected_on))
        if key[1] in starts:
            amounts[key] += invoice.amount
            counts[key] += 1
    return [WeekOfCash(currency, start, amounts[(currency, start)], counts[(currency, start)])
            for currency in sorted(currencies) for start in starts]


# ---------------------------------------------------------------------------------------------
# Measured error on past data

Rule = Callable[[PaymentBehaviour, Invoice, date], date]


def predicted(behaviour: PaymentBehaviour, invoice: Invoice, as_of: date) -> date:
    return behaviour.predict(invoice, as_of).expected_on


def on_due_date(_: PaymentBehaviour, invoice: Invoice, __: date) -> date:
    """The naive baseline: every invoice is paid on its due date."""
    return invoice.due_date


def on_due_date_or_tomorrow(_: PaymentBehaviour, invoice: Invoice, as_of: date) -> date:
    """A fairer baseline: the due date, or tomorrow for what is already overdue."""
    return max(invoice.due_date, as_of + timedelta(days=1))


@dataclass(frozen=True)
class Accuracy:
    predictions: int  # (as-of date, open invoice) pairs
    mean_absolute_error_days: float
    # sum |forecast - actual| over all weeks / sum actual: summed as Decimal money, and
    # a float only as the final statistic, like the error in days
    weekly_error_percent: float


def backtest(invoices: Sequence[Invoice], as_of_dates: Iterable[date], weeks: int = 8,
             rule: Rule = predicted) -> Accuracy:
    """Predict as of each past date from the invoices settled by then, for the invoices
    open then, and compare with when they were settled. Every invoice needs its
    ``settled_on``. The weekly error counts only the cash of the invoices open on the
    as-of date (invoices issued later are in neither the forecast nor the actual)."""
    errors: list[int] = []
    weekly_gap = weekly_actual = Decimal(0)
    for as_of in as_of_dates:
        known = [invoice for invoice in invoices if invoice.issue_date <= as_of]
        behaviour = PaymentBehaviour.learn(i for i in known if i.settled_on <= as_of)
        open_then = [invoice for invoice in known if invoice.settled_on > as_of]
        expected = [(invoice, rule(behaviour, invoice, as_of)) for invoice in open_then]
        errors.extend(abs((on - invoice.settled_on).days) for invoice, on in expected)
        forecast = weekly_cash_in(expected, as_of, weeks)
        actual = weekly_cash_in(((i, i.settled_on) for i in open_then), as_of, weeks)
        weekly_gap += sum((abs(f.amount - a.amount) for f, a in zip(forecast, actual)),
                          Decimal(0))
        weekly_actual += sum((a.amount for a in actual), Decimal(0))
    if not errors or not weekly_actual:
        raise ValueError("no invoice was open on any of the as-of dates; nothing to measure")
    return Accuracy(len(errors), sum(errors) / len(errors),
                    float(weekly_gap / weekly_actual * 100))


def as_of_dates(invoices: Sequence[Invoice], warm_up_days: int = 120, every_days: int = 28
                ) -> list[date]:
    """Backtest dates: every four weeks from when there is some history to learn from
    until the last invoice was issued."""
    first = min(invoice.issue_date for invoice in invoices) + timedelta(days=warm_up_days)
    last = max(invoice.issue_date for invoice in invoices)
    return [first + timedelta(days=offset)
            for offset in range(0, max((last - first).days + 1, 0), every_days)]
