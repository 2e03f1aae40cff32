"""The ERP's word against our cash, on the real broker and database: the ERP marks an
invoice paid that no payment clears, matching raises it on ar.matching and lists it for a
collector; when the payment arrives after all, the exception is resolved and leaves the
list. Invoices are published as invoicing would, under this test's own series."""

from __future__ import annotations

import uuid
from datetime import date

import httpx

from libs.events import InvoiceIssued, Money
from libs.events.erp import ErpInvoiceMarkedPaid
from libs.events.matching import ErpPaidInvoiceCleared, ErpPaidInvoiceUncleared
from libs.events.topics import AR_MATCHING
from libs.runtime.publisher import EventPublisher
from tests.conftest import eventually
from tests.support.kafka_reader import wait_for_events

TENANT = "e2e-erp-paid"


def series() -> str:
    """A document series of letters only, new each run: EPQZKT."""
    return "EP" + "".join(chr(ord("A") + value % 26) for value in uuid.uuid4().bytes[:4])


async def exceptions(matching_url: str) -> list[dict]:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{matching_url}/exceptions/erp-paid-uncleared",
                                    headers={"X-Tenant": TENANT})
        response.raise_for_status()
        return response.json()["exceptions"]


async def test_an_invoice_the_erp_calls_paid_is_raised_until_a_payment_clears_it(
        platform, infrastructure) -> None:
    kafka = infrastructure.kafka_bootstrap_servers
    number = f"{series()}-000013"
    money = Money.of("480.00", "EUR")
    async with EventPublisher(kafka, source="receivables/invoicing") as invoicing:
        await invoicing.publish(InvoiceIssued(
            invoice_id=f"id-{number}", invoice_number=number, customer_id="CUST-EP-1",
            issue_date=date(2024, 2, 1), due_date=date(2024, 3, 2), payment_terms_days=30,
            net_amount=money, tax_amount=Money.zero("EUR"), total=money), TENANT)
    async with EventPublisher(kafka, source="erp") as erp:
        # Paid weeks ago by the ERP's account: the grace for bank statements is long over.
        await erp.publish(ErpInvoiceMarkedPaid(invoice_number=number, customer_id="CUST-EP-1",
                                               paid_on=date(2024, 3, 1), reference="CLR-77"),
                          TENANT)

    [(_, raised)] = await wait_for_events(kafka, AR_MATCHING, ErpPaidInvoiceUncleared,
                                          lambda event: event.invoice_number == number)
    assert (raised.open_amount, raised.erp_reference) == (money, "CLR-77")
    listed = await eventually(lambda: exceptions(platform["matching"].url),
                              until=lambda rows: any(row["invoice_number"] == number
                                                     for row in rows))
    [row] = [row for row in listed if row["invoice_number"] == number]
    assert (row["open_amount"], row["erp_paid_on"]) == ("480.00", "2024-03-01")

    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{platform['payments'].url}/payments", headers={"X-Tenant": TENANT},
            json={"reference": f"BANK-{number}", "amount": "480.00", "currency": "EUR",
                  "value_date": "2024-03-25", "remittance_text": f"invoice {number}"})
        assert response.status_code == 201, response.text

    [(_, cleared)] = await wait_for_events(kafka, AR_MATCHING, ErpPaidInvoiceCleared,
                                           lambda event: event.invoice_number == number)
    assert cleared.erp_paid_on == date(2024, 3, 1)
    assert all(row["invoice_number"] != number
               for row in await exceptions(platform["matching"].url))
