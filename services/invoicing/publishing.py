"""What invoicing tells the world: receivable documents and every change to them.

Internal events (numbering, number claims, held documents, orders, exchange rates,
payments as matching reported them) stay inside.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eventsourcing.domain import DomainEventProtocol

from libs.events import (
    AppliedExchangeRate,
    CreditNoteIssued,
    DebitNoteIssued,
    IntegrationEvent,
    InvoiceAdjusted,
    InvoiceCancelled,
    InvoiceIssued,
    InvoiceLine,
    InvoiceWrittenOff,
    Money,
)

from .documents import CreditNote, DebitNote, Invoice


def to_integration_events(domain_event: DomainEventProtocol) -> Iterable[IntegrationEvent]:
    if isinstance(domain_event, Invoice.Issued):
        yield _invoice_issued(domain_event)
    elif isinstance(domain_event, (Invoice.Adjusted, Invoice.Cancelled, Invoice.WrittenOff)):
        yield from _invoice_changed(domain_event)
    elif isinstance(domain_event, CreditNote.Issued):
        money = _money_in(domain_event.currency)
        yield CreditNoteIssued(
            credit_note_id=str(domain_event.originator_id),
            credit_note_number=domain_event.credit_note_number,
            customer_id=domain_event.customer_id, scope=domain_event.scope,
            invoice_id=domain_event.invoice_id, invoice_number=domain_event.invoice_number,
            issue_date=domain_event.issue_date, net_amount=money(domain_event.net_amount),
            tax_amount=money(domain_event.tax_amount),
            total=money(domain_event.net_amount + domain_event.tax_amount),
            lines=tuple(InvoiceLine(**line) for line in domain_event.lines),
            reason=domain_event.reason, actor=domain_event.actor)
    elif isinstance(domain_event, DebitNote.Issued):
        yield DebitNoteIssued(
            debit_note_id=str(domain_event.originator_id),
            debit_note_number=domain_event.debit_note_number,
            customer_id=domain_event.customer_id, fee_id=domain_event.fee_id,
            kind=domain_event.kind, invoice_id=domain_event.invoice_id,
            invoice_number=domain_event.invoice_number, issue_date=domain_event.issue_date,
            due_date=domain_event.due_date,
            total=Money.of(domain_event.total, domain_event.currency),
            reason=domain_event.reason, actor=domain_event.actor)


def _invoice_issued(issued: Any) -> InvoiceIssued:
    money = _money_in(issued.currency)
    # Events stored before these fields existed lack them: read with their defaults.
    details = vars(issued)
    functional_currency = details.get("functional_currency")
    functional_amount = details.get("functional_amount")
    rate = details.get("exchange_rate")
    discount_amount = details.get("discount_amount")
    return InvoiceIssued(
        invoice_id=str(issued.originator_id),
        invoice_number=issued.invoice_number,
        customer_id=issued.customer_id,
        issued_by=details.get("issued_by", "platform"),
        order_id=issued.order_id,
        shipment_id=issued.shipment_id,
        po_number=details.get("po_number"),
        customer_language=details.get("customer_language"),
        issue_date=issued.issue_date,
        due_date=issued.due_date,
        payment_terms=details.get("payment_terms"),
        payment_terms_days=issued.payment_terms_days,
        discount_date=details.get("discount_date"),
        discount_amount=money(discount_amount) if discount_amount is not None else None,
        net_amount=money(issued.net_amount),
        tax_amount=money(issued.tax_amount),
        total=money(issued.total),
        functional_currency=functional_currency,
        functional_amount=(Money.of(functional_amount, functional_currency)
                           if functional_amount is not None else None),
        exchange_rate=AppliedExchangeRate(**rate) if rate else None,
        rate_missing=functional_currency is not None and functional_amount is None,
        lines=tuple(InvoiceLine(**line) for line in issued.lines),
    )


def _invoice_changed(changed: Any) -> Iterable[IntegrationEvent]:
    money = _money_in(changed.currency)
    header = {"invoice_id": str(changed.originator_id), "invoice_number": changed.invoice_number,
              "customer_id": changed.customer_id, "reason": changed.reason,
              "actor": changed.actor}
    if isinstance(changed, Invoice.Adjusted):
        yield InvoiceAdjusted(
            adjustment_id=changed.adjustment_id, adjusted_on=changed.adjusted_on,
            net_amount=money(changed.net_amount), tax_amount=money(changed.tax_amount),
            amount=money(changed.net_amount + changed.tax_amount),
            new_total=money(changed.new_total), **header)
    elif isinstance(changed, Invoice.Cancelled):
        yield InvoiceCancelled(cancelled_on=changed.cancelled_on, amount=money(changed.amount),
                               **header)
    else:
        yield InvoiceWrittenOff(write_off_id=changed.write_off_id,
                                written_off_on=changed.written_off_on,
                                amount=money(changed.amount), **header)


def _money_in(currency: str):  # noqa: ANN202
    return lambda amount: Money.of(amount, currency)
