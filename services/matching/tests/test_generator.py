"""The traffic generator tells the truth about its noise: what each payment pays, how it
was garbled, and whether a person could have matched it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.matching.engine import Book, IncomingPayment, book_decision, decide
from services.matching.generator import (
    BANK_FEE,
    COMBINED,
    DUPLICATE,
    NO_REMITTANCE,
    OVERPAYMENT,
    PARTIAL,
    RF,
    THIRD_PARTY,
    TYPO,
    UNKNOWN,
    Scorecard,
    Traffic,
    generate,
)
from services.matching.references import rf_is_valid


@pytest.fixture(scope="module")
def traffic() -> Traffic:
    return generate(invoices=4_000, payments=1_500, seed=7)


def test_the_same_seed_gives_the_same_traffic() -> None:
    first, second = generate(500, 200, seed=3), generate(500, 200, seed=3)

    assert first.payments == second.payments and first.truths == second.truths
    assert generate(500, 200, seed=4).payments != first.payments


def test_every_kind_of_noise_is_in_the_mix(traffic: Traffic) -> None:
    kinds = {truth.kind for truth in traffic.truths.values()}

    assert {RF, TYPO, COMBINED, PARTIAL, BANK_FEE, THIRD_PARTY, NO_REMITTANCE, UNKNOWN} <= kinds


def test_the_truth_names_real_invoices_of_one_customer_in_the_payments_currency(
        traffic: Traffic) -> None:
    invoices = {invoice.number: invoice for invoice in traffic.invoices}
    for payment in traffic.payments:
        truth = traffic.truths[payment.payment_id]
        paid = [invoices[number] for number in truth.invoices]
        assert len({invoice.customer_id for invoice in paid}) <= 1
        assert all(invoice.currency == payment.currency for invoice in paid)
        assert isinstance(payment.amount, Decimal) and payment.amount > 0


def test_the_amounts_follow_the_story_of_each_kind(traffic: Traffic) -> None:
    invoices = {invoice.number: invoice for invoice in traffic.invoices}
    for payment in traffic.payments:
        truth = traffic.truths[payment.payment_id]
        owed = sum((invoices[number].total for number in truth.invoices), Decimal(0))
        if truth.kind == COMBINED:
            assert payment.amount == owed and len(truth.invoices) >= 2
        elif truth.kind == PARTIAL:
            assert payment.amount < owed
        elif truth.kind == BANK_FEE:
            assert Decimal("5.00") <= owed - payment.amount <= Decimal("25.00")
        elif truth.kind == OVERPAYMENT:
            assert payment.amount > owed
        elif truth.kind == RF:
            written = (payment.remittance_text or "").removeprefix("Ref ").removeprefix("Payment ")
            assert rf_is_valid(written)


def test_what_nobody_could_match_is_marked_so(traffic: Traffic) -> None:
    for payment in traffic.payments:
        truth = traffic.truths[payment.payment_id]
        if truth.kind in (UNKNOWN, DUPLICATE):
            assert not truth.matchable and truth.invoices == ()
        if truth.kind == NO_REMITTANCE and payment.payer_name is None:
            assert not truth.matchable
        if truth.kind == TYPO:
            assert payment.remittance_text and all(
                number not in payment.remittance_text for number in truth.invoices)


def test_the_decision_core_clears_the_generated_traffic_and_almost_never_errs(
        traffic: Traffic) -> None:
    book = Book()
    for customer in traffic.customers:
        book.upsert_customer(customer.customer_id, customer.name)
    for invoice in traffic.invoices:
        book.open_item(invoice.invoice_id, invoice.number, invoice.customer_id,
                       invoice.currency, invoice.total, invoice.due_date)
    card = Scorecard()
    for payment in traffic.payments:
        decision = decide(book, IncomingPayment(
            payment.payment_id, payment.amount, payment.currency, payment.value_date, None,
            payment.payer_name, payment.payer_account, payment.remittance_text))
        book_decision(book, decision, payment.payer_account)
        card.add(traffic.truths[payment.payment_id],
                 [allocation.number for allocation in decision.allocations])

    assert card.automatic_share >= 0.95, card.missed_by_kind
    assert card.wrong_per_thousand < 1, card.wrong_by_kind
