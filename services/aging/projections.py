"""The open-item projection: every invoice (and debit note), what is still open on it,
and unapplied cash (and credit notes on account).

Order-independent: an application may arrive before the invoice it settles (they
travel on different topics), so applications are kept in their own table and an
invoice's open amount is always original minus what has been applied to it, plus the
signed changes invoicing made to it (they follow the invoice on its own topic).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import asyncpg

from libs.events import (
    CreditNoteIssued,
    DebitNoteIssued,
    Envelope,
    InvoiceAdjusted,
    InvoiceCancelled,
    InvoiceIssued,
    InvoiceWrittenOff,
    PaymentApplied,
    PaymentUnapplied,
)
from libs.events.topics import AR_INVOICING, AR_MATCHING
from libs.runtime.projection import TRACKING_DDL, ProjectionConsumer, ProjectionHandler

SCHEMA = "aging"

DDL = TRACKING_DDL.format(schema=SCHEMA) + f"""
CREATE TABLE IF NOT EXISTS {SCHEMA}.open_items (
    tenant          text    NOT NULL,
    invoice_id      text    NOT NULL,
    invoice_number  text    NOT NULL,
    customer_id     text    NOT NULL,
    order_id        text,
    currency        text    NOT NULL,
    issue_date      date    NOT NULL,
    due_date        date    NOT NULL,
    original_amount numeric NOT NULL,
    open_amount     numeric NOT NULL,
    settled_on      date,
    PRIMARY KEY (tenant, invoice_id)
);
CREATE INDEX IF NOT EXISTS open_items_by_customer
    ON {SCHEMA}.open_items (tenant, customer_id, due_date) WHERE open_amount <> 0;
CREATE INDEX IF NOT EXISTS open_items_by_number ON {SCHEMA}.open_items (tenant, invoice_number);

CREATE TABLE IF NOT EXISTS {SCHEMA}.applications (
    tenant         text    NOT NULL,
    application_id text    NOT NULL,
    payment_id     text    NOT NULL,
    invoice_id     text    NOT NULL,
    customer_id    text    NOT NULL,
    currency       text    NOT NULL,
    amount         numeric NOT NULL,
    applied_on     date    NOT NULL,
    PRIMARY KEY (tenant, application_id)
);
CREATE INDEX IF NOT EXISTS applications_by_invoice ON {SCHEMA}.applications (tenant, invoice_id);

CREATE TABLE IF NOT EXISTS {SCHEMA}.unapplied_cash (
    tenant      text    NOT NULL,
    payment_id  text    NOT NULL,
    customer_id text,
    currency    text    NOT NULL,
    amount      numeric NOT NULL,
    value_date  date    NOT NULL,
    reason      text    NOT NULL,
    PRIMARY KEY (tenant, payment_id)
);

-- Invoicing's documents after issue. A debit note is an open item of its own kind; a
-- credit note, adjustment, cancellation or write-off is a signed change to what an
-- invoice owes, kept with its business date so past dates age right (history.py).
ALTER TABLE {SCHEMA}.open_items ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'invoice';
CREATE TABLE IF NOT EXISTS {SCHEMA}.document_changes (
    tenant          text    NOT NULL,
    change_id       text    NOT NULL,
    invoice_id      text    NOT NULL,
    kind            text    NOT NULL,
    document_number text,
    amount          numeric NOT NULL,
    changed_on      date    NOT NULL,
    reason          text    NOT NULL,
    actor           text    NOT NULL,
    PRIMARY KEY (tenant, change_id)
);
CREATE INDEX IF NOT EXISTS document_changes_by_invoice
    ON {SCHEMA}.document_changes (tenant, invoice_id);
