"""A customer's statement for a period: what was owed at the start, every document and
cash movement in the period, what is owed at the end, and how old that is.

Every movement counts on its business date (an invoice on its issue date, cash on its
value date, a credit note or write-off on its own date), as in history.py, so the
closing balance of one period is the opening balance of the next, and a statement
ending today closes on the balance the API shows. The balance is net: invoices and
debit notes add to it, everything else takes from it. Cash that no invoice has taken
yet (and credit on account) counts from its receipt, for what is still unapplied today:
the projection keeps no history of unapplied amounts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

import asyncpg

from .buckets import (
    DEFAULT_BUCKETS,
    AgedItem,
    AgingBasis,
    AgingBuckets,
    AgingRow,
    ItemKind,
    age_items,
)
from .kpis import Period
from .projections import SCHEMA


class EntryKind(StrEnum):
    INVOICE = "invoice"
    DEBIT_NOTE = "debit_note"
    CREDIT_NOTE = "credit_note"
    ADJUSTMENT = "adjustment"
    CANCELLATION = "cancellation"
    WRITE_OFF = "write_off"
    PAYMENT = "payment"
    UNAPPLIED_CASH = "unapplied_cash"
    CREDIT_ON_ACCOUNT = "credit_on_account"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def opens_item(self) -> bool:
        return self in (EntryKind.INVOICE, EntryKind.DEBIT_NOTE)


_LABELS = {
    EntryKind.INVOICE: "Invoice", EntryKind.DEBIT_NOTE: "Debit note",
    EntryKind.CREDIT_NOTE: "Credit note", EntryKind.ADJUSTMENT: "Adjustment",
    EntryKind.CANCELLATION: "Cancellation", EntryKind.WRITE_OFF: "Write-off",
    EntryKind.PAYMENT: "Payment", EntryKind.UNAPPLIED_CASH: "Unapplied cash",
    EntryKind.CREDIT_ON_ACCOUNT: "Credit on account",
}
# Within a day, documents before the cash that settles them.
_ORDER = {kind: index for index, kind in enumerate(EntryKind)}


@dataclass(frozen=True)
class Entry:
    """One movement on the account. ``amount`` is signed: positive adds to what the
    customer owes. ``item_id`` names the invoice (or debit note) it belongs to, or, for
    unapplied cash, the payment."""

    on: date
    kind: EntryKind
    reference: str
    description: str
    currency: str
    amount: Decimal
    item_id: str
    due_date: date | None = None

    @property
    def sort_key(self) -> tuple:
        return (self.on, _ORDER[self.kind], self.reference, self.item_id)


@dataclass(frozen=True)
class StatementLine:
    entry: Entry
    balance: Decimal  # the running balance after this entry


@dataclass(frozen=True)
class CurrencySection:
    currency: str
    opening_balance: Decimal
    lines: tuple[StatementLine, ...]
    closing_balance: Decimal
    aging: AgingRow  # of the closing balance; its total equals it


@dataclass(frozen=True)
class Statement:
    tenant: str
    customer_id: str
    period: Period
    labels: tuple[str, ...]  # the aging columns, youngest first
    sections: tuple[CurrencySection, ...]


def build_statement(tenant: str, customer_id: str, period: Period, entries: Iterable[Entry],
                    buckets: AgingBuckets = DEFAULT_BUCKETS,
                    basis: AgingBasis = AgingBasis.DUE_DATE) -> Statement:
    """The statement from the customer's entries up to the period end (later ones are
    ignored), one section per currency with activity or a balance."""
    by_currency: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries:
        if entry.on <= period.end:
            by_currency[entry.currency].append(entry)
    sections = tuple(_section(currency, sorted(by_currency[currency], key=lambda e: e.sort_key),
                              period, buckets, basis)
                     for currency in sorted(by_currency))
    return Statement(tenant, customer_id, period, buckets.labels(basis), sections)


def _section(currency: str, entries: list[Entry], period: Period, buckets: AgingBuckets,
             basis: AgingBasis) -> CurrencySection:
    opening = sum((e.amount for e in entries if e.on < period.start), Decimal(0))
    balance, lines = opening, []
    for entry in entries:
        if entry.on >= period.start:
            balance += entry.amount
            lines.append(StatementLine(entry, balance))
    aging = age_items(_open_items(entries), period.end, buckets, basis)
    return CurrencySection(currency, opening, tuple(lines), balance, aging.totals)


def _open_items(entries: list[Entry]) -> list[AgedItem]:
    """What is open at the end: each item's entries summed; an item whose invoice is
    not known here (an application that came first) is a credit, as unapplied cash is."""
    open_amount: dict[str, Decimal] = defaultdict(Decimal)
    openings: dict[str, Entry] = {}
    firsts: dict[str, Entry] = {}
    for entry in entries:
        open_amount[entry.item_id] += entry.amount
        firsts.setdefault(entry.item_id, entry)
        if entry.kind.opens_item or entry.kind in (EntryKind.UNAPPLIED_CASH,
                                                  EntryKind.CREDIT_ON_ACCOUNT):
            openings[entry.item_id] = entry
    items = []
    for item_id, amount in open_amount.items():
        if amount == 0:
            continue
        opening = openings.get(item_id)
        first = opening or firsts[item_id]
        kind = {EntryKind.INVOICE: ItemKind.INVOICE,
                EntryKind.DEBIT_NOTE: ItemKind.DEBIT_NOTE,
                EntryKind.CREDIT_ON_ACCOUNT: ItemKind.CREDIT_NOTE}.get(
                    opening.kind if opening else None, ItemKind.UNAPPLIED_CASH)
        if kind.is_credit and amount > 0:
            kind = ItemKind.INVOICE  # cannot happen from the projection; age it, never hide it
        items.append(AgedItem(item_id=item_id, customer_id="-", document_date=first.on,
                              due_date=first.due_date or first.on, amount=amount, kind=kind))
    return items


# ---------------------------------------------------------------------------------------------
# From the projection

# $1 tenant, $2 customer, $3 the period end. Signs as on the statement.
_ENTRIES_SQL = f"""
    SELECT kind, issue_date AS on_date, invoice_number AS reference, '' AS description,
           currency, original_amount AS amount, invoice_id AS item_id, due_date
    FROM {SCHEMA}.open_items
    WHERE tenant = $1 AND customer_id = $2 AND issue_date <= $3
  UNION ALL
    SELECT change.kind, change.changed_on, coalesce(change.document_number, item.invoice_number),
           CASE WHEN change.document_number IS NULL THEN change.reason
                ELSE 'on ' || item.invoice_number || ': ' || change.reason END,
           item.currency, change.amount, change.invoice_id, item.due_date
    FROM {SCHEMA}.document_changes AS change
    JOIN {SCHEMA}.open_items AS item USING (tenant, invoice_id)
    WHERE change.tenant = $1 AND item.customer_id = $2 AND change.changed_on <= $3
  UNION ALL
    SELECT 'payment', applied.applied_on, applied.payment_id,
           'applied to ' || coalesce(item.invoice_number, applied.invoice_id),
           applied.currency, -applied.amount, applied.invoice_id, NULL
    FROM {SCHEMA}.applications AS applied
    LEFT JOIN {SCHEMA}.open_items AS item USING (tenant, invoice_id)
    WHERE applied.tenant = $1 AND applied.customer_id = $2 AND applied.applied_on <= $3
  UNION ALL
    SELECT CASE WHEN reason LIKE 'credit %' THEN 'credit_on_account' ELSE 'unapplied_cash' END,
           value_date, payment_id, reason, currency, -amount, payment_id, NULL
    FROM {SCHEMA}.unapplied_cash
    WHERE tenant = $1 AND customer_id = $2 AND value_date <= $3
