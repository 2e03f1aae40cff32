"""What matching's newer decisions do to the open items, in the style of projections.py
(which merges these into its ar.matching handlers).

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
from libs.runtime.projection import BatchHandler, ProjectionHandler, one_at_a_time

from .open_items import refresh_open_item, settle, settle_all

CREDIT_USED_FIRST = "credit used before its credit note was recorded"
CREDIT_BACK = "credit back on account: {reason}"


async def credit_on_account(connection: asyncpg.Connection, tenant: str, credit_note_id: str,
                            customer_id: str, currency: str, amount: Decimal, on: date,
                            reason: str, describes: bool = False) -> None:
    """Add a signed amount to the credit a customer holds under a credit note's id.

    Amounts add up whatever order they come in (the note on ar.invoicing, its uses on
    ar.matching); the note itself (`describes`) sets the date and the words."""
    await connection.execute(
        f"""
        INSERT INTO unapplied_cash AS cash VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (tenant, payment_id) DO UPDATE SET amount = cash.amount + EXCLUDED.amount
        {", value_date = EXCLUDED.value_date, reason = EXCLUDED.reason" if describes else ""}
        """, tenant, credit_note_id, customer_id, currency, amount, on, reason)
    await connection.execute(
        "DELETE FROM unapplied_cash WHERE tenant = $1 AND payment_id = $2 AND amount = 0",
        tenant, credit_note_id)


async def on_differences_written_off(connection: asyncpg.Connection,
                                     events: list[tuple[Envelope, DifferenceWrittenOff]]) -> None:
    await settle_all(connection, [
        (envelope.tenant, written_off.write_off_id, written_off.payment_id,
         written_off.invoice_id, written_off.customer_id, written_off.amount.currency,
         written_off.amount.amount, written_off.written_off_on)
        for envelope, written_off in events])


async def on_credit_applied(connection: asyncpg.Connection, envelope: Envelope,
                            credit: CreditApplied) -> None:
    await settle(connection, envelope.tenant, credit.credit_use_id, credit.payment_id,
                 credit.invoice_id, credit.customer_id, credit.amount.currency,
                 credit.amount.amount, credit.applied_on)
    # A credit note on account is shown as unapplied cash under its own id.
    await credit_on_account(connection, envelope.tenant, credit.credit_note_id,
                            credit.customer_id, credit.amount.currency, -credit.amount.amount,
                            credit.applied_on, CREDIT_USED_FIRST)


async def on_application_reversed(connection: asyncpg.Connection, envelope: Envelope,
                                  reversed_: ApplicationReversed) -> None:
    if reversed_.reverses == "deduction":
        return  # a deduction settled nothing
    removed = await connection.fetchval(
        "DELETE FROM applications WHERE tenant = $1 AND application_id = $2 "
        "RETURNING amount", envelope.tenant, reversed_.application_id)
    if removed is None:
        return
    await refresh_open_item(connection, envelope.tenant, reversed_.invoice_id)
    if reversed_.reverses == "credit-use" and reversed_.credit_note_id:
        # the credit is the customer's again
        await credit_on_account(connection, envelope.tenant, reversed_.credit_note_id,
                                reversed_.customer_id, reversed_.amount.currency, removed,
                                reversed_.reversed_on,
                                CREDIT_BACK.format(reason=reversed_.reason))


async def on_unapplied_cash_changed(connection: asyncpg.Connection, envelope: Envelope,
                                    changed: UnappliedCashChanged) -> None:
    if changed.unapplied.amount == 0:
        await connection.execute(
            "DELETE FROM unapplied_cash WHERE tenant = $1 AND payment_id = $2",
            envelope.tenant, changed.payment_id)
        return
    await connection.execute(
        """
        INSERT INTO unapplied_cash AS cash VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (tenant, payment_id) DO UPDATE
        SET amount = EXCLUDED.amount,
            customer_id = coalesce(EXCLUDED.customer_id, cash.customer_id),
            reason = EXCLUDED.reason
        """, envelope.tenant, changed.payment_id, changed.customer_id,
        changed.unapplied.currency, changed.unapplied.amount, changed.value_date, changed.reason)


BATCH_HANDLERS: dict[type, BatchHandler] = {DifferenceWrittenOff: on_differences_written_off}

HANDLERS: dict[type, ProjectionHandler] = {
    ApplicationReversed: on_application_reversed,
    DifferenceWrittenOff: one_at_a_time(on_differences_written_off),
    CreditApplied: on_credit_applied,
    UnappliedCashChanged: on_unapplied_cash_changed,
}
