"""What an open item owes, as one rule both the live handlers and the rebuild apply.

    open_amount = original_amount - sum(applications) + sum(document changes)
    settled_on  = the latest application date, once open_amount <= 0 (else none)

A pure function of the facts, whatever order they arrived in: the live handlers record
a fact and call `refresh_open_item`; the rebuild folds the facts and calls `open_state`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import asyncpg

ZERO = Decimal(0)


def open_state(original: Decimal, applied: Decimal, changed: Decimal,
               last_applied_on: date | None) -> tuple[Decimal, date | None]:
    """(open_amount, settled_on) of one item."""
    open_amount = original - applied + changed
    return open_amount, (last_applied_on if open_amount <= 0 else None)


_REFRESH = """
UPDATE open_items AS item
SET open_amount = fresh.open_amount,
    settled_on = CASE WHEN fresh.open_amount <= 0 THEN fresh.last_applied_on END
FROM (
    SELECT item.original_amount - coalesce(applied.amount, 0) + coalesce(changed.amount, 0)
               AS open_amount,
           applied.last_applied_on
    FROM open_items AS item,
         (SELECT sum(amount) AS amount, max(applied_on) AS last_applied_on
          FROM applications WHERE tenant = $1 AND invoice_id = $2) AS applied,
         (SELECT sum(amount) AS amount
          FROM document_changes WHERE tenant = $1 AND invoice_id = $2) AS changed
    WHERE item.tenant = $1 AND item.invoice_id = $2
) AS fresh
WHERE item.tenant = $1 AND item.invoice_id = $2
  AND (item.open_amount, item.settled_on) IS DISTINCT FROM
      (fresh.open_amount, CASE WHEN fresh.open_amount <= 0 THEN fresh.last_applied_on END)
"""


async def lock_open_item(connection: asyncpg.Connection, tenant: str, invoice_id: str) -> None:
    """Before recording a fact about an item: its invoice and its payment, consumed from two
    topics at once, must not both refresh it before either has committed (each would miss
    the other's fact). Held to the end of the transaction."""
    await connection.execute("SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))",
                             tenant, invoice_id)


async def refresh_open_item(connection: asyncpg.Connection, tenant: str,
                            invoice_id: str) -> None:
    """Recompute one item from its facts (nothing happens if it is not issued yet)."""
    await connection.execute(_REFRESH, tenant, invoice_id)


async def settle(connection: asyncpg.Connection, tenant: str, settlement_id: str,
                 payment_id: str, invoice_id: str, customer_id: str, currency: str,
                 amount: Decimal, on: date) -> None:
    """Record what settles (part of) an invoice: cash, a written-off difference, a credit."""
    await lock_open_item(connection, tenant, invoice_id)
    await connection.execute(
        """
        INSERT INTO applications VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT DO NOTHING
        """, tenant, settlement_id, payment_id, invoice_id, customer_id, currency, amount, on)
    await refresh_open_item(connection, tenant, invoice_id)
