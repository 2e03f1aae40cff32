"""Aging of open items into day buckets, today or as of any past date. Pure: no I/O, no clock.

Currency: every amount here is a plain ``Decimal`` in one currency. A caller with
several currencies ages each currency apart (one ``age_items`` call per currency);
mixing currencies in one call is not detected.

Rules this module applies (the analyst-facing documentation should repeat them):

- **Buckets.** Limits ``(30, 60, 90)`` give the columns ``current | 1-30 | 31-60 |
  61-90 | 90+`` for the due-date basis. The limit is the last day *inside* a bucket:
  30 days past due is in ``1-30``, 31 days in ``31-60``, 90 days in ``61-90``. The
  last column keeps its conventional label ``90+`` but holds 91 days and more.
- **Due-date basis.** ``days_past_due = as_of - due_date``. An item due today or
  later (``days_past_due <= 0``) is ``current``.
- **Document-date basis.** ``days_since_issue = as_of - document_date``; the due
  date plays no part, so there is no ``current`` column: the first column is
  ``0-30`` (issued today counts as 0 days), then ``31-60``, ``61-90``, ``90+``.
- **Unapplied column.** Credit-kind items (credit notes, unapplied cash, payments on
  account) and any item whose open amount is negative (an overpaid invoice) are
  never aged into a bucket. They go to the ``unapplied`` column, so the buckets show
  what customers owe and the credits they hold are shown beside them, not netted
  silently against the oldest debt. ``aged_total`` is the sum of the buckets (the
  gross receivable); ``total`` / ``grand_total`` is ``aged_total + unapplied`` (the
  net balance, which equals the sum of every open amount).
- **As-of aging.** An item exists from the business date of its opening movement
  (issue of an invoice or credit note, receipt of cash). Its open amount on a date
  is the sum of its movements dated on or before that date; movements with a later
  business date are ignored, whenever they were recorded. An item open for zero is
  closed and is not listed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

UNAPPLIED = "unapplied"
"""The column that holds credits and unapplied cash, beside the buckets."""

CURRENT = "current"


class AgingBasis(StrEnum):
    DUE_DATE = "due_date"
    DOCUMENT_DATE = "document_date"


class ItemKind(StrEnum):
    INVOICE = "invoice"
    DEBIT_NOTE = "debit_note"
    LATE_FEE = "late_fee"
    CREDIT_NOTE = "credit_note"
    UNAPPLIED_CASH = "unapplied_cash"
    PAYMENT_ON_ACCOUNT = "payment_on_account"

    @property
    def is_credit(self) -> bool:
        return self in _CREDIT_KINDS


_CREDIT_KINDS = frozenset({ItemKind.CREDIT_NOTE, ItemKind.UNAPPLIED_CASH,
                           ItemKind.PAYMENT_ON_ACCOUNT})


class MovementKind(StrEnum):
    OPENED = "opened"            # invoice / credit note issued, cash received: creates the item
    APPLIED = "applied"          # payment or credit applied to (or consumed from) the item
    REVERSED = "reversed"        # an earlier application undone (returned payment, reversal)
    ADJUSTED = "adjusted"        # amount corrected after issue
    WRITTEN_OFF = "written_off"  # bad debt or small difference written off


def _as_decimal(value: object, name: str) -> Decimal:
    # A float has already lost the cents; refuse it (as Money does) rather than guess.
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise TypeError(f"{name} must be a Decimal (or int), not {type(value).__name__}")
    amount = Decimal(value)
    if not amount.is_finite():
        raise ValueError(f"{name} must be finite, got {value}")
    return amount


# ---------------------------------------------------------------------------------------------
# Buckets


@dataclass(frozen=True)
class AgingBuckets:
    """Bucket limits in days: each limit is the last day inside its bucket.

    ``AgingBuckets()`` is the default ``current / 1-30 / 31-60 / 61-90 / 90+``;
    ``AgingBuckets.from_spec("15,30,45,60,90")`` gives ``current / 1-15 / 16-30 /
    31-45 / 46-60 / 61-90 / 90+``.
    """

    limits: tuple[int, ...] = (30, 60, 90)

    def __post_init__(self) -> None:
        limits = tuple(self.limits)
        if not limits:
            raise ValueError("aging buckets need at least one limit, e.g. '30,60,90'")
        for limit in limits:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise ValueError(f"bucket limits are whole days of at least 1, got {limit!r}")
        if any(b <= a for a, b in zip(limits, limits[1:])):
            raise ValueError(f"bucket limits must strictly increase, got {limits}")
        object.__setattr__(self, "limits", limits)

    @classmethod
    def from_spec(cls, spec: str) -> AgingBuckets:
        """Parse ``"30,60,90"`` (spaces allowed) into bucket limits."""
        parts = [part.strip() for part in spec.split(",")]
        if not spec.strip() or any(not part for part in parts):
            raise ValueError(f"'{spec}' is not a bucket spec; expected days like '30,60,90'")
        try:
            limits = tuple(int(part) for part in parts)
        except ValueError:
            raise ValueError(
                f"'{spec}' is not a bucket spec; expected whole days like '30,60,90'") from None
        return cls(limits)

    @property
    def spec(self) -> str:
        return ",".join(str(limit) for limit in self.limits)

    def labels(self, basis: AgingBasis = AgingBasis.DUE_DATE) -> tuple[str, ...]:
        """Column labels, youngest first, without the ``unapplied`` column."""
        basis = AgingBasis(basis)
        if basis is AgingBasis.DUE_DATE:
            first, lower = [CURRENT], 1
        else:
            first, lower = [], 0
        ranges = []
        for limit in self.limits:
            ranges.append(f"{lower}-{limit}")
            lower = limit + 1
        return (*first, *ranges, f"{self.limits[-1]}+")

    def label_for_days(self, days: int, basis: AgingBasis = AgingBasis.DUE_DATE) -> str:
        """The column for an item ``days`` past due (or since issue, on the document basis)."""
        basis = AgingBasis(basis)
        labels = self.labels(basis)
        if basis is AgingBasis.DUE_DATE:
            if days <= 0:
                return CURRENT
            ranges = labels[1:]
        else:
            if days < 0:
                raise ValueError(f"an item cannot be {days} days since issue on the as-of date")
            ranges = labels
        for limit, label in zip(self.limits, ranges):
            if days <= limit:
                return label
        return ranges[-1]


DEFAULT_BUCKETS = AgingBuckets()


def sql_bucket_index(day: str, as_of: date | str, buckets: AgingBuckets = DEFAULT_BUCKETS,
                     basis: AgingBasis = AgingBasis.DUE_DATE) -> str:
    """The rule of ``label_for_days`` as a SQL expression: the position, in
    ``labels(basis)``, of the bucket of an item whose age counts from ``day`` (a SQL date
    column). ``as_of`` is a date, or a SQL date expression. With a date, each condition
    compares ``day`` with a constant, which is what lets the database age a million items
    in one pass. On the document basis, an item issued after ``as_of`` is in no bucket."""

    def at_most(days: int) -> str:  # SQL: the item is at most `days` days old
        if isinstance(as_of, date):
            return f"{day} >= DATE '{(as_of - timedelta(days=days)).isoformat()}'"
        return f"{day} >= {as_of} - ({days})"

    if AgingBasis(basis) is AgingBasis.DUE_DATE:
        conditions, first = [f"WHEN {at_most(0)} THEN 0"], 1
    else:
        conditions, first = [f"WHEN {at_most(-1)} THEN NULL"], 0
    conditions += [f"WHEN {at_most(limit)} THEN {first + index}"
                   for index, limit in enumerate(buckets.limits)]
    return f"CASE {' '.join(conditions)} ELSE {first + len(buckets.limits)} END"


# ---------------------------------------------------------------------------------------------
# Open items and the aging report


@dataclass(frozen=True)
class AgedItem:
    """One open item on the as-of date. ``amount`` is the signed open amount:
    invoices positive, credit notes and unapplied cash negative."""

    item_id: str
    customer_id: str
    document_date: date
    due_date: date
    amount: Decimal
    kind: ItemKind = ItemKind.INVOICE

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", _as_decimal(self.amount, "amount"))
        object.__setattr__(self, "kind", ItemKind(self.kind))
        if self.kind.is_credit and self.amount > 0:
            raise ValueError(
                f"{self.kind} {self.item_id} has a positive open amount {self.amount}; "
                "credits and cash are negative")

    def days_past_due(self, as_of: date) -> int:
        return (as_of - self.due_date).days

    def days_since_issue(self, as_of: date) -> int:
        return (as_of - self.document_date).days

    @property
    def is_unapplied(self) -> bool:
        """Shown in the unapplied column, never aged (see the module rules)."""
        return self.kind.is_credit or self.amount < 0


def bucket_for(item: AgedItem, as_of: date, buckets: AgingBuckets = DEFAULT_BUCKETS,
               basis: AgingBasis = AgingBasis.DUE_DATE) -> str:
    """The column an open item falls in on ``as_of``: a bucket label or ``unapplied``."""
    if item.document_date > as_of:
        raise ValueError(
            f"{item.item_id} was issued on {item.document_date}, after the as-of date {as_of}; "
            "it was not open then")
    if item.is_unapplied:
        return UNAPPLIED
    if AgingBasis(basis) is AgingBasis.DUE_DATE:
        return buckets.label_for_days(item.days_past_due(as_of), basis)
    return buckets.label_for_days(item.days_since_issue(as_of), basis)


@dataclass(frozen=True)
class AgingRow:
    """One customer's line of the report, or the totals line (``customer_id`` None)."""

    customer_id: str | None
    buckets: Mapping[str, Decimal]
    counts: Mapping[str, int]
    unapplied: Decimal
    unapplied_count: int

    @property
    def aged_total(self) -> Decimal:
        """What is owed: the sum of the buckets, credits left out."""
        return sum(self.buckets.values(), Decimal(0))

    @property
    def total(self) -> Decimal:
        """The net balance: buckets plus the (negative) unapplied column."""
        return self.aged_total + self.unapplied

    @property
    def count(self) -> int:
        return sum(self.counts.values()) + self.unapplied_count


