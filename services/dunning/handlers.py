"""Kafka subscribers: invoices, payments and customers in, commands on the dunning
application (thin). Collectors' commands arrive through `api.py` and `cli.py`."""

from __future__ import annotations

from eventsourcing.persistence import Tracking
from faststream.kafka import KafkaBroker

from libs.events import (
    CreditApplied,
    CreditNoteIssued,
    CustomerUpserted,
    DifferenceWrittenOff,
    Envelope,
    IntegrationEvent,
    InvoiceCancelled,
    InvoiceIssued,
    InvoiceWrittenOff,
    PaymentApplied,
)
from libs.events.topics import AR_INVOICING, AR_MATCHING, ERP_CUSTOMERS
from libs.runtime.consumer import TrackedConsumer, causation_of
from libs.runtime.settings import ServiceSettings

from .application import DunningApplication, InvoiceReduction


def subscribe(broker: KafkaBroker, settings: ServiceSettings, dunning: DunningApplication) -> None:
    def on_customer(envelope: Envelope, master: CustomerUpserted, tracking: Tracking) -> None:
        dunning.upsert_customer(master, causation_of(envelope), tracking)

    def on_invoice(envelope: Envelope, issued: InvoiceIssued, tracking: Tracking) -> None:
        dunning.open_invoice(issued, causation_of(envelope), tracking)

    def on_payment(envelope: Envelope, applied: PaymentApplied, tracking: Tracking) -> None:
        # The boundary event of the process: a settled invoice leaves the schedule before
        # the next run (the run and this command conflict on the case; the loser re-decides).
        dunning.apply_payment(applied, causation_of(envelope), tracking)

    def on_reduction(envelope: Envelope, event: IntegrationEvent, tracking: Tracking) -> None:
        # Settled other than by cash (a tolerance write-off, a credit note, a cancellation):
        # it stops dunning just the same.
        dunning.reduce_invoice(InvoiceReduction.of(event), causation_of(envelope), tracking)

    TrackedConsumer(broker, settings, dunning, ERP_CUSTOMERS, {CustomerUpserted: on_customer})
    TrackedConsumer(broker, settings, dunning, AR_INVOICING, {
        InvoiceIssued: on_invoice, CreditNoteIssued: on_reduction,
        InvoiceWrittenOff: on_reduction, InvoiceCancelled: on_reduction})
    TrackedConsumer(broker, settings, dunning, AR_MATCHING, {
        PaymentApplied: on_payment, DifferenceWrittenOff: on_reduction,
        CreditApplied: on_reduction})
