"""Statement model shared by all bank-statement parsers.

Pure data: frozen dataclasses and small pure helpers, no I/O.

Conventions
-----------
* Money is :class:`decimal.Decimal`, never float.  ``StatementLine.amount`` is
  the positive magnitude; ``direction`` says which way the money moved on the
  statement's account ("credit" = money in, "debit" = money out).
* ``payer_name`` / ``payer_account`` hold the *counterparty* of the booking:
  the debtor on a credit line (who paid us) and the creditor on a debit line
  (whom we paid, or who took the money back).  Formats that only give one
  party without saying which (MT940 ``?32``, CSV) fill it in as given.
* ``source_position`` tells where the line came from (XML element path and
  line, or the line number of the record) for error messages and tracing.

Line id rule (``line_id``)
--------------------------
A stable id for de-duplicating re-imported or overlapping statements,
computed by :func:`assign_line_ids` as the first 32 hex digits of a SHA-256
over these parts, joined with U+001F::

    account, currency, direction, amount (normalised), booking date, value date

followed by the first of these that applies:

1. ``"bank_ref", bank_reference`` when the bank gave a reference and no other
   line of the same statement carries the same reference;
2. ``"e2e", end_to_end_id`` when there is an end-to-end id and it is unique in
   the statement;
3. otherwise ``"pos", statement_id, position, bank_reference, end_to_end_id``
   where *position* is the line's place in the file (element path for camt,
   ordinal of the ``:61:`` in its statement for MT940, record number for
   BAI2, data row number for CSV).

So lines the bank identifies uniquely get the same id in any file that
reports them (a camt.053 re-sent, or two overlapping statements); lines
without such a reference get an id that is stable for the same file only.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Iterable, Sequence

CREDIT = "credit"
DEBIT = "debit"
DIRECTIONS = (CREDIT, DEBIT)

_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")

# ISO 4217 currencies whose minor unit is not 2 (all others have 2).
_MINOR_UNITS: dict[str, int] = {
    **{c: 0 for c in ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW",
                      "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF",
                      "XPF", "XXX")},
    **{c: 3 for c in ("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND")},
    **{c: 4 for c in ("CLF", "UYW")},
}


def is_currency_code(code: str) -> bool:
    """True for a well-formed ISO 4217 alphabetic code (three capitals)."""
    return bool(_CURRENCY_RE.match(code))


def minor_units(currency: str) -> int:
    """Number of decimals of the currency's minor unit (2 unless listed)."""
    return _MINOR_UNITS.get(currency, 2)


def from_minor_units(value: int, currency: str) -> Decimal:
    """Convert an integer amount in minor units (cents) to a Decimal."""
    return Decimal(value).scaleb(-minor_units(currency))


class StatementRejected(Exception):
    """A bank statement file cannot be accepted.

    ``format`` names the file format ("camt.053", "mt940", "bai2", "csv"),
    ``location`` says where the problem is (for example ``"line 42
    (Stmt[1]/Ntry[2]/Amt)"``) and ``message`` says what is wrong in words a
    person can act on.  ``str()`` joins them:
    ``"camt.053 line 42 (Stmt[1]/Ntry[2]/Amt): amount 'abc' is not a decimal"``.
    ``line`` is the 1-based line number when one is known.
    """

    def __init__(self, format: str, location: str, message: str, line: int | None = None):
        self.format = format
        self.location = location
        self.message = message
        self.line = line
        super().__init__(f"{format} {location}: {message}")


def rejection(
    format: str, line: int | None, detail: str | None, message: str, *, without_line: str | None = "end of file"
) -> StatementRejected:
    """A rejection located as ``line 12 (detail)``; ``without_line`` names the place when
    the line is not known (``None``: the detail alone)."""
    place = f"line {line}" if line else without_line
    location = " ".join(part for part in (place, f"({detail})" if detail else None) if part)
    return StatementRejected(format, location, message, line)


@dataclass(frozen=True)
class StatementLine:
    """One booking on a bank statement."""

    amount: Decimal
    currency: str
    direction: str
    booking_date: date | None
    value_date: date | None
    bank_reference: str | None = None
    end_to_end_id: str | None = None
    payer_name: str | None = None
    payer_account: str | None = None
    remittance_unstructured: str | None = None
    creditor_references: tuple[str, ...] = ()
    return_reason: str | None = None
    is_return: bool = False
    source_position: str = ""
    line_id: str = ""
    # Extra fields beyond the core set:
    customer_reference: str | None = None  # the account owner's own reference
    transaction_code: str | None = None  # camt BkTxCd, MT940 type code, BAI2 type code
    additional_info: str | None = None  # bank's free text not mapped elsewhere
    booked: bool = True  # False for camt entries whose status is not BOOK

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite():
            raise ValueError(f"amount must be a finite Decimal, got {self.amount!r}")
        if self.amount < 0:
            raise ValueError(f"amount must be a positive magnitude, got {self.amount}")
        if not is_currency_code(self.currency):
            raise ValueError(f"currency {self.currency!r} is not an ISO 4217 code")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be 'credit' or 'debit', got {self.direction!r}")
        if not isinstance(self.creditor_references, tuple):
            raise ValueError("creditor_references must be a tuple")

    @property
    def signed_amount(self) -> Decimal:
        """Amount with the sign of its effect on the balance."""
        return self.amount if self.direction == CREDIT else -self.amount


