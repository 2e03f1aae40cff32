"""What matching's newer decisions do to the open items, in the style of projections.py.

Meant to be merged into the ar.matching handlers of the aging projection:

    HANDLERS[AR_MATCHING].update(matching_handlers.HANDLERS)

Write-offs and credit uses settle an invoice just as a payment does, so they are kept in
`applications` too (their id is the write-off's or credit use's id, their payment the
payment that caused them): an invoice that arrives late still opens at the right amount,
and a reversal removes exactly the row it undoes. `DeductionRaised` changes no balance
(the deducted amount stays open on the invoice) and needs no handler here.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import asyncpg

from libs.events import Envelope
from libs.events.matching import (
    ApplicationReversed,
    CreditApplied,
    DifferenceWrittenOff,
    UnappliedCashChanged,
)
from libs.runtime.projection import ProjectionHandler

from .projections import SCHEMA


async def _settle(connection: asyncpg.Connection, tenant: str, settlement_id: str,
                  payment_id: str, invoice_id: str, customer_id: str, currency: str,
                  amount: Decimal, on: date) -> None:
    inserted = await connection.fetchval(
        f"""
        INSERT INTO {SCHEMA}.applications VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT DO NOTHING RETURNING true
        """, tenant, settlement_id, payment_id, invoice_id, customer_id, currency, amount, on)
    if inserted:
        await connection.execute(
            f"""
            UPDATE {SCHEMA}.open_items
            SET open_amount = open_amount - $3,
                settled_on = CASE WHEN open_amount - $3 <= 0 THEN $4::date END
            WHERE tenant = $1 AND invoice_id = $2
            """, tenant, invoice_id, amount, on)


async def on_difference_written_off(connection: asyncpg.Connection, envelope: Envelope,
                                    written_off: DifferenceWrittenOff) -> None:
    await _settle(connection, envelope.tenant, written_off.write_off_id, written_off.payment_id,
                  written_off.invoice_id, written_off.customer_id, written_off.amount.currency,
                  written_off.amount.amount, written_off.written_off_on)


async def on_credit_applied(connection: asyncpg.Connection, envelope: Envelope,
                            credit: CreditApplied) -> None:
    await _settle(connection, envelope.tenant, credit.credit_use_id, credit.payment_id,
                  credit.invoice_id, credit.customer_id, credit.amount.currency,
                  credit.amount.amount, credit.applied_on)
    # A credit note on account is shown as unapplied cash under its own id.
    await connection.execute(
        f"UPDATE {SCHEMA}.unapplied_cash SET amount = amount - $3 "
        "WHERE tenant = $1 AND payment_id = $2", envelope.tenant, credit.credit_note_id,
        credit.amount.amount)
    await connection.execute(
        f"DELETE FROM {SCHEMA}.unapplied_cash WHERE tenant = $1 AND payment_id = $2 "
        "AND amount <= 0", envelope.tenant, credit.credit_note_id)


async def on_application_reversed(connection: asyncpg.Connection, envelope: Envelope,
                                  reversed_: ApplicationReversed) -> None:
    if reversed_.reverses == "deduction":
        return  # a deduction settled nothing
    removed = await connection.fetchval(
        f"DELETE FROM {SCHEMA}.applications WHERE tenant = $1 AND application_id = $2 "
        "RETURNING amount", envelope.tenant, reversed_.application_id)
    if removed is not None:
        await connection.execute(
            f"""
            UPDATE {SCHEMA}.open_items
            SET open_amount = open_amount + $3,
                settled_on = CASE WHEN open_amount + $3 <= 0 THEN settled_on END
            WHERE tenant = $1 AND invoice_id = $2
            """, envelope.tenant, reversed_.invoice_id, removed)
    if reversed_.reverses == "credit-use" and reversed_.credit_note_id and removed is not None:
        # the credit is the customer's again
        await connection.execute(
            f"""
            INSERT INTO {SCHEMA}.unapplied_cash AS cash VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (tenant, payment_id) DO UPDATE SET amount = cash.amount + EXCLUDED.amount
            """, envelope.tenant, reversed_.credit_note_id, reversed_.customer_id,
            reversed_.amount.currency, removed, reversed_.reversed_on,
            f"credit back on account: {reversed_.reason}")


async def on_unapplied_cash_changed(connection: asyncpg.Connection, envelope: Envelope,
                                    changed: UnappliedCashChanged) -> None:
    if changed.unapplied.amount == 0:
        await connection.execute(
            f"DELETE FROM {SCHEMA}.unapplied_cash WHERE tenant = $1 AND payment_id = $2",
            envelope.tenant, changed.payment_id)
        return
    await connection.execute(
        f"""
        INSERT INTO {SCHEMA}.unapplied_cash AS cash VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (tenant, payment_id) DO UPDATE
        SET amount = EXCLUDED.amount,
            customer_id = coalesce(EXCLUDED.customer_id, cash.customer_id),
            reason = EXCLUDED.reason
        """, envelope.tenant, changed.payment_id, changed.customer_id,
        changed.unapplied.currency, changed.unapplied.amount, changed.value_date, changed.reason)


HANDLERS: dict[type, ProjectionHandler] = {
    ApplicationReversed: on_application_reversed,
    DifferenceWrittenOff: on_difference_written_off,
    CreditApplied: on_credit_applied,
    UnappliedCashChanged: on_unapplied_cash_changed,
}
