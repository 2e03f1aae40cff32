"""Cash in another currency than the invoice: given the ERP's exchange rates, when a payment
in USD names a EUR invoice, then it settles the invoice at the value date's rate and the
application says both amounts and the rate - or, with no rate, waits for one."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from libs.events import Money, PaymentApplied, PaymentUnapplied
from libs.events.erp import ExchangeRatePublished
from libs.events.invoicing import AppliedExchangeRate
from libs.events.matching import ApplicationReversed, UnappliedCashChanged
from services.matching.application import MatchingApplication

from .given import TODAY, Feed, invoice, open_amount, payment, published


def eur_usd(rate: str, on: date = date(2024, 3, 19)) -> ExchangeRatePublished:
    return ExchangeRatePublished(rate_date=on, from_currency="EUR", to_currency="USD",
                                 rate=Decimal(rate), source="ECB reference rate")


def test_a_usd_payment_settles_a_eur_invoice_and_the_application_says_both_amounts_and_the_rate(
        matching: MatchingApplication, given: Feed) -> None:
    given(eur_usd("1.0850"), invoice("INV-000001", "121.00"))

    given(payment("131.29", "INV-000001", currency="USD"))

    [application] = published(matching, PaymentApplied)
    assert (application.amount, application.paid) == (Money.of("121.00", "EUR"),
                                                       Money.of("131.29", "USD"))
    assert application.exchange_rate == AppliedExchangeRate(
        from_currency="EUR", to_currency="USD", rate=Decimal("1.0850"),
        rate_date=date(2024, 3, 19))
    assert open_amount(matching, "INV-000001") == Decimal("0.00")
    explanation = matching.explanation("acme", "pay-1")
    assert explanation["status"] == "applied" and explanation["unapplied"] == "0.00"
    assert explanation["applications"][0]["paid"] == {"amount": "131.29", "currency": "USD"}


def test_without_a_rate_the_payment_waits_and_is_applied_when_the_rate_is_published(
        matching: MatchingApplication, given: Feed) -> None:
    given(invoice("INV-000001", "121.00"), payment("131.29", "INV-000001", currency="USD"))
    [waiting] = published(matching, PaymentUnapplied)
    assert waiting.amount == Money.of("131.29", "USD")
    assert "no USD/EUR exchange rate is known" in waiting.reason

    given(eur_usd("1.0850"))

    [application] = published(matching, PaymentApplied)
    assert application.paid == Money.of("131.29", "USD")
    [changed] = published(matching, UnappliedCashChanged)
    assert changed.unapplied == Money.of("0.00", "USD")


def test_unmatching_a_cross_currency_application_gives_back_the_cash_in_its_own_currency(
        matching: MatchingApplication, given: Feed) -> None:
    given(eur_usd("1.0850"), invoice("INV-000001", "121.00"),
          payment("131.29", "INV-000001", currency="USD"))

    matching.unmatch("acme", "pay-1", None, "anna", "paid for another order", TODAY)

    [reversal] = published(matching, ApplicationReversed)
    assert reversal.amount == Money.of("121.00", "EUR")
    assert published(matching, UnappliedCashChanged)[-1].unapplied == Money.of("131.29", "USD")
    assert open_amount(matching, "INV-000001") == Decimal("121.00")
    assert matching.explanation("acme", "pay-1")["unapplied"] == "131.29"
