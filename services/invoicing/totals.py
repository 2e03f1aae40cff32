"""Invoice totals, with one stated rounding rule.

The rule is the European e-invoicing one (EN 16931, the basis of Peppol BIS,
XRechnung, Factur-X/ZUGFeRD), which most ERPs also follow:

1. Line net = quantity x unit price x (1 - line discount % / 100), rounded to
   the currency's minor unit, ROUND_HALF_UP (0.005 EUR -> 0.01 EUR).
2. Document net = the sum of the line nets (already rounded, so no further
   rounding).
3. Tax is computed PER TAX RATE: the sum of the line nets at that rate times the
   rate, rounded once per rate, ROUND_HALF_UP. Tax is never rounded per line and
   then summed: three lines of 0.07 EUR at 21% owe 0.04 EUR tax
   (0.21 x 0.21 = 0.0441), where rounding each line (0.0147 -> 0.01) and
   summing would say 0.03.
4. Total = document net + document tax.

Each line also carries an allocated share of its rate's tax, so that consumers
who sum lines (credit notes for part of an invoice, revenue by product) get
exactly the document's tax. The allocation is largest remainder: every line
first gets its exact share rounded down to the minor unit; the minor units still
missing to reach the rate's tax go one each to the lines with the largest
discarded remainders, ties to the earlier line. A line's allocated tax is a
share of a per-rate figure, not a tax computed on that line alone.

Quantities, prices and rates are Decimals (or ints, or decimal strings); a float
is refused because it has already lost the cents.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Context, Decimal, Inexact, localcontext
from typing import Protocol

from libs.events.money import MINOR_UNITS, Money, UnknownCurrency, check_currency

# Arithmetic that must not round behind our back: the only roundings are the
# explicit quantizes below, so anything inexact before them is an error. The
# quantizes themselves run with the same precision, so a large amount is
# rounded to the cent and never to the default context's 28 digits.
_EXACT = Context(prec=200, traps=[Inexact])
_TO_MINOR_UNIT = Context(prec=200)


class InvalidInvoiceLine(ValueError):
    """An invoice line that cannot be priced; `line_no` says which (None: the whole invoice)."""

    def __init__(self, message: str, line_no: int | None = None) -> None:
        super().__init__(message)
        self.line_no = line_no


class TotalsDoNotAddUp(ValueError):
    """Totals declared by the issuer disagree with the totals its own lines give."""


class PricedLine(Protocol):
    """What compute_totals reads from a line: a LineItem, or any object with these
    attributes (an OrderLine from the ERP, for one; `discount_percent` and `line_no`
    are optional)."""

    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal


@dataclass(frozen=True)
class LineItem:
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal
    """A fraction: Decimal("0.21") for 21%."""
    discount_percent: Decimal = Decimal(0)
    """A percentage: Decimal("10") for 10% off this line."""
    line_no: int | None = None
    """The issuer's line number, used in error messages; defaults to the 1-based position."""


@dataclass(frozen=True)
class LineTotal:
    line_no: int
    quantity: Decimal
    unit_price: Decimal
    discount_percent: Decimal
    tax_rate: Decimal
    net_amount: Money
    tax_amount: Money
    """This line's allocated share of its rate's tax (see the module docstring)."""


@dataclass(frozen=True)
class InvoiceTotals:
    currency: str
    lines: tuple[LineTotal, ...]
    net: Money
    tax: Money
    total: Money
    tax_by_rate: dict[Decimal, Money] = field(default_factory=dict)
    """Tax per rate, rates ascending; the rates are normalised (0.21, not 0.210)."""
    net_by_rate: dict[Decimal, Money] = field(default_factory=dict)
    """The taxable amount per rate, for the invoice's tax breakdown."""


