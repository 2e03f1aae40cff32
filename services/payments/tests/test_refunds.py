"""Refunds: a payment pays back at most what it brought in, less what was already
refunded or returned by the bank, and a retried request refunds once."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from libs.events import Money, RefundIssued
from libs.runtime.causation import Causation
from libs.runtime.clock import FixedClock
from libs.runtime.eventstore import open_in_memory
from services.payments.application import (
    PaymentsApplication,
    RecordPayment,
    UnknownPayment,
)
from services.payments.domain import Payment, RefundRefused

from .bank_files import ACME_IBAN, mt940, returned_payment
from .published import published

ACME = Causation(tenant="acme", traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
COLLECTOR = "collector:anna"


@pytest.fixture
def payments() -> PaymentsApplication:
    app = open_in_memory(PaymentsApplication)
    app.clock = FixedClock(datetime(2024, 4, 2, 10, 0, tzinfo=UTC))
    return app


@pytest.fixture
def payment(payments: PaymentsApplication) -> Payment:
    payment, _ = payments.record_payment(RecordPayment(
        reference="BANK-1", amount="121.00", currency="EUR", value_date=date(2024, 3, 20),
        customer_id="C-1", payer_account=ACME_IBAN, end_to_end_id="E2E-1"), ACME)
    return payment


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def refunds(app: PaymentsApplication) -> list[RefundIssued]:
    return published(app, RefundIssued)


def test_a_refund_is_issued_on_the_payment_and_published(payments: PaymentsApplication,
                                                          payment: Payment) -> None:
    refund_id, refunded = payments.issue_refund(str(payment.id), eur("21.00"),
                                                "charged twice for delivery", COLLECTOR, ACME)

    assert refunded.refundable == Decimal("100.00")
    assert refunds(payments) == [RefundIssued(
        refund_id=refund_id, payment_id=str(payment.id), customer_id="C-1", amount=eur("21.00"),
        issued_on=date(2024, 4, 2), reason="charged twice for delivery",
        requested_by=COLLECTOR, payer_account=ACME_IBAN)]
    assert refunds(payments)[0].partition_key == "C-1"  # after the payment, on its partition


def test_the_whole_payment_can_be_refunded_in_parts(payments: PaymentsApplication,
                                                    payment: Payment) -> None:
    payments.issue_refund(str(payment.id), eur("100.00"), "goods returned", COLLECTOR, ACME)

    _, refunded = payments.issue_refund(str(payment.id), eur("21.00"), "freight", COLLECTOR, ACME)

    assert refunded.refundable == Decimal("0.00")


def test_more_than_is_left_of_the_payment_is_refused(payments: PaymentsApplication,
                                                     payment: Payment) -> None:
    payments.issue_refund(str(payment.id), eur("100.00"), "goods returned", COLLECTOR, ACME)

    with pytest.raises(RefundRefused) as refused:
        payments.issue_refund(str(payment.id), eur("21.01"), "freight", COLLECTOR, ACME)

    assert str(refused.value) == (
        "cannot refund 21.01 EUR: the payment received 121.00 EUR, of which 100.00 was "
        "refunded and 0.00 returned, so at most 21.00 EUR can be refunded")
    assert len(refunds(payments)) == 1


def test_money_the_bank_already_returned_cannot_be_refunded_as_well(
    payments: PaymentsApplication, payment: Payment,
) -> None:
    payments.import_statement(mt940("RET-1", returned_payment(
        date(2024, 3, 28), "121.00", "B-9", "E2E-1", "MD06")), None, None, ACME)

    with pytest.raises(RefundRefused, match="at most 0.00 EUR can be refunded"):
        payments.issue_refund(str(payment.id), eur("1.00"), "goodwill", COLLECTOR, ACME)


@pytest.mark.parametrize(("amount", "reason", "actor", "message"), [
    (Money.of("10.00", "USD"), "wrong currency", COLLECTOR, "received in EUR, not USD"),
    (eur("0.001"), "a tenth of a cent", COLLECTOR, "0.001 EUR is not an amount that can be paid"),
    (eur("0.00"), "nothing", COLLECTOR, "0.00 EUR is not an amount that can be paid"),
    (eur("5.00"), " ", COLLECTOR, "needs a reason and the name of who asked"),
    (eur("5.00"), "goodwill", "", "needs a reason and the name of who asked"),
])
def test_a_refund_that_cannot_be_paid_is_refused_saying_why(
    payments: PaymentsApplication, payment: Payment, amount: Money, reason: str, actor: str,
    message: str,
) -> None:
    with pytest.raises(RefundRefused, match=message):
        payments.issue_refund(str(payment.id), amount, reason, actor, ACME)
    assert refunds(payments) == []


def test_a_retried_refund_request_refunds_once(payments: PaymentsApplication,
                                               payment: Payment) -> None:
    first, _ = payments.issue_refund(str(payment.id), eur("21.00"), "freight", COLLECTOR, ACME,
                                     refund_id="ticket-4711")

    again, refunded = payments.issue_refund(str(payment.id), eur("21.00"), "freight", COLLECTOR,
                                            ACME, refund_id="ticket-4711")

    assert first == again == "ticket-4711"
    assert refunded.refundable == Decimal("100.00")
    assert len(refunds(payments)) == 1


@pytest.mark.parametrize("who", ["another tenant", "no such payment", "not a payment id"])
def test_a_refund_of_a_payment_this_tenant_does_not_have_is_refused(
    payments: PaymentsApplication, payment: Payment, who: str,
) -> None:
    payment_id, tenant = {
        "another tenant": (str(payment.id), "globex"),
        "no such payment": ("9b2d5c1e-0000-4000-8000-000000000000", "acme"),
        "not a payment id": ("BANK-1", "acme"),
    }[who]

    with pytest.raises(UnknownPayment):
        payments.issue_refund(payment_id, eur("1.00"), "goodwill", COLLECTOR,
                              Causation(tenant=tenant))
