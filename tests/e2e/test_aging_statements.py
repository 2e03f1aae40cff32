"""Statements, payment predictions and the cash-in forecast, through the aging API.

The statement is the March example of services/aging/tests/test_statements.py, here
published as the events invoicing and matching would publish, so the figures are
known to the cent: opening 1,100.00, closing 2,115.00 EUR, aged 2,000.00 current,
415.00 1-30 days and -300.00 unapplied.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import httpx
from pypdf import PdfReader

from libs.events import (
    CreditNoteIssued,
    DebitNoteIssued,
    InvoiceIssued,
    InvoiceWrittenOff,
    Money,
    PaymentApplied,
    PaymentUnapplied,
)
from libs.runtime.publisher import EventPublisher
from tests.conftest import eventually

STATEMENT_TENANT = {"X-Tenant": "statement-tenant"}
FORECAST_TENANT = {"X-Tenant": "forecast-tenant"}


def issued(number: str, customer: str, issued_on: date, due: date, amount: str,
           currency: str = "EUR") -> InvoiceIssued:
    total = Money.of(amount, currency)
    return InvoiceIssued(invoice_id=number.lower(), invoice_number=number, customer_id=customer,
                         issue_date=issued_on, due_date=due, net_amount=total,
                         tax_amount=Money.of("0", currency), total=total)


def applied(payment: str, number: str, customer: str, amount: str, on: date) -> PaymentApplied:
    return PaymentApplied(application_id=f"{payment}-{number}", payment_id=payment,
                          invoice_id=number.lower(), invoice_number=number, customer_id=customer,
                          amount=Money.of(amount, "EUR"), applied_on=on,
                          rule="remittance-invoice-number", explanation=f"names {number}")


MARCH_EVENTS = [
    issued("INV-1", "CUST-1", date(2026, 1, 15), date(2026, 2, 14), "1000.00"),
    issued("INV-2", "CUST-1", date(2026, 2, 10), date(2026, 3, 12), "500.00"),
    issued("INV-3", "CUST-1", date(2026, 3, 5), date(2026, 4, 4), "2000.00"),
    issued("INV-9", "CUST-1", date(2025, 12, 1), date(2025, 12, 31), "50.00", "USD"),
    CreditNoteIssued(credit_note_id="cn-1", credit_note_number="CN-1", customer_id="CUST-1",
                     scope="partial", invoice_id="inv-2", invoice_number="INV-2",
                     issue_date=date(2026, 3, 8), net_amount=Money.of("100.00", "EUR"),
                     tax_amount=Money.of("0", "EUR"), total=Money.of("100.00", "EUR"),
                     reason="two cases damaged", actor="clerk:bob"),
    DebitNoteIssued(debit_note_id="dn-1", debit_note_number="DN-1", customer_id="CUST-1",
                    fee_id="fee-1", kind="late_fee", invoice_id="inv-1", invoice_number="INV-1",
                    issue_date=date(2026, 3, 15), due_date=date(2026, 3, 29),
                    total=Money.of("40.00", "EUR"), reason="late payment fee", actor="dunning"),
    InvoiceWrittenOff(write_off_id="wo-1", invoice_id="inv-2", invoice_number="INV-2",
                      customer_id="CUST-1", written_off_on=date(2026, 3, 20),
                      amount=Money.of("25.00", "EUR"), reason="pallet charge waived",
                      actor="controller:carla"),
    applied("PAY-1", "INV-1", "CUST-1", "400.00", date(2026, 2, 20)),
    applied("PAY-2", "INV-1", "CUST-1", "600.00", date(2026, 3, 10)),
    PaymentUnapplied(payment_id="PAY-3", customer_id="CUST-1",
                     amount=Money.of("300.00", "EUR"), value_date=date(2026, 3, 25),
                     reason="the remittance names no open invoice"),
    applied("PAY-4", "INV-3", "CUST-1", "2000.00", date(2026, 4, 2)),
]


async def get(url: str, headers: dict[str, str], **params: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.get(url, params=params, headers=headers)


async def publish(infrastructure, events, tenant: str) -> None:  # noqa: ANN001
    async with EventPublisher(infrastructure.kafka_bootstrap_servers, source="test") as bus:
        for event in events:
            await bus.publish(event, tenant)


async def test_a_march_statement_in_csv_pdf_and_html(platform, infrastructure) -> None:
    aging = platform["aging"].url
    await publish(infrastructure, MARCH_EVENTS, STATEMENT_TENANT["X-Tenant"])

    async def balance() -> dict:
        return (await get(f"{aging}/customers/CUST-1/balance", STATEMENT_TENANT)).json()

    def everything_arrived(body: dict) -> bool:
        eur = [b for b in body["balances"] if b["currency"] == "EUR"]
        return bool(eur) and (eur[0]["open_amount"], eur[0]["open_items"]) == ("415.00", 2) \
            and body["unapplied_cash"] == [{"currency": "EUR", "amount": "300.00", "payments": 1}]
    assert everything_arrived(await eventually(balance, everything_arrived, timeout=60))

    march = {"from": "2026-03-01", "to": "2026-03-31"}
    response = await get(f"{aging}/customers/CUST-1/statement", STATEMENT_TENANT, **march,
                         format="csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    eur = [(row["entry"], row["reference"], row["description"], row["amount"], row["balance"])
           for row in rows if row["currency"] == "EUR"]
    assert eur == [
        ("Opening balance", "", "", "", "1100.00"),
        ("Invoice", "INV-3", "", "2000.00", "3100.00"),
        ("Credit note", "CN-1", "on INV-2: two cases damaged", "-100.00", "3000.00"),
        ("Payment", "PAY-2", "applied to INV-1", "-600.00", "2400.00"),
        ("Debit note", "DN-1", "", "40.00", "2440.00"),
        ("Write-off", "INV-2", "pallet charge waived", "-25.00", "2415.00"),
        ("Unapplied cash", "PAY-3", "the remittance names no open invoice", "-300.00",
         "2115.00"),
        ("Closing balance", "", "", "", "2115.00"),
        ("aged current", "", "", "2000.00", ""), ("aged 1-30", "", "", "415.00", ""),
        ("aged 31-60", "", "", "0.00", ""), ("aged 61-90", "", "", "0.00", ""),
        ("aged 90+", "", "", "0.00", ""), ("aged unapplied", "", "", "-300.00", ""),
        ("aged total", "", "", "2115.00", "")]
    usd = [(row["entry"], row["amount"], row["balance"])
           for row in rows if row["currency"] == "USD"]
    assert usd[:2] == [("Opening balance", "", "50.00"), ("Closing balance", "", "50.00")]
    assert ("aged 61-90", "50.00", "") in usd

    response = await get(f"{aging}/customers/CUST-1/statement", STATEMENT_TENANT, **march,
                         format="pdf")
    assert response.headers["content-type"] == "application/pdf"
    assert "statement-CUST-1-2026-03-01-2026-03-31.pdf" in response.headers["content-disposition"]
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    for figure in ("Statement of account: CUST-1", "Opening balance 1,100.00",
                   "Closing balance 2,115.00", "CN-1", "PAY-3", "2,000.00 415.00"):
        assert figure in text, figure
    assert "PAY-4" not in text

    html = (await get(f"{aging}/customers/CUST-1/statement", STATEMENT_TENANT, **march)).text
    assert "Statement of account: CUST-1" in html and "2,115.00" in html

    # April opens where March closed, and INV-3's payment on 2 April brings it to 115.00.
    april = await get(f"{aging}/customers/CUST-1/statement", STATEMENT_TENANT,
                      **{"from": "2026-04-01", "to": "2026-04-30", "format": "csv"})
    april_eur = [row for row in csv.DictReader(io.StringIO(april.text)) if row["currency"] == "EUR"]
    assert (april_eur[0]["balance"], april_eur[1]["reference"], april_eur[2]["balance"]) == (
        "2115.00", "PAY-4", "115.00")


async def test_a_statement_refuses_an_unknown_customer_and_a_backward_period(platform) -> None:
    aging = platform["aging"].url
    unknown = await get(f"{aging}/customers/NOBODY/statement", STATEMENT_TENANT)
    assert unknown.status_code == 404
    assert "NOBODY" in unknown.json()["detail"]
    backward = await get(f"{aging}/customers/CUST-1/statement", STATEMENT_TENANT,
                         **{"from": "2026-04-01", "to": "2026-03-01"})
    assert backward.status_code == 422
    assert "before it starts" in backward.json()["detail"]
    bad_format = await get(f"{aging}/customers/CUST-1/statement", STATEMENT_TENANT,
                           format="docx")
    assert bad_format.status_code == 422


async def test_predictions_and_the_cash_in_forecast_follow_the_customers_habits(
        platform, infrastructure) -> None:
    """CUST-PRED paid its last three invoices 5, 7 and 9 days late. An invoice due in 10
    days is expected 7 days after its due date; one already 15 days overdue is later
    than it ever paid, so it is expected tomorrow."""
    aging, today = platform["aging"].url, date.today()

    def day(offset: int) -> date:
        return today + timedelta(days=offset)

    events = []
    for number, due_offset, days_late in (("P-1", -70, 5), ("P-2", -60, 7), ("P-3", -50, 9)):
        events.append(issued(number, "CUST-PRED", day(due_offset - 30), day(due_offset), "100.00"))
        events.append(applied(f"PAY-{number}", number, "CUST-PRED", "100.00",
                              day(due_offset + days_late)))
    events.append(issued("O-1", "CUST-PRED", day(-20), day(10), "1200.00"))
    events.append(issued("O-2", "CUST-PRED", day(-45), day(-15), "800.00"))
    await publish(infrastructure, events, FORECAST_TENANT["X-Tenant"])

    async def predictions() -> dict:
        return (await get(f"{aging}/customers/CUST-PRED/predictions", FORECAST_TENANT)).json()

    body = await eventually(predictions, lambda body: len(body.get("invoices", [])) == 2
                            and body["invoices"][-1]["basis"] == "customer", timeout=60)
    expected = {item["invoice_number"]: item for item in body["invoices"]}
    assert expected["O-1"]["expected_payment_date"] == day(17).isoformat()
    assert (expected["O-1"]["expected_days_late"], expected["O-1"]["basis"],
            expected["O-1"]["history"]) == (7, "customer", 3)
    assert expected["O-2"]["expected_payment_date"] == day(1).isoformat()
    assert (expected["O-2"]["days_past_due"], expected["O-2"]["basis"]) == (15, "beyond history")

    forecast = (await get(f"{aging}/forecast/cash-in", FORECAST_TENANT, weeks="4")).json()
    weeks = {week["week_start"]: week["amount"] for week in forecast["weeks"]}
    assert len(weeks) == 4 and sum(float(a) for a in weeks.values()) == 2000.0
    monday = lambda d: (d - timedelta(days=d.weekday())).isoformat()  # noqa: E731
    assert weeks[monday(day(1))] == "800.00"
    assert weeks[monday(day(17))] == "1200.00"

    accuracy = (await get(f"{aging}/forecast/accuracy", FORECAST_TENANT)).json()
    assert (accuracy["settled_invoices"], accuracy["measured"]) == (3, False)

    unknown = await get(f"{aging}/customers/NOBODY/predictions", FORECAST_TENANT)
    assert unknown.status_code == 404
