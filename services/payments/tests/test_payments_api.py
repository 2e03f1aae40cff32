"""The HTTP entry points: a statement upload, a refund, and a provider's webhook whose
signature must match before anything is read, let alone recorded."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from libs.events import Money, PaymentReceived
from libs.runtime.eventstore import open_in_memory
from services.payments.api import payments_router
from services.payments.application import PaymentsApplication
from services.payments.webhook import sign, signature_is_valid

from .published import published
from .statement_samples import sample

SECRET = "whsec_test_5f2b"
TXDTLS = "camt053/oca_test-camt053-txdtls.xml"


@pytest.fixture
def payments() -> PaymentsApplication:
    return open_in_memory(PaymentsApplication)


def serve(payments: PaymentsApplication, webhook_secret: str | None) -> httpx.AsyncClient:
    app = FastAPI()
    app.include_router(payments_router(payments, "acme", webhook_secret=webhook_secret))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://payments")


@pytest.fixture
async def client(payments: PaymentsApplication) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(payments, SECRET) as client:
        yield client


def received(app: PaymentsApplication) -> list[PaymentReceived]:
    return published(app, PaymentReceived)


async def upload(client: httpx.AsyncClient, data: bytes, name: str = "statement.xml",
                 **form: str) -> httpx.Response:
    return await client.post("/statements", files={"file": (name, data)}, data=form)


# --- statements ---------------------------------------------------------------------------


async def test_an_uploaded_statement_is_imported_and_summarised(client: httpx.AsyncClient) -> None:
    response = await upload(client, sample(TXDTLS))

    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["new"], body["duplicates"], body["returns"], body["ignored"]) == (2, 0, 0, 0)
    assert body["statements"] == [{
        "statement_id": "20170323123456789012345", "account": "CH1111000000123456789",
        "currency": "CHF", "format": "camt.053", "lines": 2, "new": 2, "duplicates": 0,
        "returns": 0, "ignored": 0}]


async def test_the_same_statement_uploaded_again_reports_every_line_as_a_duplicate(
    client: httpx.AsyncClient, payments: PaymentsApplication,
) -> None:
    await upload(client, sample(TXDTLS))

    body = (await upload(client, sample(TXDTLS))).json()

    assert (body["new"], body["duplicates"]) == (0, 2)
    assert len(received(payments)) == 2


async def test_a_truncated_upload_is_refused_naming_the_place_and_records_nothing(
    client: httpx.AsyncClient, payments: PaymentsApplication,
) -> None:
    truncated = sample(TXDTLS)[:1500]

    response = await upload(client, truncated)

    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail["location"] == f"line {len(truncated.splitlines())}"
    assert "not well-formed XML" in detail["message"]
    assert received(payments) == []


async def test_a_csv_upload_names_its_mapping(client: httpx.AsyncClient) -> None:
    response = await upload(client, sample("csv/oca_balance.csv"), "balance.csv",
                            format="csv", csv_mapping="oca_balance")

    assert response.status_code == 201, response.text
    assert response.json()["new"] == 1


@pytest.mark.parametrize(("form", "location"), [
    ({"format": "csv"}, "csv_mapping"),
    ({"format": "csv", "csv_mapping": "my_bank"}, "csv_mapping"),
])
async def test_a_csv_upload_without_a_known_mapping_is_refused(
    client: httpx.AsyncClient, form: dict, location: str,
) -> None:
    response = await upload(client, sample("csv/oca_balance.csv"), "balance.csv", **form)

    assert response.status_code == 422
    assert response.json()["detail"]["location"] == location


async def test_an_unknown_format_is_refused(client: httpx.AsyncClient) -> None:
    response = await upload(client, sample(TXDTLS), format="ofx")

    assert response.status_code == 422


# --- refunds ------------------------------------------------------------------------------


async def recorded_payment(client: httpx.AsyncClient) -> str:
    response = await client.post("/payments", json={
        "reference": "BANK-1", "amount": "121.00", "currency": "EUR", "value_date": "2024-03-20"})
    assert response.status_code == 201
    return response.json()["payment_id"]


async def test_a_refund_is_issued_by_a_named_person(client: httpx.AsyncClient) -> None:
    payment_id = await recorded_payment(client)

    response = await client.post(f"/payments/{payment_id}/refunds", headers={"X-Actor": "anna"},
                                 json={"amount": "21.00", "currency": "EUR", "reason": "freight"})

    assert response.status_code == 201, response.text
    assert (response.json()["refunded"], response.json()["refundable"]) == ("21.00", "100.00")


@pytest.mark.parametrize(("story", "path", "headers", "body", "status"), [
    ("more than was received", "{id}", {"X-Actor": "anna"},
     {"amount": "121.01", "currency": "EUR", "reason": "all"}, 409),
    ("nobody asked", "{id}", {}, {"amount": "1.00", "currency": "EUR", "reason": "x"}, 422),
    ("a float amount", "{id}", {"X-Actor": "anna"},
     {"amount": 1.1, "currency": "EUR", "reason": "x"}, 422),
    ("no such payment", "9b2d5c1e-0000-4000-8000-000000000000", {"X-Actor": "anna"},
     {"amount": "1.00", "currency": "EUR", "reason": "x"}, 404),
])
async def test_a_refund_that_cannot_be_issued_is_refused(
    client: httpx.AsyncClient, payments: PaymentsApplication, story: str, path: str,
    headers: dict, body: dict, status: int,
) -> None:
    payment_id = await recorded_payment(client)

    response = await client.post(f"/payments/{path.format(id=payment_id)}/refunds",
                                 headers=headers, json=body)

    assert response.status_code == status, story
    assert payments.payment(payment_id, "acme").refunded == 0


# --- the provider webhook -----------------------------------------------------------------

NOTICE = {"provider": "stripe", "payment_id": "py_3Nf0", "amount": "49.90", "currency": "EUR",
          "paid_on": "2024-03-21", "customer_id": "C-7", "payer_name": "Jane Doe",
          "description": "Order SO-1001", "livemode": False}


async def deliver(client: httpx.AsyncClient, notice: dict, signature: str | None,
                  secret: str = SECRET) -> httpx.Response:
    body = json.dumps(notice).encode()
    headers = {"content-type": "application/json"}
    if signature == "valid":
        headers["X-Signature"] = sign(secret, body)
    elif signature is not None:
        headers["X-Signature"] = signature
    return await client.post("/webhooks/payments", content=body, headers=headers)


async def test_a_signed_provider_payment_is_recorded_like_any_other(
    client: httpx.AsyncClient, payments: PaymentsApplication,
) -> None:
    response = await deliver(client, NOTICE, "valid")

    assert response.status_code == 201, response.text
    [payment] = received(payments)
    assert (payment.amount, payment.customer_id, payment.bank_reference, payment.remittance_text) == (
        Money.of("49.90", "EUR"), "C-7", "stripe:py_3Nf0", "Order SO-1001")


async def test_a_provider_re_sending_its_webhook_records_the_payment_once(
    client: httpx.AsyncClient, payments: PaymentsApplication,
) -> None:
    await deliver(client, NOTICE, "valid")

    response = await deliver(client, NOTICE, "valid")

    assert response.status_code == 200
    assert len(received(payments)) == 1


@pytest.mark.parametrize(("story", "signature", "secret"), [
    ("no signature", None, SECRET),
    ("signed with another secret", "valid", "whsec_guess"),
    ("not a sha256 signature", "md5=0123", SECRET),
    ("garbage", "sha256=zz", SECRET),
])
async def test_an_unsigned_or_forged_webhook_records_nothing(
    client: httpx.AsyncClient, payments: PaymentsApplication, story: str, signature: str | None,
    secret: str,
) -> None:
    response = await deliver(client, NOTICE, signature, secret)

    assert response.status_code == 401, story
    assert received(payments) == []


async def test_a_body_changed_after_signing_is_refused(
    client: httpx.AsyncClient, payments: PaymentsApplication,
) -> None:
    signature = sign(SECRET, json.dumps(NOTICE).encode())

    response = await deliver(client, {**NOTICE, "amount": "4990.00"}, signature)

    assert response.status_code == 401
    assert received(payments) == []


async def test_a_signed_webhook_that_is_not_a_payment_is_refused_with_the_reason(
    client: httpx.AsyncClient, payments: PaymentsApplication,
) -> None:
    response = await deliver(client, {**NOTICE, "amount": 49.9}, "valid")

    assert response.status_code == 422
    assert "amount" in response.json()["detail"]
    assert received(payments) == []


async def test_without_a_configured_secret_the_webhook_takes_nothing(
    payments: PaymentsApplication,
) -> None:
    async with serve(payments, webhook_secret=None) as client:
        response = await deliver(client, NOTICE, "valid")

    assert response.status_code == 503
    assert received(payments) == []


def test_the_signature_is_hmac_sha256_of_the_raw_body() -> None:
    # As `echo -n body | openssl dgst -sha256 -hmac key` computes it.
    expected = "sha256=515aae133b435d4000956731f68ae5cf5eb85d4f0dc6a546d2bfcd3595ec1ae1"

    assert sign("key", b"body") == expected
    assert signature_is_valid("key", b"body", expected)
    assert not signature_is_valid("key", b"body ", expected)
    assert not signature_is_valid("", b"body", sign("", b"body"))  # no secret, no trust
