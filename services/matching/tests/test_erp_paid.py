"""Invoices the ERP says are paid that no payment of ours clears: given the ERP's word and
our cash, when the grace for bank statements has passed, then an exception for a person
- and when a payment clears the invoice after all, the exception is resolved."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from libs.events import Money
from libs.events.erp import ErpInvoiceMarkedPaid
from libs.events.matching import ErpPaidInvoiceCleared, ErpPaidInvoiceUncleared
from libs.events.payments import PaymentReturned
from libs.runtime.clock import FixedClock
from libs.runtime.eventstore import open_in_memory
from services.matching.api import matching_router
from services.matching.application import MatchingApplication

from .given import Feed, invoice, payment, published

PAID_ON = date(2024, 3, 20)  # the day the ERP says it was paid (payment()'s value date too)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2024, 3, 20, 9, tzinfo=UTC))


@pytest.fixture
def matching(clock: FixedClock) -> MatchingApplication:
    app = open_in_memory(MatchingApplication)
    app.clock = clock
    app.erp_paid_grace = timedelta(days=2)
    return app


def erp_paid(number: str = "INV-000001", paid_on: date = PAID_ON,
             reference: str | None = "ERP-CLR-1") -> ErpInvoiceMarkedPaid:
    return ErpInvoiceMarkedPaid(invoice_number=number, customer_id="C-1", paid_on=paid_on,
                                reference=reference)


def raised(app: MatchingApplication) -> list[ErpPaidInvoiceUncleared]:
    return published(app, ErpPaidInvoiceUncleared)


def test_a_payment_that_arrives_within_the_grace_raises_nothing(
        matching: MatchingApplication, given: Feed, clock: FixedClock) -> None:
    given(invoice("INV-000001", "121.00"), erp_paid())
    clock.advance(days=1)
    given(payment("121.00", "INV-000001"))  # the bank statement, a day behind the ERP

    clock.advance(days=5)
    assert matching.check_erp_paid() == 0

    assert raised(matching) == [] and matching.erp_paid_uncleared("acme") == []


def test_an_invoice_still_open_when_the_grace_has_passed_is_raised_with_what_is_open(
        matching: MatchingApplication, given: Feed, clock: FixedClock) -> None:
    given(invoice("INV-000001", "121.00"), erp_paid())
    clock.advance(days=1)
    assert matching.check_erp_paid() == 0  # statements lag the ERP: not yet

    clock.advance(days=1)
    assert matching.check_erp_paid() == 1

    [exception] = raised(matching)
    assert (exception.invoice_number, exception.customer_id, exception.erp_paid_on,
            exception.erp_reference, exception.open_amount, exception.detected_on) == (
        "INV-000001", "C-1", PAID_ON, "ERP-CLR-1", Money.of("121.00", "EUR"), date(2024, 3, 22))
    assert "no payment has been applied to it" in exception.reason
    [listed] = matching.erp_paid_uncleared("acme")
    assert (listed["invoice_number"], listed["open_amount"], listed["erp_paid_on"]) == (
        "INV-000001", "121.00", "2024-03-20")
    assert matching.check_erp_paid() == 0  # raised once, not every run


def test_the_erp_marking_an_open_invoice_paid_long_ago_is_raised_at_once(
        matching: MatchingApplication, given: Feed) -> None:
    given(invoice("INV-000001", "121.00"))

    given(erp_paid(paid_on=PAID_ON - timedelta(days=10)))

    [exception] = raised(matching)
    assert exception.detected_on == PAID_ON and "2-day grace" in exception.reason


def test_a_partly_paid_invoice_is_raised_for_what_is_still_open(
        matching: MatchingApplication, given: Feed, clock: FixedClock) -> None:
    given(invoice("INV-000001", "1000.00"), erp_paid(),
          payment("400.00", "partial payment INV-000001"))

    clock.advance(days=3)
    matching.check_erp_paid()

    [exception] = raised(matching)
    assert exception.open_amount == Money.of("600.00", "EUR")
    assert "600.00 EUR of its 1,000.00 EUR is still open" in exception.reason


def test_a_payment_that_clears_the_invoice_later_resolves_the_exception(
        matching: MatchingApplication, given: Feed, clock: FixedClock) -> None:
    given(invoice("INV-000001", "121.00"), erp_paid())
    clock.advance(days=3)
    matching.check_erp_paid()

    given(payment("121.00", "INV-000001", payment_id="pay-late"))

    [resolved] = published(matching, ErpPaidInvoiceCleared)
    assert (resolved.invoice_number, resolved.erp_paid_on, resolved.cleared_on) == (
        "INV-000001", PAID_ON, date(2024, 3, 23))
    assert "pay-late" in resolved.reason
    assert matching.erp_paid_uncleared("acme") == []


def test_an_invoice_receivables_never_saw_is_raised_once_the_grace_has_passed(
        matching: MatchingApplication, given: Feed, clock: FixedClock) -> None:
    clock.advance(days=5)
    given(erp_paid("INV-000404"))
    assert raised(matching) == []  # it may simply be on its way from invoicing

    matching.check_erp_paid()

    [exception] = raised(matching)
    assert exception.open_amount is None and exception.invoice_id is None
    assert "knows no invoice INV-000404" in exception.reason


def test_an_invoice_that_arrives_after_the_erp_said_it_was_paid_is_checked_on_arrival(
        matching: MatchingApplication, given: Feed, clock: FixedClock) -> None:
    given(erp_paid())
    clock.advance(days=3)

    given(invoice("INV-000001", "121.00"))

    [exception] = raised(matching)
    assert exception.open_amount == Money.of("121.00", "EUR")


def test_a_returned_payment_reopens_the_invoice_and_the_next_check_raises_it(
        matching: MatchingApplication, given: Feed, clock: FixedClock) -> None:
    given(invoice("INV-000001", "121.00"), erp_paid(), payment("121.00", "INV-000001"))
    clock.advance(days=3)
    assert matching.check_erp_paid() == 0

    given(PaymentReturned(return_id="ret-1", payment_id="pay-1", customer_id="C-1",
                          amount=Money.of("121.00", "EUR"), returned_on=date(2024, 3, 23),
                          kind="nsf", reason_code="AM04"))
    assert matching.check_erp_paid() == 1

    [exception] = raised(matching)
    assert exception.open_amount == Money.of("121.00", "EUR")


def test_the_erp_saying_it_twice_and_a_restart_raise_nothing_more(
        matching: MatchingApplication, given: Feed, clock: FixedClock) -> None:
    given(invoice("INV-000001", "121.00"), erp_paid())
    clock.advance(days=3)
    matching.check_erp_paid()

    given(erp_paid(paid_on=PAID_ON + timedelta(days=1)))
    matching._state = None  # noqa: SLF001 - as after a restart
    matching.check_erp_paid()

    assert len(raised(matching)) == 1
    assert [row["invoice_number"] for row in matching.erp_paid_uncleared("acme")] == [
        "INV-000001"]


# --- the collector's list over HTTP ----------------------------------------------------------


@pytest.fixture
def api(matching: MatchingApplication, clock: FixedClock) -> TestClient:
    app = FastAPI()
    app.include_router(matching_router(matching, "acme", clock))
    return TestClient(app, headers={"X-Tenant": "acme"})


def test_a_check_run_for_a_date_raises_what_is_due_and_the_list_shows_it(
        given: Feed, api: TestClient) -> None:
    given(invoice("INV-000001", "121.00"), invoice("INV-000002", "60.50"),
          erp_paid("INV-000001"), erp_paid("INV-000002", paid_on=PAID_ON + timedelta(days=5)))
    assert api.get("/exceptions/erp-paid-uncleared").json() == {"exceptions": []}

    run = api.post("/exceptions/erp-paid-uncleared/checks", json={"date": "2024-03-23"})

    assert run.json() == {"checked_on": "2024-03-23", "raised": 1}
    [listed] = api.get("/exceptions/erp-paid-uncleared").json()["exceptions"]
    assert (listed["invoice_number"], listed["open_amount"], listed["currency"],
            listed["detected_on"]) == ("INV-000001", "121.00", "EUR", "2024-03-23")
    assert api.get("/exceptions/erp-paid-uncleared",
                   headers={"X-Tenant": "globex"}).json() == {"exceptions": []}


def test_a_check_run_with_a_bad_date_is_refused_and_raises_nothing(
        matching: MatchingApplication, given: Feed, api: TestClient) -> None:
    given(invoice("INV-000001", "121.00"), erp_paid())

    refused = api.post("/exceptions/erp-paid-uncleared/checks", json={"date": "23.03.2024"})

    assert refused.status_code == 422 and "date" in refused.text
    assert raised(matching) == []
