"""The ERP's events as they really arrive: late, early, twice, or wrong. Invoicing, on the
real broker and database, issues exactly the invoices a person would expect, and sends
what it cannot invoice to the dead-letter topic with a reason a person can act on,
without holding up the next message."""

from __future__ import annotations

import asyncio
import json
from datetime import date

from libs.events import (
    CustomerUpserted,
    ErpInvoiceIssued,
    InvoiceIssued,
    Money,
    OrderCancelled,
    OrderLine,
    OrderShipped,
)
from libs.events.topics import AR_INVOICING, ERP_CUSTOMERS, ERP_ORDERS, physical_topic
from libs.runtime.publisher import EventPublisher
from tests.conftest import eventually
from tests.support.consumer_groups import caught_up
from tests.support.infrastructure import Infrastructure
from tests.support.kafka_reader import events_on, read_topic, wait_for_events

TENANT = "erp-intake-tenant"


def shipped(order_id: str, shipment_id: str, customer_id: str, shipped_on: date,
            quantity: str = "1") -> OrderShipped:
    return OrderShipped(order_id=order_id, shipment_id=shipment_id, customer_id=customer_id,
                        shipped_on=shipped_on, currency="EUR",
                        lines=(OrderLine(line_no=1, sku="BOLT", quantity=quantity,
                                         unit_price="10.00", tax_rate="0.21"),))


def erp_invoice(number: str, customer_id: str, total: str = "121.00",
                tax: str = "21.00") -> ErpInvoiceIssued:
    return ErpInvoiceIssued(
        invoice_number=number, customer_id=customer_id, issue_date=date(2026, 10, 1),
        due_date=date(2026, 10, 31), payment_terms="net 30", currency="EUR",
        lines=(OrderLine(line_no=1, sku="SERVICE", quantity="1", unit_price="100.00",
                         tax_rate="0.21"),),
        net_amount=Money.of("100.00", "EUR"), tax_amount=Money.of(tax, "EUR"),
        total=Money.of(total, "EUR"))


async def invoicing_caught_up(infrastructure: Infrastructure, topic: str) -> None:
    await caught_up(infrastructure, "invoicing", topic)


def of_customer(customer_id: str):  # noqa: ANN201
    return lambda event: isinstance(event, InvoiceIssued) and event.customer_id == customer_id


async def dead_letters(kafka: str, topic: str, customer_id: str) -> list[str]:
    """Invoicing's refusals (matching and credit read the ERP's topics too)."""
    return [dict(record.headers)["dlq_reason"].decode()
            for record in await read_topic(kafka, f"{topic}.dlq")
            if record.key == customer_id.encode()
            and dict(record.headers)["dlq_consumer"].startswith(b"invoicing")]


async def test_late_early_and_repeated_erp_events_give_exactly_the_expected_invoices(
        platform, infrastructure) -> None:
    kafka, customer_id = infrastructure.kafka_bootstrap_servers, "CUST-REORDER"
    async with EventPublisher(kafka) as erp:
        # Two partial shipments of one order reach invoicing before the customer does,
        # and the first one is delivered twice.
        first = erp.record(shipped("SO-A", "SH-1", customer_id, date(2026, 10, 1), "4"), TENANT)
        await erp.send(first)
        await erp.publish(shipped("SO-A", "SH-2", customer_id, date(2026, 10, 3), "6"), TENANT)
        await erp.send(first)
        # The ERP's own invoice, sent twice under two event ids.
        await erp.publish(erp_invoice("900123", customer_id), TENANT)
        await erp.publish(erp_invoice("900123", customer_id), TENANT)
        await invoicing_caught_up(infrastructure, ERP_ORDERS)
        assert await events_on(kafka, AR_INVOICING, InvoiceIssued, of_customer(customer_id)) == []

        await erp.publish(CustomerUpserted(customer_id=customer_id, name="Reorder GmbH",
                                           currency="EUR", payment_terms="2/10 net 30",
                                           language="de"), TENANT)
        # The rest of order SO-A is cancelled after it shipped; order SO-B is cancelled
        # first and then, contradicting it, reported shipped after the cancellation.
        await erp.publish(OrderCancelled(order_id="SO-A", customer_id=customer_id,
                                         cancelled_on=date(2026, 10, 5),
                                         reason="remainder out of stock"), TENANT)
        await erp.publish(OrderCancelled(order_id="SO-B", customer_id=customer_id,
                                         cancelled_on=date(2026, 10, 5),
                                         reason="customer withdrew"), TENANT)
        await erp.publish(shipped("SO-B", "SH-1", customer_id, date(2026, 10, 6)), TENANT)
        # A shipment of SO-A that left before the cancellation, reported late: invoiced.
        await erp.publish(shipped("SO-A", "SH-3", customer_id, date(2026, 10, 4), "2"), TENANT)

    found = await wait_for_events(kafka, AR_INVOICING, InvoiceIssued, of_customer(customer_id),
                                  count=4)
    await invoicing_caught_up(infrastructure, ERP_ORDERS)
    await asyncio.sleep(1)  # a duplicate, if any, would be on the topic by now
    invoices = [event for _, event in await events_on(kafka, AR_INVOICING, InvoiceIssued,
                                                      of_customer(customer_id))]
    assert len(found) >= 4
    by_key = {(i.order_id, i.shipment_id, i.issued_by): i for i in invoices}
    assert set(by_key) == {(None, None, "erp"), ("SO-A", "SH-1", "platform"),
                           ("SO-A", "SH-2", "platform"), ("SO-A", "SH-3", "platform")}
    assert len(invoices) == 4
    assert [by_key[("SO-A", shipment, "platform")].total for shipment in ("SH-1", "SH-2",
                                                                          "SH-3")] == [
        Money.of("48.40", "EUR"), Money.of("72.60", "EUR"), Money.of("24.20", "EUR")]
    held_first = by_key[("SO-A", "SH-1", "platform")]
    assert (held_first.payment_terms, held_first.discount_amount, held_first.customer_language) \
        == ("2/10 net 30", Money.of("0.97", "EUR"), "de")
    assert by_key[(None, None, "erp")].invoice_number == "900123"
    reasons = await dead_letters(kafka, ERP_ORDERS, customer_id)
    assert len(reasons) == 1
    assert reasons[0].startswith("order SO-B was cancelled on 2026-10-05 (customer withdrew), "
                                 "but shipment SH-1 says it shipped on 2026-10-06")


