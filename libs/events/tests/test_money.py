"""Money: a Decimal amount in an active ISO 4217 currency, never a float."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from libs.events import Money

D = Decimal


# --- what an amount may be ------------------------------------------------------------


def test_an_amount_given_as_a_float_is_refused_because_the_cents_are_already_lost() -> None:
    with pytest.raises(ValidationError, match="amounts must be given as strings or Decimals, not floats"):
        Money.of(10.10, "EUR")  # type: ignore[arg-type]


def test_an_amount_arriving_as_a_json_number_with_a_fraction_is_refused_too() -> None:
    with pytest.raises(ValidationError, match="not floats"):
        Money.model_validate_json('{"amount": 10.10, "currency": "EUR"}')


@pytest.mark.parametrize("flag", [True, False])
def test_a_boolean_is_not_an_amount(flag: bool) -> None:
    with pytest.raises(ValidationError, match="an amount cannot be a boolean"):
        Money.of(flag, "EUR")  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["ten euros", "NaN", "Infinity"])
def test_text_that_is_not_a_finite_decimal_is_refused_with_the_offending_value(text: str) -> None:
    with pytest.raises(ValidationError, match=f"'{text}' is not a"):
        Money.of(text, "EUR")


@pytest.mark.parametrize(("given", "expected"), [("10.10", "10.10"), (10, "10"), (D("10.10"), "10.10")])
def test_strings_integers_and_decimals_are_accepted_exactly(given: object, expected: str) -> None:
    amount = Money.of(given, "EUR").amount  # type: ignore[arg-type]

    assert isinstance(amount, Decimal)
    assert str(amount) == expected


# --- what a currency may be -----------------------------------------------------------


def test_a_code_that_is_not_an_active_iso_4217_currency_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="'XXY' is not an active ISO 4217 currency code"):
        Money.of("1.00", "XXY")


def test_a_lower_case_currency_code_is_normalised_to_upper_case() -> None:
    assert Money.of("1.00", "eur").currency == "EUR"
    assert Money.of("1.00", "eur") == Money.of("1.00", "EUR")


# --- on the wire ----------------------------------------------------------------------


def test_an_amount_travels_in_json_as_a_string_and_comes_back_as_the_same_decimal() -> None:
    price = Money.of("10.10", "EUR")

    wire = price.model_dump_json()
    back = Money.model_validate_json(wire)

    assert json.loads(wire) == {"amount": "10.10", "currency": "EUR"}
    assert isinstance(back.amount, Decimal)
    assert str(back.amount) == "10.10"  # trailing zero kept: not 10.1, not 10.0999...
    assert back == price


# --- rounding to the minor unit -------------------------------------------------------


@pytest.mark.parametrize(
    ("story", "amount", "currency", "rounded"),
    [
        ("EUR has cents: a half cent goes to the even cent, down", "2.345", "EUR", "2.34"),
        ("EUR has cents: a half cent goes to the even cent, up", "2.355", "EUR", "2.36"),
        ("EUR: an amount already in cents gains its zeros", "2", "EUR", "2.00"),
        ("JPY has no minor unit: 2.5 yen rounds to the even 2", "2.5", "JPY", "2"),
        ("JPY has no minor unit: 3.5 yen rounds to the even 4", "3.5", "JPY", "4"),
        ("KWD has fils, three decimals: half a fils goes down to even", "1.2345", "KWD", "1.234"),
        ("KWD has fils, three decimals: half a fils goes up to even", "1.2355", "KWD", "1.236"),
        ("negative amounts round half-even as well", "-2.345", "EUR", "-2.34"),
    ],
)
def test_rounding_is_half_even_to_the_currencys_minor_unit(
    story: str, amount: str, currency: str, rounded: str
) -> None:
    result = Money.of(amount, currency).rounded()

    assert str(result.amount) == rounded, story
    assert result.currency == currency


# --- arithmetic -----------------------------------------------------------------------


def test_amounts_in_the_same_currency_add_and_subtract_exactly() -> None:
    assert Money.of("0.10", "EUR") + Money.of("0.20", "EUR") == Money.of("0.30", "EUR")
    assert Money.of("121.00", "EUR") - Money.of("21.00", "EUR") == Money.of("100.00", "EUR")
    assert -Money.of("5", "EUR") == Money.of("-5", "EUR")


@pytest.mark.parametrize(
    "combine",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
    ],
    ids=["add", "subtract", "lt", "le", "gt", "ge"],
)
def test_euros_and_dollars_are_never_combined_or_compared(combine) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="cannot combine EUR with USD"):
        combine(Money.of("1.00", "EUR"), Money.of("1.00", "USD"))
