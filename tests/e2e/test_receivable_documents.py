"""After issue, through the real services: a collector credits, adjusts, cancels and
writes off through the invoicing API, dunning's fee becomes a debit note, and the aging
API shows each customer's balance move accordingly, today and on past dates. A dollar
invoice carries its value in euros at the rate the ERP published, or says it has none."""

from __future__ import annotations

from datetime import date, timedelta

import httpx

from libs.events import (
    CustomerUpserted,
    DebitNoteIssued,
    ExchangeRatePublished,
    FeeAssessed,
    InvoiceIssued,
    Money,
    OrderLine,
    OrderShipped,
)
from libs.events.topics import AR_INVOICING, ERP_CUSTOMERS
from libs.runtime.publisher import EventPublisher
from tests.conftest import eventually
from tests.support.consumer_groups import caught_up
from tests.support.kafka_reader import wait_for_events

TENANT = "documents-tenant"
HEADERS = {"X-Tenant": TENANT}
ANNA = {**HEADERS, "X-Actor": "collector:anna"}
CUSTOMER = "CUST-DOCS"


def shipment(order_id: str, shipped_on: date, unit_price: str,
             currency: str = "EUR") -> OrderShipped:
    return OrderShipped(order_id=order_id, shipment_id="1", customer_id=CUSTOMER,
                        shipped_on=shipped_on, currency=currency,
                        lines=(OrderLine(line_no=1, sku="CRATE", quantity="2",
                                         unit_price=unit_price, tax_rate="0.21"),))


async def get(url: str, **params: str) -> dict:
    async with httpx.AsyncClient() as client:
        response = await client.get(url, params=params, headers=HEADERS)
        response.raise_for_status()
        return response.json()


async def post(url: str, body: dict) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(url, json=body, headers=ANNA)


async def test_documents_after_issue_move_the_balance_aging_shows(platform, infrastructure) -> None:
    kafka = infrastructure.kafka_bootstrap_servers
    invoicing, aging = platform["invoicing"].url, platform["aging"].url
    today = date.today()
    issued_on = today - timedelta(days=40)  # due 10 days ago on net 30
    async with EventPublisher(kafka) as erp:
        await erp.publish(CustomerUpserted(customer_id=CUSTOMER, name="Documents BV",
                                           currency="EUR", payment_terms="net 30"), TENANT)
        for order_id in ("SO-CREDIT", "SO-CANCEL", "SO-WRITEOFF"):
            await erp.publish(shipment(order_id, issued_on, "50.00"), TENANT)  # 121.00 each
    items = await eventually(lambda: get(f"{aging}/customers/{CUSTOMER}/open-items"),
                             until=lambda found: len(found) == 3)
    number = {item["order_id"]: item["invoice_number"] for item in items}

    credited = await post(f"{invoicing}/invoices/{number['SO-CREDIT']}/credit-notes",
                          {"reason": "one crate broken",
                           "lines": [{"line_no": 1, "quantity": "1"}]})
    cancelled = await post(f"{invoicing}/invoices/{number['SO-CANCEL']}/cancellation",
                           {"reason": "billed twice"})
    async with httpx.AsyncClient() as client:
        paid = await client.post(f"{platform['payments'].url}/payments", headers=HEADERS, json={
            "reference": "BANK-DOCS-1", "amount": "100.00", "currency": "EUR",
            "value_date": today.isoformat(), "remittance_text": number["SO-WRITEOFF"]})
    assert (credited.status_code, cancelled.status_code, paid.status_code) == (201, 200, 201)
    # 21.00 short is beyond matching's tolerance: matching applies the 100.00 and leaves
    # the rest open. The write-off waits until invoicing has seen that application.
    await eventually(lambda: get(f"{invoicing}/invoices/{number['SO-WRITEOFF']}"),
                     until=lambda invoice: invoice["paid"] == "100.00")
    refused = await post(f"{invoicing}/invoices/{number['SO-WRITEOFF']}/cancellation",
                         {"reason": "too late"})
    written_off = await post(f"{invoicing}/invoices/{number['SO-WRITEOFF']}/write-off",
                             {"reason": "customer disputes the rest; not worth pursuing",
                              "amount": "21.00"})
    assert refused.status_code == 409 and "only an unpaid invoice" in refused.json()["detail"]
    assert written_off.status_code == 200, written_off.text

    balance = await eventually(lambda: get(f"{aging}/customers/{CUSTOMER}/balance"),
                               until=lambda body: body["balances"] and
                               body["balances"][0]["open_amount"] == "60.50")
    assert balance["balances"][0]["open_items"] == 1  # what the credit note left open
    assert balance["balances"][0]["buckets"]["1-30"] == "60.50"
    # Ten days ago, before any of it, the three invoices were open in full.
    before = await get(f"{aging}/customers/{CUSTOMER}/balance",
                       as_of=(today - timedelta(days=10)).isoformat())
    assert before["balances"][0]["open_amount"] == "363.00"

    # Dunning charges a fee: invoicing bills it on a debit note, which ages on its own.
    invoice = await get(f"{invoicing}/invoices/{number['SO-CREDIT']}")
    async with EventPublisher(kafka, source="receivables/dunning") as dunning:
        fee = FeeAssessed(fee_id="fee-docs-1", customer_id=CUSTOMER, kind="late_fee",
                          invoice_id=invoice["invoice_id"], invoice_number=number["SO-CREDIT"],
                          amount=Money.of("40.00", "EUR"), assessed_on=today,
                          reason="recovery indemnity, Directive 2011/7/EU", actor="dunning")
        await dunning.publish(fee, TENANT)
        await dunning.publish(fee, TENANT)  # re-sent
    [(_, debit_note)] = await wait_for_events(
        kafka, AR_INVOICING, DebitNoteIssued, lambda event: event.fee_id == "fee-docs-1")
    balance = await eventually(lambda: get(f"{aging}/customers/{CUSTOMER}/balance"),
                               until=lambda body: body["balances"][0]["open_amount"] == "100.50")
    assert balance["balances"][0]["buckets"]["current"] == "40.00"
    assert debit_note.debit_note_number == "DN-000001"


