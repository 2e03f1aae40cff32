"""Kafka subscribers: ERP events in, commands on the invoicing application (thin)."""

from __future__ import annotations

from eventsourcing.persistence import Tracking
from faststream.kafka import KafkaBroker

from libs.events import CustomerUpserted, Envelope, OrderShipped
from libs.events.topics import ERP_CUSTOMERS, ERP_ORDERS
from libs.runtime.consumer import TrackedConsumer, causation_of
from libs.runtime.settings import ServiceSettings

from .application import InvoicingApplication


def subscribe(broker: KafkaBroker, settings: ServiceSettings,
              invoicing: InvoicingApplication) -> None:
    def on_customer(envelope: Envelope, master: CustomerUpserted, tracking: Tracking) -> None:
        invoicing.upsert_customer(master, causation_of(envelope), tracking)

    def on_shipment(envelope: Envelope, shipment: OrderShipped, tracking: Tracking) -> None:
        invoicing.invoice_shipment(shipment, causation_of(envelope), tracking)

    TrackedConsumer(broker, settings, invoicing, ERP_CUSTOMERS, {CustomerUpserted: on_customer})
    TrackedConsumer(broker, settings, invoicing, ERP_ORDERS, {OrderShipped: on_shipment})