def compute_totals(lines: Iterable[PricedLine], currency: str) -> InvoiceTotals:
    """Price the lines and total the invoice under the rule in the module docstring."""
    currency = _check_currency(currency)
    quantum = Decimal(1).scaleb(-MINOR_UNITS[currency])

    priced: list[tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]] = []
    for position, line in enumerate(lines, start=1):
        line_no = getattr(line, "line_no", None) or position
        quantity = _decimal(line, "quantity", line_no)
        unit_price = _decimal(line, "unit_price", line_no)
        discount_percent = _decimal(line, "discount_percent", line_no, default=Decimal(0))
        tax_rate = _decimal(line, "tax_rate", line_no)
        if quantity < 0:
            raise InvalidInvoiceLine(
                f"line {line_no}: quantity must not be negative, got {quantity}", line_no
            )
        if unit_price < 0:
            raise InvalidInvoiceLine(
                f"line {line_no}: unit price must not be negative, got {unit_price}", line_no
            )
        if not 0 <= discount_percent <= 100:
            raise InvalidInvoiceLine(
                f"line {line_no}: discount must be between 0 and 100 percent, "
                f"got {discount_percent}",
                line_no,
            )
        if not 0 <= tax_rate <= 1:
            raise InvalidInvoiceLine(
                f"line {line_no}: tax rate must be a fraction between 0 and 1 "
                f"(0.21 for 21%), got {tax_rate}",
                line_no,
            )
        try:
            with localcontext(_EXACT):
                exact_net = quantity * unit_price * (1 - discount_percent / 100)
            net = _round_half_up(exact_net, quantum)
        except ArithmeticError:
            # Only absurd magnitudes get here (beyond 200 significant digits).
            raise InvalidInvoiceLine(
                f"line {line_no}: {quantity} x {unit_price} is too large to price", line_no
            ) from None
        priced.append((line_no, quantity, unit_price, discount_percent, tax_rate, net))

    rates = sorted({rate for *_, rate, _net in priced})
    line_tax: dict[int, Decimal] = {}
    tax_by_rate: dict[Decimal, Money] = {}
    net_by_rate: dict[Decimal, Money] = {}
    for rate in rates:
        at_rate = [(index, net) for index, (*_, r, net) in enumerate(priced) if r == rate]
        with localcontext(_EXACT):
            rate_net = sum((net for _, net in at_rate), Decimal(0))
            exact_tax = rate_net * rate
        rate_tax = _round_half_up(exact_tax, quantum)
        line_tax.update(_allocate(rate_tax, rate, at_rate, quantum))
        key = rate.normalize()
        tax_by_rate[key] = Money(amount=rate_tax, currency=currency)
        net_by_rate[key] = Money(amount=rate_net, currency=currency)

    line_totals = tuple(
        LineTotal(
            line_no=line_no,
            quantity=quantity,
            unit_price=unit_price,
            discount_percent=discount_percent,
            tax_rate=tax_rate,
            net_amount=Money(amount=net, currency=currency),
            tax_amount=Money(amount=line_tax[index], currency=currency),
        )
        for index, (line_no, quantity, unit_price, discount_percent, tax_rate, net)
        in enumerate(priced)
    )
    zero = Decimal(0).quantize(quantum)
    with localcontext(_EXACT):
        net_total = sum((net for *_, net in priced), zero)
        tax_total = sum((tax.amount for tax in tax_by_rate.values()), zero)
        total = net_total + tax_total
    return InvoiceTotals(
        currency=currency,
        lines=line_totals,
        net=Money(amount=net_total, currency=currency),
        tax=Money(amount=tax_total, currency=currency),
        total=Money(amount=total, currency=currency),
        tax_by_rate=tax_by_rate,
        net_by_rate=net_by_rate,
    )


def check_declared_totals(
    lines: Iterable[PricedLine],
    currency: str,
    declared_net: Money | Decimal,
    declared_tax: Money | Decimal,
    declared_total: Money | Decimal,
    tolerance: Decimal | int = 0,
) -> InvoiceTotals:
    """Check the totals an ERP printed on an invoice against the invoice's own lines.

    Each declared figure may differ from the computed one by at most `tolerance`
    (in currency units, e.g. Decimal("0.01")); whatever the tolerance, declared
    net + declared tax must equal the declared total exactly. Raises
    TotalsDoNotAddUp naming every figure that disagrees, with both values;
    returns the computed totals when they agree.
    """
    totals = compute_totals(lines, currency)
    tolerance = _tolerance(tolerance)
    declared = {
        "net": _declared_amount(declared_net, "net", totals.currency),
        "tax": _declared_amount(declared_tax, "tax", totals.currency),
        "total": _declared_amount(declared_total, "total", totals.currency),
    }
    computed = {"net": totals.net.amount, "tax": totals.tax.amount, "total": totals.total.amount}
    problems = [
        f"declared {name} {declared[name]} {totals.currency} but the lines give "
        f"{computed[name]} {totals.currency} (difference {declared[name] - computed[name]}, "
        f"tolerance {tolerance})"
        for name in ("net", "tax", "total")
        if abs(declared[name] - computed[name]) > tolerance
    ]
    if declared["net"] + declared["tax"] != declared["total"]:
        problems.append(
            f"declared net {declared['net']} + declared tax {declared['tax']} "
            f"is {declared['net'] + declared['tax']} {totals.currency}, "
            f"not the declared total {declared['total']} {totals.currency}"
        )
    if problems:
        raise TotalsDoNotAddUp("invoice totals do not add up: " + "; ".join(problems))
    return totals