@dataclass(frozen=True)
class AgingReport:
    as_of: date
    basis: AgingBasis
    buckets: AgingBuckets
    labels: tuple[str, ...]
    totals: AgingRow
    customers: tuple[AgingRow, ...] = field(default=())

    @property
    def grand_total(self) -> Decimal:
        return self.totals.total

    def customer(self, customer_id: str) -> AgingRow:
        for row in self.customers:
            if row.customer_id == customer_id:
                return row
        raise KeyError(customer_id)


class _RowTally:
    def __init__(self, labels: tuple[str, ...]) -> None:
        self.amounts = {label: Decimal(0) for label in labels}
        self.counts = {label: 0 for label in labels}
        self.unapplied = Decimal(0)
        self.unapplied_count = 0

    def add(self, column: str, amount: Decimal) -> None:
        if column == UNAPPLIED:
            self.unapplied += amount
            self.unapplied_count += 1
        else:
            self.amounts[column] += amount
            self.counts[column] += 1

    def row(self, customer_id: str | None) -> AgingRow:
        return AgingRow(customer_id, MappingProxyType(dict(self.amounts)),
                        MappingProxyType(dict(self.counts)), self.unapplied,
                        self.unapplied_count)


def age_items(items: Iterable[AgedItem], as_of: date,
              buckets: AgingBuckets = DEFAULT_BUCKETS,
              basis: AgingBasis = AgingBasis.DUE_DATE) -> AgingReport:
    """Age open items (one currency) on ``as_of``: totals per bucket, counts, and one
    row per customer (sorted by customer id). Every bucket label appears in every row,
    with zero where nothing falls."""
    basis = AgingBasis(basis)
    labels = buckets.labels(basis)
    totals = _RowTally(labels)
    per_customer: dict[str, _RowTally] = defaultdict(lambda: _RowTally(labels))
    for item in items:
        column = bucket_for(item, as_of, buckets, basis)
        totals.add(column, item.amount)
        per_customer[item.customer_id].add(column, item.amount)
    return AgingReport(
        as_of=as_of, basis=basis, buckets=buckets, labels=labels,
        totals=totals.row(None),
        customers=tuple(per_customer[c].row(c) for c in sorted(per_customer)),
    )


