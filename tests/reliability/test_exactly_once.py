"""No event lost, no effect applied twice: duplicates, bad input and a killed process."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date

import httpx
import psycopg

from libs.events import CustomerUpserted, InvoiceIssued, OrderLine, OrderShipped
from libs.events.topics import AR_INVOICING, ERP_ORDERS, physical_topic
from libs.runtime.kafka import create_topics, delete_topics
from libs.runtime.publisher import EventPublisher
from tests.conftest import eventually
from tests.support.kafka_reader import events_on, read_topic, wait_for_events
from tests.support.processes import ServiceProcess, free_port

TENANT = "reliability-tenant"


def shipment(order_id: str, customer_id: str, amount: str = "100.00") -> OrderShipped:
    return OrderShipped(order_id=order_id, shipment_id="SH-1", customer_id=customer_id,
                        shipped_on=date(2026, 10, 1), currency="EUR",
                        lines=(OrderLine(line_no=1, sku="WIDGET", quantity="1",
                                         unit_price=amount),))


def invoices_for(order_id: str):  # noqa: ANN201
    return lambda event: isinstance(event, InvoiceIssued) and event.order_id == order_id


async def open_items(aging_url: str, customer_id: str) -> list[dict]:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{aging_url}/customers/{customer_id}/open-items",
                                    headers={"X-Tenant": TENANT})
        return response.json()


async def test_the_same_shipment_delivered_twice_is_invoiced_once(platform, infrastructure) -> None:
    kafka = infrastructure.kafka_bootstrap_servers
    async with EventPublisher(kafka) as erp:
        await erp.publish(CustomerUpserted(customer_id="CUST-DUP", name="Twice Ltd",
                                           currency="EUR", payment_terms_days=14), TENANT)
        record = erp.record(shipment("SO-DUP-1", "CUST-DUP"), TENANT)
        await erp.send(record)  # Kafka redelivery: the very same record again
        await erp.send(record)
        # The ERP re-sends the same business event under a new event id
        await erp.publish(shipment("SO-DUP-1", "CUST-DUP"), TENANT)

    items = await eventually(lambda: open_items(platform["aging"].url, "CUST-DUP"),
                             until=lambda found: len(found) >= 1)
    await asyncio.sleep(2)  # give any duplicate time to show up
    assert len(await open_items(platform["aging"].url, "CUST-DUP")) == 1
    assert items[0]["open_amount"] == "100.00"
    invoices = await events_on(kafka, AR_INVOICING, InvoiceIssued, invoices_for("SO-DUP-1"))
    assert len(invoices) == 1


async def test_a_malformed_order_goes_to_the_dead_letter_topic_and_the_next_one_is_invoiced(
        platform, infrastructure) -> None:
    kafka = infrastructure.kafka_bootstrap_servers
    async with EventPublisher(kafka) as erp:
        await erp.publish(CustomerUpserted(customer_id="CUST-BAD", name="Sloppy ERP Inc",
                                           currency="EUR", payment_terms_days=30), TENANT)
        good_headers = erp.record(shipment("SO-BAD-0", "CUST-BAD"), TENANT).headers
        # Same partition as the good order that follows: it must not block it.
        await erp.send_raw(physical_topic(ERP_ORDERS), b"CUST-BAD",
                           b'{"order_id": "SO-BAD-1", "lines": [', good_headers)
        negative = shipment("SO-BAD-2", "CUST-BAD").model_dump(mode="json")
        negative["lines"][0]["quantity"] = "-3"
        await erp.send_raw(physical_topic(ERP_ORDERS), b"CUST-BAD",
                           json.dumps(negative).encode(), good_headers)
        await erp.publish(shipment("SO-BAD-3", "CUST-BAD", amount="55.00"), TENANT)

    invoiced = await wait_for_events(kafka, AR_INVOICING, InvoiceIssued, invoices_for("SO-BAD-3"))
    assert len(invoiced) == 1
    dead = await eventually(lambda: read_topic(kafka, f"{ERP_ORDERS}.dlq"),
                            until=lambda records: len(records) >= 2)
    reasons = {dict(r.headers)["dlq_reason"].decode(): r for r in dead
               if dict(r.headers).get("dlq_original_topic") == physical_topic(ERP_ORDERS).encode()
               and r.key == b"CUST-BAD"}  # other tests' bad records share the topic
    assert any("body is not JSON" in reason for reason in reasons), reasons.keys()
    assert any("lines.0.quantity" in reason and "greater than 0" in reason
               for reason in reasons), reasons.keys()
    not_json = next(r for reason, r in reasons.items() if "body is not JSON" in reason)
    assert not_json.value == b'{"order_id": "SO-BAD-1", "lines": ['  # the original bytes, kept


async def test_invoicing_killed_between_consuming_and_publishing_issues_exactly_one_invoice(
        infrastructure) -> None:
    """SIGKILL after the shipment is consumed and its invoice stored, before the relay
    has published: on restart the relay publishes it, once."""
    kafka = infrastructure.kafka_bootstrap_servers
    order_id = f"SO-KILL-{uuid.uuid4().hex[:6]}"
    # A second invoicing process of its own, with topics, consumer group and schema of its
    # own, so it sees only this test's orders, however many the session published before.
    prefix = f"{infrastructure.topic_prefix}kill."
    await create_topics(kafka, 1, prefix=prefix)
    invoicing = ServiceProcess("invoicing", free_port(), infrastructure,
                               SERVICE_NAME="invoicing_killed", RELAY_ENABLED="false",
                               KAFKA_TOPIC_PREFIX=prefix)
    invoicing.start()
    try:
        async with EventPublisher(kafka) as erp:
            for event in (CustomerUpserted(customer_id="CUST-KILL", name="Fragile GmbH",
                                           currency="EUR", payment_terms_days=30),
                          shipment(order_id, "CUST-KILL")):
                record = erp.record(event, TENANT)
                await erp.send_raw(prefix + event.topic, record.key, record.value,
                                   record.headers)

        stored = await eventually(lambda: _stored_invoices(infrastructure.database_url, order_id),
                                  until=lambda count: count >= 1)
        assert stored == 1
        invoicing.kill()
        assert await _published_by_killed_service(kafka, order_id, prefix) == []

        invoicing.start(RELAY_ENABLED="true")
        await eventually(lambda: _published_by_killed_service(kafka, order_id, prefix),
                         until=lambda published: len(published) >= 1)
        await asyncio.sleep(2)  # a duplicate, if any, would be published by now
        assert len(await _published_by_killed_service(kafka, order_id, prefix)) == 1
        assert await _stored_invoices(infrastructure.database_url, order_id) == 1
    finally:
        invoicing.stop()
        await delete_topics(kafka, prefix=prefix)


async def _published_by_killed_service(kafka: str, order_id: str, prefix: str) -> list:
    """Invoices for the order published by this test's own invoicing process."""
    published = await events_on(kafka, AR_INVOICING, InvoiceIssued, invoices_for(order_id),
                                prefix=prefix)
    return [event for record, event in published
            if dict(record.headers)["ce_source"] == b"receivables/invoicing_killed"]


async def _stored_invoices(database_url: str, order_id: str) -> int:
    async with await psycopg.AsyncConnection.connect(database_url) as connection:
        exists = await (await connection.execute(
            "SELECT to_regclass('invoicing_killed.invoicing_events')")).fetchone()
        if exists[0] is None:
            return 0
        row = await (await connection.execute(
            "SELECT count(*) FROM invoicing_killed.invoicing_events "
            "WHERE topic = 'invoicing.Invoice.Issued' "
            "AND position(%s in convert_from(state, 'UTF8')) > 0", (f'"{order_id}"',))).fetchone()
        return int(row[0])
