"""Money: a Decimal amount with an ISO 4217 currency. Never a float.

Amounts travel in JSON as strings ("1234.50") so that no consumer, in any
language, reads them through a binary float.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer

# Active ISO 4217 codes with their minor units where they differ from 2.
# (Source: ISO 4217 list one, 2024 edition; funds and precious-metal codes left out.)
_ZERO_DECIMALS = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
                  "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"}
_THREE_DECIMALS = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"}
_FOUR_DECIMALS = {"CLF", "UYW"}
_TWO_DECIMALS = set("""
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN
BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS
GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR
LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD
PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN
SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES WST XCD YER ZAR ZMW ZWG
""".split())

MINOR_UNITS: dict[str, int] = {
    **{code: 2 for code in _TWO_DECIMALS},
    **{code: 0 for code in _ZERO_DECIMALS},
    **{code: 3 for code in _THREE_DECIMALS},
    **{code: 4 for code in _FOUR_DECIMALS},
}


class UnknownCurrency(ValueError):
    pass


def check_currency(code: str) -> str:
    if code not in MINOR_UNITS:
        raise UnknownCurrency(f"'{code}' is not an active ISO 4217 currency code")
    return code


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, float):
        # A float has already lost the cents; refuse it rather than guess.
        raise ValueError("amounts must be given as strings or Decimals, not floats")
    if isinstance(value, bool):
        raise ValueError("an amount cannot be a boolean")
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise ValueError(f"'{value}' is not a decimal amount") from None
    if not amount.is_finite():
        raise ValueError(f"'{value}' is not a finite amount")
    return amount


Amount = Annotated[
    Decimal,
    BeforeValidator(_to_decimal),
    PlainSerializer(lambda amount: str(amount), return_type=str, when_used="json"),
]
"""A Decimal that refuses floats and serialises to a JSON string."""

Currency = Annotated[str, BeforeValidator(lambda code: check_currency(str(code).upper()))]


class Money(BaseModel):
    model_config = ConfigDict(frozen=True)

    amount: Amount
    currency: Currency


    @classmethod
    def of(cls, amount: str | int | Decimal, currency: str) -> Money:
        return cls(amount=amount, currency=currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(amount=Decimal(0), currency=currency)

    @property
    def minor_units(self) -> int:
        return MINOR_UNITS[self.currency]

    def rounded(self) -> Money:
        """Round half-even to the currency's minor unit (banker's rounding)."""
        quantum = Decimal(1).scaleb(-self.minor_units)
        return Money(amount=self.amount.quantize(quantum, rounding=ROUND_HALF_EVEN),
                     currency=self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(amount=self.amount + other.amount, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(amount=self.amount - other.amount, currency=self.currency)

    def __neg__(self) -> Money:
        return Money(amount=-self.amount, currency=self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount >= other.amount

    @property
    def is_zero(self) -> bool:
        return self.amount == 0

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"
