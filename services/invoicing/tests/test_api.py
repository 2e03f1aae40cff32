"""The invoicing API: a person reads an invoice and credits, adjusts, cancels or writes it
off. Bad input gets a 4xx that says what is wrong, and changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from services.invoicing.api import invoicing_router
from services.invoicing.application import InvoicingApplication

from .builders import ACME, Offsets, customer, invoicing_app, line, shipment, stored

BOB = {"X-Actor": "clerk:bob"}


@pytest.fixture
def invoicing() -> InvoicingApplication:
    app = invoicing_app()
    at = Offsets()
    app.upsert_customer(customer(terms="2/10 net 30", language="nl"), ACME, at("erp.customers"))
    app.invoice_shipment(shipment(lines=(line(1, "2", "50.00"), line(2, "1", "30.00")),
                                  po_number="PO-77"), ACME, at("erp.orders"))
    return app


@pytest.fixture
async def client(invoicing: InvoicingApplication) -> AsyncIterator[httpx.AsyncClient]:
    api = FastAPI()
    api.include_router(invoicing_router(invoicing, default_tenant="acme"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api),
                                 base_url="http://invoicing") as client:
        yield client


async def test_an_invoice_reads_with_its_terms_discount_and_functional_amount(client: httpx.AsyncClient) -> None:
    response = await client.get("/invoices/INV-000001")

    assert response.status_code == 200
    body = response.json()
    assert {name: body[name] for name in ("invoice_number", "customer_id", "po_number",
                                          "customer_language", "issue_date", "due_date",
                                          "payment_terms", "total", "open_amount", "status")} == {
        "invoice_number": "INV-000001", "customer_id": "C-1", "po_number": "PO-77",
        "customer_language": "nl", "issue_date": "2024-03-01", "due_date": "2024-03-31",
        "payment_terms": "2/10 net 30", "total": "157.30", "open_amount": "157.30",
        "status": "open"}
    assert body["discount"] == {"pay_by": "2024-03-11", "amount": "3.15"}
    assert body["functional"] == {"currency": "EUR", "amount": "157.30", "rate_missing": False,
                                  "rate": None}


async def test_an_unknown_invoice_is_404_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.get("/invoices/INV-404404", headers={"X-Tenant": "acme"})

    assert response.status_code == 404
    assert response.json()["detail"] == "no invoice 'INV-404404' in tenant 'acme'"


async def test_a_credit_note_is_created_once_per_reference(client: httpx.AsyncClient) -> None:
    request = {"reason": "one widget broken", "lines": [{"line_no": 1, "quantity": "1"}],
               "reference": "RMA-1"}

    first = await client.post("/invoices/INV-000001/credit-notes", json=request, headers=BOB)
    again = await client.post("/invoices/INV-000001/credit-notes", json=request, headers=BOB)

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert {name: first.json()[name] for name in ("credit_note_number", "scope", "total",
                                                  "actor")} == {
        "credit_note_number": "CN-000001", "scope": "partial", "total": "60.50",
        "actor": "clerk:bob"}
    assert (await client.get("/invoices/INV-000001")).json()["open_amount"] == "96.80"


async def test_a_credit_on_account(client: httpx.AsyncClient) -> None:
    response = await client.post("/customers/C-1/credit-notes", headers=BOB, json={
        "currency": "EUR", "net_amount": "20.00", "tax_rate": "0.21", "reason": "goodwill"})

    assert response.status_code == 201
    assert (response.json()["scope"], response.json()["total"]) == ("on_account", "24.20")


async def test_adjust_then_write_off_the_rest(client: httpx.AsyncClient) -> None:
    adjusted = await client.post("/invoices/INV-000001/adjustments", headers=BOB, json={
        "net_amount": "-10.00", "tax_amount": "-2.10", "reason": "agreed price"})
    written_off = await client.post("/invoices/INV-000001/write-off", headers=BOB, json={
        "reason": "customer insolvent", "amount": "145.20"})

    assert adjusted.status_code == 201
    assert adjusted.json()["current_total"] == "145.20"
    assert written_off.status_code == 200
    assert (written_off.json()["status"], written_off.json()["open_amount"]) == (
        "written_off", "0.00")


async def test_cancelling_an_unpaid_invoice(client: httpx.AsyncClient) -> None:
    response = await client.post("/invoices/INV-000001/cancellation", headers=BOB,
                           json={"reason": "wrong customer"})

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["cancelled_on"]) == ("cancelled",
                                                                          "2024-04-02")


@pytest.mark.parametrize(("path", "body", "headers", "status", "message"), [
    ("/invoices/INV-000001/cancellation", {"reason": "x"}, {}, 400,
     "say who asks: set the X-Actor header"),
    ("/invoices/INV-000009/cancellation", {"reason": "x"}, BOB, 404,
     "no invoice 'INV-000009'"),
    ("/invoices/INV-000001/credit-notes", {"reason": "x", "net_amount": "999.00",
                                           "tax_rate": "0"}, BOB, 409,
     "exceeds what invoice INV-000001 has left to credit"),
    ("/invoices/INV-000001/credit-notes", {"reason": "x", "net_amount": "10.00"}, BOB, 422,
     "an amount credited needs its tax_rate"),
    ("/invoices/INV-000001/credit-notes", {"reason": "x", "net_amount": 10.5,
                                           "tax_rate": "0"}, BOB, 422,
     "amounts must be given as strings or Decimals, not floats"),
    ("/invoices/INV-000001/adjustments", {"net_amount": "-500.00", "reason": "x"}, BOB, 409,
     "issue a credit note"),
    ("/invoices/INV-000001/write-off", {"reason": "x", "amount": "1.00"}, BOB, 409,
     "has 157.30 EUR open, not 1.00"),
    ("/invoices/INV-000001/write-off", {"reason": ""}, BOB, 422, "at least 1 character"),
    ("/customers/C-1/credit-notes", {"currency": "XXY", "net_amount": "1.00", "reason": "x"},
     BOB, 422, "'XXY' is not an active ISO 4217 currency code"),
])
async def test_bad_requests_get_a_4xx_that_says_why_and_change_nothing(
        client: httpx.AsyncClient, invoicing: InvoicingApplication, path: str, body: dict,
        headers: dict, status: int, message: str) -> None:
    before = len(stored(invoicing))

    response = await client.post(path, json=body, headers=headers)

    assert response.status_code == status
    assert message in str(response.json()["detail"])
    assert len(stored(invoicing)) == before
