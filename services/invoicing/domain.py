"""Invoicing's aggregates: customers' billing terms, invoices, and gapless numbering.

Pure domain: no I/O, no framework beyond the eventsourcing aggregate base.
Stored event names are explicit topics, not module paths, so code can move.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from libs.runtime.ids import stable_id


class Customer(Aggregate):
    """A customer account as invoicing knows it: whom to bill, on what terms, and the
    shipments waiting for its master record.

    Topics are not ordered against each other, so a shipment can overtake its
    customer's master record; it is held here, never dropped. Holding and
    registering change the same aggregate, so the two can never race past each other.
    """

    TOPIC = "invoicing.Customer"

    class Created(Aggregate.Created):
        TOPIC = "invoicing.Customer.Created"

    @staticmethod
    def create_id(tenant: str, customer_id: str) -> UUID:
        return stable_id(tenant, "customer", customer_id)

    @event("Opened", topic="invoicing.Customer.Opened")
    def __init__(self, tenant: str, customer_id: str, causation: dict[str, Any]) -> None:
        self.tenant = tenant
        self.customer_id = customer_id
        self.has_master_data = False
        self.name = ""
        self.currency = ""
        self.payment_terms_days = 0
        self.language = "en"
        self.held_shipments: list[dict[str, Any]] = []

    def master_data_differs(self, name: str, currency: str, payment_terms_days: int,
                            language: str) -> bool:
        return not self.has_master_data or (name, currency, payment_terms_days, language) != (
            self.name, self.currency, self.payment_terms_days, self.language)

    @event("MasterDataChanged", topic="invoicing.Customer.MasterDataChanged")
    def change_master_data(self, name: str, currency: str, payment_terms_days: int,
                           language: str, causation: dict[str, Any]) -> None:
        self.has_master_data = True
        self.name = name
        self.currency = currency
        self.payment_terms_days = payment_terms_days
        self.language = language

    def is_holding(self, order_id: str, shipment_id: str) -> bool:
        return any(held["order_id"] == order_id and held["shipment_id"] == shipment_id
                   for held in self.held_shipments)

    @event("ShipmentHeld", topic="invoicing.Customer.ShipmentHeld")
    def hold_shipment(self, shipment: dict[str, Any], causation: dict[str, Any]) -> None:
        self.held_shipments.append(shipment)

    @event("HeldShipmentsReleased", topic="invoicing.Customer.HeldShipmentsReleased")
    def release_held_shipments(self, causation: dict[str, Any]) -> None:
        self.held_shipments = []


class InvoiceNumberSeries(Aggregate):
    """Gapless invoice numbers per tenant and series.

    A number is allocated in the same transaction that stores the invoice; two
    concurrent allocations conflict on the series' version and one retries, so a
    number is never used twice nor skipped.
    """

    TOPIC = "invoicing.InvoiceNumberSeries"

    class Created(Aggregate.Created):
        """Base of the creation event; named so no stored name depends on a module path."""

        TOPIC = "invoicing.InvoiceNumberSeries.Created"

    @staticmethod
    def create_id(tenant: str, series: str) -> UUID:
        return stable_id(tenant, "invoice-number-series", series)

    @event("Opened", topic="invoicing.InvoiceNumberSeries.Opened")
    def __init__(self, tenant: str, series: str, causation: dict[str, Any]) -> None:
        self.tenant = tenant
        self.series = series
        self.last_number = 0

    @event("NumberAllocated", topic="invoicing.InvoiceNumberSeries.NumberAllocated")
    def _allocate(self, number: int, causation: dict[str, Any]) -> None:
        self.last_number = number

    def allocate(self, causation: dict[str, Any]) -> str:
        self._allocate(self.last_number + 1, causation)
        return f"{self.series}-{self.last_number:06d}"


def due_date(issue_date: date, payment_terms_days: int) -> date:
    """Net N: due N calendar days after the issue date."""
    return issue_date + timedelta(days=payment_terms_days)


class Invoice(Aggregate):
    """A receivable document: what the customer owes and by when."""

    TOPIC = "invoicing.Invoice"

    class Created(Aggregate.Created):
        """Base of the creation event; named so no stored name depends on a module path."""

        TOPIC = "invoicing.Invoice.Created"

    @staticmethod
    def create_id(tenant: str, order_id: str, shipment_id: str) -> UUID:
        return stable_id(tenant, "invoice-for-shipment", order_id, shipment_id)

    @event("Issued", topic="invoicing.Invoice.Issued")
    def __init__(self, tenant: str, order_id: str, shipment_id: str, invoice_number: str,
                 customer_id: str, issue_date: date, due_date: date, payment_terms_days: int,
                 currency: str, lines: list[dict[str, Any]], net_amount: Decimal,
                 tax_amount: Decimal, total: Decimal, causation: dict[str, Any]) -> None:
        self.tenant = tenant
        self.order_id = order_id
        self.shipment_id = shipment_id
        self.invoice_number = invoice_number
        self.customer_id = customer_id
        self.issue_date = issue_date
        self.due_date = due_date
        self.payment_terms_days = payment_terms_days
        self.currency = currency
        self.lines = lines
        self.net_amount = net_amount
        self.tax_amount = tax_amount
        self.total = total