"""


async def customer_is_known(pool: asyncpg.Pool, tenant: str, customer_id: str) -> bool:
    return await pool.fetchval(
        f"""
        SELECT EXISTS (SELECT 1 FROM {SCHEMA}.open_items WHERE tenant = $1 AND customer_id = $2)
            OR EXISTS (SELECT 1 FROM {SCHEMA}.applications
                       WHERE tenant = $1 AND customer_id = $2)
            OR EXISTS (SELECT 1 FROM {SCHEMA}.unapplied_cash
                       WHERE tenant = $1 AND customer_id = $2)
        """, tenant, customer_id)


async def load_statement(pool: asyncpg.Pool, tenant: str, customer_id: str, period: Period,
                         buckets: AgingBuckets = DEFAULT_BUCKETS,
                         basis: AgingBasis = AgingBasis.DUE_DATE) -> Statement:
    rows = await pool.fetch(_ENTRIES_SQL, tenant, customer_id, period.end)
    entries = [Entry(on=row["on_date"], kind=EntryKind(row["kind"]), reference=row["reference"],
                     description=row["description"] or "", currency=row["currency"],
                     amount=row["amount"], item_id=row["item_id"], due_date=row["due_date"])
               for row in rows]
    return build_statement(tenant, customer_id, period, entries, buckets, basis)