# ---------------------------------------------------------------------------------------------
# As-of aging: open items reconstructed from business-dated movements


@dataclass(frozen=True)
class Movement:
    """A business-dated change to one item's open amount.

    The ``OPENED`` movement creates the item and carries its header: the customer,
    the due date (defaults to the business date, as for cash) and the item kind; its
    business date is the document date. Later movements carry a signed delta: a
    payment applied to an invoice is negative, the same cash consumed from an
    unapplied-cash item is positive.
    """

    item_id: str
    business_date: date
    amount: Decimal
    kind: MovementKind
    customer_id: str | None = None
    due_date: date | None = None
    item_kind: ItemKind = ItemKind.INVOICE

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", _as_decimal(self.amount, "amount"))
        object.__setattr__(self, "kind", MovementKind(self.kind))
        object.__setattr__(self, "item_kind", ItemKind(self.item_kind))
        if self.kind is MovementKind.OPENED and not self.customer_id:
            raise ValueError(f"the opening movement of {self.item_id} needs a customer_id")


def _opening(item_id: str, history: list[Movement]) -> Movement:
    openings = [m for m in history if m.kind is MovementKind.OPENED]
    if len(openings) != 1:
        raise ValueError(
            f"item {item_id} has {len(openings)} opening movements; exactly one is needed")
    return openings[0]


