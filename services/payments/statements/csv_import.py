"""Bank statement lines from CSV exports, driven by a :class:`CsvMapping`.

Amounts
-------
One of three layouts:

* ``amount_column`` alone: a signed amount, negative = debit (money out);
* ``amount_column`` with ``dc_indicator_column``: an unsigned amount and a
  column saying debit or credit (``debit_values`` / ``credit_values``);
* ``debit_column`` and ``credit_column``: money out / money in, read as
  magnitudes (a minus sign in these columns is ignored); a row must not fill
  both with non-zero amounts.

``negate_amounts`` flips every amount (for exports written from the other
side, e.g. credit-card style where a debit raises the balance).

Numbers must match the mapping exactly: optional sign, digits grouped by the
thousands separator (or not grouped at all), the decimal separator and
decimals.  Anything else (currency symbols, letters) is rejected with the line
and column.

Balances
--------
``balance_column`` is a running balance after each row: the opening balance is
derived from the first row and every following row must continue the chain,
otherwise the file is rejected (this catches a wrong sign convention in the
mapping).  ``opening_balance_label`` / ``closing_balance_label`` read the
balances from metadata rows (the skipped header or footer rows) whose first
cell starts with the label; the amount is the row's last non-empty cell.

Metadata rows can also give the account (``account_label``: a cell
``"<label> : <value>"``) and currency (``currency_label``; an empty label
matches a cell ``": EUR"``).

The statement id is ``mapping.statement_id`` or ``csv-`` plus the first 16 hex
digits of the file's SHA-256, so re-importing the same bytes gives the same
ids.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

from .model import (
    CREDIT,
    DEBIT,
    Statement,
    StatementLine,
    StatementRejected,
    assign_line_ids,
    clean,
    is_currency_code,
    rejection,
)

FORMAT = "csv"


@dataclass(frozen=True)
class CsvMapping:
    """How to read one bank's CSV export."""

    date_column: str
    date_format: str = "%Y-%m-%d"
    # amount layout (see module doc)
    amount_column: str | None = None
    dc_indicator_column: str | None = None
    debit_values: tuple[str, ...] = ("D", "DBIT", "Debit")
    credit_values: tuple[str, ...] = ("C", "CRDT", "Credit")
    debit_column: str | None = None
    credit_column: str | None = None
    negate_amounts: bool = False
    # currency: a column, a fixed code, or a metadata label
    currency_column: str | None = None
    currency: str | None = None
    currency_label: str | None = None
    # file layout
    delimiter: str = ","
    quotechar: str = '"'
    encoding: str = "utf-8-sig"
    decimal_separator: str = "."
    thousands_separator: str | None = None
    header_rows_to_skip: int = 0  # rows before the header row
    footer_rows_to_skip: int = 0  # non-empty rows at the end that are not data
    # optional columns
    value_date_column: str | None = None
    description_column: str | None = None  # -> remittance_unstructured
    counterparty_name_column: str | None = None  # -> payer_name
    counterparty_account_column: str | None = None  # -> payer_account
    reference_column: str | None = None  # -> bank_reference
    end_to_end_column: str | None = None
    additional_info_column: str | None = None
    balance_column: str | None = None
    # statement metadata
    account: str | None = None
    account_label: str | None = None
    opening_balance_label: str | None = None
    closing_balance_label: str | None = None
    statement_id: str | None = None

    def __post_init__(self) -> None:
        split = self.debit_column is not None or self.credit_column is not None
        if split and (self.debit_column is None or self.credit_column is None):
            raise ValueError("debit_column and credit_column go together")
        if split == (self.amount_column is not None):
            raise ValueError("give either amount_column or debit_column + credit_column")
        if self.dc_indicator_column and not self.amount_column:
            raise ValueError("dc_indicator_column needs amount_column")
        sources = [self.currency_column, self.currency, self.currency_label]
        if sum(s is not None for s in sources) != 1:
            raise ValueError("give exactly one of currency_column, currency, currency_label")
        if self.currency is not None and not is_currency_code(self.currency):
            raise ValueError(f"currency {self.currency!r} is not an ISO 4217 code")
        if self.decimal_separator == self.thousands_separator:
            raise ValueError("decimal and thousands separators must differ")
        if len(self.decimal_separator) != 1 or len(self.delimiter) != 1:
            raise ValueError("separators and the delimiter must be single characters")
        if self.header_rows_to_skip < 0 or self.footer_rows_to_skip < 0:
            raise ValueError("rows to skip cannot be negative")


