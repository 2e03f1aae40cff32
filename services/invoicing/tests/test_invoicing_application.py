"""Invoicing's write side: customers' terms and shipments in, numbered invoices out,
each effect stored once however often Kafka delivers the message."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from eventsourcing.persistence import Tracking

from libs.events import CustomerUpserted, InvoiceIssued, Money, OrderLine, OrderShipped
from libs.runtime.causation import Causation
from libs.runtime.eventstore import AlreadyProcessed, open_in_memory
from services.invoicing.application import InvoicingApplication, to_integration_events
from services.invoicing.documents import Invoice
from services.invoicing.domain import Customer, InvoiceNumberSeries

ACME = Causation(tenant="acme", causation_id="evt-1")
GLOBEX = Causation(tenant="globex", causation_id="evt-2")
D = Decimal


@pytest.fixture
def invoicing() -> InvoicingApplication:
    return open_in_memory(InvoicingApplication)


def customer(customer_id: str = "C-1", terms: int = 30, name: str = "Acme Retail BV") -> CustomerUpserted:
    return CustomerUpserted(customer_id=customer_id, name=name, currency="EUR",
                            payment_terms_days=terms)


def shipment(order_id: str = "O-1", shipment_id: str = "S-1", customer_id: str = "C-1",
             shipped_on: date = date(2024, 3, 1), quantity: str = "2",
             unit_price: str = "50.00") -> OrderShipped:
    return OrderShipped(
        order_id=order_id, shipment_id=shipment_id, customer_id=customer_id,
        shipped_on=shipped_on, currency="EUR",
        lines=(OrderLine(line_no=1, sku="WIDGET", description="Widget", quantity=quantity,
                         unit_price=unit_price, tax_rate="0.21"),),
    )


def customers_at(offset: int) -> Tracking:
    return Tracking("erp.customers#0", offset)


def orders_at(offset: int) -> Tracking:
    return Tracking("erp.orders#0", offset)


def stored(app: InvoicingApplication) -> list[object]:
    return [app.mapper.to_domain_event(notification)
            for notification in app.recorder.select_notifications(None, 1000)]


def issued(app: InvoicingApplication) -> list[Invoice.Issued]:
    return [event for event in stored(app) if isinstance(event, Invoice.Issued)]


def published(app: InvoicingApplication) -> list[InvoiceIssued]:
    return [integration for event in stored(app) for integration in to_integration_events(event)]


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


# --- issuing -------------------------------------------------------------------------


def test_a_shipment_to_a_known_customer_on_net_30_is_invoiced_as_of_the_shipping_date(
    invoicing: InvoicingApplication,
) -> None:
    invoicing.upsert_customer(customer(terms=30), ACME, customers_at(0))

    invoicing.invoice_shipment(shipment(shipped_on=date(2024, 3, 1), quantity="2",
                                        unit_price="50.00"), ACME, orders_at(0))

    [invoice] = issued(invoicing)
    assert invoice.invoice_number == "INV-000001"
    assert invoice.issue_date == date(2024, 3, 1)
    assert invoice.due_date == date(2024, 3, 31)
    assert invoice.payment_terms_days == 30
    assert (invoice.net_amount, invoice.tax_amount, invoice.total) == (D("100.00"), D("21.00"), D("121.00"))
    assert (invoice.tenant, invoice.order_id, invoice.shipment_id, invoice.customer_id) == (
        "acme", "O-1", "S-1", "C-1")


def test_the_issued_invoice_is_published_with_its_number_dates_and_totals(
    invoicing: InvoicingApplication,
) -> None:
    invoicing.upsert_customer(customer(terms=30), ACME, customers_at(0))
    invoicing.invoice_shipment(shipment(), ACME, orders_at(0))

    [event] = published(invoicing)

    assert isinstance(event, InvoiceIssued)
    assert event.invoice_id == str(Invoice.create_id("acme", "O-1", "S-1"))
    assert event.invoice_number == "INV-000001"
    assert (event.customer_id, event.order_id, event.shipment_id) == ("C-1", "O-1", "S-1")
    assert (event.issue_date, event.due_date, event.payment_terms_days) == (
        date(2024, 3, 1), date(2024, 3, 31), 30)
    assert (event.net_amount, event.tax_amount, event.total) == (eur("100.00"), eur("21.00"), eur("121.00"))
    assert [(line.quantity, line.unit_price, line.net_amount, line.tax_amount) for line in event.lines] == [
        (D("2"), D("50.00"), D("100.00"), D("21.00"))]


def test_the_customer_master_record_and_the_numbering_are_not_published(
    invoicing: InvoicingApplication,
) -> None:
    invoicing.upsert_customer(customer(), ACME, customers_at(0))
    invoicing.invoice_shipment(shipment(), ACME, orders_at(0))

    assert len(stored(invoicing)) > 1  # customer, series and invoice events are all stored
    assert [type(event).__name__ for event in published(invoicing)] == ["InvoiceIssued"]


def test_a_second_shipment_gets_the_next_number_without_a_gap(invoicing: InvoicingApplication) -> None:
    invoicing.upsert_customer(customer(), ACME, customers_at(0))

    invoicing.invoice_shipment(shipment(shipment_id="S-1"), ACME, orders_at(0))
    invoicing.invoice_shipment(shipment(shipment_id="S-2"), ACME, orders_at(1))

    assert [(invoice.shipment_id, invoice.invoice_number) for invoice in issued(invoicing)] == [
        ("S-1", "INV-000001"), ("S-2", "INV-000002")]


# --- exactly once ------------------------------------------------------------------


def test_the_same_shipment_delivered_again_at_a_later_offset_is_not_invoiced_twice(
    invoicing: InvoicingApplication,
) -> None:
    invoicing.upsert_customer(customer(), ACME, customers_at(0))
    invoicing.invoice_shipment(shipment(shipment_id="S-1"), ACME, orders_at(0))

    invoicing.invoice_shipment(shipment(shipment_id="S-1"), ACME, orders_at(1))  # re-published

    assert [invoice.invoice_number for invoice in issued(invoicing)] == ["INV-000001"]
    series = invoicing.repository.get(InvoiceNumberSeries.create_id("acme", "INV"))
    assert series.last_number == 1
    assert invoicing.position("erp.orders#0") == 1  # the redelivery's offset is still recorded

    invoicing.invoice_shipment(shipment(shipment_id="S-2"), ACME, orders_at(2))
    assert [invoice.invoice_number for invoice in issued(invoicing)] == ["INV-000001", "INV-000002"]


def test_a_redelivered_kafka_position_is_recognised_and_stores_nothing(
    invoicing: InvoicingApplication,
) -> None:
    invoicing.upsert_customer(customer(), ACME, customers_at(0))
    invoicing.invoice_shipment(shipment(), ACME, orders_at(7))
    before = len(stored(invoicing))

    with pytest.raises(AlreadyProcessed):
        invoicing.invoice_shipment(shipment(), ACME, orders_at(7))

    assert len(stored(invoicing)) == before
    assert invoicing.position("erp.orders#0") == 7


def test_a_redelivered_old_customer_record_does_not_roll_back_newer_terms(
    invoicing: InvoicingApplication,
) -> None:
    invoicing.upsert_customer(customer(terms=30), ACME, customers_at(0))
    invoicing.upsert_customer(customer(terms=60), ACME, customers_at(1))
    before = len(stored(invoicing))

    with pytest.raises(AlreadyProcessed):
        invoicing.upsert_customer(customer(terms=30), ACME, customers_at(0))

    assert len(stored(invoicing)) == before
    assert invoicing.repository.get(Customer.create_id("acme", "C-1")).payment_terms == "net 60"


def test_a_customer_record_delivered_again_unchanged_stores_no_change(
    invoicing: InvoicingApplication,
) -> None:
    invoicing.upsert_customer(customer(terms=30), ACME, customers_at(0))
    before = len(stored(invoicing))

    invoicing.upsert_customer(customer(terms=30), ACME, customers_at(1))

    assert len(stored(invoicing)) == before
    assert invoicing.position("erp.customers#0") == 1


# --- a shipment that overtakes its customer -----------------------------------------


def test_a_shipment_that_overtakes_its_customer_record_is_held_and_invoiced_when_the_customer_arrives(
    invoicing: InvoicingApplication,
) -> None:
    invoicing.invoice_shipment(shipment(shipped_on=date(2024, 3, 1)), ACME, orders_at(0))

    assert issued(invoicing) == []
    held = invoicing.repository.get(Customer.create_id("acme", "C-1"))
    assert [(s["body"]["order_id"], s["body"]["shipment_id"]) for s in held.held] == [("O-1", "S-1")]

    invoicing.upsert_customer(customer(terms=14), ACME, customers_at(0))

    [invoice] = issued(invoicing)
    assert invoice.invoice_number == "INV-000001"
    assert (invoice.issue_date, invoice.due_date, invoice.payment_terms_days) == (
        date(2024, 3, 1), date(2024, 3, 15), 14)
    assert invoice.total == D("121.00")
    assert invoicing.repository.get(Customer.create_id("acme", "C-1")).held == []


def test_an_invoice_issued_from_a_held_shipment_continues_the_shipment_s_trace(
    invoicing: InvoicingApplication,
) -> None:
    """An SRE follows the shipment's trace to its invoice, even when the invoice waited
    for the customer record (which came in another trace)."""
    shipped = Causation(tenant="acme", causation_id="evt-shipment",
                        traceparent=f"00-{'a' * 32}-{'1' * 16}-01")
    customer_arrived = Causation(tenant="acme", causation_id="evt-customer",
                                 traceparent=f"00-{'b' * 32}-{'2' * 16}-01")
    invoicing.invoice_shipment(shipment(), shipped, orders_at(0))
    invoicing.upsert_customer(customer(), customer_arrived, customers_at(0))

    [invoice] = issued(invoicing)
    assert invoice.causation["causation_id"] == "evt-shipment"
    assert invoice.causation["traceparent"].split("-")[1] == "a" * 32


def test_a_held_shipment_delivered_again_is_held_once_and_invoiced_once(
    invoicing: InvoicingApplication,
) -> None:
    invoicing.invoice_shipment(shipment(), ACME, orders_at(0))
    invoicing.invoice_shipment(shipment(), ACME, orders_at(1))

    assert len(invoicing.repository.get(Customer.create_id("acme", "C-1")).held) == 1

    invoicing.upsert_customer(customer(), ACME, customers_at(0))
    invoicing.invoice_shipment(shipment(), ACME, orders_at(2))  # and once more, after release

    assert [invoice.invoice_number for invoice in issued(invoicing)] == ["INV-000001"]


def test_several_held_are_numbered_in_the_order_they_arrived(
    invoicing: InvoicingApplication,
) -> None:
    invoicing.invoice_shipment(shipment(shipment_id="S-1"), ACME, orders_at(0))
    invoicing.invoice_shipment(shipment(shipment_id="S-2"), ACME, orders_at(1))

    invoicing.upsert_customer(customer(), ACME, customers_at(0))

    assert [(invoice.shipment_id, invoice.invoice_number) for invoice in issued(invoicing)] == [
        ("S-1", "INV-000001"), ("S-2", "INV-000002")]


# --- master data over time ---------------------------------------------------------


def test_new_payment_terms_apply_to_later_invoices_only(invoicing: InvoicingApplication) -> None:
    invoicing.upsert_customer(customer(terms=30), ACME, customers_at(0))
    invoicing.invoice_shipment(shipment(shipment_id="S-1", shipped_on=date(2024, 3, 1)), ACME,
                               orders_at(0))

    invoicing.upsert_customer(customer(terms=60), ACME, customers_at(1))
    invoicing.invoice_shipment(shipment(shipment_id="S-2", shipped_on=date(2024, 3, 1)), ACME,
                               orders_at(1))

    first = invoicing.repository.get(Invoice.create_id("acme", "O-1", "S-1"))
    second = invoicing.repository.get(Invoice.create_id("acme", "O-1", "S-2"))
    assert (first.payment_terms_days, first.due_date) == (30, date(2024, 3, 31))
    assert (second.payment_terms_days, second.due_date) == (60, date(2024, 4, 30))
    assert [invoice.due_date for invoice in issued(invoicing)] == [date(2024, 3, 31), date(2024, 4, 30)]


# --- tenants -----------------------------------------------------------------------


def test_each_tenant_has_its_own_customers_invoices_and_numbering(invoicing: InvoicingApplication) -> None:
    invoicing.upsert_customer(customer(terms=30), ACME, customers_at(0))
    invoicing.upsert_customer(customer(terms=10), GLOBEX, customers_at(1))

    invoicing.invoice_shipment(shipment(order_id="O-1"), ACME, orders_at(0))
    invoicing.invoice_shipment(shipment(order_id="O-1"), GLOBEX, orders_at(1))

    invoices = {invoice.tenant: invoice for invoice in issued(invoicing)}
    assert set(invoices) == {"acme", "globex"}
    assert invoices["acme"].invoice_number == invoices["globex"].invoice_number == "INV-000001"
    assert invoices["acme"].originator_id != invoices["globex"].originator_id
    assert (invoices["acme"].due_date, invoices["globex"].due_date) == (date(2024, 3, 31), date(2024, 3, 11))


def test_a_customer_known_in_one_tenant_is_unknown_in_another(invoicing: InvoicingApplication) -> None:
    invoicing.upsert_customer(customer(), ACME, customers_at(0))

    invoicing.invoice_shipment(shipment(), GLOBEX, orders_at(0))

    assert issued(invoicing) == []
    assert len(invoicing.repository.get(Customer.create_id("globex", "C-1")).held) == 1