def open_amount_as_of(item_history: Iterable[Movement], as_of: date) -> Decimal:
    """What one item had open at the end of ``as_of``: zero before it was opened, else
    the sum of its movements with a business date on or before ``as_of``."""
    history = list(item_history)
    if not history:
        return Decimal(0)
    item_ids = {m.item_id for m in history}
    if len(item_ids) != 1:
        raise ValueError(f"one item's history expected, got items {sorted(item_ids)}")
    opening = _opening(history[0].item_id, history)
    if opening.business_date > as_of:
        return Decimal(0)
    return sum((m.amount for m in history if m.business_date <= as_of), Decimal(0))


def reconstruct_open_items(movements: Iterable[Movement], as_of: date) -> tuple[AgedItem, ...]:
    """The open items at the end of ``as_of``, rebuilt from every item's movements;
    movements dated after ``as_of`` are ignored. Sorted by customer, document date, item."""
    histories: dict[str, list[Movement]] = defaultdict(list)
    for movement in movements:
        histories[movement.item_id].append(movement)
    open_items = []
    for item_id, history in histories.items():
        opening = _opening(item_id, history)
        open_amount = open_amount_as_of(history, as_of)
        if open_amount == 0:
            continue
        open_items.append(AgedItem(
            item_id=item_id,
            customer_id=opening.customer_id,  # type: ignore[arg-type]  # checked on OPENED
            document_date=opening.business_date,
            due_date=opening.due_date or opening.business_date,
            amount=open_amount,
            kind=opening.item_kind,
        ))
    open_items.sort(key=lambda i: (i.customer_id, i.document_date, i.item_id))
    return tuple(open_items)