"""


async def create_tables(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection:
        await connection.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        await connection.execute(DDL)


async def on_invoice_issued(connection: asyncpg.Connection, envelope: Envelope,
                            issued: InvoiceIssued) -> None:
    await connection.execute(
        f"""
        INSERT INTO {SCHEMA}.open_items AS item
        SELECT $1, $2, $3, $4, $9, $5, $6, $7, $8,
               $8 - coalesce(sum(applied.amount), 0),
               CASE WHEN $8 - coalesce(sum(applied.amount), 0) <= 0 THEN max(applied.applied_on) END
        FROM (SELECT amount, applied_on FROM {SCHEMA}.applications
              WHERE tenant = $1 AND invoice_id = $2) AS applied
        ON CONFLICT (tenant, invoice_id) DO NOTHING
        """,
        envelope.tenant, issued.invoice_id, issued.invoice_number, issued.customer_id,
        issued.total.currency, issued.issue_date, issued.due_date, issued.total.amount,
        issued.order_id,
    )


async def on_payment_applied(connection: asyncpg.Connection, envelope: Envelope,
                             applied: PaymentApplied) -> None:
    inserted = await connection.fetchval(
        f"""
        INSERT INTO {SCHEMA}.applications VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT DO NOTHING RETURNING true
        """,
        envelope.tenant, applied.application_id, applied.payment_id, applied.invoice_id,
        applied.customer_id, applied.amount.currency, applied.amount.amount, applied.applied_on,
    )
    if inserted:
        await connection.execute(
            f"""
            UPDATE {SCHEMA}.open_items
            SET open_amount = open_amount - $3,
                settled_on = CASE WHEN open_amount - $3 <= 0 THEN $4::date END
            WHERE tenant = $1 AND invoice_id = $2
            """,
            envelope.tenant, applied.invoice_id, applied.amount.amount, applied.applied_on,
        )


async def on_payment_unapplied(connection: asyncpg.Connection, envelope: Envelope,
                               unapplied: PaymentUnapplied) -> None:
    await connection.execute(
        f"""
        INSERT INTO {SCHEMA}.unapplied_cash VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT DO NOTHING
        """,
        envelope.tenant, unapplied.payment_id, unapplied.customer_id, unapplied.amount.currency,
        unapplied.amount.amount, unapplied.value_date, unapplied.reason,
    )


async def _change_invoice(connection: asyncpg.Connection, envelope: Envelope, invoice_id: str,
                         kind: str, amount: Decimal, changed_on: date, reason: str, actor: str,
                         document_number: str | None = None) -> None:
    await connection.execute(
        f"""
        INSERT INTO {SCHEMA}.document_changes VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT DO NOTHING
        """, envelope.tenant, envelope.id, invoice_id, kind, document_number, amount,
        changed_on, reason, actor)
    await connection.execute(
        f"UPDATE {SCHEMA}.open_items SET open_amount = open_amount + $3 "
        "WHERE tenant = $1 AND invoice_id = $2", envelope.tenant, invoice_id, amount)


async def on_invoice_adjusted(connection: asyncpg.Connection, envelope: Envelope,
                              adjusted: InvoiceAdjusted) -> None:
    await _change_invoice(connection, envelope, adjusted.invoice_id, "adjustment",
                          adjusted.amount.amount, adjusted.adjusted_on, adjusted.reason,
                          adjusted.actor)


async def on_invoice_cancelled(connection: asyncpg.Connection, envelope: Envelope,
                               cancelled: InvoiceCancelled) -> None:
    await _change_invoice(connection, envelope, cancelled.invoice_id, "cancellation",
                          -cancelled.amount.amount, cancelled.cancelled_on, cancelled.reason,
                          cancelled.actor)


async def on_invoice_written_off(connection: asyncpg.Connection, envelope: Envelope,
                                 written_off: InvoiceWrittenOff) -> None:
    await _change_invoice(connection, envelope, written_off.invoice_id, "write_off",
                          -written_off.amount.amount, written_off.written_off_on,
                          written_off.reason, written_off.actor)


async def on_credit_note_issued(connection: asyncpg.Connection, envelope: Envelope,
                                note: CreditNoteIssued) -> None:
    if note.invoice_id is not None:
        await _change_invoice(connection, envelope, note.invoice_id, "credit_note",
                              -note.total.amount, note.issue_date, note.reason, note.actor,
                              note.credit_note_number)
        return
    # On account it settles nothing yet: a credit the customer holds, shown beside the
    # open items as unapplied cash is.
    await connection.execute(
        f"""
        INSERT INTO {SCHEMA}.unapplied_cash VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT DO NOTHING
        """, envelope.tenant, note.credit_note_id, note.customer_id, note.total.currency,
        note.total.amount, note.issue_date,
        f"credit note {note.credit_note_number} on account: {note.reason}")


async def on_debit_note_issued(connection: asyncpg.Connection, envelope: Envelope,
                               note: DebitNoteIssued) -> None:
    await connection.execute(
        f"""
        INSERT INTO {SCHEMA}.open_items (tenant, invoice_id, invoice_number, customer_id,
            order_id, currency, issue_date, due_date, original_amount, open_amount, kind)
        VALUES ($1, $2, $3, $4, NULL, $5, $6, $7, $8, $8, 'debit_note')
        ON CONFLICT (tenant, invoice_id) DO NOTHING
        """, envelope.tenant, note.debit_note_id, note.debit_note_number, note.customer_id,
        note.total.currency, note.issue_date, note.due_date, note.total.amount)


HANDLERS: dict[str, dict[type, ProjectionHandler]] = {
    AR_INVOICING: {InvoiceIssued: on_invoice_issued, InvoiceAdjusted: on_invoice_adjusted,
                   InvoiceCancelled: on_invoice_cancelled,
                   InvoiceWrittenOff: on_invoice_written_off,
                   CreditNoteIssued: on_credit_note_issued,
                   DebitNoteIssued: on_debit_note_issued},
    AR_MATCHING: {PaymentApplied: on_payment_applied, PaymentUnapplied: on_payment_unapplied},
}


def subscribe(broker, settings, pool: asyncpg.Pool) -> None:  # noqa: ANN001
    for topic, handlers in HANDLERS.items():
        ProjectionConsumer(broker, settings, pool, topic, handlers)
