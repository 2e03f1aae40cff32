"""Invoicing's master and reference data: customers (and what waits for them), orders,
document numbers, exchange rates. The receivable documents are in documents.py.

Pure domain: no I/O, no framework beyond the eventsourcing aggregate base.
Stored event names are explicit topics, not module paths, so code can move.
Events once stored are read forever: a parameter added to an event gets a default.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from libs.runtime.ids import stable_id

from .terms import PaymentTerms


class Customer(Aggregate):
    """A customer account as invoicing knows it: whom to bill, on what terms, and the
    documents waiting for its master record.

    Topics are not ordered against each other, so a shipment or an ERP invoice can
    overtake its customer's master record; it is held here, never dropped. Holding and
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
        self.payment_terms = ""
        self.language = "en"
        self.held: list[dict[str, Any]] = []

    def master_data_differs(self, name: str, currency: str, payment_terms: str,
                            language: str) -> bool:
        return not self.has_master_data or (name, currency, payment_terms, language) != (
            self.name, self.currency, self.payment_terms, self.language)

    @event("MasterDataChanged", topic="invoicing.Customer.MasterDataChanged")
    def change_master_data(self, name: str, currency: str, language: str,
                           causation: dict[str, Any], payment_terms: str | None = None,
                           payment_terms_days: int | None = None) -> None:
        self.has_master_data = True
        self.name = name
        self.currency = currency
        # Records stored before terms were text carry net days instead.
        self.payment_terms = payment_terms if payment_terms is not None else str(
            PaymentTerms.net(payment_terms_days or 0))
        self.language = language

    def is_holding(self, key: str) -> bool:
        return any(held["key"] == key for held in self.held)

    @event("DocumentHeld", topic="invoicing.Customer.DocumentHeld")
    def hold(self, event_type: str, key: str, body: dict[str, Any],
             causation: dict[str, Any]) -> None:
        """`body` is the ERP event as JSON, processed again when the customer arrives, as
        caused by itself (its trace, its event id), not by the customer's arrival."""
        self.held.append({"event_type": event_type, "key": key, "body": body,
                          "causation": causation})

    @event("ShipmentHeld", topic="invoicing.Customer.ShipmentHeld")
    def _held_before_erp_invoices_could_wait(self, shipment: dict[str, Any],
                                             causation: dict[str, Any]) -> None:
        self.held.append({"event_type": "OrderShipped", "body": shipment,
                          "key": shipment_key(shipment["order_id"], shipment["shipment_id"]),
                          "causation": causation})

    @event("HeldShipmentsReleased", topic="invoicing.Customer.HeldShipmentsReleased")
    def release_held(self, causation: dict[str, Any]) -> None:
        self.held = []


def shipment_key(order_id: str, shipment_id: str) -> str:
    return f"shipment:{order_id}/{shipment_id}"


def erp_invoice_key(invoice_number: str) -> str:
    return f"erp-invoice:{invoice_number}"


class Order(Aggregate):
    """An order as far as invoicing cares: the PO number and terms its shipments inherit,
    and whether it was cancelled."""

    TOPIC = "invoicing.Order"

    class Created(Aggregate.Created):
        TOPIC = "invoicing.Order.Created"

    @staticmethod
    def create_id(tenant: str, order_id: str) -> UUID:
        return stable_id(tenant, "order", order_id)

    @event("Opened", topic="invoicing.Order.Opened")
    def __init__(self, tenant: str, order_id: str, customer_id: str,
                 causation: dict[str, Any]) -> None:
        self.tenant = tenant
        self.order_id = order_id
        self.customer_id = customer_id
        self.po_number: str | None = None
        self.payment_terms: str | None = None
        self.cancelled_on: date | None = None
        self.cancellation_reason = ""

    def placement_differs(self, po_number: str | None, payment_terms: str | None) -> bool:
        return (po_number, payment_terms) != (self.po_number, self.payment_terms)

    @event("Placed", topic="invoicing.Order.Placed")
    def place(self, ordered_on: date, po_number: str | None, payment_terms: str | None,
              causation: dict[str, Any]) -> None:
        self.po_number = po_number
        self.payment_terms = payment_terms

    @event("Cancelled", topic="invoicing.Order.Cancelled")
    def cancel(self, cancelled_on: date, reason: str, causation: dict[str, Any]) -> None:
        self.cancelled_on = cancelled_on
        self.cancellation_reason = reason

    def refusal_of_shipment(self, shipment_id: str, shipped_on: date) -> str | None:
        """Why a shipment arriving now cannot be invoiced, or None.

        A shipment that left on or before the day the order was cancelled really
        shipped (its message was merely late) and is invoiced; one that left after
        contradicts the cancellation, and a person must decide.
        """
        if self.cancelled_on is None or shipped_on <= self.cancelled_on:
            return None
        return (f"order {self.order_id} was cancelled on {self.cancelled_on} "
                f"({self.cancellation_reason}), but shipment {shipment_id} says it shipped "
                f"on {shipped_on}: not invoiced. If the goods did leave, the ERP must reopen "
                f"the order (or bill it with an ERP invoice); otherwise correct the shipment")


