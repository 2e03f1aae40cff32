"""Importing a bank statement: every customer payment on it recorded once, however often
and in however many overlapping files the bank sends it; returns linked to the payment
they take back; a file that cannot be trusted rejected whole, with nothing recorded."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from libs.events import Money, PaymentReceived, PaymentReturned
from libs.runtime.causation import Causation
from libs.runtime.eventstore import open_in_memory
from services.payments.application import PaymentsApplication, RecordPayment
from services.payments.statements import StatementRejected
from services.payments.statements.csv_import import OCA_BALANCE

from .bank_files import (
    ACME_IBAN,
    Booking,
    customer_payment,
    mt940,
    returned_payment,
    supplier_payment,
)
from .published import published
from .statement_samples import sample

ACME = Causation(tenant="acme", causation_id="upload-1", actor="treasury")
NEWLINE = b"\n"
MAR_25, MAR_26, MAR_27 = date(2024, 3, 25), date(2024, 3, 26), date(2024, 3, 27)


@pytest.fixture
def payments() -> PaymentsApplication:
    return open_in_memory(PaymentsApplication)


def received(app: PaymentsApplication) -> list[PaymentReceived]:
    return published(app, PaymentReceived)


def returned(app: PaymentsApplication) -> list[PaymentReturned]:
    return published(app, PaymentReturned)


def stored_count(app: PaymentsApplication) -> int:
    return app.recorder.max_notification_id() or 0


def import_file(app: PaymentsApplication, data: bytes, format: str | None = None,
                csv_mapping=None, causation: Causation = ACME):  # noqa: ANN001, ANN201
    return app.import_statement(data, format, csv_mapping, causation)


# --- credit lines become payments ---------------------------------------------------------


def test_a_credit_notification_becomes_a_payment_with_everything_the_bank_said(
    payments: PaymentsApplication,
) -> None:
    summary = import_file(payments, sample("camt054/oca_test-camt054.xml"))

    [payment] = received(payments)
    assert payment == PaymentReceived(
        payment_id=payment.payment_id, customer_id=None, amount=Money.of("5.00", "EUR"),
        value_date=date(2022, 1, 26), booking_date=date(2022, 1, 26), payer_name="Test Customer",
        payer_account="NL46ABNA0499998748", remittance_text=None,
        bank_reference="15180015077602405", end_to_end_id="ENDTOENDID-01",
        creditor_references=("000000000000000000000000003",))
    assert (summary.new, summary.duplicates, summary.returns, summary.ignored) == (1, 0, 0, 0)
    [statement] = summary.statements
    assert (statement.statement_id, statement.account, statement.format) == (
        "20220120000000000000000", "NL77ABNA0574908765", "camt.054")


def test_a_batch_credit_becomes_one_payment_per_payer(payments: PaymentsApplication) -> None:
    import_file(payments, sample("camt053/oca_test-camt053-txdtls.xml"))

    assert sorted((p.amount, p.payer_account, p.creditor_references) for p in received(payments)) == [
        (Money.of("1296.00", "CHF"), "CH3333000000123456789", ("302388292000022222222222222",)),
        (Money.of("2187.00", "CHF"), "CH2222000000123456789", ("302388292000011111111111111",)),
    ]


def test_money_the_company_paid_out_is_left_alone(payments: PaymentsApplication) -> None:
    statement = mt940("OUT-1", customer_payment(MAR_25, "121.00", "B-1", "E2E-1"),
                      supplier_payment(MAR_25, "40.00", "B-2"))

    summary = import_file(payments, statement)

    assert (summary.new, summary.ignored) == (1, 1)
    assert [p.amount for p in received(payments)] == [Money.of("121.00", "EUR")]


def test_a_reversed_debit_is_not_cash_from_a_customer(payments: PaymentsApplication) -> None:
    bounced_refund = Booking(MAR_25, "RD", "30.00", "B-9", "/RTRN/AC04/REMI/Refund returned")

    summary = import_file(payments, mt940("RD-1", bounced_refund))

    assert (summary.new, summary.returns, summary.ignored) == (0, 0, 1)
    assert published(payments) == []


def test_an_entry_the_bank_has_not_booked_yet_is_not_a_payment(payments: PaymentsApplication) -> None:
    pending = sample("camt053/genkgo_camt053.v2.multi.statement.xml").replace(
        b"<Sts>BOOK</Sts>", b"<Sts>PDNG</Sts>", 1)
    # The balances of a statement with a pending entry no longer add up; a notification
    # (no balances) is how banks report entries before booking them.
    notification = pending.replace(b"<Bal>", b"<!--").replace(b"</Bal>", b"-->")

    summary = import_file(payments, notification)

    assert summary.statements[0].ignored == 1
    assert all(p.amount != Money.of("8.85", "EUR") for p in received(payments))


# --- re-imports create no duplicates ------------------------------------------------------


def test_the_same_file_imported_twice_is_one_set_of_payments(payments: PaymentsApplication) -> None:
    data = sample("camt053/oca_test-camt053-txdtls.xml")
    first = import_file(payments, data)
    stored = stored_count(payments)

    again = import_file(payments, data)

    assert (first.new, first.duplicates) == (2, 0)
    assert (again.new, again.duplicates) == (0, 2)
    assert stored_count(payments) == stored
    assert len(received(payments)) == 2


def test_overlapping_statements_record_the_shared_lines_once(payments: PaymentsApplication) -> None:
    monday = customer_payment(MAR_25, "121.00", "B-1", "E2E-1")
    tuesday = customer_payment(MAR_26, "50.00", "B-2", "E2E-2")
    wednesday = customer_payment(MAR_27, "75.00", "B-3", "E2E-3")
    # The bank's intraday file and its end-of-week file both report Tuesday.
    import_file(payments, mt940("INTRADAY-1", monday, tuesday))

    summary = import_file(payments, mt940("WEEK-13", tuesday, wednesday, opening="1121.00"))

    assert (summary.new, summary.duplicates) == (1, 1)
    assert sorted(p.amount.amount for p in received(payments)) == [
        Decimal("50.00"), Decimal("75.00"), Decimal("121.00")]


def test_the_same_statement_in_another_tenant_is_another_set_of_payments(
    payments: PaymentsApplication,
) -> None:
    data = sample("camt054/oca_test-camt054.xml")
    import_file(payments, data)

    summary = import_file(payments, data, causation=Causation(tenant="globex"))

    assert summary.new == 1
    assert len(received(payments)) == 2


def test_a_csv_export_is_imported_with_its_column_mapping(payments: PaymentsApplication) -> None:
    summary = import_file(payments, sample("csv/oca_balance.csv"), "csv", OCA_BALANCE)

    assert (summary.new, summary.ignored) == (1, 1)
    [payment] = received(payments)
    assert (payment.amount, payment.payer_name, payment.remittance_text) == (
        Money.of("1533.50", "USD"), "Azure Interior", "Your payment")


# --- a file is imported whole or not at all --------------------------------------------------


def rejection(app: PaymentsApplication, data: bytes, format: str | None = None) -> StatementRejected:
    with pytest.raises(StatementRejected) as rejected:
        import_file(app, data, format)
    assert stored_count(app) == 0, "a rejected file must leave nothing behind"
    return rejected.value


def test_a_statement_whose_balances_do_not_add_up_is_rejected_whole(
    payments: PaymentsApplication,
) -> None:
    # Its entries net to -12.99 but its balances move by -447.15: something is missing.
    error = rejection(payments, sample("camt053/oca_test-camt053.xml"))

    assert error.location == "Stmt[1] (line 7)"
    assert "balances do not reconcile" in error.message
    assert "(difference -434.16)" in error.message


def test_a_good_statement_is_not_imported_when_the_next_one_in_the_file_is_bad(
    payments: PaymentsApplication,
) -> None:
    # The first statement of the file adds up, the second is 300.08 short.
    error = rejection(payments, sample("mt940/betterplace_sepa_snippet.sta"))

    assert error.location == "line 55 (:62F:)"


def test_a_truncated_file_is_rejected_naming_where_it_ends(payments: PaymentsApplication) -> None:
    data = sample("camt053/oca_test-camt053-txdtls.xml")
    truncated = data[: len(data) // 2]

    error = rejection(payments, truncated)

    assert error.location == f"line {truncated.count(NEWLINE) + 1}"
    assert "not well-formed XML" in error.message


def test_a_malformed_amount_is_rejected_naming_the_line(payments: PaymentsApplication) -> None:
    data = mt940("BAD-1", customer_payment(MAR_25, "121.00", "B-1", "E2E-1")).replace(
        b"C121,00NTRF", b"C12X,00NTRF")

    error = rejection(payments, data, "mt940")

    assert error.location == "line 6 (:61:)"


def test_a_line_in_a_currency_that_no_longer_exists_cannot_be_recorded(
    payments: PaymentsApplication,
) -> None:
    # The first statement of the file is in Deutsche Mark, replaced by the euro in 2002.
    error = rejection(payments, sample("mt940/cmxl_mt940.sta"))

    assert error.location == "line 9 (:61:)"  # its first credit
    assert error.message.startswith("currency 'DEM' is not an active ISO 4217 currency")


def test_a_statement_without_balances_is_imported_as_it_cannot_be_checked(
    payments: PaymentsApplication,
) -> None:
    summary = import_file(payments, sample("bai2/moov_sample1.bai2"))

    assert (summary.new, summary.ignored) == (5, 12)


# --- returns --------------------------------------------------------------------------------


def test_a_return_is_linked_to_the_payment_it_takes_back(payments: PaymentsApplication) -> None:
    import_file(payments, mt940("DAY-1", customer_payment(MAR_25, "121.00", "B-1", "E2E-1")))
    [payment] = received(payments)

    summary = import_file(payments, mt940(
        "DAY-2", returned_payment(MAR_26, "121.00", "B-7", "E2E-1", "AM04"), opening="1121.00"))

    assert (summary.returns, summary.new) == (1, 0)
    [returned_payment_event] = returned(payments)
    assert returned_payment_event == PaymentReturned(
        return_id=returned_payment_event.return_id, payment_id=payment.payment_id,
        customer_id=None, amount=Money.of("121.00", "EUR"), returned_on=MAR_26, kind="nsf",
        reason_code="AM04", reason_text="insufficient funds", payer_account=ACME_IBAN,
        bank_reference="B-7", end_to_end_id="E2E-1")
    assert returned_payment_event.partition_key == payment.partition_key
    assert payments.payment(payment.payment_id, "acme").refundable == Decimal("0.00")


def test_a_return_in_the_same_file_as_its_payment_is_linked_too(payments: PaymentsApplication) -> None:
    import_file(payments, mt940("WEEK-1", customer_payment(MAR_25, "60.00", "B-1", "E2E-5"),
                                returned_payment(MAR_27, "60.00", "B-2", "E2E-5", "MD06")))

    [payment], [taken_back] = received(payments), returned(payments)
    assert (taken_back.payment_id, taken_back.kind) == (payment.payment_id, "chargeback")


def test_a_return_of_a_payment_recorded_elsewhere_is_found_by_its_bank_reference(
    payments: PaymentsApplication,
) -> None:
    payment, _ = payments.record_payment(RecordPayment(
        reference="B-1", amount="80.00", currency="EUR", value_date=MAR_25), ACME)
    return_quoting_it = Booking(MAR_26, "D", "80.00", "B-1", "/RTRN/AC04/REMI/Account closed")

    import_file(payments, mt940("DAY-2", return_quoting_it, opening="1080.00"))

    [taken_back] = returned(payments)
    assert (taken_back.payment_id, taken_back.kind, taken_back.reason_text) == (
        str(payment.id), "returned", "account closed")


def test_a_return_of_an_unknown_payment_is_still_reported(payments: PaymentsApplication) -> None:
    import_file(payments, mt940("DAY-2", returned_payment(MAR_26, "10.00", "B-7", "E2E-404", "XX99")))

    [taken_back] = returned(payments)
    assert taken_back.payment_id is None
    assert (taken_back.kind, taken_back.reason_code, taken_back.reason_text) == (
        "returned", "XX99", "Returned")
    assert taken_back.partition_key == f"unidentified:{ACME_IBAN}"


def test_a_return_quoting_a_reference_two_payments_share_is_not_guessed(
    payments: PaymentsApplication,
) -> None:
    # A batch: two payers' credits under one bank reference, no end-to-end ids.
    import_file(payments, sample("camt053/oca_test-camt053-txdtls.xml"))
    batch_reference = "123456CHCAFEBABE"

    import_file(payments, mt940("RET-1", Booking(MAR_26, "D", "10.00", batch_reference,
                                                 "/RTRN/AC04/"), currency="CHF"))

    [taken_back] = returned(payments)
    assert taken_back.payment_id is None


def test_a_return_imported_twice_is_one_return(payments: PaymentsApplication) -> None:
    data = mt940("DAY-2", returned_payment(MAR_26, "10.00", "B-7", "E2E-1", "AC06"))
    import_file(payments, data)

    summary = import_file(payments, data)

    assert (summary.returns, summary.duplicates) == (0, 1)
    assert len(returned(payments)) == 1


def test_returned_direct_debits_on_a_real_statement_are_recognised(
    payments: PaymentsApplication,
) -> None:
    # oca_test-camt053 does not reconcile; its entries are read without the balance lines.
    data = sample("camt053/oca_test-camt053.xml")
    without_balances = data.replace(b"<Bal>", b"<!--").replace(b"</Bal>", b"-->")

    summary = import_file(payments, without_balances)

    assert (summary.new, summary.returns, summary.ignored) == (1, 2, 1)
    assert sorted((r.amount.amount, r.reason_code, r.reason_text) for r in returned(payments)) == [
        (Decimal("100.00"), "AC06", "account blocked"),
        (Decimal("564.05"), "AC06", "account blocked")]
