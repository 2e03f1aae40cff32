"""Kafka subscribers: invoices, debit notes, payments, customers and risk scores in,
commands on the dunning application (thin). Collectors' commands arrive through `api.py` and `cli.py`."""

from __future__ import annotations

from eventsourcing.persistence import Tracking
from faststream.kafka import KafkaBroker

from libs.events import (
    ApplicationReversed,
    CreditApplied,
    CreditNoteIssued,
    CustomerUpserted,
    DebitNoteIssued,
    DifferenceWrittenOff,
    Envelope,
    IntegrationEvent,
    InvoiceAdjusted,
    InvoiceCancelled,
    InvoiceIssued,
    InvoiceWrittenOff,
    PaymentApplied,
    RiskScoreChanged,
)
from libs.events.topics import AR_CREDIT, AR_INVOICING, AR_MATCHING, ERP_CUSTOMERS
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

    def on_debit_note(envelope: Envelope, note: DebitNoteIssued, tracking: Tracking) -> None:
        dunning.open_debit_note(note, causation_of(envelope), tracking)

    def on_adjustment(envelope: Envelope, adjusted: InvoiceAdjusted, tracking: Tracking) -> None:
        dunning.adjust_invoice(adjusted, causation_of(envelope), tracking)

    def on_reversal(envelope: Envelope, reversed_: ApplicationReversed,
                    tracking: Tracking) -> None:
        dunning.reverse_application(reversed_, causation_of(envelope), tracking)

    def on_risk_score(envelope: Envelope, scored: RiskScoreChanged, tracking: Tracking) -> None:
        dunning.score_risk(scored, causation_of(envelope), tracking)

    TrackedConsumer(broker, settings, dunning, ERP_CUSTOMERS, {CustomerUpserted: on_customer})
    TrackedConsumer(broker, settings, dunning, AR_INVOICING, {
        InvoiceIssued: on_invoice, DebitNoteIssued: on_debit_note,
        InvoiceAdjusted: on_adjustment, CreditNoteIssued: on_reduction,
        InvoiceWrittenOff: on_reduction, InvoiceCancelled: on_reduction})
    TrackedConsumer(broker, settings, dunning, AR_MATCHING, {
        PaymentApplied: on_payment, ApplicationReversed: on_reversal,
        DifferenceWrittenOff: on_reduction, CreditApplied: on_reduction})
    TrackedConsumer(broker, settings, dunning, AR_CREDIT, {RiskScoreChanged: on_risk_score})
