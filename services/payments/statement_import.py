"""Turning a parsed bank statement into payments and returns, and saying what became of
each line.

What a line becomes:
- a booked credit: a payment received;
- a booked debit the bank marks as a return: a return of an earlier payment;
- anything else is left alone (counted as ignored), see `line_kind`.

A file is checked whole before anything is built from it, so a file is either
imported entirely or rejected with the place in it that is wrong.
"""

from __future__ import annotations

from datetime import date
from enum import Enum

from pydantic import BaseModel, ConfigDict

from libs.events.money import MINOR_UNITS

from .statements import Statement, StatementLine, StatementRejected
from .statements.model import CREDIT, DEBIT


class LineKind(Enum):
    PAYMENT = "payment"
    RETURN = "return"
    IGNORED = "ignored"


def line_kind(line: StatementLine) -> LineKind:
    if not line.booked:
        # A pending entry is not cash yet; the statement that books it reports it again
        # under the same line id.
        return LineKind.IGNORED
    if line.amount == 0:
        return LineKind.IGNORED
    if line.direction == DEBIT and line.is_return:
        return LineKind.RETURN
    if line.direction == DEBIT:
        # Money the company paid out (suppliers, fees, salaries) is not receivables'
        # business: nothing a customer owes changes.
        return LineKind.IGNORED
    if line.is_return:
        # A reversed debit (MT940 RD, a returned SEPA transfer) brings back money the
        # company sent out, e.g. a refund that bounced. It is not cash from a customer,
        # and counting it as a payment would settle invoices nobody paid.
        return LineKind.IGNORED
    assert line.direction == CREDIT
    return LineKind.PAYMENT


def check_importable(statement: Statement) -> None:
    """Refuse the statement, naming the place, if what it reports cannot be recorded."""
    if statement.opening_balance is not None and statement.closing_balance is not None:
        # When the bank states both balances they must add up: a statement that does not
        # is incomplete or damaged, and importing part of it would lose payments silently.
        statement.check_balances()
    for line in statement.lines:
        if line_kind(line) is LineKind.IGNORED:
            continue
        if line.currency not in MINOR_UNITS:
            raise StatementRejected(
                statement.format, line.source_position,
                f"currency {line.currency!r} is not an active ISO 4217 currency, so the "
                "line cannot be recorded as money")
        if business_date(line) is None:
            raise StatementRejected(
                statement.format, line.source_position,
                "the line has neither a value date nor a booking date")


def business_date(line: StatementLine) -> date | None:
    """The value date, when the money counts; banks that give none book it that day."""
    return line.value_date or line.booking_date


class StatementImported(BaseModel):
    """What became of the lines of one statement of the file."""

    model_config = ConfigDict(frozen=True)

    statement_id: str
    account: str | None
    currency: str
    format: str
    lines: int
    new: int
    duplicates: int
    returns: int
    ignored: int


class ImportSummary(BaseModel):
    """What one statement file added: new payments, lines already recorded by an
    earlier import (duplicates), returns, and lines left alone (ignored)."""

    model_config = ConfigDict(frozen=True)

    new: int
    duplicates: int
    returns: int
    ignored: int
    statements: tuple[StatementImported, ...]

    @classmethod
    def of(cls, statements: list[StatementImported]) -> ImportSummary:
        totals = {count: sum(getattr(statement, count) for statement in statements)
                  for count in ("new", "duplicates", "returns", "ignored")}
        return cls(statements=tuple(statements), **totals)
