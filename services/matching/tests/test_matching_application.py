"""Cash application as a service, on the in-memory event store: given these facts (events
in), when this happens, then these events out. A wrong match is worse than none."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from eventsourcing.persistence import Tracking

from libs.events import IntegrationEvent, PaymentApplied, PaymentUnapplied
from libs.events.invoicing import CreditNoteIssued, InvoiceAdjusted
from libs.events.matching import (
    ApplicationReversed,
    CreditApplied,
    DeductionRaised,
    DifferenceWrittenOff,
    UnappliedCashChanged,
)
from libs.events.payments import PaymentReturned
from libs.runtime.eventstore import AlreadyProcessed, open_in_memory
from services.matching.application import MatchingApplication
from services.matching.domain import CashReceipt, OpenInvoice, Refused
from services.matching.engine import RULE_REFERENCE
from services.matching.generator import generate

from .given import (
    ACME,
    D,
    TODAY,
    Feed,
    applied,
    customer,
    eur,
    invoice,
    open_amount,
    payment,
    published,
)


# --- the first slice still holds ---------------------------------------------------------


def test_an_issued_invoice_is_open_for_its_total_and_publishes_nothing(
        matching: MatchingApplication, given: Feed) -> None:
    given(invoice("INV-000001", total="121.00"))

    opened = matching.repository.get(OpenInvoice.create_id("acme", "INV-000001"))
    assert (opened.invoice_id, opened.customer_id, opened.open_amount) == (
        "id-INV-000001", "C-1", D("121.00"))
    assert published(matching) == []


def test_a_payment_naming_its_invoice_settles_it_with_rule_score_and_explanation(
        matching: MatchingApplication, given: Feed) -> None:
    given(invoice("INV-000001", total="121.00"))

    given(payment("121.00", "Thank you! payment for inv-000001, march delivery"))

    [application] = published(matching, PaymentApplied)
    assert (application.invoice_number, application.amount) == ("INV-000001", eur("121.00"))
    assert application.rule == RULE_REFERENCE and application.score == D("0.99")
    assert application.explanation.startswith("Applied 121.00 EUR to INV-000001")
    assert application.evidence and application.actor is None
    assert open_amount(matching, "INV-000001") == D("0.00")
    assert published(matching, PaymentUnapplied) == []


def test_the_same_payment_delivered_twice_is_applied_once(
        matching: MatchingApplication, given: Feed) -> None:
    given(invoice("INV-000001", total="121.00"), payment("100.00", "INV-000001 partial"))

    given(payment("100.00", "INV-000001 partial"))  # re-published under a new offset

    assert len(applied(matching)) == 1
    with pytest.raises(AlreadyProcessed):
        matching.apply_payment(payment("100.00", "INV-000001"), ACME, Tracking("ar.payments#0", 0))


def test_an_overpayment_leaves_the_excess_unapplied_on_the_customers_account(
        matching: MatchingApplication, given: Feed) -> None:
    given(invoice("INV-000001", total="121.00"))

    given(payment("150.00", "INV-000001"))

    assert applied(matching) == [("pay-1", "INV-000001", eur("121.00"))]
    [excess] = published(matching, PaymentUnapplied)
    assert (excess.customer_id, excess.amount) == ("C-1", eur("29.00"))


# --- write-offs and deductions ----------------------------------------------------------


def test_a_short_payment_within_tolerance_writes_off_the_difference(
        matching: MatchingApplication, given: Feed) -> None:
    given(invoice("INV-000001", total="1000.00"))

    given(payment("992.50", "INV-000001"))

    [written_off] = published(matching, DifferenceWrittenOff)
    assert (written_off.amount, written_off.reason_code) == (eur("7.50"), "bank-charges")
    assert open_amount(matching, "INV-000001") == D("0.00")


def test_a_short_payment_beyond_tolerance_raises_a_deduction_and_the_rest_stays_open(
        matching: MatchingApplication, given: Feed) -> None:
    given(invoice("INV-000001", total="1000.00"))

    given(payment("880.00", "INV-000001 minus 120.00 price difference"))

    [deduction] = published(matching, DeductionRaised)
    assert (deduction.amount, deduction.reason_code) == (eur("120.00"), "pricing")
    assert "price" in deduction.reason
    assert open_amount(matching, "INV-000001") == D("120.00")


# --- payments before their invoice --------------------------------------------------------


def test_a_payment_that_arrives_before_its_invoice_is_applied_when_the_invoice_arrives(
        matching: MatchingApplication, given: Feed) -> None:
    given(payment("121.00", "INV-000007", customer_id=None))
    [waiting] = published(matching, PaymentUnapplied)
    assert "applied when it arrives" in waiting.reason

    given(invoice("INV-000007", total="121.00"))

    assert applied(matching) == [("pay-1", "INV-000007", eur("121.00"))]
    [changed] = published(matching, UnappliedCashChanged)
    assert changed.unapplied == eur("0.00")
    assert open_amount(matching, "INV-000007") == D("0.00")


def test_a_known_payers_cash_is_applied_when_an_invoice_of_exactly_that_amount_arrives(
        matching: MatchingApplication, given: Feed) -> None:
    given(customer(), payment("60.50", None, customer_id="C-1"))

    given(invoice("INV-000002", total="60.50"))

    assert applied(matching) == [("pay-1", "INV-000002", eur("60.50"))]


# --- who paid ---------------------------------------------------------------------------------


def test_the_customer_master_names_the_payer_and_a_learned_account_does_it_next_time(
        matching: MatchingApplication, given: Feed) -> None:
    given(customer("C-1", "Acme Retail BV"), customer("C-2", "Globex Trading GmbH"),
          invoice("INV-000001", "99.99", customer_id="C-2"),
          invoice("INV-000002", "45.00", customer_id="C-2"))

    given(payment("99.99", None, customer_id=None, payer_name="GLOBEX TRADING G.M.B.H.",
                  payer_account="NL91ABNA0417164300"))
    given(payment("45.00", None, payment_id="pay-2", customer_id=None, payer_name="treasury",
                  payer_account="NL91 ABNA 0417 1643 00"))

    rules = [(event.invoice_number, event.rule) for event in published(matching, PaymentApplied)]
    assert rules == [("INV-000001", "customer-amount"), ("INV-000002", "customer-amount")]
    second = published(matching, PaymentApplied)[1]
    assert "bank account it paid from before" in second.explanation


def test_an_on_account_credit_note_the_payer_deducted_is_used_in_the_match(
        matching: MatchingApplication, given: Feed) -> None:
    given(invoice("INV-000001", "121.00"), invoice("INV-000002", "60.50"),
          CreditNoteIssued(credit_note_id="cn-1", credit_note_number="CN-000001",
                           customer_id="C-1", scope="on_account", issue_date=date(2024, 3, 5),
                           net_amount=eur("21.00"), tax_amount=eur("0.00"), total=eur("21.00"),
                           reason="volume rebate", actor="credit-desk"))

    given(payment("160.50", None))

    [credit] = published(matching, CreditApplied)
    assert (credit.credit_note_number, credit.invoice_number, credit.amount) == (
        "CN-000001", "INV-000001", eur("21.00"))
    assert open_amount(matching, "INV-000001") == open_amount(matching, "INV-000002") == D("0.00")


def test_an_adjusted_invoice_is_matched_on_what_it_owes_now(
        matching: MatchingApplication, given: Feed) -> None:
    given(invoice("INV-000001", "121.00"),
          InvoiceAdjusted(adjustment_id="adj-1", invoice_id="id-INV-000001",
                          invoice_number="INV-000001", customer_id="C-1",
                          adjusted_on=date(2024, 3, 10), net_amount=eur("-10.00"),
                          tax_amount=eur("-2.10"), amount=eur("-12.10"),
                          new_total=eur("108.90"), reason="price corrected", actor="ar-clerk"))

    given(payment("108.90", "INV-000001"))

    assert published(matching, DeductionRaised) == published(matching, DifferenceWrittenOff) == []
    assert open_amount(matching, "INV-000001") == D("0.00")


# --- what a person does -------------------------------------------------------------------


def test_a_person_matches_unapplied_cash_by_hand_saying_who_and_why(
        matching: MatchingApplication, given: Feed) -> None:
    given(invoice("INV-000001", "121.00"), payment("121.00", "thanks", customer_id=None))

    matching.match_manually("acme", "pay-1", [("INV-000001", None)], "anna", "phoned the payer",
                            TODAY)

    [application] = published(matching, PaymentApplied)
    assert (application.invoice_number, application.rule, application.actor,
            application.reason) == ("INV-000001", "manual", "anna", "phoned the payer")
    assert published(matching, UnappliedCashChanged)[-1].unapplied == eur("0.00")
    explanation = matching.explanation("acme", "pay-1")
    assert explanation["status"] == "applied"
    assert "anna decided so (phoned the payer)" in explanation["explanation"]


def test_an_unmatch_reverses_the_application_and_the_invoice_is_open_again(
        matching: MatchingApplication, given: Feed) -> None:
    given(invoice("INV-000001", "1000.00"), payment("995.00", "INV-000001"))
    application_id = published(matching, PaymentApplied)[0].application_id

    matching.unmatch("acme", "pay-1", application_id, "ben", "wrong customer", TODAY)

    reversals = published(matching, ApplicationReversed)
    assert [(event.reverses, event.amount, event.actor, event.reason) for event in reversals] == [
        ("payment-application", eur("995.00"), "ben", "wrong customer"),
        ("write-off", eur("5.00"), "ben", "wrong customer")]
    assert open_amount(matching, "INV-000001") == D("1000.00")
    assert published(matching, UnappliedCashChanged)[-1].unapplied == eur("995.00")
    assert matching.explanation("acme", "pay-1")["status"] == "unapplied"


def test_a_rematch_moves_the_payment_to_another_invoice_in_one_step(
        matching: MatchingApplication, given: Feed) -> None:
    given(invoice("INV-000001", "121.00"), invoice("INV-000002", "121.00"),
          payment("121.00", "INV-000001"))

    matching.match_manually("acme", "pay-1", [("INV-000002", None)], "anna",
                            "customer says it was for 000002", TODAY, unmatch_first=True)

    assert (open_amount(matching, "INV-000001"), open_amount(matching, "INV-000002")) == (
        D("121.00"), D("0.00"))
    assert [event.invoice_number for event in published(matching, ApplicationReversed)] == [
        "INV-000001"]
    kinds = [decision["kind"] for decision in matching.explanation("acme", "pay-1")["decisions"]]
    assert kinds == ["automatic", "rematch"]


def test_a_manual_match_of_more_than_is_open_is_refused_and_changes_nothing(
        matching: MatchingApplication, given: Feed) -> None:
    given(invoice("INV-000001", "50.00"), payment("121.00", "no idea", customer_id=None))

    with pytest.raises(Refused, match="has 50.00 EUR open"):
        matching.match_manually("acme", "pay-1", [("INV-000001", D("121.00"))], "anna",
                                "try", TODAY)

    assert published(matching, PaymentApplied) == []
    assert open_amount(matching, "INV-000001") == D("50.00")


# --- returned payments ---------------------------------------------------------------------


def test_a_returned_payment_reverses_its_applications_and_reopens_the_invoices(
        matching: MatchingApplication, given: Feed) -> None:
    given(invoice("INV-000001", "121.00"), invoice("INV-000002", "60.50"),
          payment("181.50", "INV-000001 INV-000002"))

    given(PaymentReturned(return_id="ret-1", payment_id="pay-1", customer_id="C-1",
                          amount=eur("181.50"), returned_on=date(2024, 3, 25), kind="nsf",
                          reason_code="AM04"))

    assert [event.invoice_number for event in published(matching, ApplicationReversed)] == [
        "INV-000001", "INV-000002"]
    assert {event.actor for event in published(matching, ApplicationReversed)} == {"matching"}
    assert (open_amount(matching, "INV-000001"), open_amount(matching, "INV-000002")) == (
        D("121.00"), D("60.50"))
    assert published(matching, UnappliedCashChanged)[-1].unapplied == eur("0.00")
    assert matching.explanation("acme", "pay-1")["status"] == "returned"
    with pytest.raises(Refused, match="returned"):
        matching.match_manually("acme", "pay-1", [("INV-000001", None)], "anna", "x", TODAY)


# --- explanations and determinism ----------------------------------------------------------


def test_the_explanation_tells_a_collector_what_happened_in_words(
        matching: MatchingApplication, given: Feed) -> None:
    given(customer("C-1", "Acme Retail BV"), invoice("INV-000001", "121.00"),
          payment("121.00", None, customer_id=None, payer_name="ACME RETAIL B.V."))

    explanation = matching.explanation("acme", "pay-1")

    assert explanation["status"] == "applied"
    assert explanation["explanation"] == (
        "2024-03-20: Applied 121.00 EUR to INV-000001 of Acme Retail BV (C-1), which had "
        "121.00 EUR open: the payer is Acme Retail BV (C-1) (by the payer name); INV-000001 "
        "is its only open item of 121.00 EUR (rule: customer's only open item of this amount, "
        "confidence 95%).")
    [decision] = explanation["decisions"]
    assert decision["rule"] == "customer-amount" and decision["identified_by"] == "payer-name"
    assert matching.explanation("acme", "pay-404") is None


def test_replaying_every_inbound_event_into_a_fresh_service_makes_the_same_applications() -> None:
    traffic = generate(invoices=300, payments=150, seed=11)
    inbound: list[IntegrationEvent] = [*traffic.customer_events()]
    invoices = list(traffic.invoice_events())
    payments = list(traffic.payment_events())
    # Interleaved as they would arrive: some payments before their invoices.
    inbound += invoices[:200] + payments[:50] + invoices[200:] + payments[50:]

    def run() -> list[tuple[Any, ...]]:
        app = open_in_memory(MatchingApplication)
        Feed(app)(*inbound)
        return [(event.event_type, *sorted(event.model_dump(mode="json").items()))
                for event in published(app)]

    first, second = run(), run()
    assert first == second
    assert sum(1 for event in first if event[0] == "PaymentApplied") > 100


def test_the_book_rebuilt_from_the_stored_events_equals_the_live_one(
        matching: MatchingApplication, given: Feed) -> None:
    traffic = generate(invoices=200, payments=80, seed=5)
    given(*traffic.customer_events(), *traffic.invoice_events(), *traffic.payment_events())
    live = matching.state().books["acme"]

    matching._state = None  # noqa: SLF001 - as after a restart
    rebuilt = matching.state().books["acme"]

    assert {item_id: item.open for item_id, item in rebuilt.items.items()} == {
        item_id: item.open for item_id, item in live.items.items()}
    assert matching.repository.get(CashReceipt.create_id("acme", "pay-0000001")).decisions
