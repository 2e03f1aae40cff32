"""Invoicing's write side: customers' terms in, invoices out.

Each command stores its aggregates' new events together with the consumed
Kafka position (when there is one) in a single transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Tracking

from libs.events.base import upcast
from libs.events import CustomerUpserted, IntegrationEvent, InvoiceIssued, InvoiceLine, Money, OrderShipped
from libs.runtime.causation import Causation
from libs.runtime.eventstore import ReceivablesApplication

from .domain import Customer, Invoice, InvoiceNumberSeries, due_date
from .totals import compute_totals

INVOICE_SERIES = "INV"


class InvoicingApplication(ReceivablesApplication):
    name = "invoicing"

    def upsert_customer(self, master: CustomerUpserted, causation: Causation,
                        tracking: Tracking | None = None) -> None:
        cause = causation.as_dict()
        customer = self._customer(master.customer_id, causation)
        if customer.master_data_differs(master.name, master.currency,
                                        master.payment_terms_days, master.language):
            customer.change_master_data(name=master.name, currency=master.currency,
                                        payment_terms_days=master.payment_terms_days,
                                        language=master.language, causation=cause)
        series, invoices = None, []
        if customer.held_shipments:
            series = self._number_series(causation)
            invoices = [self._issue(OrderShipped.model_validate(upcast(OrderShipped.event_type, shipment)), customer, series,
                                    causation)
                        for shipment in customer.held_shipments]
            customer.release_held_shipments(causation=cause)
        self.record(tracking, customer, series, *invoices)

    def invoice_shipment(self, shipment: OrderShipped, causation: Causation,
                         tracking: Tracking | None = None) -> None:
        if self.exists(Invoice.create_id(causation.tenant, shipment.order_id,
                                         shipment.shipment_id)):
            self.record(tracking)  # already invoiced: the same shipment delivered again
            return
        customer = self._customer(shipment.customer_id, causation)
        if not customer.has_master_data:
            if not customer.is_holding(shipment.order_id, shipment.shipment_id):
                customer.hold_shipment(shipment=shipment.model_dump(mode="json"),
                                       causation=causation.as_dict())
            self.record(tracking, customer)
            return
        series = self._number_series(causation)
        invoice = self._issue(shipment, customer, series, causation)
        self.record(tracking, series, invoice)

    def _customer(self, customer_id: str, causation: Causation) -> Customer:
        return self.get_or_none(Customer.create_id(causation.tenant, customer_id)) or Customer(
            tenant=causation.tenant, customer_id=customer_id, causation=causation.as_dict())

    def _number_series(self, causation: Causation) -> InvoiceNumberSeries:
        series_id = InvoiceNumberSeries.create_id(causation.tenant, INVOICE_SERIES)
        return self.get_or_none(series_id) or InvoiceNumberSeries(
            tenant=causation.tenant, series=INVOICE_SERIES, causation=causation.as_dict())

    @staticmethod
    def _issue(shipment: OrderShipped, customer: Customer, series: InvoiceNumberSeries,
               causation: Causation) -> Invoice:
        cause = causation.as_dict()
        totals = compute_totals(shipment.lines, shipment.currency)
        lines = [
            {"line_no": line.line_no, "sku": line.sku, "description": line.description,
             "quantity": line.quantity, "unit_price": line.unit_price, "tax_rate": line.tax_rate,
             "net_amount": computed.net_amount.amount, "tax_amount": computed.tax_amount.amount}
            for line, computed in zip(shipment.lines, totals.lines, strict=True)
        ]
        issue_date = shipment.shipped_on  # invoiced as of the shipment, whenever it is processed
        return Invoice(
            tenant=causation.tenant, order_id=shipment.order_id,
            shipment_id=shipment.shipment_id, invoice_number=series.allocate(cause),
            customer_id=shipment.customer_id, issue_date=issue_date,
            due_date=due_date(issue_date, customer.payment_terms_days),
            payment_terms_days=customer.payment_terms_days, currency=shipment.currency,
            lines=lines, net_amount=totals.net.amount, tax_amount=totals.tax.amount,
            total=totals.total.amount, causation=cause,
        )


def to_integration_events(domain_event: DomainEventProtocol) -> Iterable[IntegrationEvent]:
    """What invoicing tells the world; internal events (numbering, holds) stay inside."""
    if isinstance(domain_event, Invoice.Issued):
        currency = domain_event.currency
        yield InvoiceIssued(
            invoice_id=str(domain_event.originator_id),
            invoice_number=domain_event.invoice_number,
            customer_id=domain_event.customer_id,
            order_id=domain_event.order_id,
            shipment_id=domain_event.shipment_id,
            issue_date=domain_event.issue_date,
            due_date=domain_event.due_date,
            payment_terms_days=domain_event.payment_terms_days,
            net_amount=Money.of(domain_event.net_amount, currency),
            tax_amount=Money.of(domain_event.tax_amount, currency),
            total=Money.of(domain_event.total, currency),
            lines=tuple(InvoiceLine(**line) for line in domain_event.lines),
        )
