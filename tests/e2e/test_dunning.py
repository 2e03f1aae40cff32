"""Dunning on the real servers: shipments invoiced by invoicing, payments matched by matching,
the dunning service as its own process with its clock moved by the run's date, letters
emailed to a real SMTP server (aiosmtpd, its own process) and events on ar.dunning.

Each test is its own tenant (a legal entity), so its runs touch only its own cases.
"""

from __future__ import annotations

import email
import email.policy
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from libs.events import (
    CaseEscalated,
    CustomerUpserted,
    DisputeOpened,
    DisputeResolved,
    LateFeeAssessed,
    Money,
    OrderLine,
    OrderShipped,
    PromiseToPayBroken,
    ReminderSent,
)
from libs.events.topics import AR_DUNNING
from libs.runtime.publisher import EventPublisher
from tests.conftest import eventually
from tests.support.infrastructure import ROOT
from tests.support.kafka_reader import events_on, wait_for_events
from tests.support.processes import ServiceProcess, free_port

SHIPPED = date(2026, 1, 2)
DUE = SHIPPED + timedelta(days=30)  # net 30: 2026-02-01


def day(offset: int) -> date:
    return DUE + timedelta(days=offset)


# --- the mail server and the dunning process ----------------------------------------------


class MailServer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.smtp_sink", "--port", str(self.port),
             "--folder", str(folder)], cwd=ROOT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError("the SMTP server did not start")

    def emails_to(self, recipient: str) -> list[EmailMessage]:
        messages = [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                    for path in sorted(self.folder.glob("*.eml"), key=lambda path: int(path.stem))]
        return [message for message in messages if message["To"] == recipient]  # type: ignore[misc]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def mail_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServer]:
    server = MailServer(tmp_path_factory.mktemp("mail"))
    yield server
    server.stop()


def dunning_process(infrastructure, mail_port: int, **environment: str) -> ServiceProcess:  # noqa: ANN001
    return ServiceProcess("dunning", free_port(), infrastructure, DUNNING_SMTP_HOST="127.0.0.1",
                          DUNNING_SMTP_PORT=str(mail_port), DUNNING_SCHEDULE_ENABLED="false",
                          **environment)


@pytest.fixture(scope="module")
def dunning(platform, infrastructure, mail_server: MailServer) -> Iterator[ServiceProcess]:  # noqa: ANN001
    service = dunning_process(infrastructure, mail_server.port).start()
    yield service
    service.stop()


# --- what the ERP, the bank and the collector do --------------------------------------------


async def customer_ships(kafka: str, tenant: str, customer_id: str, email_address: str,
                         amounts: list[str], language: str = "fr",
                         shipped_on: list[date] | None = None) -> None:
    async with EventPublisher(kafka) as erp:
        await erp.publish(CustomerUpserted(customer_id=customer_id, name="Brasserie du Port",
                                           currency="EUR", payment_terms_days=30,
                                           language=language, email=email_address), tenant)
        for index, amount in enumerate(amounts):
            await erp.publish(OrderShipped(
                order_id=f"SO-{customer_id}-{index + 1}", shipment_id="SH-1",
                customer_id=customer_id, shipped_on=(shipped_on or [SHIPPED] * len(amounts))[index],
                currency="EUR",
                lines=(OrderLine(line_no=1, sku="KEG-50L", quantity="1", unit_price=amount,
                                 tax_rate="0.21"),)), tenant)


async def case_of(service: ServiceProcess, tenant: str, customer_id: str) -> dict:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{service.url}/customers/{customer_id}/case",
                                    headers={"X-Tenant": tenant})
        return response.json() if response.status_code == 200 else {"invoices": []}


async def invoices_known(service: ServiceProcess, tenant: str, customer_id: str, count: int) -> dict:
    case = await eventually(lambda: case_of(service, tenant, customer_id),
                            until=lambda found: len(found["invoices"]) >= count)
    assert len(case["invoices"]) == count, case
    return case


