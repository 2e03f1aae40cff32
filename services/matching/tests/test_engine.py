"""The decision core, rule by rule: given a book, when a payment comes, then this decision.
A wrong match is worse than none: every rule has its case where it must not decide."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.matching.engine import (
    RULE_CUSTOMER_AMOUNT,
    RULE_CUSTOMER_COMBINATION,
    RULE_CUSTOMER_NEAR_AMOUNT,
    RULE_REFERENCE,
    RULE_REFERENCE_DIGITS,
    RULE_REFERENCE_TYPO,
    RULE_RF,
    RULE_UNAPPLIED,
    Book,
    Decision,
    IncomingPayment,
    Policy,
    book_decision,
    decide,
)
from services.matching.references import rf_reference

D = Decimal


@pytest.fixture
def book() -> Book:
    """Two customers: Acme Retail with three open invoices, Globex with two."""
    book = Book()
    book.upsert_customer("C-1001", "Acme Retail BV")
    book.upsert_customer("C-2002", "Globex Trading GmbH")
    book.open_item("i-1", "INV-004711", "C-1001", "EUR", D("121.00"), date(2024, 3, 31))
    book.open_item("i-2", "INV-004712", "C-1001", "EUR", D("60.50"), date(2024, 4, 30))
    book.open_item("i-3", "INV-004713", "C-1001", "EUR", D("1000.00"), date(2024, 5, 31))
    book.open_item("i-4", "INV-008100", "C-2002", "EUR", D("250.00"), date(2024, 4, 15))
    book.open_item("i-5", "INV-008101", "C-2002", "EUR", D("99.99"), date(2024, 4, 20))
    return book


def pay(book: Book, amount: str, text: str | None = None, policy: Policy = Policy(),
        **payer: str | None) -> Decision:
    return decide(book, IncomingPayment("pay-1", D(amount), payer.pop("currency", None) or "EUR",
                                        date(2024, 3, 20), remittance_text=text, **payer),
                  policy)


def applied(decision: Decision) -> list[tuple[str, Decimal]]:
    return [(allocation.number, allocation.amount) for allocation in decision.allocations]


# --- 1. references -----------------------------------------------------------------------


def test_an_rf_creditor_reference_with_correct_check_digits_names_the_invoice(book: Book) -> None:
    decision = pay(book, "121.00", f"payment {rf_reference('INV-004711')}")

    assert applied(decision) == [("INV-004711", D("121.00"))]
    assert decision.rule == RULE_RF and decision.score == D("0.99")
    assert "check digits correct" in decision.allocations[0].evidence[0]


@pytest.mark.parametrize("text", ["INV-004711", "inv 4711", "Invoice INV004711 thanks",
                                  "INV 004 711", "inv-0004711"])
def test_an_invoice_number_is_read_through_the_usual_noise(book: Book, text: str) -> None:
    decision = pay(book, "121.00", text)

    assert applied(decision) == [("INV-004711", D("121.00"))]
    assert decision.rule == RULE_REFERENCE


def test_digits_without_the_prefix_count_when_the_amount_confirms_them(book: Book) -> None:
    decision = pay(book, "60.50", "Rechnung Nr. 4712")

    assert applied(decision) == [("INV-004712", D("60.50"))]
    assert decision.rule == RULE_REFERENCE_DIGITS
    assert "exactly what was open" in decision.summary


def test_digits_that_nothing_confirms_do_not_settle_anything(book: Book) -> None:
    decision = pay(book, "77.00", "our ref 4712")

    assert decision.rule == RULE_UNAPPLIED and decision.unapplied == D("77.00")


def test_one_mistyped_digit_is_forgiven_when_the_amount_singles_out_the_invoice(book: Book) -> None:
    decision = pay(book, "250.00", "INV-081000")  # an extra zero

    assert applied(decision) == [("INV-008100", D("250.00"))]
    assert decision.rule == RULE_REFERENCE_TYPO
    assert "one character different" in decision.summary


def test_a_typo_that_lands_on_another_open_invoice_is_corrected_by_the_exact_amount(
        book: Book) -> None:
    decision = pay(book, "121.00", "INV-004712")  # 4711 meant: 121.00 is its amount

    assert applied(decision) == [("INV-004711", D("121.00"))]
    assert decision.rule == RULE_REFERENCE_TYPO


def test_a_typo_two_invoices_could_explain_stays_unapplied(book: Book) -> None:
    book.open_item("i-6", "INV-004715", "C-2002", "EUR", D("121.00"), date(2024, 4, 1))

    decision = pay(book, "121.00", "INV-004719")  # 4711 and 4715 are one keystroke away

    assert decision.rule == RULE_UNAPPLIED


def test_a_payer_naming_another_customers_invoice_is_left_for_a_person(book: Book) -> None:
    decision = pay(book, "250.00", "INV-008100", customer_id="C-1001")

    assert decision.rule == RULE_UNAPPLIED
    assert "another customer" in decision.reason


def test_an_invoice_named_but_already_settled_is_not_paid_twice(book: Book) -> None:
    book.change_open_amount("i-1", D("-121.00"))

    decision = pay(book, "121.00", "INV-004711")

    assert decision.rule == RULE_UNAPPLIED and "already settled" in decision.reason


def test_a_reference_to_an_invoice_not_issued_yet_waits_for_it(book: Book) -> None:
    decision = pay(book, "80.00", "INV-009999")

    assert decision.rule == RULE_UNAPPLIED
    assert decision.waiting_for == ("9999",)
    assert "applied when it arrives" in decision.reason


# --- 2-4. the payer, then amounts ----------------------------------------------------------


def test_a_payer_named_like_a_customer_pays_its_only_open_item_of_that_amount(book: Book) -> None:
    decision = pay(book, "99.99", None, payer_name="GLOBEX TRADING G.M.B.H.")

    assert applied(decision) == [("INV-008101", D("99.99"))]
    assert decision.rule == RULE_CUSTOMER_AMOUNT and decision.identified_by == "payer-name"


def test_a_payer_name_with_a_typo_is_still_recognised(book: Book) -> None:
    decision = pay(book, "99.99", None, payer_name="Globex Tradnig")

    assert applied(decision) == [("INV-008101", D("99.99"))]


def test_a_customer_number_in_the_text_identifies_the_payer(book: Book) -> None:
    decision = pay(book, "250.00", "customer C-2002 april")

    assert applied(decision) == [("INV-008100", D("250.00"))]
    assert decision.identified_by == "customer-number"


def test_a_bank_account_that_paid_a_customer_before_identifies_it(book: Book) -> None:
    book.learn_account("NL91 ABNA 0417 1643 00", "C-2002")

    decision = pay(book, "99.99", None, payer_account="NL91ABNA0417164300", payer_name="X")

    assert applied(decision) == [("INV-008101", D("99.99"))]
    assert decision.identified_by == "payer-account"


def test_an_account_that_paid_for_several_customers_identifies_nobody(book: Book) -> None:
    book.learn_account("FR7630006000011234567890189", "C-1001")
    book.learn_account("FR7630006000011234567890189", "C-2002")

    decision = pay(book, "99.99", None, payer_account="FR7630006000011234567890189")

    assert decision.rule == RULE_UNAPPLIED
    assert any("third-party payer" in line for line in decision.evidence)


def test_two_open_items_of_the_same_amount_leave_the_choice_to_a_person(book: Book) -> None:
    book.open_item("i-7", "INV-008102", "C-2002", "EUR", D("99.99"), date(2024, 5, 1))

    decision = pay(book, "99.99", None, customer_id="C-2002")

    assert decision.rule == RULE_UNAPPLIED and "several open items" in decision.reason


def test_open_items_that_add_up_to_the_payment_are_settled_together(book: Book) -> None:
    decision = pay(book, "181.50", None, customer_id="C-1001")

    assert applied(decision) == [("INV-004711", D("121.00")), ("INV-004712", D("60.50"))]
    assert decision.rule == RULE_CUSTOMER_COMBINATION


def test_an_open_credit_the_payer_deducted_is_part_of_the_combination(book: Book) -> None:
    book.open_item("cn-1", "CN-000007", "C-1001", "EUR", D("-21.00"), date(2024, 3, 1),
                   kind="credit")

    decision = pay(book, "160.50", None, customer_id="C-1001")  # 121.00 + 60.50 - 21.00

    assert decision.rule == RULE_CUSTOMER_COMBINATION
    assert [(use.credit_number, use.number, use.amount) for use in decision.credit_uses] == [
        ("CN-000007", "INV-004711", D("21.00"))]
    assert applied(decision) == [("INV-004711", D("100.00")), ("INV-004712", D("60.50"))]


def test_an_amount_within_tolerance_of_one_open_item_settles_it_and_writes_off_the_rest(
        book: Book) -> None:
    decision = pay(book, "997.50", None, customer_id="C-1001")  # 2.50 of bank charges

    assert decision.rule == RULE_CUSTOMER_NEAR_AMOUNT
    assert applied(decision) == [("INV-004713", D("997.50"))]
    [write_off] = decision.adjustments
    assert (write_off.kind, write_off.amount, write_off.reason_code) == (
        "write-off", D("2.50"), "bank-charges")


def test_an_unknown_payer_with_no_remittance_stays_unapplied_with_the_reason(book: Book) -> None:
    decision = pay(book, "121.00", None, payer_name="J. Smith")

    assert decision.rule == RULE_UNAPPLIED
    assert decision.reason == "no remittance text, and the payer could not be identified"
    assert "for a person to place" in decision.summary


# --- short, partial and overpayments --------------------------------------------------------


def test_a_short_payment_within_tolerance_settles_and_writes_off_the_difference(book: Book) -> None:
    decision = pay(book, "120.40", "INV-004711")

    assert applied(decision) == [("INV-004711", D("120.40"))]
    [write_off] = decision.adjustments
    assert (write_off.kind, write_off.amount) == ("write-off", D("0.60"))


def test_the_tolerance_is_configurable(book: Book) -> None:
    strict = Policy(write_off_limit=D("0.10"))

    decision = pay(book, "120.40", "INV-004711", policy=strict)

    assert [adjustment.kind for adjustment in decision.adjustments] == ["deduction"]


def test_a_short_payment_beyond_tolerance_with_a_reason_raises_a_deduction(book: Book) -> None:
    decision = pay(book, "900.00", "INV-004713 less 100 damaged goods")

    [deduction] = decision.adjustments
    assert (deduction.kind, deduction.amount, deduction.reason_code) == (
        "deduction", D("100.00"), "damaged-goods")
    assert "raised as a deduction" in decision.summary


def test_a_payer_saying_partial_payment_leaves_the_rest_open(book: Book) -> None:
    decision = pay(book, "400.00", "Teilzahlung INV-004713")

    assert applied(decision) == [("INV-004713", D("400.00"))]
    assert decision.adjustments == ()
    assert "partial payment" in decision.summary


def test_an_overpayment_settles_the_invoice_and_keeps_the_excess_on_the_account(book: Book) -> None:
    decision = pay(book, "150.00", "INV-004711")

    assert applied(decision) == [("INV-004711", D("121.00"))]
    assert (decision.unapplied, decision.customer_id) == (D("29.00"), "C-1001")
    assert "excess stays as unapplied cash" in decision.summary


def test_named_invoices_of_which_the_payer_paid_some_settle_only_those(book: Book) -> None:
    decision = pay(book, "181.50", "INV-004711 INV-004712 INV-004713")

    assert applied(decision) == [("INV-004711", D("121.00")), ("INV-004712", D("60.50"))]
    assert any("INV-004713 named but not paid for" in line for line in decision.evidence)


# --- cash in another currency -------------------------------------------------------------


def test_cash_in_another_currency_without_a_rate_stays_unapplied_and_waits_for_one(
        book: Book) -> None:
    book.rates.record("EUR", "USD", date(2024, 3, 14), D("1.0850"))  # older than the lookback

    decision = pay(book, "131.29", "INV-004711", currency="USD")

    assert decision.rule == RULE_UNAPPLIED
    assert "no USD/EUR exchange rate is known for 2024-03-20" in decision.reason
    assert decision.waiting_for == ("fx:EUR/USD",)


def test_cash_in_another_currency_settles_the_named_invoice_at_the_value_dates_rate(
        book: Book) -> None:
    book.rates.record("EUR", "USD", date(2024, 3, 19), D("1.0850"))  # the day before: it serves

    decision = pay(book, "131.29", "INV-004711", currency="USD")

    [allocation] = decision.allocations
    assert (allocation.number, allocation.amount, allocation.paid_amount) == (
        "INV-004711", D("121.00"), D("131.29"))
    assert (allocation.exchange_rate.from_currency, allocation.exchange_rate.rate,
            allocation.exchange_rate.rate_date) == ("EUR", D("1.0850"), date(2024, 3, 19))
    assert decision.unapplied == 0
    assert "131.29 USD is 121.00 EUR at EUR/USD 1.0850 of 2024-03-19" in allocation.explanation


def test_an_exchange_difference_within_the_tolerance_still_settles_the_invoice(
        book: Book) -> None:
    book.rates.record("USD", "EUR", date(2024, 3, 20), D("0.9200"))

    decision = pay(book, "1080.00", "INV-004713", currency="USD")  # 993.60 EUR for 1,000.00

    [allocation] = decision.allocations
    assert (allocation.amount, allocation.paid_amount) == (D("1000.00"), D("1080.00"))
    assert "6.40 EUR less than what is open" in allocation.explanation


def test_cash_in_another_currency_worth_much_less_than_what_is_open_is_left_for_a_person(
        book: Book) -> None:
    book.rates.record("EUR", "USD", date(2024, 3, 20), D("1.0850"))

    decision = pay(book, "100.00", "INV-004711", currency="USD")

    assert decision.rule == RULE_UNAPPLIED and not decision.allocations
    assert "100.00 USD is 92.17 EUR" in decision.reason and "121.00 EUR open" in decision.reason


# --- explanations and determinism --------------------------------------------------------


def test_every_application_is_explained_in_words_with_rule_and_confidence(book: Book) -> None:
    decision = pay(book, "99.99", None, payer_name="Globex Trading")

    [allocation] = decision.allocations
    assert allocation.explanation.startswith("Applied 99.99 EUR to INV-008101 of Globex "
                                             "Trading GmbH (C-2002)")
    assert "only open item of 99.99 EUR" in allocation.explanation
    assert "confidence" in allocation.explanation


def test_the_same_book_and_payment_always_give_the_same_decision(book: Book) -> None:
    first = pay(book, "181.50", None, customer_id="C-1001")
    second = pay(book, "181.50", None, customer_id="C-1001")

    assert first == second


def test_booking_a_decision_settles_the_items_and_teaches_the_payers_account(book: Book) -> None:
    decision = pay(book, "121.00", "INV-004711", payer_account="DE89370400440532013000")
    book_decision(book, decision, "DE89370400440532013000")

    assert book.items["i-1"].open == 0
    assert book.customers_of_account("DE89 3704 0044 0532 0130 00") == ["C-1001"]
