"""Payment terms: when an invoice falls due, and what paying early is worth."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from libs.events.money import Money
from services.invoicing.terms import (
    EarlyPaymentDiscount,
    InvalidPaymentTerms,
    PaymentTerms,
    TermsKind,
    terms_of_shipment,
)

# --- due dates ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("story", "issued_on", "due_on"),
    [
        ("an ordinary mid-month invoice", date(2024, 3, 5), date(2024, 4, 4)),
        ("a 30-day month is not a calendar month", date(2024, 4, 1), date(2024, 5, 1)),
        ("30 days from Jan 30 2012 lands on the leap day", date(2012, 1, 30), date(2012, 2, 29)),
        ("30 days from Jan 31 2013 runs past short February", date(2013, 1, 31), date(2013, 3, 2)),
        ("issued mid-December, due in the new year", date(2023, 12, 15), date(2024, 1, 14)),
        ("issued on New Year's Eve", date(2024, 12, 31), date(2025, 1, 30)),
    ],
)
def test_net_30_counts_plain_calendar_days(story: str, issued_on: date, due_on: date) -> None:
    assert PaymentTerms.net(30).due_date(issued_on) == due_on, story


def test_due_on_receipt_is_due_the_day_it_is_issued() -> None:
    terms = PaymentTerms.parse("due on receipt")

    assert terms == PaymentTerms.net(0) == PaymentTerms.due_on_receipt()
    assert terms.due_date(date(2024, 2, 29)) == date(2024, 2, 29)


@pytest.mark.parametrize(
    ("story", "terms", "issued_on", "due_on"),
    [
        ("EOM: the last day of January", "EOM", date(2024, 1, 15), date(2024, 1, 31)),
        ("EOM: issued on the month's last day", "EOM", date(2024, 1, 31), date(2024, 1, 31)),
        ("EOM: February of a leap year ends on the 29th", "EOM", date(2024, 2, 10), date(2024, 2, 29)),
        ("EOM: February of a common year ends on the 28th", "EOM", date(2023, 2, 10), date(2023, 2, 28)),
        ("EOM: December ends the year", "EOM", date(2024, 12, 20), date(2024, 12, 31)),
        ("EOM+15 from mid-January", "EOM+15", date(2024, 1, 15), date(2024, 2, 15)),
        ("EOM+15 from Jan 31 is the same date", "EOM+15", date(2024, 1, 31), date(2024, 2, 15)),
        ("EOM+15 counts from Feb 29 in a leap year", "EOM+15", date(2024, 2, 10), date(2024, 3, 15)),
        ("EOM+15 counts from Feb 28 in a common year", "EOM+15", date(2023, 2, 10), date(2023, 3, 15)),
        ("EOM+15 from December crosses the year", "EOM+15", date(2024, 12, 20), date(2025, 1, 15)),
        ("EOM+30 is days, not a month: Jan 31 + 30", "EOM+30", date(2024, 1, 15), date(2024, 3, 1)),
        ("EOM+30 in a common year", "EOM+30", date(2023, 1, 15), date(2023, 3, 2)),
    ],
)
def test_end_of_month_terms_count_from_the_last_day_of_the_issue_month(
    story: str, terms: str, issued_on: date, due_on: date
) -> None:
    assert PaymentTerms.parse(terms).due_date(issued_on) == due_on, story


def test_a_due_date_is_computed_from_a_date_not_a_timestamp() -> None:
    with pytest.raises(TypeError, match="must be a date"):
        PaymentTerms.net(30).due_date(datetime(2024, 1, 1, 12, 0))  # type: ignore[arg-type]


# --- early-payment discounts ------------------------------------------------------


@pytest.mark.parametrize(
    ("story", "terms", "total", "discount", "discounted_total"),
    [
        ("2% of a round 100.00 EUR", "2/10 net 30", Money.of("100.00", "EUR"), "2.00", "98.00"),
        ("2% of 99.99 EUR is 1.9998, rounded to 2.00", "2/10 net 30", Money.of("99.99", "EUR"), "2.00", "97.99"),
        ("2% of 100.25 EUR is exactly 2.005: half rounds up", "2/10 net 30",
         Money.of("100.25", "EUR"), "2.01", "98.24"),
        ("JPY has no minor unit: 2% of 12,345 is 246.9 -> 247", "2/10 net 30",
         Money.of("12345", "JPY"), "247", "12098"),
        ("JPY half yen rounds up: 2% of 1,025 is 20.5 -> 21", "2/10 net 30",
         Money.of("1025", "JPY"), "21", "1004"),
        ("KWD has three decimals: 2% of 10.125 is 0.2025 -> 0.203", "2/10 net 30",
         Money.of("10.125", "KWD"), "0.203", "9.922"),
        ("1.5% of 1,000.00 USD under EOM terms", "1.5/15 EOM+30",
         Money.of("1000.00", "USD"), "15.00", "985.00"),
        ("a zero total earns a zero discount", "2/10 net 30", Money.of("0.00", "EUR"), "0.00", "0.00"),
    ],
)
def test_early_payment_discount_is_rounded_half_up_to_the_minor_unit(
    story: str, terms: str, total: Money, discount: str, discounted_total: str
) -> None:
    offer = PaymentTerms.parse(terms).discount(date(2024, 3, 1), total)

    assert offer is not None, story
    assert offer.discount == Money.of(discount, total.currency), story
    assert offer.discounted_total == Money.of(discounted_total, total.currency), story
    assert offer.discount + offer.discounted_total == total


@pytest.mark.parametrize(
    ("story", "terms", "issued_on", "pay_by", "due_on"),
    [
        ("10 days, then 20 more", "2/10 net 30", date(2024, 1, 25), date(2024, 2, 4), date(2024, 2, 24)),
        ("the window spans the leap day", "2/10 net 30", date(2024, 2, 25), date(2024, 3, 6), date(2024, 3, 26)),
        ("EOM terms: the window still starts at issue", "1.5/15 EOM+30",
         date(2024, 1, 15), date(2024, 1, 30), date(2024, 3, 1)),
        ("late-month EOM: the window outlasts the due date", "2/10 EOM",
         date(2023, 12, 28), date(2024, 1, 7), date(2023, 12, 31)),
    ],
)
def test_the_discount_window_runs_from_the_issue_date(
    story: str, terms: str, issued_on: date, pay_by: date, due_on: date
) -> None:
    parsed = PaymentTerms.parse(terms)

    offer = parsed.discount(issued_on, Money.of("500.00", "EUR"))

    assert offer is not None and offer.pay_by == pay_by, story
    assert parsed.due_date(issued_on) == due_on, story


def test_the_offer_states_the_deadline_the_discount_and_what_to_pay() -> None:
    offer = PaymentTerms.parse("2/10 net 30").discount(date(2024, 1, 25), Money.of("500.00", "EUR"))

    assert offer == EarlyPaymentDiscount(
        pay_by=date(2024, 2, 4),
        discount=Money.of("10.00", "EUR"),
        discounted_total=Money.of("490.00", "EUR"),
    )


def test_terms_without_a_discount_offer_none() -> None:
    assert PaymentTerms.net(30).discount(date(2024, 1, 1), Money.of("100.00", "EUR")) is None


@pytest.mark.parametrize(
    ("total", "message"),
    [
        (Money.of("100.005", "EUR"), "whole EUR minor units"),
        (Money.of("-100.00", "EUR"), "applies to an amount owed"),
    ],
)
def test_a_discount_is_only_offered_on_an_invoice_total(total: Money, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PaymentTerms.parse("2/10 net 30").discount(date(2024, 1, 1), total)


# --- spellings ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spelling", "kind", "days", "discount_percent", "discount_days", "canonical"),
    [
        ("net 30", TermsKind.NET, 30, None, None, "net 30"),
        ("NET30", TermsKind.NET, 30, None, None, "net 30"),
        ("N30", TermsKind.NET, 30, None, None, "net 30"),
        ("Net-45", TermsKind.NET, 45, None, None, "net 45"),
        ("  net   60 ", TermsKind.NET, 60, None, None, "net 60"),
        ("due on receipt", TermsKind.NET, 0, None, None, "due on receipt"),
        ("Due upon receipt", TermsKind.NET, 0, None, None, "due on receipt"),
        ("net 0", TermsKind.NET, 0, None, None, "due on receipt"),
        ("EOM", TermsKind.END_OF_MONTH, 0, None, None, "EOM"),
        ("EOM+15", TermsKind.END_OF_MONTH, 15, None, None, "EOM+15"),
        ("EOM 15", TermsKind.END_OF_MONTH, 15, None, None, "EOM+15"),
        ("eom + 15", TermsKind.END_OF_MONTH, 15, None, None, "EOM+15"),
        ("net 30 EOM", TermsKind.END_OF_MONTH, 30, None, None, "EOM+30"),
        ("2/10 net 30", TermsKind.NET, 30, Decimal("2"), 10, "2/10 net 30"),
        ("2/10 N30", TermsKind.NET, 30, Decimal("2"), 10, "2/10 net 30"),
        ("2/10, net 30", TermsKind.NET, 30, Decimal("2"), 10, "2/10 net 30"),
        ("2% 10 net 30", TermsKind.NET, 30, Decimal("2"), 10, "2/10 net 30"),
        ("2.0/10 NET30", TermsKind.NET, 30, Decimal("2"), 10, "2/10 net 30"),
        ("1.5/15 EOM+30", TermsKind.END_OF_MONTH, 30, Decimal("1.5"), 15, "1.5/15 EOM+30"),
        ("2/10 EOM", TermsKind.END_OF_MONTH, 0, Decimal("2"), 10, "2/10 EOM"),
    ],
)
def test_common_spellings_parse_and_print_canonically(
    spelling: str,
    kind: TermsKind,
    days: int,
    discount_percent: Decimal | None,
    discount_days: int | None,
    canonical: str,
) -> None:
    terms = PaymentTerms.parse(spelling)

    assert (terms.kind, terms.days, terms.discount_percent, terms.discount_days) == (
        kind, days, discount_percent, discount_days,
    )
    assert str(terms) == canonical
    assert PaymentTerms.parse(str(terms)) == terms
    assert str(PaymentTerms.parse(canonical)) == canonical


def test_constructors_agree_with_the_spellings() -> None:
    assert PaymentTerms.net(30) == PaymentTerms.parse("net 30")
    assert PaymentTerms.end_of_month(15) == PaymentTerms.parse("EOM+15")
    assert PaymentTerms.net(30).with_early_payment_discount("2", 10) == PaymentTerms.parse(
        "2/10 net 30"
    )
    assert PaymentTerms("net", 30) == PaymentTerms.net(30)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spelling", "message"),
    [
        ("", "payment terms are empty"),
        ("   ", "payment terms are empty"),
        ("net thirty", "cannot read payment terms 'net thirty'"),
        ("net -5", "cannot read payment terms 'net -5'"),
        ("30 days", "cannot read payment terms '30 days'"),
        ("2/10", "cannot read payment terms '2/10'"),
        ("EOM-5", "cannot read payment terms 'EOM-5'"),
        ("net 400", "between 0 and 365 days, got 400"),
        ("0/10 net 30", "more than 0% and less than 100%, got 0%"),
        ("100/10 net 30", "more than 0% and less than 100%, got 100%"),
        ("2/0 net 30", "discount period must be at least 1 day"),
        ("2/40 net 30", "discount period of 40 days ends after the invoice is due \\(net 30\\)"),
        ("2/10 due on receipt", "ends after the invoice is due \\(due on receipt\\)"),
    ],
)
def test_unreadable_or_contradictory_terms_are_refused(spelling: str, message: str) -> None:
    with pytest.raises(InvalidPaymentTerms, match=message):
        PaymentTerms.parse(spelling)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: PaymentTerms.net(-1), "between 0 and 365 days, got -1"),
        (lambda: PaymentTerms.net(True), "whole number of days"),  # type: ignore[arg-type]
        (lambda: PaymentTerms("weekly", 7), "unknown kind of payment terms"),  # type: ignore[arg-type]
        (lambda: PaymentTerms(TermsKind.NET, 30, Decimal("2"), None), "both a percentage and"),
        (lambda: PaymentTerms.net(30).with_early_payment_discount(2.0, 10), "not float"),  # type: ignore[arg-type]
        (lambda: PaymentTerms.parse(30), "must be text"),  # type: ignore[arg-type]
    ],
)
def test_terms_built_in_code_are_checked_like_parsed_ones(build, message: str) -> None:
    with pytest.raises(InvalidPaymentTerms, match=message):
        build()


def test_invalid_terms_are_a_value_error_for_callers_that_catch_bad_input() -> None:
    assert issubclass(InvalidPaymentTerms, ValueError)


# --- the IBM accounts-receivable sample: net 30 on every invoice -------------------


def test_net_30_reproduces_the_due_date_of_every_ibm_sample_invoice(ibm_sample) -> None:
    terms = PaymentTerms.parse("net 30")

    disagreements = [(invoice.invoice_number, invoice.invoice_date, invoice.due_date)
                     for invoice in ibm_sample
                     if terms.due_date(invoice.invoice_date) != invoice.due_date]

    assert disagreements == []
    leap_day_invoice = next(i for i in ibm_sample if i.invoice_number == "0360452276")
    assert (leap_day_invoice.invoice_date, leap_day_invoice.due_date) == (
        date(2012, 1, 30), date(2012, 2, 29))


# --- which terms a shipment is invoiced on ---------------------------------------------


@pytest.mark.parametrize(
    ("story", "shipment_terms", "order_terms", "customer_terms", "issued_on", "due_on",
     "canonical"),
    [
        ("no override: the customer's terms", None, None, "net 30",
         date(2024, 3, 1), date(2024, 3, 31), "net 30"),
        ("the order was placed on its own terms", None, "2/10 net 45", "net 30",
         date(2024, 3, 1), date(2024, 4, 15), "2/10 net 45"),
        ("the shipment overrides the order and the customer", "EOM+15", "2/10 net 45",
         "net 30", date(2024, 2, 10), date(2024, 3, 15), "EOM+15"),
        ("an override to due on receipt is an override, not a blank", "due on receipt", None,
         "net 60", date(2024, 3, 1), date(2024, 3, 1), "due on receipt"),
        ("ERP spellings are read the same", None, "NET45", "N30",
         date(2023, 12, 20), date(2024, 2, 3), "net 45"),
    ],
)
def test_a_shipment_is_invoiced_on_its_own_terms_else_its_orders_else_its_customers(
        story: str, shipment_terms: str | None, order_terms: str | None, customer_terms: str,
        issued_on: date, due_on: date, canonical: str) -> None:
    terms = terms_of_shipment(shipment_terms, order_terms, customer_terms)

    assert (str(terms), terms.due_date(issued_on)) == (canonical, due_on), story


def test_an_unreadable_override_is_refused_even_when_the_customers_terms_are_fine() -> None:
    with pytest.raises(InvalidPaymentTerms, match="cannot read payment terms 'net thirty'"):
        terms_of_shipment("net thirty", None, "net 30")
