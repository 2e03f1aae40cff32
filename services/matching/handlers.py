"""Kafka subscribers: customers, receivables, payments and the ERP's paid invoices in;
matching decisions out (thin)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventsourcing.persistence import Tracking
from faststream.kafka import KafkaBroker

from libs.events import CustomerUpserted, Envelope, InvoiceIssued, PaymentReceived
from libs.events.erp import ErpInvoiceMarkedPaid, ExchangeRatePublished
from libs.events.invoicing import (
    CreditNoteIssued,
    DebitNoteIssued,
    InvoiceAdjusted,
    InvoiceCancelled,
    InvoiceWrittenOff,
)
from libs.events.payments import PaymentReturned
from libs.events.topics import AR_INVOICING, AR_PAYMENTS, ERP_CUSTOMERS, ERP_ORDERS
from libs.runtime.consumer import TrackedConsumer, causation_of
from libs.runtime.settings import ServiceSettings

from .application import MatchingApplication


def _handler(command: Callable[..., None]) -> Callable[[Envelope, Any, Tracking], None]:
    def handle(envelope: Envelope, event: Any, tracking: Tracking) -> None:
        command(event, causation_of(envelope), tracking)
    return handle


def subscribe(broker: KafkaBroker, settings: ServiceSettings, matching: MatchingApplication) -> None:
    TrackedConsumer(broker, settings, matching, ERP_CUSTOMERS, {
        CustomerUpserted: _handler(matching.upsert_customer),
        ExchangeRatePublished: _handler(matching.record_exchange_rate),
    })
    TrackedConsumer(broker, settings, matching, ERP_ORDERS, {
        ErpInvoiceMarkedPaid: _handler(matching.record_erp_paid),
    })
    TrackedConsumer(broker, settings, matching, AR_INVOICING, {
        InvoiceIssued: _handler(matching.open_invoice),
        CreditNoteIssued: _handler(matching.credit_customer),
        DebitNoteIssued: _handler(matching.open_debit_note),
        InvoiceAdjusted: _handler(matching.change_invoice),
        InvoiceCancelled: _handler(matching.change_invoice),
        InvoiceWrittenOff: _handler(matching.change_invoice),
    })
    TrackedConsumer(broker, settings, matching, AR_PAYMENTS, {
        PaymentReceived: _handler(matching.apply_payment),
        PaymentReturned: _handler(matching.return_payment),
    })
