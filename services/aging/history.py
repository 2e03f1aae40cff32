"""The receivable as it stood on a past date, reconstructed from business dates.

An invoice counts from its issue date; an application counts from the payment's
value date; a credit note, adjustment, cancellation or write-off from its own date.
So what was open on 30 June is every invoice issued by then, less what had been
applied to it by then, with the changes made to it by then, whatever order the
events arrived in and however late they were processed.
"""

from __future__ import annotations

from datetime import date

from .projections import SCHEMA

# Parameters: $1 tenant, $2 the as-of date. One row per item open then.
OPEN_ITEMS_AS_OF = f"""
    SELECT item.customer_id, item.currency, item.invoice_id, item.invoice_number,
           item.order_id, item.issue_date, item.due_date, item.original_amount,
           item.original_amount - coalesce(applied.amount, 0) + coalesce(changed.amount, 0)
               AS open_amount
    FROM {SCHEMA}.open_items AS item
    LEFT JOIN (
        SELECT invoice_id, sum(amount) AS amount
        FROM {SCHEMA}.applications
        WHERE tenant = $1 AND applied_on <= $2
        GROUP BY invoice_id
    ) AS applied USING (invoice_id)
    LEFT JOIN (
        SELECT invoice_id, sum(amount) AS amount
        FROM {SCHEMA}.document_changes
        WHERE tenant = $1 AND changed_on <= $2
        GROUP BY invoice_id
    ) AS changed USING (invoice_id)
    WHERE item.tenant = $1 AND item.issue_date <= $2
      AND item.original_amount - coalesce(applied.amount, 0) + coalesce(changed.amount, 0) <> 0
"""

# Today's open items come from the maintained open amount: no reconstruction needed.
OPEN_ITEMS_NOW = f"""
    SELECT customer_id, currency, invoice_id, invoice_number, order_id, issue_date,
           due_date, original_amount, open_amount
    FROM {SCHEMA}.open_items
    WHERE tenant = $1 AND open_amount <> 0
"""


def open_items_source(as_of: date, today: date) -> str:
    """SQL for the open items on `as_of` ($1 tenant, $2 as_of)."""
    return OPEN_ITEMS_NOW if as_of >= today else OPEN_ITEMS_AS_OF