async def run(service: ServiceProcess, tenant: str, on: date) -> dict:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(f"{service.url}/runs", json={"date": on.isoformat()},
                                     headers={"X-Tenant": tenant, "X-Actor": "e2e"})
        assert response.status_code == 200, response.text
        return response.json()


async def api(service: ServiceProcess, tenant: str, method: str, path: str, **options) -> httpx.Response:  # noqa: ANN003
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.request(method, f"{service.url}{path}",
                                    headers={"X-Tenant": tenant, "X-Actor": "collector:anna"},
                                    **options)


async def letters_of(service: ServiceProcess, tenant: str, customer_id: str) -> list[tuple[str, str, list[str]]]:
    response = await api(service, tenant, "GET", "/letters", params={"customer_id": customer_id})
    return [(letter["issued_on"], letter["level_name"],
             [listed["invoice_number"] for listed in letter["invoices"]])
            for letter in response.json()]


def of(customer_id: str):  # noqa: ANN201
    return lambda event: event.customer_id == customer_id


# --- the whole default process ----------------------------------------------------------------


async def test_an_unpaid_invoice_is_reminded_dunned_in_french_and_handed_over(
        dunning: ServiceProcess, infrastructure, mail_server: MailServer) -> None:  # noqa: ANN001
    tenant, customer, address = "dunning-e2e-1", "CUST-DUN-1", "compta@brasserie.example"
    kafka = infrastructure.kafka_bootstrap_servers
    await customer_ships(kafka, tenant, customer, address, ["1000.00"])  # 1,210.00 with 21% VAT
    [invoice] = (await invoices_known(dunning, tenant, customer, 1))["invoices"]
    assert (invoice["due_date"], invoice["open_amount"]) == (DUE.isoformat(), "1210.00")

    for on in (day(-1), day(0), day(6), day(7), day(21), day(35), day(49), day(49)):
        await run(dunning, tenant, on)

    assert await letters_of(dunning, tenant, customer) == [
        ("2026-02-01", "reminder", ["INV-000001"]),
        ("2026-02-08", "first_letter", ["INV-000001"]),
        ("2026-02-22", "second_letter", ["INV-000001"]),
        ("2026-03-08", "final_notice", ["INV-000001"]),
    ]
    emails = await eventually(lambda: _async(mail_server.emails_to, address),
                              until=lambda found: len(found) >= 4)
    assert [message["Subject"] for message in emails] == [
        "Rappel de paiement : INV-000001", "Première relance : INV-000001",
        "Deuxième relance : INV-000001", "Mise en demeure avant recouvrement : INV-000001"]
    first_letter = emails[1].get_content().replace("\r\n", "\n")  # CRLF on the wire
    assert "Intérêts de retard : 2,36 EUR (7 jours au taux annuel de 10,15 %" in first_letter
    assert "Indemnité forfaitaire pour frais de recouvrement : 40,00 EUR" in first_letter
    assert "total à payer : 1\u202f252,36 EUR" in first_letter
    archived = (await api(dunning, tenant, "GET", "/letters",
                          params={"customer_id": customer})).json()
    assert [letter["status"] for letter in archived] == ["delivered"] * 4
    assert archived[1]["body"] == first_letter  # the archive holds exactly what was sent
    assert emails[1]["Message-ID"] == f"<{archived[1]['letter_id']}@dunning.receivables>"
    assert archived[1]["server_reply"].startswith("250 OK queued as")

    reminders = await wait_for_events(kafka, AR_DUNNING, ReminderSent, of(customer), count=4)
    assert [event.level_name for _, event in reminders] == [
        "reminder", "first_letter", "second_letter", "final_notice"]
    assert {dict(record.headers)["tenant"] for record, _ in reminders} == {tenant.encode()}
    [(_, escalated)] = await wait_for_events(kafka, AR_DUNNING, CaseEscalated, of(customer))
    assert (escalated.escalated_on, escalated.partner_kind) == (day(49), "collection_agency")
    assert escalated.total_open == (Money.of("1210.00", "EUR"),)
    fees = await events_on(kafka, AR_DUNNING, LateFeeAssessed, of(customer))
    assert [(event.kind, event.amount.amount) for _, event in fees][:2] == [
        ("statutory_interest", Money.of("2.36", "EUR").amount),
        ("recovery_indemnity", Money.of("40.00", "EUR").amount)]


