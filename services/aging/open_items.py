"""What an open item owes, as one rule both the live handlers and the rebuild apply.

    open_amount = original_amount - sum(applications) + sum(document changes)
    settled_on  = the latest application date, once open_amount <= 0 (else none)

A pure function of the facts, whatever order they arrived in: the live handlers record
a fact and call `refresh_open_items` (an item issued after its facts counts them at once,
`open_new_items`); the rebuild folds the facts and calls `open_state`.

An item's invoice and its payment come from two topics; if two transactions could record
them at once, each would miss the other's fact. The projection's transactions run one at
a time, whatever process they are in (libs/runtime/projection.py, `ProjectionWriter`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

import asyncpg

from libs.runtime.projection import as_columns

ZERO = Decimal(0)


def open_state(original: Decimal, applied: Decimal, changed: Decimal,
               last_applied_on: date | None) -> tuple[Decimal, date | None]:
    """(open_amount, settled_on) of one item."""
    open_amount = original - applied + changed
    return open_amount, (last_applied_on if open_amount <= 0 else None)


# The rule above in SQL, for the items of a statement: `item` has the item's original
# amount, and `facts_of(key)` joins the facts of the item whose (tenant, invoice_id) is
# `key`'s. Each item and its facts are looked up by key, one item after another.
_OPEN = "{original} - applied.amount + changed.amount"
_SETTLED_ON = "CASE WHEN {original} - applied.amount + changed.amount <= 0 " \
              "THEN applied.last_applied_on END"


def facts_of(key: str, applications: str = "applications") -> str:
    """`applications`: where the item's applications are (a statement that records some
    sees them only in what its insert returns, not yet in the table)."""
    return f"""
    LATERAL (SELECT coalesce(sum(amount), 0) AS amount, max(applied_on) AS last_applied_on
             FROM {applications} AS fact
             WHERE (fact.tenant, fact.invoice_id) = ({key}.tenant, {key}.invoice_id)) AS applied,
    LATERAL (SELECT coalesce(sum(amount), 0) AS amount
             FROM document_changes AS fact
             WHERE (fact.tenant, fact.invoice_id) = ({key}.tenant, {key}.invoice_id)) AS changed"""


def _refresh(keys: str, applications: str = "applications") -> str:
    """SQL: recompute the items of `keys` (a query of (tenant, invoice_id)) from their facts."""
    return f"""
UPDATE open_items AS item
SET open_amount = {_OPEN.format(original="item.original_amount")},
    settled_on = {_SETTLED_ON.format(original="item.original_amount")}
FROM ({keys}) AS key(tenant, invoice_id),
    {facts_of("key", applications)}
WHERE (item.tenant, item.invoice_id) = (key.tenant, key.invoice_id)
  AND (item.open_amount, item.settled_on) IS DISTINCT FROM
      ({_OPEN.format(original="item.original_amount")},
       {_SETTLED_ON.format(original="item.original_amount")})
"""


_REFRESH = _refresh("SELECT DISTINCT * FROM unnest($1::text[], $2::text[])")

# Items issued, with what they owe from the facts recorded before them (an item already
# there stays as it is).
_OPEN_ITEMS = f"""
INSERT INTO open_items (tenant, invoice_id, invoice_number, customer_id, order_id, currency,
    issue_date, due_date, original_amount, open_amount, settled_on, kind, functional_currency,
    functional_amount)
SELECT item.tenant, item.invoice_id, invoice_number, customer_id, order_id, currency,
       issue_date, due_date, item.amount, {_OPEN.format(original="item.amount")},
       {_SETTLED_ON.format(original="item.amount")}, kind, functional_currency,
       functional_amount
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::date[], $8::date[], $9::numeric[], $10::text[], $11::text[], $12::numeric[])
    AS item(tenant, invoice_id, invoice_number, customer_id, order_id, currency, issue_date,
            due_date, amount, kind, functional_currency, functional_amount),
    {facts_of("item")}
ON CONFLICT (tenant, invoice_id) DO NOTHING
"""

# (tenant, invoice_id)
ItemKey = tuple[str, str]


async def open_new_items(connection: asyncpg.Connection, items: list[tuple]) -> None:
    """Issued items (tenant, invoice id, number, customer id, order id, currency, issue
    date, due date, amount, kind, functional currency, functional amount), in one
    statement however many."""
    await connection.execute(_OPEN_ITEMS, *as_columns(items, 12))


async def refresh_open_items(connection: asyncpg.Connection, keys: Iterable[ItemKey]) -> None:
    """Recompute items from their facts, in one statement (nothing happens to an item that
    is not issued yet)."""
    await connection.execute(_REFRESH, *as_columns(keys, 2))


async def refresh_open_item(connection: asyncpg.Connection, tenant: str,
                            invoice_id: str) -> None:
    await refresh_open_items(connection, [(tenant, invoice_id)])


# What settles (part of) an invoice: cash, a written-off difference, a credit. The columns
# of `applications`: tenant, settlement id, payment id, invoice id, customer id, currency,
# amount, date.
Settlement = tuple[str, str, str, str, str, str, Decimal, date]

# Settlements recorded (one recorded before is left as it was), and their items
# recomputed, in one statement: the items' applications are those in the table and
# those the statement inserts, which the table does not show yet.
_SETTLE = f"""
WITH recorded AS (
    INSERT INTO applications
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                         $6::text[], $7::numeric[], $8::date[])
    ON CONFLICT DO NOTHING
    RETURNING tenant, invoice_id, amount, applied_on)
{_refresh("SELECT DISTINCT * FROM unnest($1::text[], $4::text[])",
          "(SELECT tenant, invoice_id, amount, applied_on FROM applications "
          "UNION ALL SELECT * FROM recorded)")}"""


async def settle_all(connection: asyncpg.Connection, settlements: list[Settlement]) -> None:
    """Record settlements and recompute their items, in one statement however many."""
    await connection.execute(_SETTLE, *as_columns(settlements, 8))


async def settle(connection: asyncpg.Connection, tenant: str, settlement_id: str,
                 payment_id: str, invoice_id: str, customer_id: str, currency: str,
                 amount: Decimal, on: date) -> None:
    await settle_all(connection, [(tenant, settlement_id, payment_id, invoice_id, customer_id,
                                   currency, amount, on)])