# -- presets for the OCA sample files ------------------------------------------
#: OCA ``sample_statement_en.csv``: signed amounts in the account currency.  The
#: file does not state that currency (OCA's test journal is USD); its
#: "Currency"/"Amount Currency" columns are the original (instructed) currency
#: and amount, which this model does not carry.
OCA_SAMPLE_STATEMENT_EN = CsvMapping(
    date_column="Date",
    date_format="%m/%d/%Y",
    amount_column="Amount",
    currency="USD",
    thousands_separator=",",
    description_column="Label",
    counterparty_name_column="Partner Name",
    counterparty_account_column="Bank Account",
)

#: OCA ``balance.csv``: signed amounts plus a running balance.
OCA_BALANCE = replace(OCA_SAMPLE_STATEMENT_EN, balance_column="Balance")

#: OCA ``debit_credit_amount.csv``: separate Debit/Credit columns.  Its running
#: balance only adds up when the Debit column raises the balance (OCA reads it
#: that way), so the preset negates amounts.
OCA_DEBIT_CREDIT_AMOUNT = replace(
    OCA_BALANCE, amount_column=None, debit_column="Debit", credit_column="Credit", negate_amounts=True
)

#: OCA ``meta_data_separated_credit_debit.csv``: four metadata rows, a footer
#: row with the opening balance, decimal comma, dates read as day/month/year
#: (the file is ambiguous; OCA's test reads month/day).
OCA_META_DATA_SEPARATED_CREDIT_DEBIT = CsvMapping(
    date_column="Date",
    date_format="%d/%m/%y",
    debit_column="Debit",
    credit_column="Credit",
    currency_label="",
    decimal_separator=",",
    header_rows_to_skip=4,
    footer_rows_to_skip=1,
    reference_column="Operation Number",
    description_column="Label",
    additional_info_column="Detail",
    account_label="Account Number",
    opening_balance_label="Balance at start of period",
    closing_balance_label="Balance at end of period",
)

PRESETS: dict[str, CsvMapping] = {
    "oca_sample_statement_en": OCA_SAMPLE_STATEMENT_EN,
    "oca_balance": OCA_BALANCE,
    "oca_debit_credit_amount": OCA_DEBIT_CREDIT_AMOUNT,
    "oca_meta_data_separated_credit_debit": OCA_META_DATA_SEPARATED_CREDIT_DEBIT,
}


def _reject(line: int | None, column: str | None, message: str) -> StatementRejected:
    return rejection(FORMAT, line, f"column {column!r}" if column else None, message, without_line="file")


class _Numbers:
    def __init__(self, mapping: CsvMapping):
        d = re.escape(mapping.decimal_separator)
        if mapping.thousands_separator:
            t = re.escape(mapping.thousands_separator)
            integer = rf"(?:\d{{1,3}}(?:{t}\d{{3}})+|\d+)"
        else:
            integer = r"\d+"
        self.pattern = re.compile(rf"^([+-]?)({integer})(?:{d}(\d+))?$")
        self.mapping = mapping
        example = "1" + (mapping.thousands_separator or "") + "234" + mapping.decimal_separator + "56"
        self.example = example

    def parse(self, text: str, line: int, column: str, what: str = "amount") -> Decimal | None:
        value = text.strip().replace("\u00a0", "")
        if not value:
            return None
        m = self.pattern.match(value) if len(value) <= 30 else None
        if not m:
            raise _reject(line, column, f"{what} {text!r} is not a number in the form {self.example}")
        integer = m[2].replace(self.mapping.thousands_separator or "\x00", "")
        number = Decimal(integer + ("." + m[3] if m[3] else ""))
        return -number if m[1] == "-" else number


def _decode(data: bytes, mapping: CsvMapping) -> str:
    try:
        return data.decode(mapping.encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _reject(line, None, f"the file is not valid {mapping.encoding} text (byte offset {exc.start}); set CsvMapping.encoding") from None
    except LookupError:
        raise _reject(None, None, f"unknown encoding {mapping.encoding!r} in the CSV mapping") from None


def _rows(text: str, mapping: CsvMapping) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=mapping.delimiter, quotechar=mapping.quotechar, strict=True)
    rows = []
    try:
        for row in reader:
            rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise _reject(reader.line_num + 1, None, f"the CSV cannot be read: {exc}") from None
    return rows


