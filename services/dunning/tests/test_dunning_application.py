"""Dunning, given what happened, when a run (or a collector) acts, then what it stored and
published: the default process, payments as the boundary event, disputes and promises as
pauses, and runs that never do anything twice. In memory; the same code runs on
PostgreSQL and Kafka in tests/e2e/test_dunning.py."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from eventsourcing.persistence import Tracking

from libs.events import (
    CaseEscalated,
    DifferenceWrittenOff,
    DisputeOpened,
    DisputeResolved,
    DunningLevelRaised,
    InvoiceCancelled,
    LateFeeAssessed,
    Money,
    PromiseToPayBroken,
    PromiseToPayRecorded,
    ReminderSent,
)
from libs.events.invoicing import FeeAssessed
from libs.runtime.eventstore import AlreadyProcessed
from services.dunning.application import (
    ConfigureDunning,
    InvoiceReduction,
    OpenDispute,
    RecordPromise,
    ResolveDispute,
    SetProfile,
    UnknownCase,
)
from services.dunning.domain import DunningError, Refused, UnknownInvoice

from .given import (
    COLLECTOR,
    DUE,
    ERP,
    TENANT,
    Dunning,
    case_invoice,
    day,
    invoice_issued,
    levels,
)

D = Decimal


@pytest.fixture
def dunning() -> Dunning:
    return Dunning()


# --- the default process ---------------------------------------------------------------


def test_an_unpaid_invoice_goes_through_every_level_to_the_collection_agency(dunning: Dunning) -> None:
    dunning.customer()
    dunning.invoice("INV-000001", "1210.00", due=DUE)

    for offset in (-1, 0, 6, 7, 20, 21, 34, 35, 48, 49):
        dunning.run(day(offset))

    assert levels(dunning) == [
        ("2026-02-01", "reminder", ["INV-000001"]),       # the day it falls due unpaid
        ("2026-02-08", "first_letter", ["INV-000001"]),   # after the 7-day grace period
        ("2026-02-22", "second_letter", ["INV-000001"]),
        ("2026-03-08", "final_notice", ["INV-000001"]),
    ]
    [escalated] = dunning.published(CaseEscalated)
    assert (escalated.escalated_on, escalated.partner_kind, escalated.partner_name) == (
        day(49), "collection_agency", "Incasso Partners BV")
    assert [invoice.invoice_number for invoice in escalated.invoices] == ["INV-000001"]
    assert escalated.total_open == (Money.of("1210.00", "EUR"),)
    assert [(event.from_level, event.to_level, event.level_name)
            for event in dunning.published(DunningLevelRaised)] == [
        (0, 1, "reminder"), (1, 2, "first_letter"), (2, 3, "second_letter"),
        (3, 4, "final_notice"), (4, 5, "escalation")]
    assert case_invoice(dunning, "INV-000001").escalated_on == day(49)
    dunning.run(day(120))
    assert len(dunning.letters()) == 4  # handed over: no more letters


def test_each_letter_is_published_with_its_invoices_and_the_fees_it_charges(dunning: Dunning) -> None:
    dunning.customer(language="fr")
    dunning.invoice("INV-000001", "1210.00", due=DUE)
    dunning.run(day(0))

    dunning.run(day(7))

    reminder, first_letter = dunning.published(ReminderSent)
    assert (reminder.level, reminder.level_name, reminder.channel, reminder.language) == (
        1, "reminder", "email", "fr")
    assert (reminder.sent_on, reminder.pay_by, reminder.fees) == (day(0), day(7), ())
    assert first_letter.fees == (Money.of("42.36", "EUR"),)
    assert first_letter.invoices[0].open_amount == Money.of("1210.00", "EUR")
    interest, indemnity = dunning.published(LateFeeAssessed)
    assert (interest.kind, interest.amount, interest.annual_rate) == (
        "statutory_interest", Money.of("2.36", "EUR"), D("10.15"))
    assert (interest.interest_from, interest.interest_to) == (day(1), day(7))
    assert (indemnity.kind, indemnity.amount) == ("recovery_indemnity", Money.of("40.00", "EUR"))
    assert {fee.letter_id for fee in (interest, indemnity)} == {first_letter.letter_id}
    # Invoicing bills each fee with a debit note from its own FeeAssessed, same fee id.
    billed = dunning.published(FeeAssessed)
    assert [(fee.fee_id, fee.kind, fee.amount) for fee in billed] == [
        (interest.fee_id, "interest", interest.amount), (indemnity.fee_id, "late_fee", indemnity.amount)]


def test_one_letter_per_customer_lists_every_invoice_that_reaches_the_level_that_day(
        dunning: Dunning) -> None:
    dunning.customer("C-1")
    dunning.customer("C-2", email="ap@other.example")
    dunning.invoice("INV-000001", "100.00", due=DUE, customer_id="C-1")
    dunning.invoice("INV-000002", "200.00", due=DUE, customer_id="C-1")
    dunning.invoice("INV-000003", "300.00", due=day(3), customer_id="C-1")
    dunning.invoice("INV-000004", "400.00", due=DUE, customer_id="C-2")

    report = dunning.run(day(0))

    assert len(report.letters) == 2
    assert levels(dunning, "C-1") == [("2026-02-01", "reminder", ["INV-000001", "INV-000002"])]
    assert levels(dunning, "C-2") == [("2026-02-01", "reminder", ["INV-000004"])]
    dunning.run(day(3))
    assert levels(dunning, "C-1")[-1] == ("2026-02-04", "reminder", ["INV-000003"])


def test_a_run_repeated_for_the_same_date_sends_nothing_more(dunning: Dunning) -> None:
    dunning.customer()
    dunning.invoice()
    first = dunning.run(day(0))

    again = dunning.run(day(0))

    assert len(first.letters) == 1 and len(first.deliveries) == 1
    assert again.letters == [] and again.deliveries == []
    assert len(dunning.letters()) == 1
    assert len(dunning.post_office.sent) == 1


def test_a_late_catch_up_run_moves_one_level_and_the_next_one_counts_from_it(dunning: Dunning) -> None:
    dunning.customer()
    dunning.invoice(due=DUE)

    dunning.run(day(30))  # the service was down for a month
    dunning.run(day(36))
    dunning.run(day(37))

    assert levels(dunning) == [("2026-03-03", "reminder", ["INV-000001"]),
                               ("2026-03-10", "first_letter", ["INV-000001"])]


def test_a_customer_without_email_gets_the_letter_by_post_in_their_language(dunning: Dunning) -> None:
    dunning.customer(language="de", email=None)
    dunning.invoice()

    dunning.run(day(0))

    [letter] = dunning.letters()
    assert (letter["channel"], letter["status"], letter["recipient"]) == ("post", "to_print", None)
    assert letter["subject"] == "Zahlungserinnerung: INV-000001"
    assert dunning.post_office.sent == []


def test_a_key_account_is_dunned_later_and_without_fees(dunning: Dunning) -> None:
    dunning.customer()
    dunning.invoice()
    dunning.app.set_profile("C-1", SetProfile(segment="key_account", risk_class="low"), COLLECTOR)

    for offset in (0, 2, 3, 16, 17):
        dunning.run(day(offset))

    assert levels(dunning) == [("2026-02-04", "reminder", ["INV-000001"]),
                               ("2026-02-18", "first_letter", ["INV-000001"])]
    assert dunning.published(LateFeeAssessed) == []


# --- payment: the boundary event ---------------------------------------------------------


def test_an_invoice_paid_between_two_levels_gets_nothing_after_the_payment(dunning: Dunning) -> None:
    dunning.customer()
    dunning.invoice("INV-000001", "1210.00")
    dunning.run(day(0))
    dunning.run(day(7))

    dunning.payment("INV-000001", "1210.00", on=day(10))
    for offset in (21, 35, 49, 100):
        dunning.run(day(offset))

    assert [name for _, name, _ in levels(dunning)] == ["reminder", "first_letter"]
    assert dunning.published(CaseEscalated) == []
    assert case_invoice(dunning, "INV-000001").settled_on == day(10)


def test_a_partly_paid_invoice_is_dunned_for_what_is_left(dunning: Dunning) -> None:
    dunning.customer()
    dunning.invoice("INV-000001", "1210.00")
    dunning.run(day(0))
    dunning.payment("INV-000001", "1000.00", on=day(3))

    dunning.run(day(7))

    [_, letter] = dunning.published(ReminderSent)
    assert letter.invoices[0].open_amount == Money.of("210.00", "EUR")
    interest = dunning.published(LateFeeAssessed)[0]
    # 2-3 Feb on 1,210.00, 4-8 Feb on 210.00 at 10.15%: (2,420 + 1,050) x 0.1015 / 365 = 0.96
    assert interest.amount == Money.of("0.96", "EUR")


def test_a_payment_that_overtakes_its_invoice_still_settles_it(dunning: Dunning) -> None:
    dunning.customer()
    dunning.payment("INV-000001", "1210.00", on=day(-2))  # matching was faster than invoicing

    dunning.invoice("INV-000001", "1210.00")
    dunning.run(day(0))

    assert dunning.letters() == []
    assert case_invoice(dunning, "INV-000001").settled_on == day(-2)


def test_a_payment_delivered_twice_is_applied_once(dunning: Dunning) -> None:
    dunning.customer()
    dunning.invoice("INV-000001", "1210.00")
    dunning.payment("INV-000001", "600.00", on=day(3), application_id="app-1")

    dunning.payment("INV-000001", "600.00", on=day(3), application_id="app-1")  # re-published

    assert case_invoice(dunning, "INV-000001").open_amount == D("610.00")


def test_a_redelivered_kafka_position_is_recognised_and_stores_nothing(dunning: Dunning) -> None:
    dunning.customer()
    issued = invoice_issued("INV-000001")
    dunning.app.open_invoice(issued, ERP, Tracking("ar.invoicing#0", 7))

    with pytest.raises(AlreadyProcessed):
        dunning.app.open_invoice(invoice_issued("INV-000002"), ERP, Tracking("ar.invoicing#0", 7))

    assert list(dunning.app.case(TENANT, "C-1").invoices) == ["id-INV-000001"]


def test_an_invoice_published_again_under_a_new_offset_is_opened_once(dunning: Dunning) -> None:
    dunning.customer()
    dunning.invoice("INV-000001", "1210.00")
    dunning.payment("INV-000001", "1210.00", on=day(-1))

    dunning.invoice("INV-000001", "1210.00")  # re-published after it was paid

    assert case_invoice(dunning, "INV-000001").settled_on == day(-1)
    dunning.run(day(0))
    assert dunning.letters() == []


# --- disputes pause exactly the disputed invoices --------------------------------------------


def open_dispute(dunning: Dunning, *numbers: str, on: date, reason: str = "damaged") -> str:
    _, dispute_id = dunning.app.open_dispute(
        "C-1", OpenDispute(invoice_numbers=list(numbers), reason=reason, owner="anna",
                           notes="two kegs arrived dented"), on, COLLECTOR)
    return dispute_id


def test_a_dispute_pauses_the_disputed_invoice_and_nothing_else(dunning: Dunning) -> None:
    dunning.customer()
    dunning.invoice("INV-000001", "100.00")
    dunning.invoice("INV-000002", "200.00")

    dispute_id = open_dispute(dunning, "INV-000002", on=day(-3))
    dunning.run(day(0))

    assert dispute_id == "DSP-0001"
    assert levels(dunning) == [("2026-02-01", "reminder", ["INV-000001"])]
    [opened] = dunning.published(DisputeOpened)
    assert (opened.reason, opened.owner, opened.opened_on) == ("damaged", "anna", day(-3))
    assert [invoice.invoice_number for invoice in opened.invoices] == ["INV-000002"]


def test_a_rejected_dispute_resumes_dunning_with_the_time_that_was_left(dunning: Dunning) -> None:
    dunning.customer()
    dunning.invoice("INV-000001", "100.00")
    dunning.run(day(0))                        # reminder; the first letter would be due day 7
    dispute_id = open_dispute(dunning, "INV-000001", on=day(2))   # 5 days were left

    dunning.app.resolve_dispute("C-1", dispute_id, ResolveDispute(
        resolution="rejected", notes="photos show no damage"), day(20), COLLECTOR)
    for offset in range(7, 26):
        dunning.run(day(offset))

    assert levels(dunning) == [("2026-02-01", "reminder", ["INV-000001"]),
                               ("2026-02-26", "first_letter", ["INV-000001"])]  # day 20 + 5
    [resolved] = dunning.published(DisputeResolved)
    assert (resolved.resolution, resolved.credit_note_amount, resolved.resolved_on) == (
        "rejected", None, day(20))


def test_a_credit_note_request_leaves_dunning_only_what_it_will_not_credit(dunning: Dunning) -> None:
    dunning.customer()
    dunning.invoice("INV-000001", "1210.00")
    dunning.invoice("INV-000002", "60.50")
    dispute_id = open_dispute(dunning, "INV-000001", on=day(-1), reason="price")
    other = open_dispute(dunning, "INV-000002", on=day(-1), reason="duplicate")

    dunning.app.resolve_dispute("C-1", dispute_id, ResolveDispute(
        resolution="credit_note_requested", credit_note_amount="210.00"), day(0), COLLECTOR)
    dunning.app.resolve_dispute("C-1", other, ResolveDispute(
        resolution="credit_note_requested", credit_note_amount="60.50"), day(0), COLLECTOR)
    dunning.run(day(0))

    [reminder] = dunning.published(ReminderSent)
    assert [(invoice.invoice_number, invoice.open_amount) for invoice in reminder.invoices] == [
        ("INV-000001", Money.of("1000.00", "EUR"))]  # INV-000002 is credited in full
    credited = dunning.published(DisputeResolved)[0]
    assert credited.credit_note_amount == Money.of("210.00", "EUR")


def test_a_dispute_is_refused_for_a_paid_or_unknown_invoice_and_resolved_only_once(
        dunning: Dunning) -> None:
    dunning.customer()
    dunning.invoice("INV-000001", "100.00")
    dunning.invoice("INV-000002", "100.00")
    dunning.payment("INV-000001", "100.00", on=day(-1))

    with pytest.raises(Refused, match="INV-000001 is already paid"):
        open_dispute(dunning, "INV-000001", on=day(0))
    with pytest.raises(UnknownInvoice, match="no invoice 'INV-999999'"):
        open_dispute(dunning, "INV-999999", on=day(0))
    with pytest.raises(UnknownCase):
        dunning.app.open_dispute("C-404", OpenDispute(
            invoice_numbers=["INV-000001"], reason="other", owner="anna"), day(0), COLLECTOR)
    dispute_id = open_dispute(dunning, "INV-000002", on=day(0))
    reject = ResolveDispute(resolution="rejected")
    dunning.app.resolve_dispute("C-1", dispute_id, reject, day(1), COLLECTOR)
    with pytest.raises(Refused, match="already resolved"):
        dunning.app.resolve_dispute("C-1", dispute_id, reject, day(2), COLLECTOR)
    with pytest.raises(DunningError, match="exceeds"):
        second = open_dispute(dunning, "INV-000002", on=day(3))
        dunning.app.resolve_dispute("C-1", second, ResolveDispute(
            resolution="credit_note_requested", credit_note_amount="150.00"), day(3), COLLECTOR)


# --- promises to pay -------------------------------------------------------------------------


def promise(dunning: Dunning, numbers: list[str], *instalments: tuple[date, str], on: date) -> str:
    _, promise_id = dunning.app.record_promise("C-1", RecordPromise(
        invoice_numbers=numbers, currency="EUR",
        instalments=[{"due_on": due_on, "amount": amount} for due_on, amount in instalments]),
        on, COLLECTOR)
    return promise_id


def test_a_promise_pauses_the_promised_invoices_until_its_date(dunning: Dunning) -> None:
    dunning.customer()
    dunning.invoice("INV-000001", "100.00")
    dunning.invoice("INV-000002", "200.00")
    dunning.run(day(0))

    promise(dunning, ["INV-000001"], (day(15), "100.00"), on=day(3))
    dunning.run(day(7))

    assert levels(dunning)[-1] == ("2026-02-08", "first_letter", ["INV-000002"])
    [recorded] = dunning.published(PromiseToPayRecorded)
    assert [(instalment.due_on, instalment.amount) for instalment in recorded.instalments] == [
        (day(15), Money.of("100.00", "EUR"))]


def test_a_promise_kept_by_payment_ends_the_case_for_those_invoices(dunning: Dunning) -> None:
    dunning.customer()
    dunning.invoice("INV-000001", "100.00")
    dunning.run(day(0))
    promise(dunning, ["INV-000001"], (day(15), "100.00"), on=day(3))

    dunning.payment("INV-000001", "100.00", on=day(14))
    for offset in (16, 17, 30, 60):
        dunning.run(day(offset))

    assert dunning.app.case(TENANT, "C-1").promises["PTP-0001"].status == "kept"
    assert dunning.published(PromiseToPayBroken) == []
    assert [name for _, name, _ in levels(dunning)] == ["reminder"]


def test_a_broken_promise_resumes_dunning_at_the_next_level_at_once(dunning: Dunning) -> None:
    dunning.customer()
    dunning.invoice("INV-000001", "100.00")
    dunning.run(day(0))
    promise(dunning, ["INV-000001"], (day(15), "100.00"), on=day(3))

    dunning.run(day(16))  # the day after the promised date: one day of grace for the bank
    report = dunning.run(day(17))

    assert report.promises_broken == [{"customer_id": "C-1", "promise_id": "PTP-0001"}]
    assert levels(dunning)[-1] == ("2026-02-18", "first_letter", ["INV-000001"])
    [broken] = dunning.published(PromiseToPayBroken)
    assert (broken.instalment_due_on, broken.promised, broken.received, broken.broken_on) == (
        day(15), Money.of("100.00", "EUR"), Money.of("0", "EUR"), day(17))
    assert dunning.app.case(TENANT, "C-1").broken_promises == 1


def test_an_instalment_plan_is_checked_instalment_by_instalment(dunning: Dunning) -> None:
    dunning.customer()
    dunning.invoice("INV-000001", "300.00")
    dunning.run(day(0))
    promise(dunning, ["INV-000001"], (day(10), "100.00"), (day(20), "100.00"),
            (day(30), "100.00"), on=day(2))

    dunning.payment("INV-000001", "100.00", on=day(9))
    dunning.run(day(12))                  # first instalment kept: still paused
    dunning.payment("INV-000001", "50.00", on=day(19))
    dunning.run(day(22))                  # second instalment short by 50: broken

    case = dunning.app.case(TENANT, "C-1")
    assert [instalment["status"] for instalment in case.promises["PTP-0001"].instalments] == [
        "kept", "broken", "pending"]
    [broken] = dunning.published(PromiseToPayBroken)
    assert (broken.promised, broken.received) == (Money.of("200.00", "EUR"), Money.of("150.00", "EUR"))
    assert levels(dunning)[-1] == ("2026-02-23", "first_letter", ["INV-000001"])
    assert dunning.published(ReminderSent)[-1].invoices[0].open_amount == Money.of("150.00", "EUR")


def test_a_promise_is_refused_when_it_makes_no_sense(dunning: Dunning) -> None:
    dunning.customer()
    dunning.invoice("INV-000001", "100.00")
    promise(dunning, ["INV-000001"], (day(15), "100.00"), on=day(3))

    with pytest.raises(Refused, match="already under a promise"):
        promise(dunning, ["INV-000001"], (day(20), "100.00"), on=day(4))
    dunning.invoice("INV-000002", "100.00")
    with pytest.raises(DunningError, match="before the promise"):
        promise(dunning, ["INV-000002"], (day(1), "100.00"), on=day(4))
    with pytest.raises(DunningError, match="in EUR, the promise in USD"):
        dunning.app.record_promise("C-1", RecordPromise(
            invoice_numbers=["INV-000002"], currency="USD",
            instalments=[{"due_on": day(9), "amount": "100.00"}]), day(4), COLLECTOR)


# --- the tenant's settings ---------------------------------------------------------------


def test_a_tenant_with_a_higher_statutory_margin_charges_it_in_the_next_letter(dunning: Dunning) -> None:
    dunning.app.configure(ConfigureDunning(statutory_interest_margin="10.00",
                                           escalation_partner_kind="factoring_company",
                                           escalation_partner_name="Factor AG"), COLLECTOR)
    dunning.customer()
    dunning.invoice("INV-000001", "1210.00")
    for offset in (0, 7):
        dunning.run(day(offset))

    interest = dunning.published(LateFeeAssessed)[0]
    # 1,210.00 x (2.15 + 10)% x 7 / 365 = 2.8196... -> 2.82
    assert (interest.amount, interest.annual_rate) == (Money.of("2.82", "EUR"), D("12.15"))
    for offset in (21, 35, 49):
        dunning.run(day(offset))
    assert dunning.published(CaseEscalated)[0].partner_kind == "factoring_company"


# --- deliveries ------------------------------------------------------------------------------


def test_a_refused_recipient_is_recorded_once_and_visible(dunning: Dunning) -> None:
    dunning.customer(email="nobody@customer.example")
    dunning.post_office.refused.add("nobody@customer.example")
    dunning.invoice()

    dunning.run(day(0))
    dunning.run(day(1))

    [letter] = dunning.letters()
    assert (letter["status"], letter["last_error"]) == ("failed", "550 5.1.1 mailbox unavailable")
    [failure] = dunning.views.store.delivery_failures(TENANT, 10)
    assert (failure["kind"], failure["recipients"], failure["customer_id"]) == (
        "refused", ["nobody@customer.example"], "C-1")


def test_a_letter_stored_while_the_mail_server_was_down_goes_out_once_it_is_back(
        dunning: Dunning) -> None:
    dunning.customer()
    dunning.invoice()
    dunning.post_office.down = True
    dunning.run(day(0))
    assert dunning.letters()[0]["status"] == "pending"

    dunning.post_office.down = False
    dunning.runner.deliver_pending(TENANT)
    dunning.run(day(1))

    [letter] = dunning.letters()
    assert (letter["status"], letter["attempts"]) == ("delivered", 2)
    assert [email.subject for email in dunning.post_office.sent] == ["Payment reminder: INV-000001"]


def test_the_read_model_rebuilt_from_the_log_equals_the_live_one(dunning: Dunning) -> None:
    dunning.customer()
    dunning.invoice("INV-000001", "100.00")
    dunning.invoice("INV-000002", "200.00")
    open_dispute(dunning, "INV-000002", on=day(0))
    for offset in (0, 7):
        dunning.run(day(offset))
    store = dunning.views.store
    live = (store.cases(TENANT), store.letters(TENANT, None, None, 100),
            store.disputes(TENANT, None))

    dunning.views.rebuild()

    assert (store.cases(TENANT), store.letters(TENANT, None, None, 100),
            store.disputes(TENANT, None)) == live


# --- settled other than by cash --------------------------------------------------------


def test_a_short_payment_written_off_within_tolerance_stops_dunning(dunning: Dunning) -> None:
    dunning.customer()
    dunning.invoice("INV-000001", "1210.00")
    dunning.run(day(0))
    dunning.payment("INV-000001", "1209.50", on=day(3))

    dunning.app.reduce_invoice(InvoiceReduction.of(DifferenceWrittenOff(
        write_off_id="wo-1", payment_id="pay-1", invoice_id="id-INV-000001",
        invoice_number="INV-000001", customer_id="C-1", amount=Money.of("0.50", "EUR"),
        written_off_on=day(3), reason_code="tolerance", reason="short by 0.50",
        explanation="within the 1.00 tolerance")), ERP)
    for offset in (7, 21, 35, 49):
        dunning.run(day(offset))

    assert [name for _, name, _ in levels(dunning)] == ["reminder"]
    assert case_invoice(dunning, "INV-000001").settled_on == day(3)


def test_a_cancelled_invoice_is_not_chased(dunning: Dunning) -> None:
    dunning.customer()
    dunning.invoice("INV-000001", "1210.00")

    dunning.app.reduce_invoice(InvoiceReduction.of(InvoiceCancelled(
        invoice_id="id-INV-000001", invoice_number="INV-000001", customer_id="C-1",
        cancelled_on=day(-5), amount=Money.of("1210.00", "EUR"),
        reason="invoiced to the wrong customer", actor="clerk:bob")), ERP)
    dunning.run(day(0))
    dunning.run(day(7))

    assert dunning.letters() == []
