"""The ERP's events and what invoicing stored or published, as the tests read them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from eventsourcing.persistence import Tracking

from libs.events import (
    CustomerUpserted,
    ErpInvoiceIssued,
    IntegrationEvent,
    Money,
    OrderLine,
    OrderShipped,
)
from libs.runtime.causation import Causation
from libs.runtime.clock import FixedClock
from services.invoicing.application import InvoicingApplication, to_integration_events
from services.invoicing.currency import FunctionalCurrencies
from libs.runtime.eventstore import open_in_memory

D = Decimal
ACME = Causation(tenant="acme", causation_id="evt-1")
TODAY = date(2024, 4, 2)


def invoicing_app(functional: str = "EUR", **per_tenant: str) -> InvoicingApplication:
    app = open_in_memory(InvoicingApplication)
    app.functional_currencies = FunctionalCurrencies(functional, per_tenant)
    app.clock = FixedClock(datetime(TODAY.year, TODAY.month, TODAY.day, 9, tzinfo=UTC))
    return app


def by(actor: str, tenant: str = "acme") -> Causation:
    return Causation(tenant=tenant, actor=actor)


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def customer(customer_id: str = "C-1", terms: str = "net 30", currency: str = "EUR",
             language: str = "en") -> CustomerUpserted:
    return CustomerUpserted(customer_id=customer_id, name=f"Customer {customer_id}",
                            currency=currency, payment_terms=terms, language=language)


def line(line_no: int = 1, quantity: str = "2", unit_price: str = "50.00",
         tax_rate: str = "0.21") -> OrderLine:
    return OrderLine(line_no=line_no, sku=f"SKU-{line_no}", description=f"Item {line_no}",
                     quantity=quantity, unit_price=unit_price, tax_rate=tax_rate)


def shipment(order_id: str = "O-1", shipment_id: str = "S-1", customer_id: str = "C-1",
             shipped_on: date = date(2024, 3, 1), currency: str = "EUR",
             lines: tuple[OrderLine, ...] | None = None, **extra: Any) -> OrderShipped:
    return OrderShipped(order_id=order_id, shipment_id=shipment_id, customer_id=customer_id,
                        shipped_on=shipped_on, currency=currency,
                        lines=lines or (line(),), **extra)


def erp_invoice(number: str = "90001234", customer_id: str = "C-1", total: str = "121.00",
                tax: str = "21.00", net: str = "100.00", currency: str = "EUR",
                issue_date: date = date(2024, 3, 1), due_date: date = date(2024, 3, 31),
                **extra: Any) -> ErpInvoiceIssued:
    return ErpInvoiceIssued(
        invoice_number=number, customer_id=customer_id, issue_date=issue_date,
        due_date=due_date, payment_terms=extra.pop("payment_terms", "net 30"),
        currency=currency, lines=extra.pop("lines", (line(),)),
        net_amount=Money.of(net, currency), tax_amount=Money.of(tax, currency),
        total=Money.of(total, currency), **extra)


class Offsets:
    """Consecutive Kafka positions per topic, as a consumer would record them."""

    def __init__(self) -> None:
        self.next: dict[str, int] = {}

    def __call__(self, topic: str) -> Tracking:
        offset = self.next.get(topic, 0)
        self.next[topic] = offset + 1
        return Tracking(f"{topic}#0", offset)


def stored(app: InvoicingApplication) -> list[Any]:
    return [app.mapper.to_domain_event(notification)
            for notification in app.recorder.select_notifications(None, 10_000)]


def published(app: InvoicingApplication, event_type: type | None = None) -> list[Any]:
    events: list[IntegrationEvent] = [integration for event in stored(app)
                                      for integration in to_integration_events(event)]
    return [event for event in events if event_type is None or isinstance(event, event_type)]
