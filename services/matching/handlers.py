"""Kafka subscribers: invoices and payments in, matching decisions out (thin)."""

from __future__ import annotations

from eventsourcing.persistence import Tracking
from faststream.kafka import KafkaBroker

from libs.events import Envelope, InvoiceIssued, PaymentReceived
from libs.events.topics import AR_INVOICING, AR_PAYMENTS
from libs.runtime.consumer import TrackedConsumer, causation_of
from libs.runtime.settings import ServiceSettings

from .application import MatchingApplication


def subscribe(broker: KafkaBroker, settings: ServiceSettings, matching: MatchingApplication) -> None:
    def on_invoice(envelope: Envelope, issued: InvoiceIssued, tracking: Tracking) -> None:
        matching.open_invoice(issued, causation_of(envelope), tracking)

    def on_payment(envelope: Envelope, payment: PaymentReceived, tracking: Tracking) -> None:
        matching.apply_payment(payment, causation_of(envelope), tracking)

    TrackedConsumer(broker, settings, matching, AR_INVOICING, {InvoiceIssued: on_invoice})
    TrackedConsumer(broker, settings, matching, AR_PAYMENTS, {PaymentReceived: on_payment})
