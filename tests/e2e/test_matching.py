"""Cash application on the real broker and database: a payment that arrives before its
invoice, a collector's unmatch that reopens the balance, and the explanation a collector
reads. Invoices are published to ar.invoicing as invoicing would, under numbers of this
test's own series, so the session's other tests cannot meet them."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import httpx
import pytest

from libs.events import InvoiceIssued, Money
from libs.events.matching import ApplicationReversed, PaymentApplied, PaymentUnapplied
from libs.events.topics import AR_MATCHING
from libs.runtime.publisher import EventPublisher
from tests.conftest import eventually
from tests.support.kafka_reader import wait_for_events
from tests.support.processes import ServiceProcess

TENANT = "e2e-matching"


@pytest.fixture(scope="module")
def aging(platform) -> ServiceProcess:  # noqa: ANN001
    """The session's aging service: matching's handlers are wired into it."""
    return platform["aging"]


def invoice(number: str, customer_id: str, total: str) -> InvoiceIssued:
    money = Money.of(total, "EUR")
    return InvoiceIssued(invoice_id=f"id-{number}", invoice_number=number,
                         customer_id=customer_id, issue_date=date(2024, 3, 1),
                         due_date=date(2024, 3, 31), payment_terms_days=30, net_amount=money,
                         tax_amount=Money.zero("EUR"), total=money)


async def record_payment(payments_url: str, **body: str) -> str:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{payments_url}/payments", headers={"X-Tenant": TENANT},
                                     json={"currency": "EUR", "value_date": "2024-03-20", **body})
        assert response.status_code == 201, response.text
        return response.json()["payment_id"]


async def balance_of(aging_url: str, customer_id: str) -> dict:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{aging_url}/customers/{customer_id}/balance",
                                    headers={"X-Tenant": TENANT})
        response.raise_for_status()
        return response.json()


def series() -> str:
    """A document series of letters only, new each run: MXQZKT."""
    return "MX" + "".join(chr(ord("A") + value % 26) for value in uuid.uuid4().bytes[:4])


async def test_a_payment_that_arrives_before_its_invoice_is_applied_when_it_arrives(
        platform, infrastructure, aging) -> None:
    kafka = infrastructure.kafka_bootstrap_servers
    number = f"{series()}-000042"
    payment_id = await record_payment(platform["payments"].url, reference=f"BANK-{number}",
                                      amount="250.00", remittance_text=f"paying {number}")
    [(_, waiting)] = await wait_for_events(kafka, AR_MATCHING, PaymentUnapplied,
                                           lambda event: event.payment_id == payment_id)
    assert "applied when it arrives" in waiting.reason

    async with EventPublisher(kafka, source="receivables/invoicing") as invoicing:
        await invoicing.publish(invoice(number, "CUST-MX-1", "250.00"), TENANT)

    [(_, applied)] = await wait_for_events(kafka, AR_MATCHING, PaymentApplied,
                                           lambda event: event.payment_id == payment_id)
    assert (applied.invoice_number, applied.amount) == (number, Money.of("250.00", "EUR"))
    balance = await eventually(lambda: balance_of(aging.url, "CUST-MX-1"),
                               until=lambda body: not body["balances"]
                               and not body["unapplied_cash"])
    assert balance["balances"] == [] and balance["unapplied_cash"] == []


async def test_a_collectors_unmatch_reverses_the_application_and_the_balance_reopens(
        platform, infrastructure, aging) -> None:
    kafka = infrastructure.kafka_bootstrap_servers
    number = f"{series()}-000007"
    async with EventPublisher(kafka, source="receivables/invoicing") as invoicing:
        await invoicing.publish(invoice(number, "CUST-MX-2", "121.00"), TENANT)
    payment_id = await record_payment(platform["payments"].url, reference=f"BANK-{number}",
                                      amount="121.00", customer_id="CUST-MX-2",
                                      remittance_text=number)
    [(_, applied)] = await wait_for_events(kafka, AR_MATCHING, PaymentApplied,
                                           lambda event: event.payment_id == payment_id)
    await eventually(lambda: balance_of(aging.url, "CUST-MX-2"),
                     until=lambda body: not body["balances"])

    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{platform['matching'].url}/payments/{payment_id}/unmatch",
            headers={"X-Tenant": TENANT},
            json={"application_id": applied.application_id, "actor": "collector-anna",
                  "reason": "the customer says this was a deposit"})
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "unapplied"
        refused = await client.post(
            f"{platform['matching'].url}/payments/{payment_id}/unmatch",
            headers={"X-Tenant": TENANT}, json={"actor": "collector-anna", "reason": "again"})
        assert refused.status_code == 409 and "nothing applied" in refused.json()["detail"]

    [(_, reversed_)] = await wait_for_events(kafka, AR_MATCHING, ApplicationReversed,
                                             lambda event: event.payment_id == payment_id)
    assert (reversed_.actor, reversed_.reason) == ("collector-anna",
                                                   "the customer says this was a deposit")
    balance = await eventually(lambda: balance_of(aging.url, "CUST-MX-2"),
                               until=lambda body: bool(body["balances"])
                               and bool(body["unapplied_cash"]))
    assert [(row["open_amount"], row["open_items"]) for row in balance["balances"]] == [
        ("121.00", 1)]
    assert Decimal(balance["unapplied_cash"][0]["amount"]) == Decimal("121.00")


async def test_the_explanation_of_an_automatic_match_reads_as_a_collector_would_say_it(
        platform, infrastructure) -> None:
    kafka = infrastructure.kafka_bootstrap_servers
    number = f"{series()}-000100"
    async with EventPublisher(kafka, source="receivables/invoicing") as invoicing:
        await invoicing.publish(invoice(number, "CUST-MX-3", "99.95"), TENANT)
    digits_only = number.split("-")[1].lstrip("0")
    payment_id = await record_payment(platform["payments"].url, reference=f"BANK-{number}",
                                      amount="99.95", customer_id="CUST-MX-3",
                                      remittance_text=f"Rechnung Nr. {digits_only} danke")
    await wait_for_events(kafka, AR_MATCHING, PaymentApplied,
                          lambda event: event.payment_id == payment_id)

    async with httpx.AsyncClient() as client:
        response = await client.get(
            f"{platform['matching'].url}/payments/{payment_id}/explanation",
            headers={"X-Tenant": TENANT})
        missing = await client.get(f"{platform['matching'].url}/payments/nope/explanation",
                                   headers={"X-Tenant": TENANT})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "applied"
    [application] = body["applications"]
    assert application["invoice_number"] == number and application["score"] is not None
    assert f"Applied 99.95 EUR to {number}" in body["explanation"]
    assert "confidence" in body["explanation"]
    assert missing.status_code == 404
