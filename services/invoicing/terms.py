"""Payment terms: when an invoice falls due, and what paying early is worth.

Pure rules, no I/O. The terms this platform understands:

- ``net N``          due N calendar days after the issue date (``net 0`` is
                     written ``due on receipt``);
- ``EOM+N``          due N days after the last calendar day of the issue date's
                     month (``EOM`` alone is ``EOM+0``);
- ``P/D <terms>``    either of the above with an early-payment discount of P
                     percent if paid within D days of the issue date
                     (``2/10 net 30``, ``1.5/15 EOM+30``).

``str(terms)`` is the canonical spelling, and ``PaymentTerms.parse`` reads it
back, together with the common variants ERPs send ("NET30", "N30",
"EOM 15", "2/10 N30", "2% 10, net 30", "net 30 EOM").
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, Inexact, localcontext
from enum import Enum

from libs.events.money import Money

# Arithmetic that must not round behind our back: the only rounding is the
# explicit quantize, so anything inexact before it is an error, not a cent lost.
_EXACT = Context(prec=100, traps=[Inexact])
_TO_MINOR_UNIT = Context(prec=100)

# The longest term the ERP may set on a customer (CustomerUpserted.payment_terms_days
# allows 0..365); anything longer is far more likely a typo than a real agreement.
MAX_TERM_DAYS = 365


class InvalidPaymentTerms(ValueError):
    """Payment terms that cannot be read, or that contradict themselves."""


class TermsKind(str, Enum):
    NET = "net"
    """Due a number of days after the issue date."""
    END_OF_MONTH = "eom"
    """Due a number of days after the end of the issue date's month."""


@dataclass(frozen=True)
class EarlyPaymentDiscount:
    """What the customer may pay instead of the total, if they pay by `pay_by`."""

    pay_by: date
    discount: Money
    discounted_total: Money


@dataclass(frozen=True)
class PaymentTerms:
    kind: TermsKind
    days: int
    discount_percent: Decimal | None = None
    discount_days: int | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", TermsKind(self.kind))
        except ValueError:
            raise InvalidPaymentTerms(
                f"unknown kind of payment terms {self.kind!r}; expected 'net' or 'eom'"
            ) from None
        _check_days(self.days, "the payment term")
        if (self.discount_percent is None) != (self.discount_days is None):
            raise InvalidPaymentTerms(
                "an early-payment discount needs both a percentage and a number of days"
            )
        if self.discount_percent is None:
            return
        percent = _to_percent(self.discount_percent)
        object.__setattr__(self, "discount_percent", percent)
        if not Decimal(0) < percent < Decimal(100):
            raise InvalidPaymentTerms(
                f"an early-payment discount must be more than 0% and less than 100%, "
                f"got {_plain(percent)}%"
            )
        _check_days(self.discount_days, "the discount period")
        if self.discount_days == 0:
            raise InvalidPaymentTerms("the discount period must be at least 1 day")
        # Under net terms the discount window must close on or before the due date;
        # a discount still open after the invoice is overdue contradicts the terms.
        # Under EOM terms the due date moves with the issue date, so there is no
        # fixed comparison to make.
        if self.kind is TermsKind.NET and self.discount_days > self.days:
            raise InvalidPaymentTerms(
                f"the discount period of {self.discount_days} days ends after the "
                f"invoice is due ({_base_spelling(self.kind, self.days)})"
            )

    # --- constructors ------------------------------------------------------

    @classmethod
    def net(cls, days: int) -> PaymentTerms:
        return cls(TermsKind.NET, days)

    @classmethod
    def due_on_receipt(cls) -> PaymentTerms:
        return cls(TermsKind.NET, 0)

    @classmethod
    def end_of_month(cls, days: int = 0) -> PaymentTerms:
        return cls(TermsKind.END_OF_MONTH, days)

    def with_early_payment_discount(
        self, percent: Decimal | int | str, within_days: int
    ) -> PaymentTerms:
        return PaymentTerms(self.kind, self.days, _to_percent(percent), within_days)

    @classmethod
    def parse(cls, text: str) -> PaymentTerms:
        if not isinstance(text, str):
            raise InvalidPaymentTerms(
                f"payment terms must be text such as 'net 30', got {type(text).__name__}"
            )
        spelled = " ".join(text.split())
        if not spelled:
            raise InvalidPaymentTerms("payment terms are empty")
        match = _TERMS.fullmatch(spelled)
        if match is None:
            raise InvalidPaymentTerms(
                f"cannot read payment terms {text!r}; expected one of "
                f"'net 30', 'due on receipt', 'EOM', 'EOM+15', '2/10 net 30', '1.5/15 EOM+30'"
            )
        if match["receipt"]:
            kind, days = TermsKind.NET, 0
        elif match["net_days"] is not None:
            kind, days = TermsKind.NET, int(match["net_days"])
        elif match["net_eom_days"] is not None:
            kind, days = TermsKind.END_OF_MONTH, int(match["net_eom_days"])
        else:
            kind, days = TermsKind.END_OF_MONTH, int(match["eom_days"] or 0)
        if match["percent"] is None:
            return cls(kind, days)
        return cls(kind, days, Decimal(match["percent"]), int(match["discount_days"]))

    # --- rules -------------------------------------------------------------

    @property
    def has_discount(self) -> bool:
        return self.discount_percent is not None

    def due_date(self, issue_date: date) -> date:
        _check_business_date(issue_date)
        if self.kind is TermsKind.NET:
            return issue_date + timedelta(days=self.days)
        return _end_of_month(issue_date) + timedelta(days=self.days)

    def discount(self, issue_date: date, total: Money) -> EarlyPaymentDiscount | None:
        """The early-payment discount on `total`, or None when the terms carry none.

        Rounding rule: discount = total x percent / 100, rounded to the currency's
        minor unit ROUND_HALF_UP (0.005 EUR rounds up to 0.01). Half-up, not the
        half-even of Money.rounded(), because that is how invoices print cash
        discounts and how customers compute the amount they short-pay; the
        matching service must arrive at the same cent the customer did.
        """
        _check_business_date(issue_date)
        if self.discount_percent is None or self.discount_days is None:
            return None
        quantum = Decimal(1).scaleb(-total.minor_units)
        if total.amount != total.amount.quantize(quantum, context=_TO_MINOR_UNIT):
            raise ValueError(
                f"an invoice total must be in whole {total.currency} minor units, got {total}"
            )
        if total.amount < 0:
            raise ValueError(f"an early-payment discount applies to an amount owed, got {total}")
        with localcontext(_EXACT):
            exact_discount = total.amount * self.discount_percent / 100
        discount_amount = exact_discount.quantize(
            quantum, rounding=ROUND_HALF_UP, context=_TO_MINOR_UNIT
        )
        discount = Money(amount=discount_amount, currency=total.currency)
        return EarlyPaymentDiscount(
            pay_by=issue_date + timedelta(days=self.discount_days),
            discount=discount,
            discounted_total=total - discount,
        )

    def __str__(self) -> str:
        base = _base_spelling(self.kind, self.days)
        if self.discount_percent is None:
            return base
        return f"{_plain(self.discount_percent)}/{self.discount_days} {base}"