@dataclass(frozen=True)
class Statement:
    """One account statement (or camt.054 notification) from a file."""

    statement_id: str
    account: str | None
    currency: str
    opening_balance: Decimal | None
    closing_balance: Decimal | None
    opening_date: date | None
    closing_date: date | None
    lines: tuple[StatementLine, ...]
    format: str
    source_position: str = ""
    # Currency the bank stated for each balance (None when there is no balance).
    opening_balance_currency: str | None = None
    closing_balance_currency: str | None = None

    def __post_init__(self) -> None:
        if not is_currency_code(self.currency):
            raise ValueError(f"currency {self.currency!r} is not an ISO 4217 code")
        if not isinstance(self.lines, tuple):
            raise ValueError("lines must be a tuple")

    @property
    def total_credits(self) -> Decimal:
        return sum((ln.amount for ln in self.lines if ln.booked and ln.direction == CREDIT), Decimal(0))

    @property
    def total_debits(self) -> Decimal:
        return sum((ln.amount for ln in self.lines if ln.booked and ln.direction == DEBIT), Decimal(0))

    def check_balances(self) -> None:
        """Raise StatementRejected unless opening + credits - debits == closing.

        Only booked lines count.  A statement without both balances, with a
        balance or a line in another currency than the statement, cannot be
        shown to reconcile and is rejected too.
        """
        where = self.source_position or f"statement {self.statement_id}"

        def fail(message: str) -> StatementRejected:
            return StatementRejected(self.format, where, f"statement {self.statement_id!r}: {message}")

        if self.opening_balance is None or self.closing_balance is None:
            missing = "opening" if self.opening_balance is None else "closing"
            raise fail(f"has no {missing} balance, so it cannot be shown to reconcile")
        for label, ccy in (("opening", self.opening_balance_currency), ("closing", self.closing_balance_currency)):
            if ccy is not None and ccy != self.currency:
                raise fail(f"the {label} balance is in {ccy} but the statement is in {self.currency}")
        for ln in self.lines:
            if ln.booked and ln.currency != self.currency:
                raise fail(
                    f"line at {ln.source_position} is in {ln.currency} but the statement is in {self.currency}"
                )
        credits, debits = self.total_credits, self.total_debits
        computed = self.opening_balance + credits - debits
        if computed != self.closing_balance:
            raise fail(
                f"balances do not reconcile: opening {self.opening_balance} + credits {credits}"
                f" - debits {debits} = {computed}, but the closing balance is {self.closing_balance}"
                f" (difference {self.closing_balance - computed})"
            )


def _norm_amount(amount: Decimal) -> str:
    return format(amount.normalize(), "f")


def assign_line_ids(
    statement_id: str,
    account: str | None,
    lines: Sequence[StatementLine],
    positions: Sequence[str],
) -> tuple[StatementLine, ...]:
    """Return ``lines`` with ``line_id`` filled in by the rule in the module doc."""
    if len(lines) != len(positions):
        raise ValueError("one position per line is needed")
    bank_refs = Counter(ln.bank_reference for ln in lines if ln.bank_reference)
    e2e_ids = Counter(ln.end_to_end_id for ln in lines if ln.end_to_end_id)
    result = []
    for ln, pos in zip(lines, positions):
        parts = [
            account or "",
            ln.currency,
            ln.direction,
            _norm_amount(ln.amount),
            ln.booking_date.isoformat() if ln.booking_date else "",
            ln.value_date.isoformat() if ln.value_date else "",
        ]
        if ln.bank_reference and bank_refs[ln.bank_reference] == 1:
            parts += ["bank_ref", ln.bank_reference]
        elif ln.end_to_end_id and e2e_ids[ln.end_to_end_id] == 1:
            parts += ["e2e", ln.end_to_end_id]
        else:
            parts += ["pos", statement_id, pos, ln.bank_reference or "", ln.end_to_end_id or ""]
        digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]
        result.append(replace(ln, line_id=digest))
    return tuple(result)


def unique_ids(ids: Iterable[str]) -> list[str]:
    """Make ids unique by appending " (2)", " (3)" ... to repeats, in order."""
    seen: Counter[str] = Counter()
    out = []
    for i in ids:
        seen[i] += 1
        out.append(i if seen[i] == 1 else f"{i} ({seen[i]})")
    return out


def clean(text: str | None) -> str | None:
    """Strip a text value; empty becomes None."""
    if text is None:
        return None
    text = text.strip()
    return text or None


__all__ = [
    "CREDIT",
    "DEBIT",
    "Statement",
    "StatementLine",
    "StatementRejected",
    "assign_line_ids",
    "from_minor_units",
    "is_currency_code",
    "minor_units",
    "rejection",
]
