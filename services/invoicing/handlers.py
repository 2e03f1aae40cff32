"""Kafka subscribers: ERP events, cash applications and assessed fees in, commands on
the invoicing application (thin). ERP input the domain refuses is dead-lettered with
the domain's reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventsourcing.persistence import Tracking
from faststream.kafka import KafkaBroker

from libs.events import (
    CustomerUpserted,
    Envelope,
    ErpInvoiceIssued,
    ExchangeRatePublished,
    FeeAssessed,
    IntegrationEvent,
    OrderCancelled,
    OrderPlaced,
    OrderShipped,
    PaymentApplied,
)
from libs.events.matching import ApplicationReversed, CreditApplied, DifferenceWrittenOff
from libs.events.topics import AR_DUNNING, AR_MATCHING, ERP_CUSTOMERS, ERP_ORDERS
from libs.runtime.consumer import Handler, Rejected, TrackedConsumer, causation_of
from libs.runtime.settings import ServiceSettings

from .application import InvoicingApplication
from .intake import ErpInputRefused

Command = Callable[[Any, Any, Tracking], None]


def _handler(command: Command) -> Handler:
    def handle(envelope: Envelope, event: IntegrationEvent, tracking: Tracking) -> None:
        try:
            command(event, causation_of(envelope), tracking)
        except ErpInputRefused as refusal:
            raise Rejected(str(refusal)) from None

    return handle


def subscribe(broker: KafkaBroker, settings: ServiceSettings,
              invoicing: InvoicingApplication) -> None:
    TrackedConsumer(broker, settings, invoicing, ERP_CUSTOMERS, {
        CustomerUpserted: _handler(invoicing.upsert_customer),
        ExchangeRatePublished: _handler(invoicing.record_exchange_rate),
    })
    TrackedConsumer(broker, settings, invoicing, ERP_ORDERS, {
        OrderPlaced: _handler(invoicing.place_order),
        OrderShipped: _handler(invoicing.invoice_shipment),
        OrderCancelled: _handler(invoicing.cancel_order),
        ErpInvoiceIssued: _handler(invoicing.record_erp_invoice),
    })
    # What matching settled decides what may still be cancelled or written off.
    TrackedConsumer(broker, settings, invoicing, AR_MATCHING, {
        PaymentApplied: _handler(invoicing.record_payment_applied),
        DifferenceWrittenOff: _handler(invoicing.record_difference_written_off),
        CreditApplied: _handler(invoicing.record_credit_applied),
        ApplicationReversed: _handler(invoicing.record_application_reversed),
    })
    TrackedConsumer(broker, settings, invoicing, AR_DUNNING, {
        FeeAssessed: _handler(invoicing.bill_fee),
    })