async def test_a_payment_between_two_levels_stops_every_letter_after_it(
        dunning: ServiceProcess, platform, infrastructure, mail_server: MailServer) -> None:  # noqa: ANN001
    tenant, customer, address = "dunning-e2e-2", "CUST-DUN-2", "ap@paying.example"
    kafka = infrastructure.kafka_bootstrap_servers
    await customer_ships(kafka, tenant, customer, address, ["1000.00"], language="en")
    await invoices_known(dunning, tenant, customer, 1)
    await run(dunning, tenant, day(0))
    await run(dunning, tenant, day(7))

    async with httpx.AsyncClient() as client:
        paid = await client.post(f"{platform['payments'].url}/payments", headers={"X-Tenant": tenant},
                                 json={"reference": "BANK-DUN-2", "amount": "1210.00",
                                       "currency": "EUR", "value_date": day(10).isoformat(),
                                       "remittance_text": "INV-000001 thanks"})
        assert paid.status_code == 201, paid.text
    case = await eventually(lambda: case_of(dunning, tenant, customer),
                            until=lambda found: found["invoices"][0]["status"] == "settled")
    assert case["invoices"][0]["settled_on"] == day(10).isoformat()
    for on in (day(21), day(35), day(49), day(90)):
        assert (await run(dunning, tenant, on))["letters"] == []

    assert [name for _, name, _ in await letters_of(dunning, tenant, customer)] == [
        "reminder", "first_letter"]
    assert [message["Subject"] for message in mail_server.emails_to(address)] == [
        "Payment reminder: INV-000001", "Overdue invoices: first notice: INV-000001"]
    assert await events_on(kafka, AR_DUNNING, CaseEscalated, of(customer)) == []


# --- disputes and promises pause exactly the right invoices -------------------------------------


async def test_a_dispute_and_a_promise_pause_their_invoices_and_resolution_resumes_them(
        dunning: ServiceProcess, infrastructure) -> None:  # noqa: ANN001
    tenant, customer = "dunning-e2e-3", "CUST-DUN-3"
    kafka = infrastructure.kafka_bootstrap_servers
    await customer_ships(kafka, tenant, customer, "ap@disputing.example",
                         ["100.00", "200.00", "300.00"], language="nl")
    await invoices_known(dunning, tenant, customer, 3)
    disputed = await api(dunning, tenant, "POST", f"/customers/{customer}/disputes", json={
        "invoice_numbers": ["INV-000001"], "reason": "damaged", "owner": "anna",
        "notes": "two kegs dented", "opened_on": day(-12).isoformat()})
    promised = await api(dunning, tenant, "POST", f"/customers/{customer}/promises", json={
        "invoice_numbers": ["INV-000002"], "currency": "EUR", "recorded_on": day(-7).isoformat(),
        "instalments": [{"due_on": day(14).isoformat(), "amount": "242.00"}]})
    assert (disputed.status_code, promised.status_code) == (201, 201), (disputed.text, promised.text)

    await run(dunning, tenant, day(0))     # only the undisputed, unpromised invoice
    resolved = await api(dunning, tenant, "POST",
                         f"/customers/{customer}/disputes/DSP-0001/resolution",
                         json={"resolution": "rejected", "resolved_on": day(2).isoformat(),
                               "notes": "photos show no damage"})
    assert resolved.status_code == 200, resolved.text
    for offset in (2, 7, 9, 15, 16):
        await run(dunning, tenant, day(offset))

    assert await letters_of(dunning, tenant, customer) == [
        ("2026-02-01", "reminder", ["INV-000003"]),
        ("2026-02-03", "reminder", ["INV-000001"]),      # resumed with the 2 paused days
        ("2026-02-08", "first_letter", ["INV-000003"]),
        ("2026-02-10", "first_letter", ["INV-000001"]),
        ("2026-02-17", "reminder", ["INV-000002"]),      # the promise of the 15th was broken
    ]
    [(_, broken)] = await wait_for_events(kafka, AR_DUNNING, PromiseToPayBroken, of(customer))
    assert (broken.instalment_due_on, broken.broken_on) == (day(14), day(16))
    [(_, opened)] = await wait_for_events(kafka, AR_DUNNING, DisputeOpened, of(customer))
    [(_, closed)] = await wait_for_events(kafka, AR_DUNNING, DisputeResolved, of(customer))
    assert (opened.reason, closed.resolution) == ("damaged", "rejected")
    worklist = (await api(dunning, tenant, "GET", "/worklist",
                          params={"as_of": day(16).isoformat()})).json()
    assert worklist[0]["customer_id"] == customer
    assert worklist[0]["broken_promises"] == 1