def _allocate(
    rate_tax: Decimal, rate: Decimal, lines: Sequence[tuple[int, Decimal]], quantum: Decimal
) -> dict[int, Decimal]:
    """Split `rate_tax` over the lines in proportion to their nets, to the minor unit."""
    shares: dict[int, Decimal] = {}
    remainders: list[tuple[Decimal, int]] = []
    with localcontext(_EXACT):
        for index, net in lines:
            exact = net * rate
            floor = exact.quantize(quantum, rounding=ROUND_DOWN, context=_TO_MINOR_UNIT)
            shares[index] = floor
            remainders.append((exact - floor, index))
        # The rate's tax is the exact tax rounded half-up, and each floor loses less
        # than one unit, so 0 <= missing <= number of lines.
        missing = int((rate_tax - sum(shares.values(), Decimal(0))) / quantum)
    # Largest remainder first; on a tie the earlier line (lower index) wins.
    for _, index in sorted(remainders, key=lambda item: (-item[0], item[1]))[:missing]:
        shares[index] += quantum
    return shares


def _round_half_up(amount: Decimal, quantum: Decimal) -> Decimal:
    return amount.quantize(quantum, rounding=ROUND_HALF_UP, context=_TO_MINOR_UNIT)


def _check_currency(currency: object) -> str:
    if not isinstance(currency, str):
        raise InvalidInvoiceLine(f"currency must be an ISO 4217 code, got {currency!r}")
    try:
        return check_currency(currency.upper())
    except UnknownCurrency as error:
        raise InvalidInvoiceLine(f"invoice currency: {error}") from None


def _decimal(line: object, name: str, line_no: int, default: Decimal | None = None) -> Decimal:
    value = getattr(line, name, default)
    if value is None:
        if default is not None:
            return default
        raise InvalidInvoiceLine(f"line {line_no}: {name.replace('_', ' ')} is missing", line_no)
    if isinstance(value, (float, bool)):
        raise InvalidInvoiceLine(
            f"line {line_no}: {name.replace('_', ' ')} must be a Decimal, int or decimal "
            f"string, not {type(value).__name__} {value!r}",
            line_no,
        )
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except ArithmeticError:
        number = None
    if number is None or not number.is_finite():
        raise InvalidInvoiceLine(
            f"line {line_no}: {name.replace('_', ' ')} {value!r} is not a finite decimal number",
            line_no,
        )
    return number


def _tolerance(tolerance: object) -> Decimal:
    if isinstance(tolerance, (float, bool)):
        raise ValueError(f"tolerance must be a Decimal or int, not {type(tolerance).__name__}")
    try:
        value = tolerance if isinstance(tolerance, Decimal) else Decimal(str(tolerance))
    except ArithmeticError:
        raise ValueError(f"tolerance {tolerance!r} is not a decimal amount") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"tolerance must be zero or positive, got {tolerance}")
    return value


def _declared_amount(value: Money | Decimal, name: str, currency: str) -> Decimal:
    if isinstance(value, Money):
        if value.currency != currency:
            raise TotalsDoNotAddUp(
                f"declared {name} is in {value.currency} but the invoice is in {currency}"
            )
        return value.amount
    if isinstance(value, (float, bool)):
        raise ValueError(f"declared {name} must be Money or a Decimal, not {type(value).__name__}")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except ArithmeticError:
        raise ValueError(f"declared {name} {value!r} is not a decimal amount") from None
    if not amount.is_finite():
        raise ValueError(f"declared {name} {value!r} is not a decimal amount")
    return amount
