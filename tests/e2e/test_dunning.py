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
    ApplicationReversed,
    CaseEscalated,
    CustomerUpserted,
    DebitNoteIssued,
    DisputeOpened,
    DisputeResolved,
    LateFeeAssessed,
    Money,
    OrderLine,
    OrderShipped,
    PromiseToPayBroken,
    ReminderSent,
    RiskScoreChanged,
)
from libs.events.credit import RiskReason
from libs.events.topics import AR_DUNNING, AR_INVOICING, AR_MATCHING
from libs.runtime.publisher import EventPublisher
from tests.conftest import eventually
from tests.support.infrastructure import ROOT
from tests.support.kafka_reader import events_on, wait_for_events
from tests.support.processes import ServiceProcess, free_port

SHIPPED = date(2026, 1, 2)
DUE = SHIPPED + timedelta(days=30)  # net 30: 2026-02-01


def day(offset: int) -> date:
    return DUE + timedelta(days=offset)


# The fees a letter charges come back from invoicing as debit notes (DN-...), which are
# dunned in their turn, on a timing that depends on when invoicing's events arrive: a
# test about an invoice's letters looks at the letters about invoices (INV-...).
INVOICES, DEBIT_NOTES = "INV-", "DN-"


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

    def emails_to(self, recipient: str, about: str = INVOICES) -> list[EmailMessage]:
        """The emails about documents numbered `about`... (see `letters_of`)."""
        messages = [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                    for path in sorted(self.folder.glob("*.eml"), key=lambda path: int(path.stem))]
        return [message for message in messages  # type: ignore[misc]
                if message["To"] == recipient and about in message["Subject"]]

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
                         shipped_on: list[date] | None = None, **profile: str) -> None:
    """The ERP's customer master (with `segment`, `risk_class`, `collector` if given) and
    one shipment per amount."""
    async with EventPublisher(kafka) as erp:
        await erp.publish(CustomerUpserted(customer_id=customer_id, name="Brasserie du Port",
                                           currency="EUR", payment_terms_days=30,
                                           language=language, email=email_address, **profile),
                          tenant)
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
    """The case once dunning knows `count` invoices and the customer's address: they come
    on two topics (ar.invoicing, erp.customers), in either order."""
    case = await eventually(lambda: case_of(service, tenant, customer_id),
                            until=lambda found: len(found["invoices"]) >= count
                            and found.get("email") is not None)
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


def numbers_in(letter: dict, about: str) -> list[str]:
    return [listed["invoice_number"] for listed in letter["invoices"]
            if listed["invoice_number"].startswith(about)]


async def archived_letters(service: ServiceProcess, tenant: str, customer_id: str,
                           about: str = INVOICES) -> list[dict]:
    """The letters listing documents numbered `about`... (a letter lists every document
    at its level that day, so a reminder may list invoices and debit notes alike)."""
    response = await api(service, tenant, "GET", "/letters", params={"customer_id": customer_id})
    return [letter for letter in response.json() if numbers_in(letter, about)]


async def letters_of(service: ServiceProcess, tenant: str, customer_id: str,
                     about: str = INVOICES) -> list[tuple[str, str, list[str]]]:
    return [(letter["issued_on"], letter["level_name"], numbers_in(letter, about))
            for letter in await archived_letters(service, tenant, customer_id, about)]


def of(customer_id: str):  # noqa: ANN201
    return lambda event: event.customer_id == customer_id


def about_invoices_of(customer_id: str):  # noqa: ANN201
    return lambda event: event.customer_id == customer_id and any(
        listed.invoice_number.startswith(INVOICES) for listed in event.invoices)


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
    archived = await archived_letters(dunning, tenant, customer)
    assert [letter["status"] for letter in archived] == ["delivered"] * 4
    assert archived[1]["body"] == first_letter  # the archive holds exactly what was sent
    assert emails[1]["Message-ID"] == f"<{archived[1]['letter_id']}@dunning.receivables>"
    assert archived[1]["server_reply"].startswith("250 OK queued as")

    reminders = await wait_for_events(kafka, AR_DUNNING, ReminderSent,
                                      about_invoices_of(customer), count=4)
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
        await run(dunning, tenant, on)

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


