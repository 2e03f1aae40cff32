"""One invoice from the ERP's shipment to a settled, zero balance, through real Kafka,
real PostgreSQL and the four services as separate processes."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import httpx

from libs.events import CustomerUpserted, InvoiceIssued, OrderLine, OrderShipped
from libs.events.topics import AR_INVOICING
from libs.runtime.publisher import EventPublisher
from tests.conftest import eventually
from tests.support.kafka_reader import wait_for_events

TENANT = "e2e-tenant"


async def balance_of(aging_url: str, customer_id: str) -> dict:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{aging_url}/customers/{customer_id}/balance",
                                    headers={"X-Tenant": TENANT})
        response.raise_for_status()
        return response.json()


async def open_items_of(aging_url: str, customer_id: str) -> list[dict]:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{aging_url}/customers/{customer_id}/open-items",
                                    headers={"X-Tenant": TENANT})
        response.raise_for_status()
        return response.json()


async def metric(service_url: str, name: str, **labels: str) -> float:
    """The sum of a Prometheus sample's values over the series with these labels."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{service_url}/metrics")).text
    wanted = [f'{label}="{value}"' for label, value in labels.items()]
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name + "{") and all(label in line for label in wanted))


async def test_a_shipped_order_is_invoiced_aged_and_settled_by_a_payment_naming_it(
        platform, infrastructure) -> None:
    aging = platform["aging"].url
    shipped_on = date.today() - timedelta(days=45)  # 15 days past due on net 30
    async with EventPublisher(infrastructure.kafka_bootstrap_servers) as erp:
        await erp.publish(CustomerUpserted(customer_id="CUST-E2E-1", name="Brasserie du Port",
                                           currency="EUR", payment_terms_days=30,
                                           language="fr"), TENANT)
        await erp.publish(OrderShipped(
            order_id="SO-1001", shipment_id="SH-1", customer_id="CUST-E2E-1",
            shipped_on=shipped_on, currency="EUR",
            lines=(OrderLine(line_no=1, sku="KEG-50L", quantity="4", unit_price="125.00",
                             tax_rate="0.21"),
                   OrderLine(line_no=2, sku="TAP", quantity="1", unit_price="80.00",
                             tax_rate="0.21"))), TENANT)

    balance = await eventually(lambda: balance_of(aging, "CUST-E2E-1"),
                               until=lambda body: bool(body["balances"]))
    # 4 x 125.00 + 80.00 = 580.00 net, 21% tax = 121.80, total 701.80, 15 days overdue
    assert balance["balances"] == [{
        "currency": "EUR", "open_amount": "701.80", "open_items": 1,
        "buckets": {"current": "0", "1-30": "701.80", "31-60": "0", "61-90": "0", "90+": "0"},
    }]
    [invoice] = await open_items_of(aging, "CUST-E2E-1")
    assert invoice["due_date"] == (shipped_on + timedelta(days=30)).isoformat()
    assert invoice["days_past_due"] == 15

    async with httpx.AsyncClient() as client:
        response = await client.post(f"{platform['payments'].url}/payments", headers={"X-Tenant": TENANT}, json={
            "reference": "BANK-STMT-77-1", "amount": "701.80", "currency": "EUR",
            "value_date": date.today().isoformat(), "payer_name": "Brasserie du Port SARL",
            "remittance_text": f"Facture {invoice['invoice_number']} merci"})
        assert response.status_code == 201, response.text

    balance = await eventually(lambda: balance_of(aging, "CUST-E2E-1"),
                               until=lambda body: not body["balances"])
    assert balance["balances"] == []
    assert balance["unapplied_cash"] == []
    async with httpx.AsyncClient() as client:
        status = (await client.get(f"{aging}/invoices/{invoice['invoice_number']}",
                                   headers={"X-Tenant": TENANT})).json()
    assert status["status"] == "settled"
    assert status["open_amount"] == "0.00"
    assert status["settled_on"] == date.today().isoformat()
    # The time from publication to visibility is on aging's /metrics, for each event
    for event_type in ("InvoiceIssued", "PaymentApplied"):
        assert await metric(aging, "ar_projection_visible_lag_seconds_count",
                            event_type=event_type) >= 1


async def test_a_payment_naming_no_invoice_stays_unapplied_on_the_account(
        platform, infrastructure) -> None:
    aging = platform["aging"].url
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{platform['payments'].url}/payments", headers={"X-Tenant": TENANT}, json={
            "reference": "BANK-STMT-77-2", "amount": "99.00", "currency": "EUR",
            "value_date": date.today().isoformat(), "customer_id": "CUST-E2E-2",
            "remittance_text": "thanks for everything"})
        assert response.status_code == 201, response.text

    balance = await eventually(lambda: balance_of(aging, "CUST-E2E-2"),
                               until=lambda body: bool(body["unapplied_cash"]))
    assert balance["unapplied_cash"] == [{"currency": "EUR", "amount": "99.00", "payments": 1}]
    assert balance["balances"] == []


async def test_the_erp_trace_continues_through_invoicing_and_each_hop_is_counted(
        platform, infrastructure) -> None:
    """An SRE follows one order by its trace id: the InvoiceIssued that invoicing publishes
    belongs to the same trace as the ERP's OrderShipped; /metrics counts the event and how
    long it took from its publication to invoicing's stored effect."""
    kafka = infrastructure.kafka_bootstrap_servers
    trace_id = uuid.uuid4().hex
    async with EventPublisher(kafka) as erp:
        await erp.publish(CustomerUpserted(customer_id="CUST-TRACE", name="Traced BV",
                                           currency="EUR", payment_terms_days=30), TENANT)
        await erp.publish(OrderShipped(
            order_id="SO-TRACE", shipment_id="SH-1", customer_id="CUST-TRACE",
            shipped_on=date.today(), currency="EUR",
            lines=(OrderLine(line_no=1, sku="X", quantity="1", unit_price="10.00"),)),
            TENANT, traceparent=f"00-{trace_id}-{'1' * 16}-01")

    [(record, _)] = await wait_for_events(
        kafka, AR_INVOICING, InvoiceIssued, lambda event: event.order_id == "SO-TRACE")
    headers = dict(record.headers)
    assert headers["traceparent"].decode().split("-")[1] == trace_id
    assert headers["tenant"] == TENANT.encode()
    assert headers["ce_type"] == b"InvoiceIssued"
    assert headers["ce_subject"] == b"CUST-TRACE"

    invoicing = platform["invoicing"].url
    assert await metric(invoicing, "ar_events_consumed_total", outcome="applied",
                        event_type="OrderShipped") >= 1
    assert await metric(invoicing, "ar_event_applied_lag_seconds_count",
                        event_type="OrderShipped") >= 1
    assert await metric(invoicing, "ar_event_applied_lag_seconds_bucket",
                        event_type="OrderShipped", le="60.0") >= 1
