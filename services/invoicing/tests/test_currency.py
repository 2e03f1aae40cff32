"""What a document is worth in the tenant's functional currency: converted at the
published rate either way round, rounded half-up to the functional minor unit, or
explicitly missing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.invoicing.currency import FunctionalCurrencies, PublishedRate, convert
from services.invoicing.main import InvoicingSettings

D = Decimal
EUR_USD = PublishedRate("EUR", "USD", D("1.0850"), date(2024, 3, 1))
USD_JPY = PublishedRate("USD", "JPY", D("149.53"), date(2024, 3, 1))


@pytest.mark.parametrize(
    ("story", "amount", "currency", "functional", "rate", "converted"),
    [
        ("the functional currency itself needs no rate", "121.00", "EUR", "EUR", None, "121.00"),
        ("USD into EUR with a EUR->USD rate: divided", "121.00", "USD", "EUR", EUR_USD, "111.52"),
        ("EUR into USD with the same rate: multiplied", "111.52", "EUR", "USD", EUR_USD,
         "121.00"),
        ("half a cent rounds up: 0.10 EUR x 1.0850 = 0.1085", "0.10", "EUR", "USD", EUR_USD,
         "0.11"),
        ("into a currency without minor unit: whole yen", "10.00", "USD", "JPY", USD_JPY, "1495"),
        ("out of yen into cents: 1000 / 149.53 = 6.6876", "1000", "JPY", "USD", USD_JPY,
         "6.69"),
    ],
)
def test_an_amount_is_converted_at_the_published_rate(
        story: str, amount: str, currency: str, functional: str, rate: PublishedRate | None,
        converted: str) -> None:
    conversion = convert(D(amount), currency, functional, rate)

    assert conversion.functional_amount == D(converted), story
    assert str(conversion.functional_amount) == converted, story
    assert not conversion.rate_missing


def test_without_a_rate_there_is_no_amount_and_the_conversion_says_so() -> None:
    conversion = convert(D("121.00"), "USD", "EUR", None)

    assert (conversion.functional_currency, conversion.functional_amount,
            conversion.rate_missing) == ("EUR", None, True)


def test_a_rate_between_other_currencies_is_refused() -> None:
    with pytest.raises(ValueError, match="a USD->JPY rate cannot convert GBP into EUR"):
        convert(D("1.00"), "GBP", "EUR", USD_JPY)


def test_each_tenant_gets_its_functional_currency_from_the_settings(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUNCTIONAL_CURRENCY", "eur")
    monkeypatch.setenv("TENANT_FUNCTIONAL_CURRENCIES", '{"acme-us": "usd"}')

    currencies = InvoicingSettings().functional_currencies()

    assert (currencies.of("acme"), currencies.of("acme-us")) == ("EUR", "USD")


def test_an_unknown_functional_currency_stops_the_service_at_start() -> None:
    with pytest.raises(ValueError, match="tenant 'acme-us'.*'USX' is not an active ISO 4217"):
        FunctionalCurrencies("EUR", {"acme-us": "USX"})