def _label_value(rows: list[tuple[int, list[str]]], label: str) -> tuple[int, str] | None:
    """Value of a 'label : value' cell in the metadata rows."""
    pattern = re.compile(rf"^\s*{re.escape(label)}\s*:\s*(.+?)\s*$")
    for line, row in rows:
        for cell in row:
            m = pattern.match(cell)
            if m:
                return line, m[1]
    return None


def _labelled_balance(rows: list[tuple[int, list[str]]], label: str, numbers: _Numbers) -> Decimal | None:
    for line, row in rows:
        if row and row[0].strip().startswith(label):
            cells = [c for c in row[1:] if c.strip()]
            if not cells:
                raise _reject(line, None, f"the row {label!r} has no amount")
            return numbers.parse(cells[-1], line, label, "balance")
    return None


def parse_csv(data: bytes, mapping: CsvMapping) -> list[Statement]:
    """Parse a CSV export with the given mapping into one Statement."""
    if not isinstance(mapping, CsvMapping):
        raise TypeError("mapping must be a CsvMapping")
    text = _decode(data, mapping)
    rows = _rows(text, mapping)
    while rows and not any(c.strip() for c in rows[-1][1]):
        rows.pop()
    numbers = _Numbers(mapping)

    if len(rows) <= mapping.header_rows_to_skip:
        raise _reject(None, None, f"the file has {len(rows)} rows, so there is no header row after {mapping.header_rows_to_skip} skipped rows")
    meta = rows[: mapping.header_rows_to_skip]
    header_line, header = rows[mapping.header_rows_to_skip]
    body = rows[mapping.header_rows_to_skip + 1:]
    if mapping.footer_rows_to_skip:
        if len(body) < mapping.footer_rows_to_skip:
            raise _reject(header_line, None, f"expected {mapping.footer_rows_to_skip} footer rows after the header, the file ends first")
        meta = meta + body[-mapping.footer_rows_to_skip:]
        body = body[: -mapping.footer_rows_to_skip]
    names = [h.strip() for h in header]

    def index(column: str | None) -> int | None:
        if column is None:
            return None
        if column not in names:
            raise _reject(header_line, column, f"column {column!r} is not in the header row; the columns are {names}")
        return names.index(column)

    cols = {
        key: index(getattr(mapping, key))
        for key in (
            "date_column", "amount_column", "dc_indicator_column", "debit_column", "credit_column", "currency_column",
            "value_date_column", "description_column", "counterparty_name_column", "counterparty_account_column",
            "reference_column", "end_to_end_column", "additional_info_column", "balance_column",
        )
    }

    account = mapping.account
    if account is None and mapping.account_label is not None:
        found = _label_value(meta, mapping.account_label)
        if found is None:
            raise _reject(None, None, f"no metadata cell '{mapping.account_label} : ...' gives the account")
        account = found[1]
    fixed_ccy = mapping.currency
    if mapping.currency_label is not None:
        found = _label_value(meta, mapping.currency_label)
        if found is None or not is_currency_code(found[1]):
            raise _reject(found[0] if found else None, None, f"no metadata cell '{mapping.currency_label} : <ISO currency>' gives the currency")
        fixed_ccy = found[1]

    def cell(row: list[str], key: str) -> str:
        i = cols[key]
        return row[i] if i is not None and i < len(row) else ""

    def date_cell(row: list[str], key: str, line: int, required: bool) -> date | None:
        raw = cell(row, key).strip()
        if not raw:
            if required:
                raise _reject(line, getattr(mapping, key), "the date is missing")
            return None
        try:
            return datetime.strptime(raw, mapping.date_format).date()
        except ValueError:
            raise _reject(line, getattr(mapping, key), f"date {raw!r} does not match the format {mapping.date_format} or is not a valid date") from None

    lines: list[StatementLine] = []
    positions: list[str] = []
    balances: list[tuple[int, Decimal]] = []
    currency: str | None = fixed_ccy
    currency_line = None
    for line, row in body:
        if not any(c.strip() for c in row):
            continue
        if len(row) < len(names):
            raise _reject(line, None, f"the row has {len(row)} columns, the header has {len(names)}")
        if mapping.amount_column:
            amount = numbers.parse(cell(row, "amount_column"), line, mapping.amount_column)
            if amount is None:
                raise _reject(line, mapping.amount_column, "the amount is missing")
            if mapping.dc_indicator_column:
                flag = cell(row, "dc_indicator_column").strip()
                if amount < 0:
                    raise _reject(line, mapping.amount_column, f"amount {amount} is negative although column {mapping.dc_indicator_column!r} gives the direction")
                if flag in mapping.debit_values:
                    amount = -amount
                elif flag not in mapping.credit_values:
                    raise _reject(line, mapping.dc_indicator_column, f"debit/credit indicator {flag!r} is neither {mapping.debit_values} nor {mapping.credit_values}")
        else:
            debit = numbers.parse(cell(row, "debit_column"), line, mapping.debit_column or "")
            credit = numbers.parse(cell(row, "credit_column"), line, mapping.credit_column or "")
            debit = abs(debit) if debit else Decimal(0)
            credit = abs(credit) if credit else Decimal(0)
            if debit and credit:
                raise _reject(line, None, f"both debit ({debit}) and credit ({credit}) are filled in; a row must have one of them")
            amount = credit - debit
        if mapping.negate_amounts:
            amount = -amount
        if mapping.currency_column:
            row_ccy = cell(row, "currency_column").strip()
            if not is_currency_code(row_ccy):
                raise _reject(line, mapping.currency_column, f"currency {row_ccy!r} is not an ISO 4217 code")
            if currency is None:
                currency, currency_line = row_ccy, line
            elif row_ccy != currency:
                raise _reject(line, mapping.currency_column, f"the row is in {row_ccy} but line {currency_line} is in {currency}; a statement has one currency")
        assert currency is not None
        booking = date_cell(row, "date_column", line, required=True)
        value = date_cell(row, "value_date_column", line, required=False) if mapping.value_date_column else None
        if mapping.balance_column:
            bal = numbers.parse(cell(row, "balance_column"), line, mapping.balance_column, "balance")
            if bal is None:
                raise _reject(line, mapping.balance_column, "the running balance is missing")
            if balances and balances[-1][1] + amount != bal:
                prev_line, prev = balances[-1]
                raise _reject(
                    line, mapping.balance_column,
                    f"running balance {bal} does not follow from line {prev_line}'s balance {prev} and this row's amount {amount:+}"
                    f" (expected {prev + amount}); check the file or the mapping's sign convention",
                )
            balances.append((line, bal))
        lines.append(StatementLine(
            amount=abs(amount),
            currency=currency,
            direction=CREDIT if amount >= 0 else DEBIT,
            booking_date=booking,
            value_date=value,
            bank_reference=clean(cell(row, "reference_column")),
            end_to_end_id=clean(cell(row, "end_to_end_column")),
            payer_name=clean(cell(row, "counterparty_name_column")),
            payer_account=clean(cell(row, "counterparty_account_column")),
            remittance_unstructured=clean(cell(row, "description_column")),
            source_position=f"line {line}",
            additional_info=clean(cell(row, "additional_info_column")),
        ))
        positions.append(str(line))
    if not lines:
        raise _reject(header_line, None, "the file has no statement rows after the header")
    assert currency is not None

    opening = closing = None
    if mapping.opening_balance_label:
        opening = _labelled_balance(meta, mapping.opening_balance_label, numbers)
    if mapping.closing_balance_label:
        closing = _labelled_balance(meta, mapping.closing_balance_label, numbers)
    if balances:
        if opening is None:
            opening = balances[0][1] - lines[0].signed_amount
        if closing is None:
            closing = balances[-1][1]

    statement_id = mapping.statement_id or "csv-" + hashlib.sha256(data).hexdigest()[:16]
    dates = [ln.booking_date for ln in lines if ln.booking_date]
    return [Statement(
        statement_id=statement_id,
        account=account,
        currency=currency,
        opening_balance=opening,
        closing_balance=closing,
        opening_date=min(dates) if dates else None,
        closing_date=max(dates) if dates else None,
        lines=assign_line_ids(statement_id, account, lines, positions),
        format=FORMAT,
        source_position=f"line {header_line} (header)",
        opening_balance_currency=currency if opening is not None else None,
        closing_balance_currency=currency if closing is not None else None,
    )]
