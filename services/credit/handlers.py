"""Kafka subscribers: the facts credit needs in, commands on the credit application
(thin). An `OrderPlaced` is the ERP asking for a credit decision."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventsourcing.persistence import Tracking
from faststream.kafka import KafkaBroker

from libs.events import (
    ApplicationReversed,
    CaseEscalated,
    CreditApplied,
    CreditNoteIssued,
    CustomerUpserted,
    DisputeOpened,
    Envelope,
    ExchangeRatePublished,
    IntegrationEvent,
    InvoiceAdjusted,
    InvoiceCancelled,
    InvoiceIssued,
    InvoiceWrittenOff,
    OrderCancelled,
    OrderPlaced,
    OrderShipped,
    PaymentApplied,
    PaymentReturned,
    PromiseToPayBroken,
)
from libs.events.topics import (
    AR_DUNNING,
    AR_INVOICING,
    AR_MATCHING,
    AR_PAYMENTS,
    ERP_CUSTOMERS,
    ERP_ORDERS,
)
from libs.runtime.consumer import Handler, Rejected, TrackedConsumer, causation_of
from libs.runtime.settings import ServiceSettings

from .application import CreditApplication
from .domain import CreditError

Command = Callable[[Any, Any, Tracking], None]


def _handler(command: Command) -> Handler:
    def handle(envelope: Envelope, event: IntegrationEvent, tracking: Tracking) -> None:
        try:
            command(event, causation_of(envelope), tracking)
        except CreditError as refusal:
            raise Rejected(str(refusal)) from None

    return handle


def subscribe(broker: KafkaBroker, settings: ServiceSettings, credit: CreditApplication) -> None:
    # Every command reads through the application's UnitOfWork, so a batch of records
    # can share one transaction (see TrackedConsumer).
    batch = settings.consumer_batch_size
    TrackedConsumer(broker, settings, credit, ERP_CUSTOMERS, {
        CustomerUpserted: _handler(credit.upsert_customer),
        ExchangeRatePublished: _handler(credit.record_exchange_rate),
    }, batch)
    TrackedConsumer(broker, settings, credit, ERP_ORDERS, {
        OrderPlaced: _handler(credit.place_order),
        OrderShipped: _handler(credit.ship_order),
        OrderCancelled: _handler(credit.cancel_order),
    }, batch)
    TrackedConsumer(broker, settings, credit, AR_INVOICING, {
        InvoiceIssued: _handler(credit.record_invoice),
        CreditNoteIssued: _handler(credit.record_credit_note),
        InvoiceAdjusted: _handler(credit.record_invoice_adjusted),
        InvoiceCancelled: _handler(credit.record_invoice_cancelled),
        InvoiceWrittenOff: _handler(credit.record_invoice_written_off),
    }, batch)
    TrackedConsumer(broker, settings, credit, AR_MATCHING, {
        PaymentApplied: _handler(credit.record_payment_applied),
        CreditApplied: _handler(credit.record_credit_applied),
        ApplicationReversed: _handler(credit.record_application_reversed),
    }, batch)
    TrackedConsumer(broker, settings, credit, AR_PAYMENTS, {
        PaymentReturned: _handler(credit.record_payment_returned),
    }, batch)
    TrackedConsumer(broker, settings, credit, AR_DUNNING, {
        DisputeOpened: _handler(credit.record_dispute),
        PromiseToPayBroken: _handler(credit.record_broken_promise),
        CaseEscalated: _handler(credit.record_escalation),
    }, batch)