class InvoiceNumberSeries(Aggregate):
    """Gapless document numbers per tenant and series (INV, CN, DN).

    A number is allocated in the same transaction that stores the document; two
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


class DocumentNumber(Aggregate):
    """A document number claimed in a tenant, once: it finds the document by the number
    people quote, and keeps an ERP's own numbers from colliding with the platform's."""

    TOPIC = "invoicing.DocumentNumber"

    class Created(Aggregate.Created):
        TOPIC = "invoicing.DocumentNumber.Created"

    @staticmethod
    def create_id(tenant: str, number: str) -> UUID:
        return stable_id(tenant, "document-number", number.upper())

    @event("Claimed", topic="invoicing.DocumentNumber.Claimed")
    def __init__(self, tenant: str, number: str, kind: str, document_id: UUID,
                 causation: dict[str, Any]) -> None:
        self.tenant = tenant
        self.number = number
        self.kind = kind
        self.document_id = document_id


class ExchangeRate(Aggregate):
    """The rate the ERP published for one day and currency pair: one `from_currency`
    buys `rate` `to_currency`. A re-published different rate corrects it; documents
    already issued keep the rate they were issued at."""

    TOPIC = "invoicing.ExchangeRate"

    class Created(Aggregate.Created):
        TOPIC = "invoicing.ExchangeRate.Created"

    @staticmethod
    def create_id(tenant: str, from_currency: str, to_currency: str, rate_date: date) -> UUID:
        return stable_id(tenant, "exchange-rate", from_currency, to_currency,
                         rate_date.isoformat())

    @event("Published", topic="invoicing.ExchangeRate.Published")
    def __init__(self, tenant: str, from_currency: str, to_currency: str, rate_date: date,
                 rate: Decimal, source: str | None, causation: dict[str, Any]) -> None:
        self.tenant = tenant
        self.from_currency = from_currency
        self.to_currency = to_currency
        self.rate_date = rate_date
        self.rate = rate
        self.source = source

    @event("Corrected", topic="invoicing.ExchangeRate.Corrected")
    def correct(self, rate: Decimal, source: str | None, causation: dict[str, Any]) -> None:
        self.rate = rate
        self.source = source


class ExchangeRatePair(Aggregate):
    """That the ERP publishes rates for a currency pair at all. Most pairs never get a
    rate; knowing so spares looking for one day by day on every document."""

    TOPIC = "invoicing.ExchangeRatePair"

    class Created(Aggregate.Created):
        TOPIC = "invoicing.ExchangeRatePair.Created"

    @staticmethod
    def create_id(tenant: str, from_currency: str, to_currency: str) -> UUID:
        return stable_id(tenant, "exchange-rate-pair", from_currency, to_currency)

    @event("Opened", topic="invoicing.ExchangeRatePair.Opened")
    def __init__(self, tenant: str, from_currency: str, to_currency: str,
                 causation: dict[str, Any]) -> None:
        self.tenant = tenant
        self.from_currency = from_currency
        self.to_currency = to_currency

