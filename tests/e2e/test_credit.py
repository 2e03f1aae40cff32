"""Credit on the real broker and database: a customer near its limit, an order that would
exceed it is held, a payment is matched, the resubmitted order is approved; then the same
for a credit group of two customers sharing one limit. The ERP publishes, invoicing
invoices, payments and matching settle, credit decides, each its own process."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import date

import httpx
import pytest

from libs.events import (
    CustomerUpserted,
    InvoiceIssued,
    OrderCreditApproved,
    OrderCreditHeld,
    OrderLine,
    OrderPlaced,
    OrderShipped,
)
from libs.events.topics import AR_CREDIT, AR_INVOICING, ERP_ORDERS, physical_topic
from libs.runtime.publisher import EventPublisher
from tests.conftest import eventually
from tests.support.kafka_reader import events_on, read_topic, wait_for_events
from tests.support.processes import ServiceProcess, free_port

TENANT = "e2e-credit"
SALES = {"X-Tenant": TENANT, "X-Actor": "sales:bob"}
CONTROLLER = {"X-Tenant": TENANT, "X-Actor": "credit:carla"}


@pytest.fixture(scope="module")
def credit_service(platform, infrastructure) -> Iterator[ServiceProcess]:
    service = ServiceProcess("credit", free_port(), infrastructure)
    try:
        yield service.start(timeout=60)
    finally:
        service.stop()


def order_lines(amount: str) -> tuple[OrderLine, ...]:
    return (OrderLine(line_no=1, sku="PALLET", quantity="1", unit_price=amount),)


async def set_limit(client: httpx.AsyncClient, path: str, amount: str) -> None:
    response = await client.post(f"{path}/limit-requests", headers=SALES, json={
        "amount": amount, "currency": "EUR", "reason": "annual review"})
    assert response.status_code == 201, response.text
    change_id = response.json()["change_id"]
    refused = await client.post(f"{path}/limit-requests/{change_id}/approve", headers=SALES)
    assert refused.status_code == 409  # the requester cannot approve their own request
    approved = await client.post(f"{path}/limit-requests/{change_id}/approve",
                                 headers=CONTROLLER)
    assert approved.status_code == 200, approved.text


async def exposure_of(client: httpx.AsyncClient, customer_id: str) -> str | None:
    response = await client.get(f"/customers/{customer_id}/credit", headers={"X-Tenant": TENANT})
    return response.json()["exposure"]["total"] if response.status_code == 200 else None


async def invoice_the_shipment(erp: EventPublisher, kafka: str, customer_id: str,
                               order_id: str, amount: str) -> InvoiceIssued:
    await erp.publish(CustomerUpserted(customer_id=customer_id, name=f"{customer_id} GmbH",
                                       currency="EUR", payment_terms_days=30), TENANT)
    await erp.publish(OrderShipped(order_id=order_id, shipment_id=f"{order_id}-1",
                                   customer_id=customer_id, shipped_on=date.today(),
                                   currency="EUR", lines=order_lines(amount)), TENANT)
    [(_, invoice)] = await wait_for_events(kafka, AR_INVOICING, InvoiceIssued,
                                           lambda event: event.order_id == order_id)
    return invoice


async def decision_on(kafka: str, order_id: str, count: int) -> object:
    found = await wait_for_events(
        kafka, AR_CREDIT, (OrderCreditApproved, OrderCreditHeld),  # type: ignore[arg-type]
        lambda event: event.order_id == order_id, count=count)
    return found[count - 1][1]


async def pay(payments_url: str, reference: str, invoice: InvoiceIssued) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{payments_url}/payments", headers={"X-Tenant": TENANT},
                                     json={"reference": reference,
                                           "amount": str(invoice.total.amount),
                                           "currency": "EUR",
                                           "value_date": date.today().isoformat(),
                                           "remittance_text": f"invoice {invoice.invoice_number}"})
        assert response.status_code == 201, response.text


async def hold_then_approve(platform, infrastructure, credit_service, customer_id: str,
                            ordering_customer: str, limit_path: str, group: bool) -> None:
    kafka = infrastructure.kafka_bootstrap_servers
    async with httpx.AsyncClient(base_url=credit_service.url) as client, \
            EventPublisher(kafka) as erp:
        invoice = await invoice_the_shipment(erp, kafka, customer_id, f"SO-{customer_id}",
                                             "900.00")
        await eventually(lambda: exposure_of(client, customer_id),
                         until=lambda total: total == "900.00")
        if group:
            for member in (customer_id, ordering_customer):
                response = await client.put(f"/groups/CG-{customer_id}/members/{member}",
                                            headers=CONTROLLER)
                assert response.status_code == 200, response.text
        await set_limit(client, limit_path, "1000.00")

        order = OrderPlaced(order_id=f"SO-NEXT-{ordering_customer}",
                            customer_id=ordering_customer, ordered_on=date.today(),
                            currency="EUR", lines=order_lines("300.00"))
        await erp.publish(order, TENANT)
        held = await decision_on(kafka, order.order_id, 1)
        assert isinstance(held, OrderCreditHeld)
        assert [rule.rule for rule in held.held_by] == (
            ["group_over_limit"] if group else ["over_limit"])
        listed = (await client.get("/holds/orders", headers={"X-Tenant": TENANT})).json()
        assert order.order_id in [entry["order_id"] for entry in listed]

        await pay(platform["payments"].url, f"BANK-{customer_id}", invoice)
        await eventually(lambda: exposure_of(client, customer_id),
                         until=lambda total: total == "0.00")

        await erp.publish(order, TENANT)  # the ERP resubmits the order
        approved = await decision_on(kafka, order.order_id, 2)
        assert isinstance(approved, OrderCreditApproved)
        assert str(approved.exposure.amount) == "300.00"


async def test_an_order_held_over_the_limit_is_approved_after_a_payment(
        platform, infrastructure, credit_service) -> None:
    await hold_then_approve(platform, infrastructure, credit_service, "CUST-CR-1",
                            "CUST-CR-1", "/customers/CUST-CR-1", group=False)


async def test_two_customers_sharing_a_group_limit(platform, infrastructure,
                                                   credit_service) -> None:
    await hold_then_approve(platform, infrastructure, credit_service, "CUST-CG-A",
                            "CUST-CG-B", "/groups/CG-CUST-CG-A", group=True)


async def test_a_burst_of_orders_with_a_malformed_one_among_them(
        platform, infrastructure, credit_service) -> None:
    """Credit applies what the broker has ready in one transaction: a burst of orders is
    decided in order, each seeing the ones before it, once; the malformed record in the
    middle is dead-lettered alone."""
    kafka = infrastructure.kafka_bootstrap_servers
    customer_id = "CUST-CR-BURST"
    async with EventPublisher(kafka) as erp, httpx.AsyncClient(
            base_url=credit_service.url) as client:
        await erp.publish(CustomerUpserted(customer_id=customer_id, name="Burst BV",
                                           currency="EUR", payment_terms_days=30), TENANT)
        await set_limit(client, f"/customers/{customer_id}", "1000.00")
        orders = [OrderPlaced(order_id=f"SO-BURST-{index:02d}", customer_id=customer_id,
                              ordered_on=date.today(), currency="EUR",
                              lines=order_lines("100.00")) for index in range(1, 16)]
        headers = erp.record(orders[0], TENANT).headers
        sends = [erp.send(erp.record(order, TENANT)) for order in orders[:7]]
        sends.append(erp.send_raw(physical_topic(ERP_ORDERS), customer_id.encode(),
                                  b'{"order_id": "SO-BURST-BAD", "lines": [', headers))
        sends += [erp.send(erp.record(order, TENANT)) for order in orders[7:]]
        await asyncio.gather(*sends)

    decided = await wait_for_events(
        kafka, AR_CREDIT, (OrderCreditApproved, OrderCreditHeld),  # type: ignore[arg-type]
        lambda event: event.order_id.startswith("SO-BURST-"), count=len(orders))
    await asyncio.sleep(1)  # time for a duplicate decision to show up, if there were one
    decided = await events_on(
        kafka, AR_CREDIT, (OrderCreditApproved, OrderCreditHeld),  # type: ignore[arg-type]
        lambda event: event.order_id.startswith("SO-BURST-"))
    outcome = {event.order_id: (type(event).__name__, str(event.exposure.amount))
               for _, event in decided}
    assert len(decided) == len(orders) == len(outcome)
    # the limit of 1,000.00 fits ten approved orders of 100.00; the other five are held
    assert [outcome[order.order_id][0] for order in orders] == (
        ["OrderCreditApproved"] * 10 + ["OrderCreditHeld"] * 5)
    assert outcome["SO-BURST-10"][1] == "1000.00"
    def credits(records: list) -> list:  # invoicing reads the topic too, and refuses it
        return [record for record in records if b"SO-BURST-BAD" in record.value
                and dict(record.headers)["dlq_consumer"].startswith(b"credit")]

    dead = await eventually(lambda: read_topic(kafka, f"{ERP_ORDERS}.dlq"),
                            until=lambda records: bool(credits(records)))
    [bad] = credits(dead)
    assert "body is not JSON" in dict(bad.headers)["dlq_reason"].decode()


async def test_each_decision_continues_the_trace_of_its_order(
        platform, infrastructure, credit_service) -> None:
    """An SRE follows an order by its trace id into credit's decision, also when the
    order was decided in one batch with others from other traces."""
    kafka = infrastructure.kafka_bootstrap_servers
    customer_id = "CUST-CR-TRACE"
    traces = {f"SO-TRACE-{index}": uuid.uuid4().hex for index in range(4)}
    async with EventPublisher(kafka) as erp:
        await erp.publish(CustomerUpserted(customer_id=customer_id, name="Traced BV",
                                           currency="EUR", payment_terms_days=30), TENANT)
        await asyncio.gather(*(erp.send(erp.record(
            OrderPlaced(order_id=order_id, customer_id=customer_id, ordered_on=date.today(),
                        currency="EUR", lines=order_lines("10.00")),
            TENANT, traceparent=f"00-{trace_id}-{'1' * 16}-01"))
            for order_id, trace_id in traces.items()))

    decided = await wait_for_events(
        kafka, AR_CREDIT, (OrderCreditApproved, OrderCreditHeld),  # type: ignore[arg-type]
        lambda event: event.order_id in traces, count=len(traces))
    assert {event.order_id: dict(record.headers)["traceparent"].decode().split("-")[1]
            for record, event in decided} == traces
