"""The open-item projection: every invoice (and debit note), what is still open on it,
unapplied cash (and credit notes on account), and the customers' attributes to group by.

Order-independent: an application may arrive before the invoice it settles (they
travel on different topics), so applications are kept in their own table and an
invoice's open amount is always recomputed from its facts (`refresh_open_item`):
original, less what has been applied to it, plus the signed changes invoicing made
to it. The rebuild (rebuild.py) computes the same formula in memory.

The SQL is unqualified: the consumer points `search_path` at the live schema, a
rebuild at its fresh one (libs/runtime/projection.py).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import asyncpg

from libs.events import (
    CreditNoteIssued,
    CustomerUpserted,
    DebitNoteIssued,
    Envelope,
    InvoiceAdjusted,
    InvoiceCancelled,
    InvoiceIssued,
    InvoiceWrittenOff,
    PaymentApplied,
    PaymentUnapplied,
)
from libs.events.credit import OrderCreditApproved, OrderCreditHeld
from libs.events.topics import AR_CREDIT, AR_INVOICING, AR_MATCHING, ERP_CUSTOMERS
from libs.runtime.projection import (
    TRACKING_DDL,
    BatchHandler,
    ProjectionConsumer,
    ProjectionHandler,
    one_at_a_time,
)

from . import aggregates, matching_handlers
from .open_items import open_new_items, refresh_open_item, settle_all

SCHEMA = "aging"

# Tables first, secondary indexes apart: a rebuild loads its tables and indexes them after.
TABLES_DDL = TRACKING_DDL + """
CREATE TABLE IF NOT EXISTS {schema}.open_items (
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

CREATE TABLE IF NOT EXISTS {schema}.applications (
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

CREATE TABLE IF NOT EXISTS {schema}.unapplied_cash (
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
ALTER TABLE {schema}.open_items ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'invoice';
CREATE TABLE IF NOT EXISTS {schema}.document_changes (
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

-- The invoice's value in the tenant's functional currency on its issue date (null when
-- invoicing had no rate): open amounts convert at that rate.
ALTER TABLE {schema}.open_items ADD COLUMN IF NOT EXISTS functional_currency text;
ALTER TABLE {schema}.open_items ADD COLUMN IF NOT EXISTS functional_amount numeric;

-- What aging groups customers by: the ERP's master data, and the credit group credit
-- last decided an order of the customer's under (credit publishes no membership event).
CREATE TABLE IF NOT EXISTS {schema}.customers (
    tenant          text NOT NULL,
    customer_id     text NOT NULL,
    name            text,
    segment         text,
    risk_class      text,
    collector       text,
    credit_group_id text,
    PRIMARY KEY (tenant, customer_id)
);
"""

INDEXES_DDL = """
CREATE INDEX IF NOT EXISTS open_items_by_customer
    ON {schema}.open_items (tenant, customer_id, due_date) WHERE open_amount <> 0;
CREATE INDEX IF NOT EXISTS open_items_by_number ON {schema}.open_items (tenant, invoice_number);
CREATE INDEX IF NOT EXISTS applications_by_invoice ON {schema}.applications (tenant, invoice_id);
CREATE INDEX IF NOT EXISTS unapplied_cash_by_customer
    ON {schema}.unapplied_cash (tenant, customer_id);
CREATE INDEX IF NOT EXISTS document_changes_by_invoice
    ON {schema}.document_changes (tenant, invoice_id);
"""


def ddl(schema: str = SCHEMA) -> str:
    """Every table, index, aggregate and trigger of the projection, in `schema`."""
    return (TABLES_DDL + aggregates.TABLES_DDL + INDEXES_DDL
            + aggregates.TRIGGERS_DDL).format(schema=schema)


DDL = ddl()


async def create_tables(pool: asyncpg.Pool, schema: str = SCHEMA) -> None:
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        had_aggregates = await connection.fetchval(
            "SELECT to_regclass($1) IS NOT NULL", f"{schema}.receivable_days")
        await connection.execute(ddl(schema))
        if not had_aggregates:  # a projection from before the aggregates: count it once
            await connection.execute(aggregates.FILL.format(schema=schema))


async def on_invoices_issued(connection: asyncpg.Connection,
                             events: list[tuple[Envelope, InvoiceIssued]]) -> None:
    await open_new_items(connection, [
        (envelope.tenant, issued.invoice_id, issued.invoice_number, issued.customer_id,
         issued.order_id, issued.total.currency, issued.issue_date, issued.due_date,
         issued.total.amount, "invoice", issued.functional_currency,
         None if issued.functional_amount is None else issued.functional_amount.amount)
        for envelope, issued in events])


async def on_debit_notes_issued(connection: asyncpg.Connection,
                                events: list[tuple[Envelope, DebitNoteIssued]]) -> None:
    await open_new_items(connection, [
        (envelope.tenant, note.debit_note_id, note.debit_note_number, note.customer_id, None,
         note.total.currency, note.issue_date, note.due_date, note.total.amount, "debit_note",
         None, None)
        for envelope, note in events])


async def on_payments_applied(connection: asyncpg.Connection,
                              events: list[tuple[Envelope, PaymentApplied]]) -> None:
    await settle_all(connection, [
        (envelope.tenant, applied.application_id, applied.payment_id, applied.invoice_id,
         applied.customer_id, applied.amount.currency, applied.amount.amount,
         applied.applied_on)
        for envelope, applied in events])


async def on_payment_unapplied(connection: asyncpg.Connection, envelope: Envelope,
                               unapplied: PaymentUnapplied) -> None:
    await connection.execute(
        """
        INSERT INTO unapplied_cash VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT DO NOTHING
        """,
        envelope.tenant, unapplied.payment_id, unapplied.customer_id, unapplied.amount.currency,
        unapplied.amount.amount, unapplied.value_date, unapplied.reason,
    )


async def _change_invoice(connection: asyncpg.Connection, envelope: Envelope, invoice_id: str,
                         kind: str, amount: Decimal, changed_on: date, reason: str, actor: str,
                         document_number: str | None = None) -> None:
    await connection.execute(
        """
        INSERT INTO document_changes VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT DO NOTHING
        """, envelope.tenant, envelope.id, invoice_id, kind, document_number, amount,
        changed_on, reason, actor)
    await refresh_open_item(connection, envelope.tenant, invoice_id)


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
    # open items as unapplied cash is. Added to, not inserted: a use of it (CreditApplied,
    # on another topic) may have been counted first.
    await matching_handlers.credit_on_account(
        connection, envelope.tenant, note.credit_note_id, note.customer_id,
        note.total.currency, note.total.amount, note.issue_date,
        f"credit note {note.credit_note_number} on account: {note.reason}", describes=True)


async def on_customer_upserted(connection: asyncpg.Connection, envelope: Envelope,
                               customer: CustomerUpserted) -> None:
    await connection.execute(
        """
        INSERT INTO customers AS known (tenant, customer_id, name, segment, risk_class,
                                        collector)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (tenant, customer_id) DO UPDATE
        SET name = EXCLUDED.name, segment = EXCLUDED.segment,
            risk_class = EXCLUDED.risk_class, collector = EXCLUDED.collector
        """, envelope.tenant, customer.customer_id, customer.name, customer.segment,
        customer.risk_class, customer.collector)


async def on_order_credit_decided(connection: asyncpg.Connection, envelope: Envelope,
                                  decision: OrderCreditApproved | OrderCreditHeld) -> None:
    await connection.execute(
        """
        INSERT INTO customers AS known (tenant, customer_id, credit_group_id)
        VALUES ($1, $2, $3)
        ON CONFLICT (tenant, customer_id) DO UPDATE SET credit_group_id = EXCLUDED.credit_group_id
        """, envelope.tenant, decision.customer_id, decision.credit_group_id)


# Where a batch holds several events of one of these types in a row, they are applied at
# once, in a few set-based statements instead of a few each.
BATCH_HANDLERS: dict[type, BatchHandler] = {
    InvoiceIssued: on_invoices_issued, DebitNoteIssued: on_debit_notes_issued,
    PaymentApplied: on_payments_applied, **matching_handlers.BATCH_HANDLERS}

HANDLERS: dict[str, dict[type, ProjectionHandler]] = {
    ERP_CUSTOMERS: {CustomerUpserted: on_customer_upserted},
    AR_INVOICING: {InvoiceIssued: one_at_a_time(on_invoices_issued),
                   InvoiceAdjusted: on_invoice_adjusted,
                   InvoiceCancelled: on_invoice_cancelled,
                   InvoiceWrittenOff: on_invoice_written_off,
                   CreditNoteIssued: on_credit_note_issued,
                   DebitNoteIssued: one_at_a_time(on_debit_notes_issued)},
    AR_MATCHING: {PaymentApplied: one_at_a_time(on_payments_applied),
                  PaymentUnapplied: on_payment_unapplied, **matching_handlers.HANDLERS},
    AR_CREDIT: {OrderCreditApproved: on_order_credit_decided,
                OrderCreditHeld: on_order_credit_decided},
}


def subscribe(broker, settings, pool: asyncpg.Pool) -> None:  # noqa: ANN001
    """One consumer for every topic: one fetch brings what each has ready, where a
    consumer per topic made a fetch, and a Kafka request and response, of each record
    (at a thousand events a second, a third of this process's CPU and more of the
    broker's)."""
    ProjectionConsumer(broker, settings, pool, tuple(HANDLERS),
                       {kind: handler for handlers in HANDLERS.values()
                        for kind, handler in handlers.items()},
                       settings.consumer_batch_size, BATCH_HANDLERS)