# Matched against the text with its whitespace collapsed to single spaces.
# "2/10", "2% 10", "1.5/15, ": percent, then the discount days.
_DISCOUNT = (
    r"(?:(?P<percent>[0-9]+(?:\.[0-9]+)?)\s?(?:%\s?/?|/)\s?"
    r"(?P<discount_days>[0-9]+)\s?,?\s?)"
)
_BASE = (
    r"(?:"
    r"(?P<receipt>due\s(?:up)?on\sreceipt)"
    r"|(?:net|n)[\s-]?(?P<net_eom_days>[0-9]+)\seom"  # "net 30 EOM" = EOM+30
    r"|(?:net|n)[\s-]?(?P<net_days>[0-9]+)"
    r"|eom(?:\s?\+?\s?(?P<eom_days>[0-9]+))?"
    r")"
)
_TERMS = re.compile(_DISCOUNT + "?" + _BASE, re.IGNORECASE)


def _base_spelling(kind: TermsKind, days: int) -> str:
    if kind is TermsKind.NET:
        return "due on receipt" if days == 0 else f"net {days}"
    return "EOM" if days == 0 else f"EOM+{days}"


def _plain(percent: Decimal) -> str:
    """2 not 2.00, 1.5 not 1.50: the shortest spelling of the percentage."""
    return format(percent.normalize(), "f")


def _to_percent(value: object) -> Decimal:
    if isinstance(value, bool) or isinstance(value, float):
        raise InvalidPaymentTerms(
            f"a discount percentage must be a Decimal, int or string, not {type(value).__name__}"
        )
    try:
        percent = value if isinstance(value, Decimal) else Decimal(str(value))
    except ArithmeticError:
        raise InvalidPaymentTerms(f"{value!r} is not a discount percentage") from None
    if not percent.is_finite():
        raise InvalidPaymentTerms(f"{value!r} is not a discount percentage")
    return percent


def _check_days(days: object, what: str) -> None:
    if isinstance(days, bool) or not isinstance(days, int):
        raise InvalidPaymentTerms(f"{what} must be a whole number of days, got {days!r}")
    if not 0 <= days <= MAX_TERM_DAYS:
        raise InvalidPaymentTerms(
            f"{what} must be between 0 and {MAX_TERM_DAYS} days, got {days}"
        )


def _check_business_date(issue_date: object) -> None:
    # A datetime is a date subclass; letting one through would return datetimes
    # and tie the due date to a time zone the business never agreed on.
    if isinstance(issue_date, datetime) or not isinstance(issue_date, date):
        raise TypeError(f"an issue date must be a date, got {type(issue_date).__name__}")


def _end_of_month(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def terms_of_shipment(shipment_terms: str | None, order_terms: str | None,
                      customer_terms: str) -> PaymentTerms:
    """The terms a shipment is invoiced on: its own (the ERP's per-order override), else
    those its order was placed on, else the customer's."""
    for text in (shipment_terms, order_terms):
        if text is not None:
            return PaymentTerms.parse(text)
    return PaymentTerms.parse(customer_terms)

