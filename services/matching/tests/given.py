"""The facts a matching test is given: inbound events fed the way the consumers hand them
over, builders of those events, and readers of what matching published."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from eventsourcing.persistence import Tracking

from libs.events import (
    CustomerUpserted,
    IntegrationEvent,
    InvoiceIssued,
    Money,
    PaymentApplied,
    PaymentReceived,
)
from libs.events.erp import ErpInvoiceMarkedPaid, ExchangeRatePublished
from libs.events.invoicing import CreditNoteIssued, InvoiceAdjusted
from libs.events.payments import PaymentReturned
from libs.runtime.causation import Causation
from services.matching.application import MatchingApplication, to_integration_events
from services.matching.domain import OpenInvoice

ACME = Causation(tenant="acme", causation_id="evt-1")
D = Decimal
TODAY = date(2024, 4, 2)


class Feed:
    """Inbound events with their Kafka positions, the way the consumers hand them over."""

    def __init__(self, app: MatchingApplication) -> None:
        self.app = app
        self.offsets: dict[str, int] = {}

    def _at(self, topic: str) -> Tracking:
        offset = self.offsets.get(topic, 0)
        self.offsets[topic] = offset + 1
        return Tracking(f"{topic}#0", offset)

    def __call__(self, *events: IntegrationEvent) -> None:
        for event in events:
            if isinstance(event, CustomerUpserted):
                self.app.upsert_customer(event, ACME, self._at("erp.customers"))
            elif isinstance(event, InvoiceIssued):
                self.app.open_invoice(event, ACME, self._at("ar.invoicing"))
            elif isinstance(event, CreditNoteIssued):
                self.app.credit_customer(event, ACME, self._at("ar.invoicing"))
            elif isinstance(event, InvoiceAdjusted):
                self.app.change_invoice(event, ACME, self._at("ar.invoicing"))
            elif isinstance(event, PaymentReceived):
                self.app.apply_payment(event, ACME, self._at("ar.payments"))
            elif isinstance(event, PaymentReturned):
                self.app.return_payment(event, ACME, self._at("ar.payments"))
            elif isinstance(event, ErpInvoiceMarkedPaid):
                self.app.record_erp_paid(event, ACME, self._at("erp.orders"))
            elif isinstance(event, ExchangeRatePublished):
                self.app.record_exchange_rate(event, ACME, self._at("erp.customers"))
            else:
                raise TypeError(event)


def customer(customer_id: str = "C-1", name: str = "Acme Retail BV") -> CustomerUpserted:
    return CustomerUpserted(customer_id=customer_id, name=name, currency="EUR",
                            payment_terms_days=30)


def invoice(number: str = "INV-000001", total: str = "121.00", currency: str = "EUR",
            customer_id: str = "C-1") -> InvoiceIssued:
    net = (D(total) / D("1.21")).quantize(D("0.01"))
    return InvoiceIssued(
        invoice_id=f"id-{number}", invoice_number=number, customer_id=customer_id,
        issue_date=date(2024, 3, 1), due_date=date(2024, 3, 31), payment_terms_days=30,
        net_amount=Money.of(net, currency), tax_amount=Money.of(D(total) - net, currency),
        total=Money.of(total, currency))


def payment(amount: str, remittance_text: str | None, payment_id: str = "pay-1",
            currency: str = "EUR", customer_id: str | None = "C-1", **payer: Any) -> PaymentReceived:
    return PaymentReceived(payment_id=payment_id, customer_id=customer_id,
                           amount=Money.of(amount, currency), value_date=date(2024, 3, 20),
                           remittance_text=remittance_text, bank_reference=f"ref-{payment_id}",
                           **payer)


def published(app: MatchingApplication, kind: type | None = None) -> list[Any]:
    return [integration
            for notification in app.recorder.select_notifications(None, 10_000)
            for integration in to_integration_events(app.mapper.to_domain_event(notification))
            if kind is None or isinstance(integration, kind)]


def applied(app: MatchingApplication) -> list[tuple[str, str, Money]]:
    return [(event.payment_id, event.invoice_number, event.amount)
            for event in published(app, PaymentApplied)]


def open_amount(app: MatchingApplication, number: str) -> Decimal:
    return app.repository.get(OpenInvoice.create_id("acme", number)).open_amount


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


