"""Cash application: a payment settles the invoices its remittance names, or stays
unapplied for a person. A wrong match is worse than none."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from eventsourcing.persistence import Tracking

from libs.events import InvoiceIssued, Money, PaymentApplied, PaymentReceived, PaymentUnapplied
from libs.runtime.causation import Causation
from libs.runtime.eventstore import AlreadyProcessed, open_in_memory
from services.matching.application import MatchingApplication, to_integration_events
from services.matching.domain import REMITTANCE_INVOICE_NUMBER, CashReceipt, OpenInvoice

ACME = Causation(tenant="acme", causation_id="evt-1")
D = Decimal


@pytest.fixture
def matching() -> MatchingApplication:
    return open_in_memory(MatchingApplication)


def invoice(number: str = "INV-000001", total: str = "121.00", currency: str = "EUR",
            customer_id: str = "C-1") -> InvoiceIssued:
    net = (D(total) / D("1.21")).quantize(D("0.01"))
    return InvoiceIssued(
        invoice_id=f"id-{number}", invoice_number=number, customer_id=customer_id,
        issue_date=date(2024, 3, 1), due_date=date(2024, 3, 31), payment_terms_days=30,
        net_amount=Money.of(net, currency), tax_amount=Money.of(D(total) - net, currency),
        total=Money.of(total, currency),
    )


def payment(amount: str, remittance_text: str | None, payment_id: str = "pay-1",
            currency: str = "EUR") -> PaymentReceived:
    return PaymentReceived(payment_id=payment_id, customer_id="C-1",
                           amount=Money.of(amount, currency), value_date=date(2024, 3, 20),
                           remittance_text=remittance_text, bank_reference=f"ref-{payment_id}")


def invoices_at(offset: int) -> Tracking:
    return Tracking("ar.invoicing#0", offset)


def payments_at(offset: int) -> Tracking:
    return Tracking("ar.payments#0", offset)


def published(app: MatchingApplication) -> list[PaymentApplied | PaymentUnapplied]:
    return [integration
            for notification in app.recorder.select_notifications(None, 1000)
            for integration in to_integration_events(app.mapper.to_domain_event(notification))]


def applied(app: MatchingApplication) -> list[PaymentApplied]:
    return [event for event in published(app) if isinstance(event, PaymentApplied)]


def unapplied(app: MatchingApplication) -> list[PaymentUnapplied]:
    return [event for event in published(app) if isinstance(event, PaymentUnapplied)]


def open_amount(app: MatchingApplication, number: str) -> Decimal:
    return app.repository.get(OpenInvoice.create_id("acme", number)).open_amount


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


# --- invoices open -----------------------------------------------------------------


def test_an_issued_invoice_is_open_for_its_total(matching: MatchingApplication) -> None:
    matching.open_invoice(invoice("INV-000001", total="121.00"), ACME, invoices_at(0))

    opened = matching.repository.get(OpenInvoice.create_id("acme", "INV-000001"))
    assert (opened.invoice_id, opened.customer_id, opened.currency) == ("id-INV-000001", "C-1", "EUR")
    assert opened.total == opened.open_amount == D("121.00")
    assert opened.due_date == date(2024, 3, 31)
    assert published(matching) == []  # opening an invoice is matching's own business


def test_an_invoice_delivered_twice_is_opened_once(matching: MatchingApplication) -> None:
    matching.open_invoice(invoice(), ACME, invoices_at(0))
    matching.open_invoice(invoice(), ACME, invoices_at(1))

    assert matching.repository.get(OpenInvoice.create_id("acme", "INV-000001")).version == 1
    with pytest.raises(AlreadyProcessed):
        matching.open_invoice(invoice(), ACME, invoices_at(1))


# --- payments applied --------------------------------------------------------------


def test_a_payment_whose_remittance_names_the_invoice_settles_it_in_full(
    matching: MatchingApplication,
) -> None:
    matching.open_invoice(invoice("INV-000001", total="121.00"), ACME, invoices_at(0))

    matching.apply_payment(payment("121.00", "Thank you! payment for inv-000001, march delivery"),
                           ACME, payments_at(0))

    [application] = applied(matching)
    assert (application.payment_id, application.invoice_id, application.invoice_number) == (
        "pay-1", "id-INV-000001", "INV-000001")
    assert application.customer_id == "C-1"
    assert application.amount == eur("121.00")
    assert application.applied_on == date(2024, 3, 20)
    assert application.rule == REMITTANCE_INVOICE_NUMBER
    assert "INV-000001" in application.explanation
    assert unapplied(matching) == []
    assert open_amount(matching, "INV-000001") == D("0.00")


def test_a_partial_payment_leaves_the_rest_open_on_the_invoice(matching: MatchingApplication) -> None:
    matching.open_invoice(invoice("INV-000001", total="121.00"), ACME, invoices_at(0))

    matching.apply_payment(payment("100.00", "INV-000001"), ACME, payments_at(0))

    assert [event.amount for event in applied(matching)] == [eur("100.00")]
    assert open_amount(matching, "INV-000001") == D("21.00")
    assert unapplied(matching) == []


def test_a_second_payment_settles_what_the_first_left_open(matching: MatchingApplication) -> None:
    matching.open_invoice(invoice("INV-000001", total="121.00"), ACME, invoices_at(0))
    matching.apply_payment(payment("100.00", "INV-000001", payment_id="pay-1"), ACME, payments_at(0))

    matching.apply_payment(payment("21.00", "INV-000001 rest", payment_id="pay-2"), ACME, payments_at(1))

    assert [(event.payment_id, event.amount) for event in applied(matching)] == [
        ("pay-1", eur("100.00")), ("pay-2", eur("21.00"))]
    assert "21.00 EUR open" in applied(matching)[1].explanation
    assert open_amount(matching, "INV-000001") == D("0.00")


def test_an_overpayment_settles_the_invoice_and_leaves_the_excess_unapplied(
    matching: MatchingApplication,
) -> None:
    matching.open_invoice(invoice("INV-000001", total="121.00"), ACME, invoices_at(0))

    matching.apply_payment(payment("150.00", "INV-000001"), ACME, payments_at(0))

    assert [event.amount for event in applied(matching)] == [eur("121.00")]
    [excess] = unapplied(matching)
    assert (excess.payment_id, excess.customer_id, excess.amount) == ("pay-1", "C-1", eur("29.00"))
    assert excess.reason == "part of the payment exceeds the named invoices"
    assert open_amount(matching, "INV-000001") == D("0.00")


def test_a_payment_naming_no_known_invoice_stays_unapplied_with_the_reason(
    matching: MatchingApplication,
) -> None:
    matching.open_invoice(invoice("INV-000001"), ACME, invoices_at(0))

    matching.apply_payment(payment("121.00", "for order 4711 INV-999999"), ACME, payments_at(0))

    assert applied(matching) == []
    [left] = unapplied(matching)
    assert (left.amount, left.value_date) == (eur("121.00"), date(2024, 3, 20))
    assert left.reason == "the remittance names no open invoice"
    assert open_amount(matching, "INV-000001") == D("121.00")


def test_a_payment_with_no_remittance_at_all_stays_unapplied(matching: MatchingApplication) -> None:
    matching.open_invoice(invoice("INV-000001"), ACME, invoices_at(0))

    matching.apply_payment(payment("121.00", None), ACME, payments_at(0))

    assert applied(matching) == []
    assert [event.amount for event in unapplied(matching)] == [eur("121.00")]


def test_a_payment_in_another_currency_than_the_invoice_is_not_applied(
    matching: MatchingApplication,
) -> None:
    matching.open_invoice(invoice("INV-000001", total="121.00", currency="EUR"), ACME, invoices_at(0))

    matching.apply_payment(payment("121.00", "INV-000001", currency="USD"), ACME, payments_at(0))

    assert applied(matching) == []
    assert [event.amount for event in unapplied(matching)] == [Money.of("121.00", "USD")]
    assert open_amount(matching, "INV-000001") == D("121.00")


def test_one_payment_naming_two_invoices_settles_both_in_the_order_named(
    matching: MatchingApplication,
) -> None:
    matching.open_invoice(invoice("INV-000001", total="121.00"), ACME, invoices_at(0))
    matching.open_invoice(invoice("INV-000002", total="60.50"), ACME, invoices_at(1))

    matching.apply_payment(payment("181.50", "INV-000002 and INV-000001"), ACME, payments_at(0))

    assert [(event.invoice_number, event.amount) for event in applied(matching)] == [
        ("INV-000002", eur("60.50")), ("INV-000001", eur("121.00"))]
    assert len({event.application_id for event in applied(matching)}) == 2
    assert (open_amount(matching, "INV-000001"), open_amount(matching, "INV-000002")) == (D("0.00"), D("0.00"))
    assert unapplied(matching) == []


def test_when_the_money_runs_out_the_invoice_named_first_is_settled_first(
    matching: MatchingApplication,
) -> None:
    matching.open_invoice(invoice("INV-000001", total="121.00"), ACME, invoices_at(0))
    matching.open_invoice(invoice("INV-000002", total="60.50"), ACME, invoices_at(1))

    matching.apply_payment(payment("100.00", "INV-000002, INV-000001"), ACME, payments_at(0))

    assert [(event.invoice_number, event.amount) for event in applied(matching)] == [
        ("INV-000002", eur("60.50")), ("INV-000001", eur("39.50"))]
    assert open_amount(matching, "INV-000001") == D("81.50")


# --- exactly once ------------------------------------------------------------------


def test_the_same_payment_delivered_twice_is_applied_once(matching: MatchingApplication) -> None:
    matching.open_invoice(invoice("INV-000001", total="121.00"), ACME, invoices_at(0))
    matching.apply_payment(payment("100.00", "INV-000001"), ACME, payments_at(0))

    matching.apply_payment(payment("100.00", "INV-000001"), ACME, payments_at(1))  # re-published

    assert [event.amount for event in applied(matching)] == [eur("100.00")]
    assert open_amount(matching, "INV-000001") == D("21.00")
    assert matching.repository.get(CashReceipt.create_id("acme", "pay-1")).unapplied == D("0.00")


def test_a_redelivered_kafka_position_is_recognised_and_changes_nothing(
    matching: MatchingApplication,
) -> None:
    matching.open_invoice(invoice("INV-000001", total="121.00"), ACME, invoices_at(0))
    matching.apply_payment(payment("100.00", "INV-000001"), ACME, payments_at(3))

    with pytest.raises(AlreadyProcessed):
        matching.apply_payment(payment("100.00", "INV-000001"), ACME, payments_at(3))

    assert len(applied(matching)) == 1
    assert open_amount(matching, "INV-000001") == D("21.00")
