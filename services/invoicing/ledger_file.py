"""A company's ledger to onboard: customers, historical invoices, and the payments that
settled them, read from CSV or JSON and checked whole before anything is loaded.

One record per line (CSV) or per object (JSON, an array), each with a `record` of
`customer`, `invoice` or `payment`:

    record,customer_id,name,currency,payment_terms,language,document_number,order_id,issue_date,due_date,amount,reference,paid_on
    customer,0379-NEVHP,Neptune Retail,USD,net 30,en,,,,,,,
    invoice,0379-NEVHP,,USD,,,0000611365,,2013-01-02,2013-02-01,55.94,,
    payment,0379-NEVHP,,USD,,,0000611365,,,,55.94,BANK-4711,2013-01-15

- customer: customer_id, name, currency, payment_terms ("net 30", "2/10 net 30",
  "EOM+15"); language optional (two letters, default en).
- invoice: customer_id, document_number, issue_date, amount (the total), currency;
  due_date optional (default: the invoice's or the customer's terms from the issue
  date); payment_terms and order_id optional.
- payment: document_number of the invoice it settles, amount, paid_on (the value
  date); currency optional (the invoice's); reference optional (the bank reference;
  default `<document_number>/<n>`, the n-th payment of that invoice in the file).

Dates are ISO (YYYY-MM-DD). Amounts are decimal text (JSON: a string or a number,
read exactly). Anything wrong rejects the whole file, naming each bad line.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from libs.events.money import MINOR_UNITS

from .terms import InvalidPaymentTerms, PaymentTerms

COLUMNS = ("record", "customer_id", "name", "currency", "payment_terms", "language",
           "document_number", "order_id", "issue_date", "due_date", "amount", "reference",
           "paid_on")
MAX_PROBLEMS_SHOWN = 20

_ACCOUNT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")
# A number matching can find in a remittance text: up to five letters, an optional
# dash, at least three digits ("0000611365", "INV-000001", "A0000611365"). A payment
# naming anything else would stay unapplied.
_DOCUMENT_NUMBER = re.compile(r"^[A-Za-z]{0,5}-?\d{3,}$")


class LedgerFileRejected(ValueError):
    """The file is not loaded at all; `problems` are (line, what is wrong)."""

    def __init__(self, path: Path, problems: list[tuple[int, str]], records: int) -> None:
        self.problems = problems
        shown = "\n".join(f"  line {line}: {problem}"
                          for line, problem in problems[:MAX_PROBLEMS_SHOWN])
        more = len(problems) - MAX_PROBLEMS_SHOWN
        super().__init__(
            f"{path}: rejected, nothing loaded: {len(problems)} bad line(s) among "
            f"{records} record(s)\n{shown}" + (f"\n  ... and {more} more" if more > 0 else ""))


@dataclass(frozen=True)
class LedgerCustomer:
    line: int
    customer_id: str
    name: str
    currency: str
    payment_terms: str
    language: str


@dataclass(frozen=True)
class LedgerInvoice:
    line: int
    customer_id: str
    document_number: str
    order_id: str | None
    currency: str
    issue_date: date
    due_date: date
    payment_terms: str
    amount: Decimal


@dataclass(frozen=True)
class LedgerPayment:
    line: int
    customer_id: str
    document_number: str
    currency: str
    amount: Decimal
    paid_on: date
    reference: str


@dataclass(frozen=True)
class Ledger:
    customers: list[LedgerCustomer] = field(default_factory=list)
    invoices: list[LedgerInvoice] = field(default_factory=list)
    payments: list[LedgerPayment] = field(default_factory=list)

    def describe(self) -> str:
        return (f"{len(self.customers)} customers, {len(self.invoices)} invoices, "
                f"{len(self.payments)} payments")


def read_ledger(path: Path, today: date) -> Ledger:
    """The ledger in the file, checked whole; LedgerFileRejected names every bad line."""
    rows = _read_rows(path)
    checker = _Checker(today)
    for line, row in rows:
        checker.check(line, row)
    checker.check_across()
    if checker.problems:
        raise LedgerFileRejected(path, sorted(checker.problems), len(rows))
    return checker.ledger()


def _read_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    if not path.exists():
        raise LedgerFileRejected(path, [(0, "no such file")], 0)
    if path.suffix.lower() == ".json":
        return _json_rows(path)
    if path.suffix.lower() == ".csv":
        return _csv_rows(path)
    raise LedgerFileRejected(path, [(0, "the file must end in .csv or .json")], 0)


def _csv_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    with path.open(newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        missing = [column for column in ("record", "customer_id", "document_number", "amount")
                   if column not in (reader.fieldnames or [])]
        if missing:
            raise LedgerFileRejected(path, [(1, f"the header lacks {', '.join(missing)}; "
                                                f"expected columns: {', '.join(COLUMNS)}")], 0)
        unknown = [column for column in reader.fieldnames or [] if column not in COLUMNS]
        if unknown:
            raise LedgerFileRejected(path, [(1, f"unknown column(s) {', '.join(unknown)}; "
                                                f"expected: {', '.join(COLUMNS)}")], 0)
        rows = []
        for row in reader:
            if None in row:
                rows.append((reader.line_num, {"__extra__": row.pop(None)}))
                continue
            rows.append((reader.line_num, row))
        return rows


def _json_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    text = path.read_text(encoding="utf-8")
    decoder = json.JSONDecoder(parse_float=Decimal)
    position = _skip_space(text, 0)
    if not text.startswith("[", position):
        raise LedgerFileRejected(path, [(_line_at(text, position),
                                         "a JSON ledger is an array of records")], 0)
    rows: list[tuple[int, dict[str, Any]]] = []
    position = _skip_space(text, position + 1)
    while not text.startswith("]", position):
        line = _line_at(text, position)
        try:
            record, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            raise LedgerFileRejected(path, [(error.lineno, f"not JSON: {error.msg}")],
                                     len(rows)) from None
        rows.append((line, record if isinstance(record, dict) else {"__not_an_object__": record}))
        position = _skip_space(text, position)
        if text.startswith(",", position):
            position = _skip_space(text, position + 1)
        elif not text.startswith("]", position):
            raise LedgerFileRejected(path, [(_line_at(text, position),
                                             "expected ',' or ']' after a record")], len(rows))
    return rows


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _line_at(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


class _Checker:
    def __init__(self, today: date) -> None:
        self.today = today
        self.problems: list[tuple[int, str]] = []
        self.customers: dict[str, LedgerCustomer] = {}
        self.raw_invoices: list[tuple[int, dict[str, Any]]] = []
        self.raw_payments: list[tuple[int, dict[str, Any]]] = []
        self.invoices: dict[str, LedgerInvoice] = {}
        self.payments: list[LedgerPayment] = []

    def refuse(self, line: int, problem: str) -> None:
        self.problems.append((line, problem))

    def check(self, line: int, row: dict[str, Any]) -> None:
        if "__extra__" in row:
            return self.refuse(line, f"more fields than the header has columns: "
                                     f"{row['__extra__']}")
        if "__not_an_object__" in row:
            return self.refuse(line, "a record must be a JSON object")
        unknown = sorted(set(row) - set(COLUMNS))
        if unknown:
            return self.refuse(line, f"unknown field(s) {', '.join(unknown)}")
        kind = _text(row, "record")
        if kind == "customer":
            self._customer(line, row)
        elif kind == "invoice":
            self.raw_invoices.append((line, row))
        elif kind == "payment":
            self.raw_payments.append((line, row))
        else:
            self.refuse(line, f"record must be customer, invoice or payment, not {kind!r}")
        return None

    def check_across(self) -> None:
        """Invoices need their customers, payments their invoices, wherever in the file."""
        for line, row in self.raw_invoices:
            self._invoice(line, row)
        paid: dict[str, Decimal] = defaultdict(Decimal)
        count: Counter[str] = Counter()
        for line, row in self.raw_payments:
            payment = self._payment(line, row, count)
            if payment is None:
                continue
            invoice = self.invoices[payment.document_number]
            paid[payment.document_number] += payment.amount
            if paid[payment.document_number] > invoice.amount:
                self.refuse(line, f"payments of invoice {invoice.document_number} add up to "
                                  f"{paid[payment.document_number]}, more than its "
                                  f"{invoice.amount} {invoice.currency}")
                continue
            self.payments.append(payment)
        references = Counter(payment.reference for payment in self.payments)
        for payment in self.payments:
            if references[payment.reference] > 1:
                self.refuse(payment.line, f"reference {payment.reference!r} names more than "
                                          "one payment")

    def ledger(self) -> Ledger:
        return Ledger(customers=list(self.customers.values()),
                      invoices=sorted(self.invoices.values(),
                                      key=lambda invoice: (invoice.issue_date, invoice.line)),
                      payments=sorted(self.payments,
                                      key=lambda payment: (payment.paid_on, payment.line)))

    # --- one record each -------------------------------------------------------------

    def _customer(self, line: int, row: dict[str, Any]) -> None:
        problems = len(self.problems)
        customer_id = self._account(line, row)
        name = self._required(line, row, "name")
        currency = self._currency(line, row)
        terms = self._terms(line, row, required=True)
        language = _text(row, "language") or "en"
        if not re.fullmatch(r"[a-z]{2}", language):
            self.refuse(line, f"language must be two lower-case letters, not {language!r}")
        if customer_id in self.customers:
            self.refuse(line, f"customer {customer_id} is already on line "
                              f"{self.customers[customer_id].line}")
        if len(self.problems) == problems:
            self.customers[customer_id] = LedgerCustomer(line, customer_id, name, currency,
                                                         terms, language)

    def _invoice(self, line: int, row: dict[str, Any]) -> None:
        problems = len(self.problems)
        customer_id = self._account(line, row)
        number = self._document_number(line, row)
        currency = self._currency(line, row)
        amount = self._amount(line, row, currency)
        issue_date = self._date(line, row, "issue_date", required=True)
        customer = self.customers.get(customer_id)
        if customer_id and customer is None:
            self.refuse(line, f"customer {customer_id} has no customer record in the file")
        terms = self._terms(line, row, required=False) or (customer.payment_terms
                                                           if customer else "")
        due_date = self._date(line, row, "due_date", required=False)
        if due_date is None and issue_date and terms:
            due_date = PaymentTerms.parse(terms).due_date(issue_date)
        if issue_date and due_date and due_date < issue_date:
            self.refuse(line, f"due date {due_date} is before issue date {issue_date}")
        if number in self.invoices:
            self.refuse(line, f"invoice {number} is already on line "
                              f"{self.invoices[number].line}")
        if len(self.problems) == problems:
            self.invoices[number] = LedgerInvoice(
                line, customer_id, number, _text(row, "order_id") or None, currency,
                issue_date, due_date, terms, amount)  # type: ignore[arg-type]

    def _payment(self, line: int, row: dict[str, Any], count: Counter[str]) -> LedgerPayment | None:
        problems = len(self.problems)
        number = self._required(line, row, "document_number")
        invoice = self.invoices.get(number)
        if number and invoice is None:
            self.refuse(line, f"invoice {number} is not in the file (or was refused)")
            return None
        if invoice is None:
            return None
        currency = self._currency(line, row, default=invoice.currency)
        if currency and currency != invoice.currency:
            self.refuse(line, f"a payment in {currency} of invoice {number} in "
                              f"{invoice.currency}")
        amount = self._amount(line, row, invoice.currency)
        paid_on = self._date(line, row, "paid_on", required=True)
        if paid_on and paid_on < invoice.issue_date:
            self.refuse(line, f"paid on {paid_on}, before invoice {number} was issued on "
                              f"{invoice.issue_date}")
        customer_id = _text(row, "customer_id")
        if customer_id and customer_id != invoice.customer_id:
            self.refuse(line, f"invoice {number} belongs to {invoice.customer_id}, not "
                              f"{customer_id}")
        count[number] += 1
        reference = _text(row, "reference") or f"{number}/{count[number]}"
        if len(self.problems) != problems:
            return None
        return LedgerPayment(line, invoice.customer_id, number, invoice.currency, amount,
                             paid_on, reference)  # type: ignore[arg-type]

    # --- one field each --------------------------------------------------------------

    def _required(self, line: int, row: dict[str, Any], name: str) -> str:
        value = _text(row, name)
        if not value:
            self.refuse(line, f"{name} is missing")
        return value

    def _account(self, line: int, row: dict[str, Any]) -> str:
        customer_id = self._required(line, row, "customer_id")
        if customer_id and not _ACCOUNT_ID.match(customer_id):
            self.refuse(line, f"customer_id {customer_id!r} is not an account id (letters, "
                              "digits and . _ : / -, at most 64)")
        return customer_id

    def _document_number(self, line: int, row: dict[str, Any]) -> str:
        number = self._required(line, row, "document_number")
        if number and not _DOCUMENT_NUMBER.match(number):
            self.refuse(line, f"document_number {number!r} cannot be found in a remittance "
                              "text: use up to 5 letters, an optional '-', then 3+ digits")
        return number

    def _currency(self, line: int, row: dict[str, Any], default: str = "") -> str:
        currency = (_text(row, "currency") or default).upper()
        if not currency:
            self.refuse(line, "currency is missing")
        elif currency not in MINOR_UNITS:
            self.refuse(line, f"'{currency}' is not an active ISO 4217 currency code")
        return currency

    def _amount(self, line: int, row: dict[str, Any], currency: str) -> Decimal:
        text = _text(row, "amount")
        try:
            amount = Decimal(text)
        except InvalidOperation:
            self.refuse(line, f"amount {text!r} is not a decimal number" if text
                        else "amount is missing")
            return Decimal(0)
        if not amount.is_finite() or amount <= 0:
            self.refuse(line, f"amount must be positive, got {text}")
        elif currency in MINOR_UNITS and amount != amount.quantize(
                Decimal(1).scaleb(-MINOR_UNITS[currency])):
            self.refuse(line, f"amount {text} has more decimals than {currency} has")
        return amount

    def _date(self, line: int, row: dict[str, Any], name: str, required: bool) -> date | None:
        text = _text(row, name)
        if not text:
            if required:
                self.refuse(line, f"{name} is missing")
            return None
        try:
            day = date.fromisoformat(text)
        except ValueError:
            self.refuse(line, f"{name} {text!r} is not a date (YYYY-MM-DD)")
            return None
        if day > self.today:
            self.refuse(line, f"{name} {day} is in the future (today is {self.today})")
        return day

    def _terms(self, line: int, row: dict[str, Any], required: bool) -> str:
        text = _text(row, "payment_terms")
        if not text:
            if required:
                self.refuse(line, "payment_terms is missing")
            return ""
        try:
            return str(PaymentTerms.parse(text))
        except InvalidPaymentTerms as error:
            self.refuse(line, str(error))
            return ""


def _text(row: dict[str, Any], name: str) -> str:
    value = row.get(name)
    if value is None:
        return ""
    if isinstance(value, bool) or isinstance(value, float):
        return repr(value)  # refused downstream as not a decimal / not a date
    return str(value).strip()