# --- what changes what is owed, and who decides the policy --------------------------------------


async def test_the_customer_master_and_credits_risk_score_choose_the_policy(
        dunning: ServiceProcess, infrastructure) -> None:  # noqa: ANN001
    tenant, customer = "dunning-e2e-6", "CUST-DUN-6"
    kafka = infrastructure.kafka_bootstrap_servers
    await customer_ships(kafka, tenant, customer, "ap@key.example", ["1000.00"], language="en",
                         segment="key-account", risk_class="B", collector="anna")
    case = await invoices_known(dunning, tenant, customer, 1)
    assert (case["policy"], case["collector"]) == ("key_account", "anna")
    for offset in (0, 2, 3):
        await run(dunning, tenant, day(offset))
    assert await letters_of(dunning, tenant, customer) == [
        ("2026-02-04", "reminder", ["INV-000001"])]          # a key account: 3 days' grace

    async with EventPublisher(kafka, source="receivables/credit") as credit:
        await credit.publish(RiskScoreChanged(
            customer_id=customer, score="74", risk_class="D", previous_score="22",
            previous_class="B", internal_score="74", scored_on=day(4),
            reasons=(RiskReason(factor="days_beyond_terms", points="52",
                                explanation="pays 40 days beyond terms lately"),)), tenant)
    case = await eventually(lambda: case_of(dunning, tenant, customer),
                            until=lambda found: found["policy"] == "high_risk")
    assert case["profile_sources"] == {"segment": "customer_master", "risk_class": "credit"}
    for offset in (5, 6, 13):
        await run(dunning, tenant, day(offset))

    # High risk from the next step on: the first letter 3 days after the reminder (a key
    # account would wait 14), the final notice 7 days later, no second letter.
    assert await letters_of(dunning, tenant, customer) == [
        ("2026-02-04", "reminder", ["INV-000001"]),
        ("2026-02-07", "first_letter", ["INV-000001"]),
        ("2026-02-14", "final_notice", ["INV-000001"])]
    mine = (await api(dunning, tenant, "GET", "/worklist",
                      params={"collector": "anna", "as_of": day(13).isoformat()})).json()
    assert [(entry["customer_id"], entry["risk_class"]) for entry in mine] == [(customer, "D")]


async def test_a_fee_billed_by_invoicing_is_dunned_as_a_debit_note_once_overdue(
        dunning: ServiceProcess, platform, infrastructure) -> None:  # noqa: ANN001
    tenant, customer = "dunning-e2e-7", "CUST-DUN-7"
    kafka = infrastructure.kafka_bootstrap_servers
    await customer_ships(kafka, tenant, customer, "ap@fees.example", ["1000.00"], language="en")
    await invoices_known(dunning, tenant, customer, 1)
    await run(dunning, tenant, day(0))
    await run(dunning, tenant, day(7))  # first letter: interest 2.36 and the EUR 40 indemnity

    notes = await wait_for_events(kafka, AR_INVOICING, DebitNoteIssued, of(customer), count=2)
    assert sorted(note.total for _, note in notes) == [Money.of("2.36", "EUR"),
                                                       Money.of("40.00", "EUR")]
    assert {note.due_date for _, note in notes} == {day(14)}  # the letter's pay-by date
    case = await invoices_known(dunning, tenant, customer, 3)
    assert sorted(item["kind"] for item in case["invoices"]) == ["debit_note", "debit_note",
                                                                 "invoice"]
    numbers = sorted(note.debit_note_number for _, note in notes)
    await run(dunning, tenant, day(13))
    await run(dunning, tenant, day(14))

    assert await letters_of(dunning, tenant, customer, about=DEBIT_NOTES) == [
        (day(14).isoformat(), "reminder", numbers)]
    fees = await events_on(kafka, AR_DUNNING, LateFeeAssessed, of(customer))
    assert {event.invoice_number for _, event in fees} == {"INV-000001"}  # none on the notes


