"""Payments' write side: a payment is recorded once, however often the bank or a
person reports it, and a reference reused for different money is refused."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from libs.events import Money, PaymentReceived
from libs.runtime.causation import Causation
from libs.runtime.eventstore import open_in_memory
from services.payments.application import (
    ConflictingPayment,
    PaymentsApplication,
    RecordPayment,
    to_integration_events,
)
from services.payments.domain import Payment

from .published import published

ACME = Causation(tenant="acme", causation_id="evt-1")
GLOBEX = Causation(tenant="globex", causation_id="evt-2")


@pytest.fixture
def payments() -> PaymentsApplication:
    return open_in_memory(PaymentsApplication)


def bank_line(reference: str = "NL-STMT-2024-03-20-0001", amount: str = "121.00",
              currency: str = "EUR", value_date: date = date(2024, 3, 20),
              remittance_text: str | None = "INV-000001") -> RecordPayment:
    return RecordPayment(reference=reference, amount=amount, currency=currency,
                         value_date=value_date, booking_date=date(2024, 3, 21),
                         customer_id="C-1", payer_name="Acme Retail BV",
                         payer_account="NL91ABNA0417164300", remittance_text=remittance_text)


def stored(app: PaymentsApplication) -> list[object]:
    return [app.mapper.to_domain_event(notification)
            for notification in app.recorder.select_notifications(None, 1000)]


def received(app: PaymentsApplication) -> list[Payment.Received]:
    """The payments stored; their references are stored beside them, for returns to find."""
    return [event for event in stored(app) if isinstance(event, Payment.Received)]


def test_a_bank_statement_line_is_recorded_as_a_received_payment(payments: PaymentsApplication) -> None:
    payment, created = payments.record_payment(bank_line(), ACME)

    assert created is True
    [event] = received(payments)
    assert event.originator_id == payment.id == Payment.create_id("acme", "NL-STMT-2024-03-20-0001")
    assert (event.amount, event.currency, event.value_date) == (
        Decimal("121.00"), "EUR", date(2024, 3, 20))
    assert event.causation == ACME.as_dict()


def test_the_received_payment_is_published_with_its_bank_reference(payments: PaymentsApplication) -> None:
    payment, _ = payments.record_payment(bank_line(), ACME)

    [event] = published(payments, PaymentReceived)

    assert event == PaymentReceived(
        payment_id=str(payment.id), customer_id="C-1", amount=Money.of("121.00", "EUR"),
        value_date=date(2024, 3, 20), booking_date=date(2024, 3, 21),
        payer_name="Acme Retail BV", payer_account="NL91ABNA0417164300",
        remittance_text="INV-000001", bank_reference="NL-STMT-2024-03-20-0001",
    )


def test_the_same_bank_reference_reported_twice_is_one_payment(payments: PaymentsApplication) -> None:
    first, _ = payments.record_payment(bank_line(), ACME)

    again, created = payments.record_payment(bank_line(), ACME)

    assert created is False
    assert again.id == first.id
    assert len(received(payments)) == 1


def test_a_reported_amount_written_with_fewer_decimals_is_still_the_same_payment(
    payments: PaymentsApplication,
) -> None:
    payments.record_payment(bank_line(amount="121.00", currency="EUR"), ACME)

    _, created = payments.record_payment(bank_line(amount="121", currency="eur"), ACME)

    assert created is False
    assert len(received(payments)) == 1


@pytest.mark.parametrize(
    ("story", "changed"),
    [
        ("a different amount", bank_line(amount="12.10")),
        ("a different currency", bank_line(currency="USD")),
        ("a different value date", bank_line(value_date=date(2024, 3, 22))),
    ],
)
def test_a_reference_reused_for_different_money_is_refused_naming_the_reference(
    payments: PaymentsApplication, story: str, changed: RecordPayment,
) -> None:
    payments.record_payment(bank_line(), ACME)

    with pytest.raises(ConflictingPayment) as refused:
        payments.record_payment(changed, ACME)

    assert "'NL-STMT-2024-03-20-0001' was already recorded for 121.00 EUR on 2024-03-20" in str(refused.value), story
    assert len(received(payments)) == 1


def test_the_same_reference_in_two_tenants_is_two_payments(payments: PaymentsApplication) -> None:
    _, in_acme = payments.record_payment(bank_line(), ACME)
    _, in_globex = payments.record_payment(bank_line(amount="99.00"), GLOBEX)

    assert (in_acme, in_globex) == (True, True)
    assert sorted(event.amount for event in received(payments)) == [Decimal("99.00"), Decimal("121.00")]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("amount", "0", "greater than 0"),
        ("amount", "-5.00", "greater than 0"),
        ("amount", 12.1, "not floats"),
        ("currency", "XXY", "'XXY' is not an active ISO 4217 currency code"),
        ("reference", "", "at least 1 character"),
    ],
)
def test_a_payment_command_with_bad_input_is_refused_with_a_clear_message(
    field: str, value: object, message: str,
) -> None:
    command = bank_line().model_dump()
    command[field] = value

    with pytest.raises(ValidationError, match=message):
        RecordPayment(**command)


def test_a_payment_stored_before_statement_import_still_loads_and_publishes(
    payments: PaymentsApplication,
) -> None:
    payments.record_payment(bank_line(), ACME)
    [event] = received(payments)
    for field in ("end_to_end_id", "creditor_references", "statement_id", "line_id"):
        del event.__dict__[field]  # as the events stored before these fields existed

    [published_event] = to_integration_events(event)
    payment = event.mutate(None)

    assert (published_event.end_to_end_id, published_event.creditor_references) == (None, ())
    assert (payment.end_to_end_id, payment.refundable) == (None, Decimal("121.00"))