async def test_invalid_erp_input_is_dead_lettered_with_its_reason_and_the_next_is_invoiced(
        platform, infrastructure) -> None:
    kafka, customer_id = infrastructure.kafka_bootstrap_servers, "CUST-INVALID"
    orders = physical_topic(ERP_ORDERS)
    async with EventPublisher(kafka) as erp:
        await erp.publish(CustomerUpserted(customer_id=customer_id, name="Invalid Input SA",
                                           currency="EUR", payment_terms="net 30"), TENANT)
        headers = erp.record(shipped("SO-X", "SH-1", customer_id, date(2026, 10, 1)),
                             TENANT).headers
        good = shipped("SO-X", "SH-1", customer_id, date(2026, 10, 1)).model_dump(mode="json")

        def variant(**changes: object) -> bytes:
            body = json.loads(json.dumps(good))
            body.update(changes)
            return json.dumps(body).encode()

        negative = json.loads(variant())
        negative["lines"][0]["quantity"] = "-3"
        no_customer = json.loads(variant())
        del no_customer["customer_id"]
        key = customer_id.encode()
        await erp.send_raw(orders, key, json.dumps(negative).encode(), headers)
        await erp.send_raw(orders, key, variant(currency="EUX"), headers)
        await erp.send_raw(orders, key, json.dumps(no_customer).encode(), headers)
        # Tax rounded per line by the ERP: 0.03 where the rate gives 0.04.
        await erp.publish(ErpInvoiceIssued(
            invoice_number="900555", customer_id=customer_id, issue_date=date(2026, 10, 1),
            due_date=date(2026, 10, 31), currency="EUR",
            lines=tuple(OrderLine(line_no=n, sku="NUT", quantity="1", unit_price="0.07",
                                  tax_rate="0.21") for n in (1, 2, 3)),
            net_amount=Money.of("0.21", "EUR"), tax_amount=Money.of("0.03", "EUR"),
            total=Money.of("0.24", "EUR")), TENANT)
        await erp.publish(CustomerUpserted(customer_id=customer_id, name="Invalid Input SA",
                                           currency="EUR", payment_terms="net thirty"), TENANT)
        await erp.publish(shipped("SO-X", "SH-2", customer_id, date(2026, 10, 2), "3"), TENANT)

    [(_, invoice)] = await wait_for_events(kafka, AR_INVOICING, InvoiceIssued,
                                           of_customer(customer_id))
    assert (invoice.shipment_id, invoice.total) == ("SH-2", Money.of("36.30", "EUR"))
    order_reasons = await eventually(lambda: dead_letters(kafka, ERP_ORDERS, customer_id),
                                     until=lambda found: len(found) >= 4)
    assert len(order_reasons) == 4
    assert any(r.startswith("OrderShipped: lines.0.quantity:") and "greater than 0" in r
               for r in order_reasons), order_reasons
    assert any("currency:" in r and "'EUX' is not an active ISO 4217 currency code" in r
               for r in order_reasons), order_reasons
    assert "OrderShipped: customer_id: Field required" in order_reasons
    assert ("ERP invoice 900555: invoice totals do not add up: declared tax 0.03 EUR but the "
            "lines give 0.04 EUR (difference -0.01, tolerance 0); declared total 0.24 EUR but "
            "the lines give 0.25 EUR (difference -0.01, tolerance 0); correct the invoice in "
            "the ERP and send it again") in order_reasons
    customer_reasons = await eventually(lambda: dead_letters(kafka, ERP_CUSTOMERS, customer_id),
                                        until=lambda found: len(found) >= 1)
    assert customer_reasons == [f"customer {customer_id}: cannot read payment terms "
                                "'net thirty'; expected one of 'net 30', 'due on receipt', "
                                "'EOM', 'EOM+15', '2/10 net 30', '1.5/15 EOM+30'"]