async def test_a_foreign_currency_invoice_carries_its_functional_amount_or_says_the_rate_is_missing(
        platform, infrastructure) -> None:
    kafka = infrastructure.kafka_bootstrap_servers
    async with EventPublisher(kafka) as erp:
        await erp.publish(CustomerUpserted(customer_id="CUST-USD", name="Dollar Inc",
                                           currency="USD", payment_terms="net 30"), TENANT)
        await erp.publish(ExchangeRatePublished(rate_date=date(2026, 10, 1), from_currency="EUR",
                                                to_currency="USD", rate="1.0850"), TENANT)
    # The rate travels on erp.customers, shipments on erp.orders: the two topics are not
    # ordered against each other, so the rate is recorded before the shipments are sent.
    await caught_up(infrastructure, "invoicing", ERP_CUSTOMERS)
    async with EventPublisher(kafka) as erp:
        await erp.publish(shipment("SO-USD-1", date(2026, 10, 3), "50.00", "USD")
                          .model_copy(update={"customer_id": "CUST-USD"}), TENANT)
        await erp.publish(shipment("SO-USD-2", date(2026, 11, 3), "50.00", "USD")
                          .model_copy(update={"customer_id": "CUST-USD"}), TENANT)

    found = await wait_for_events(kafka, AR_INVOICING, InvoiceIssued,
                                  lambda event: event.customer_id == "CUST-USD", count=2)
    by_order = {event.order_id: event for _, event in found}
    converted, missing = by_order["SO-USD-1"], by_order["SO-USD-2"]
    # 121.00 USD / 1.0850 = 111.52 EUR, on Saturday 3 October at Thursday the 1st's rate.
    assert (converted.functional_amount, converted.exchange_rate.rate_date) == (
        Money.of("111.52", "EUR"), date(2026, 10, 1))
    assert (missing.functional_currency, missing.functional_amount, missing.rate_missing) == (
        "EUR", None, True)
    view = await get(f"{platform['invoicing'].url}/invoices/{missing.invoice_number}")
    assert view["functional"] == {"currency": "EUR", "amount": None, "rate_missing": True,
                                  "rate": None}
