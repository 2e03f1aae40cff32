"""Bank statements in, through every door (HTTP upload, command line, watched inbox) and a
provider's signed webhook, on the real broker and database: each payment reaches
ar.payments once, and a file that cannot be trusted publishes nothing."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from libs.events import IntegrationEvent, Money, PaymentReceived
from libs.events.topics import AR_PAYMENTS
from services.payments.tests.statement_samples import SAMPLES, sample
from services.payments.webhook import sign
from tests.support.infrastructure import ROOT
from tests.support.kafka_reader import events_on, wait_for_events
from tests.support.processes import ServiceProcess, free_port

TENANT = "e2e-statements"
TXDTLS = "camt053/oca_test-camt053-txdtls.xml"
BATCH_REFERENCES = {"302388292000011111111111111", "302388292000022222222222222"}
WEBHOOK_SECRET = "whsec_e2e_" + uuid.uuid4().hex


def payments_where(condition: Callable[[PaymentReceived], bool]) -> Callable[[IntegrationEvent], bool]:
    return lambda event: isinstance(event, PaymentReceived) and condition(event)


async def upload(payments_url: str, data: bytes, name: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(f"{payments_url}/statements", headers={"X-Tenant": TENANT},
                                 files={"file": (name, data)})


async def everything_before_is_published(payments_url: str, kafka: str) -> None:
    """The relay publishes in the order events were stored: once a payment recorded now is
    on the topic, whatever was stored before it is there too."""
    reference = f"MARKER-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{payments_url}/payments", headers={"X-Tenant": TENANT}, json={
            "reference": reference, "amount": "0.01", "currency": "EUR",
            "value_date": date.today().isoformat()})
        assert response.status_code == 201, response.text
    marker = await wait_for_events(kafka, AR_PAYMENTS, PaymentReceived,
                                   payments_where(lambda event: event.bank_reference == reference))
    assert marker, "the marker payment never reached ar.payments"
    await asyncio.sleep(0.5)  # records of the same relay batch on other partitions


async def test_the_same_camt053_uploaded_twice_publishes_one_set_of_payments(
        platform, infrastructure) -> None:
    kafka, payments = infrastructure.kafka_bootstrap_servers, platform["payments"].url
    from_the_batch = payments_where(lambda event: set(event.creditor_references) <= BATCH_REFERENCES
                                    and bool(event.creditor_references))

    first = await upload(payments, sample(TXDTLS), "camt053-20170323.xml")

    assert first.status_code == 201, first.text
    assert (first.json()["new"], first.json()["duplicates"]) == (2, 0)
    published = await wait_for_events(kafka, AR_PAYMENTS, PaymentReceived, from_the_batch, count=2)
    assert sorted(event.amount for _, event in published) == [
        Money.of("1296.00", "CHF"), Money.of("2187.00", "CHF")]

    again = await upload(payments, sample(TXDTLS), "camt053-20170323-resent.xml")

    assert again.status_code == 201, again.text
    assert (again.json()["new"], again.json()["duplicates"]) == (0, 2)
    assert again.json()["statements"][0]["lines"] == 2
    await everything_before_is_published(payments, kafka)
    assert len(await events_on(kafka, AR_PAYMENTS, PaymentReceived, from_the_batch)) == 2
    headers = dict(published[0][0].headers)
    assert headers["tenant"] == TENANT.encode()
    assert headers["ce_source"] == b"receivables/payments"


async def test_a_truncated_or_unreconciled_statement_is_refused_and_publishes_nothing(
        platform, infrastructure) -> None:
    kafka, payments = infrastructure.kafka_bootstrap_servers, platform["payments"].url
    multi = sample("camt053/genkgo_camt053.v2.multi.statement.xml")
    truncated = multi[: multi.index(b"</Stmt>") + 20]

    cut = await upload(payments, truncated, "truncated.xml")

    assert cut.status_code == 422, cut.text
    assert cut.json()["detail"]["location"] == f"line {len(truncated.splitlines())}"
    assert "not well-formed XML" in cut.json()["detail"]["message"]

    # Its entries net to -12.99 while its balances move by -447.15: something is missing.
    unreconciled = await upload(payments, sample("camt053/oca_test-camt053.xml"), "short.xml")

    assert unreconciled.status_code == 422, unreconciled.text
    assert unreconciled.json()["detail"]["location"] == "Stmt[1] (line 7)"
    assert "balances do not reconcile" in unreconciled.json()["detail"]["message"]

    await everything_before_is_published(payments, kafka)
    from_either_file = payments_where(lambda event: event.end_to_end_id in ("000000001", "115"))
    assert await events_on(kafka, AR_PAYMENTS, PaymentReceived, from_either_file) == []


def run_cli(infrastructure, *arguments: str) -> subprocess.CompletedProcess[str]:  # noqa: ANN001
    return subprocess.run(
        [sys.executable, "-m", "services.payments.cli", "import-statement", *arguments,
         "--tenant", TENANT],
        cwd=ROOT, env={**os.environ, **infrastructure.service_environment()},
        capture_output=True, text=True, timeout=60)


async def test_the_command_line_imports_an_mt940_statement_and_prints_the_summary(
        platform, infrastructure, tmp_path: Path) -> None:
    kafka = infrastructure.kafka_bootstrap_servers
    statement = SAMPLES / "mt940" / "mBank_mt940.sta"

    done = await asyncio.to_thread(run_cli, infrastructure, str(statement), "--format", "mt940")

    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["new"], summary["duplicates"], summary["returns"], summary["ignored"]) == (3, 0, 0, 0)
    assert summary["statements"] == [{
        "statement_id": "ST170119CYC/1/1/1", "account": "PL29114010810000267002001002",
        "currency": "PLN", "format": "mt940", "lines": 3, "new": 3, "duplicates": 0,
        "returns": 0, "ignored": 0}]
    references = {"MB170119012058", "MB170119012085", "MB170119012121"}
    published = await wait_for_events(kafka, AR_PAYMENTS, PaymentReceived, payments_where(
        lambda event: event.bank_reference in references), count=3)
    assert {event.amount for _, event in published} == {Money.of("0.01", "PLN")}

    cut = tmp_path / "cut.sta"
    cut.write_bytes(statement.read_bytes()[: statement.read_bytes().index(b":62F:")])
    refused = await asyncio.to_thread(run_cli, infrastructure, str(cut))

    assert refused.returncode == 2
    assert refused.stdout == ""
    assert refused.stderr.strip() == (
        f"{cut}:line 2 (:20:): statement 'ST170119CYC/1' has no closing balance :62F: or :62M: "
        "(is the file truncated?)")


# --- a payments process with a watched inbox and the provider webhook switched on ----------


@pytest.fixture(scope="module")
def inbox_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("payments-inbox")


@pytest.fixture(scope="module")
def payments_with_inbox(platform, infrastructure, inbox_folder: Path) -> Iterator[ServiceProcess]:  # noqa: ANN001
    # A second replica on the same schema: its relay waits for the lock the first one holds.
    service = ServiceProcess("payments", free_port(), infrastructure,
                             PAYMENTS_INBOX_DIR=str(inbox_folder), PAYMENTS_INBOX_POLL_SECONDS="0.2",
                             PAYMENTS_WEBHOOK_SECRET=WEBHOOK_SECRET, DEFAULT_TENANT=TENANT)
    service.start()
    try:
        yield service
    finally:
        service.stop()


def wait_for_file(path: Path, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return path.exists()


async def test_a_statement_dropped_into_the_inbox_is_imported_and_moved(
        payments_with_inbox, infrastructure, inbox_folder: Path) -> None:  # noqa: ANN001
    kafka = infrastructure.kafka_bootstrap_servers
    arriving = inbox_folder / "camt053-20141231.xml.part"
    arriving.write_bytes(sample("camt053/genkgo_camt053.v2.multi.statement.xml"))
    arriving.rename(inbox_folder / "camt053-20141231.xml")  # as file transfers finish a file
    statement = sample("mt940/jejik_triodos.sta")
    (inbox_folder / "cut.sta").write_bytes(statement[: statement.index(b":62F:")])

    assert await asyncio.to_thread(wait_for_file, inbox_folder / "processed" / "camt053-20141231.xml")
    assert await asyncio.to_thread(wait_for_file, inbox_folder / "rejected" / "cut.sta.error.txt")

    assert (inbox_folder / "rejected" / "cut.sta.error.txt").read_text().startswith(
        "cut.sta:line 1 (:20:): statement '1308728725026/1' has no closing balance")
    published = await wait_for_events(kafka, AR_PAYMENTS, PaymentReceived, payments_where(
        lambda event: event.end_to_end_id == "000000001"))
    assert [(event.amount, event.remittance_text) for _, event in published] == [
        (Money.of("8.85", "EUR"), "Transaction Description 1")]
    assert list(inbox_folder.glob("*.*")) == []


async def test_a_provider_payment_is_recorded_only_when_signed(
        payments_with_inbox, infrastructure) -> None:  # noqa: ANN001
    kafka = infrastructure.kafka_bootstrap_servers
    provider_id = f"py_{uuid.uuid4().hex[:12]}"
    body = json.dumps({"provider": "stripe", "payment_id": provider_id, "amount": "49.90",
                       "currency": "EUR", "paid_on": date.today().isoformat(),
                       "customer_id": "CUST-WEB-1", "description": "Order SO-1001"}).encode()
    url = f"{payments_with_inbox.url}/webhooks/payments"

    async with httpx.AsyncClient() as client:
        forged = await client.post(url, content=body, headers={
            "X-Signature": sign("whsec_guess", body), "content-type": "application/json"})
        signed = await client.post(url, content=body, headers={
            "X-Signature": sign(WEBHOOK_SECRET, body), "content-type": "application/json"})

    assert forged.status_code == 401
    assert signed.status_code == 201, signed.text
    published = await wait_for_events(kafka, AR_PAYMENTS, PaymentReceived, payments_where(
        lambda event: event.bank_reference == f"stripe:{provider_id}"))
    assert [(event.amount, event.customer_id) for _, event in published] == [
        (Money.of("49.90", "EUR"), "CUST-WEB-1")]