# --- a restart in the middle ---------------------------------------------------------------------


async def test_a_restart_loses_no_timer_and_sends_no_letter_twice(
        platform, infrastructure, mail_server: MailServer) -> None:  # noqa: ANN001
    """The letter is stored while the mail server is unreachable, the process is killed,
    and after the restart the stored letter goes out once and the timers carry on."""
    tenant, customer, address = "dunning-e2e-4", "CUST-DUN-4", "ap@restart.example"
    kafka = infrastructure.kafka_bootstrap_servers
    unreachable = free_port()
    service = dunning_process(infrastructure, unreachable, SERVICE_NAME="dunning_restart").start()
    try:
        await customer_ships(kafka, tenant, customer, address, ["100.00", "200.00"], language="de",
                             shipped_on=[SHIPPED, SHIPPED + timedelta(days=3)])
        await invoices_known(service, tenant, customer, 2)
        report = await run(service, tenant, day(0))
        assert [delivery["delivered"] for delivery in report["deliveries"]] == [False]
        service.kill()
        assert mail_server.emails_to(address) == []

        service.start(DUNNING_SMTP_PORT=str(mail_server.port))
        # The letter stored before the crash goes out at start, once.
        await eventually(lambda: _async(mail_server.emails_to, address),
                         until=lambda found: len(found) >= 1)
        # The timers stored before the crash carry on; the day already run sends nothing.
        for on in (day(0), day(3), day(3), day(7), day(7)):
            await run(service, tenant, on)

        assert await letters_of(service, tenant, customer) == [
            ("2026-02-01", "reminder", ["INV-000001"]),
            ("2026-02-04", "reminder", ["INV-000002"]),
            ("2026-02-08", "first_letter", ["INV-000001"]),
        ]
        emails = mail_server.emails_to(address)
        assert [message["Subject"] for message in emails] == [
            "Zahlungserinnerung: INV-000001", "Zahlungserinnerung: INV-000002",
            "1. Mahnung: INV-000001"]
        published = await wait_for_events(kafka, AR_DUNNING, ReminderSent, of(customer), count=3)
        assert len({event.letter_id for _, event in published}) == 3
    finally:
        service.stop()


async def test_a_refused_recipient_is_recorded_and_shown_to_the_collector(
        dunning: ServiceProcess, infrastructure) -> None:  # noqa: ANN001
    tenant, customer = "dunning-e2e-5", "CUST-DUN-5"
    await customer_ships(infrastructure.kafka_bootstrap_servers, tenant, customer,
                         "nobody@refused.example", ["50.00"], language="en")
    await invoices_known(dunning, tenant, customer, 1)

    report = await run(dunning, tenant, day(0))

    assert [delivery["delivered"] for delivery in report["deliveries"]] == [False]
    [failure] = (await api(dunning, tenant, "GET", "/delivery-failures")).json()
    assert (failure["kind"], failure["recipients"], failure["permanent"]) == (
        "refused", ["nobody@refused.example"], True)
    assert failure["reason"].startswith("550 5.1.1")
    [entry] = (await api(dunning, tenant, "GET", "/worklist",
                         params={"as_of": day(1).isoformat()})).json()
    assert entry["next_action"]["code"] == "fix_contact"


async def _async(function, *args):  # noqa: ANN001, ANN202
    return function(*args)