async def test_an_adjusted_invoice_paid_then_unmatched_is_dunned_again_from_the_reversal(
        dunning: ServiceProcess, platform, infrastructure) -> None:  # noqa: ANN001
    tenant, customer = "dunning-e2e-8", "CUST-DUN-8"
    kafka = infrastructure.kafka_bootstrap_servers
    headers = {"X-Tenant": tenant, "X-Actor": "clerk:bob"}
    await customer_ships(kafka, tenant, customer, "ap@adjusted.example", ["1000.00"],
                         language="en")
    await invoices_known(dunning, tenant, customer, 1)
    await run(dunning, tenant, day(0))
    async with httpx.AsyncClient(timeout=30) as client:
        adjusted = await client.post(
            f"{platform['invoicing'].url}/invoices/INV-000001/adjustments", headers=headers,
            json={"net_amount": "-200.00", "tax_amount": "-42.00",
                  "reason": "agreed volume discount"})
        assert adjusted.status_code == 201, adjusted.text
    await eventually(lambda: case_of(dunning, tenant, customer),
                     until=lambda found: found["invoices"][0]["open_amount"] == "968.00")

    await run(dunning, tenant, day(7))
    [_, first_letter] = [event for _, event in await wait_for_events(
        kafka, AR_DUNNING, ReminderSent, about_invoices_of(customer), count=2)]
    assert first_letter.invoices[0].open_amount == Money.of("968.00", "EUR")

    async with httpx.AsyncClient(timeout=30) as client:
        paid = await client.post(f"{platform['payments'].url}/payments", headers=headers,
                                 json={"reference": "BANK-DUN-8", "amount": "968.00",
                                       "currency": "EUR", "value_date": day(10).isoformat(),
                                       "remittance_text": "INV-000001"})
        assert paid.status_code == 201, paid.text
        await eventually(lambda: case_of(dunning, tenant, customer),
                         until=lambda found: found["invoices"][0]["status"] == "settled")
        unmatched = await client.post(
            f"{platform['matching'].url}/payments/{paid.json()['payment_id']}/unmatch",
            headers=headers, json={"actor": "collector:anna",
                                   "reason": "the payer paid for a sister company"})
        assert unmatched.status_code == 200, unmatched.text
    [(_, reversed_)] = await wait_for_events(kafka, AR_MATCHING, ApplicationReversed,
                                             of(customer))
    case = await eventually(lambda: case_of(dunning, tenant, customer),
                            until=lambda found: found["invoices"][0]["status"] != "settled")
    reopened = case["invoices"][0]
    assert (reopened["open_amount"], reopened["level_name"], reopened["next_level"],
            reopened["next_level_due_on"]) == (
        "968.00", "first_letter", "second_letter",
        (reversed_.reversed_on + timedelta(days=14)).isoformat())
    worklist = (await api(dunning, tenant, "GET", "/worklist",
                          params={"as_of": reversed_.reversed_on.isoformat()})).json()
    assert [entry["customer_id"] for entry in worklist] == [customer]

    for offset in (13, 14):
        await run(dunning, tenant, reversed_.reversed_on + timedelta(days=offset))
    assert [(issued_on, name) for issued_on, name, _ in await letters_of(dunning, tenant, customer)] == [
        (day(0).isoformat(), "reminder"), (day(7).isoformat(), "first_letter"),
        ((reversed_.reversed_on + timedelta(days=14)).isoformat(), "second_letter")]


async def _async(function, *args):  # noqa: ANN001, ANN202
    return function(*args)
