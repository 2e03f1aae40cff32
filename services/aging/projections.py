"""The open-item projection: every invoice, what is still open on it, and unapplied cash.

Order-independent: an application may arrive before the invoice it settles (they
travel on different topics), so applications are kept in their own table and an
invoice's open amount is always original minus what has been applied to it.
"""

from __future__ import annotations

import asyncpg

from libs.events import Envelope, InvoiceIssued, PaymentApplied, PaymentUnapplied
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


HANDLERS: dict[str, dict[type, ProjectionHandler]] = {
    AR_INVOICING: {InvoiceIssued: on_invoice_issued},
    AR_MATCHING: {PaymentApplied: on_payment_applied, PaymentUnapplied: on_payment_unapplied},
}


def subscribe(broker, settings, pool: asyncpg.Pool) -> None:  # noqa: ANN001
    for topic, handlers in HANDLERS.items():
        ProjectionConsumer(broker, settings, pool, topic, handlers)
