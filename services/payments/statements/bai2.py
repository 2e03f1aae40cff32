"""BAI2 (Cash Management Balance Reporting Specification, version 2).

Record layout: ``01`` file header, ``02`` group header, ``03`` account
identifier and summaries, ``16`` transaction detail, ``88`` continuation of
the previous record, ``49`` account trailer, ``98`` group trailer, ``99`` file
trailer.  A ``/`` ends a record's fields; an ``88`` record continues with the
next field.  The text field of a ``16`` record runs to the end of the record
(commas included); ``88`` records after it add further text lines.

Rules
-----
* Amounts are integers in minor units of the account currency (``03``
  currency, else the group currency, else USD): ``000000000002500`` in CAD is
  25.00.  ``16`` amounts must be unsigned.
* Each ``03`` record becomes one Statement, id ``<file id>/<group #>/<account
  #>`` (1-based positions in the file).  Opening balance: type 010 (opening
  ledger); closing balance: 015 (closing ledger); both dated with the group's
  as-of date.  Available balances (040/045) are not used for reconciliation.
* Detail type codes 100-399 and 920-959 are credits, 400-699 and 960-999
  debits; other codes in a ``16`` record are rejected.  ``booking_date`` is
  the group as-of date; ``value_date`` is the funds-type ``V`` date if given.
* ``bank_reference`` and ``customer_reference`` are the record's reference
  fields; ``transaction_code`` the type code.  Continuation lines of the form
  ``KEY: value`` with the keys used by several US banks (EREF, REMI, DBNM,
  CRNM, DACT, CACT ...) fill ``end_to_end_id`` (EREF), ``remittance_unstructured``
  (REMI), ``payer_name`` (DBNM on credits, CRNM on debits) and
  ``payer_account`` (DACT on credits, CACT on debits).  The remaining text is
  the remittance text when there is no REMI, and ``additional_info`` otherwise.
* ``is_return`` for the BAI return/reversal detail codes 123, 252, 255, 257,
  258, 261, 266, 395, 423, 552, 555, 557, 558, 561, 566; ``return_reason``
  from a quoted ACH reason code (``Reason: "R02"``) in the text, else ``NSF``
  when the text says NSF.
* Trailers are verified (control totals and record counts of ``49``, ``98``,
  ``99``, number of accounts and groups); ``verify_trailers=False`` skips
  these checks for producers known to write wrong trailers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from .model import (
    CREDIT,
    DEBIT,
    Statement,
    StatementLine,
    StatementRejected,
    assign_line_ids,
    clean,
    from_minor_units,
    is_currency_code,
    rejection,
)

FORMAT = "bai2"
DEFAULT_CURRENCY = "USD"
RETURN_CODES = frozenset({123, 252, 255, 257, 258, 261, 266, 395, 423, 552, 555, 557, 558, 561, 566})
_TEXT_KEYS = {"EREF", "CREF", "REMI", "DBNM", "CRNM", "DACT", "CACT", "DABA", "CABA", "DBIC", "CBIC", "IDNM", "CHKN"}
_KEY_RE = re.compile(r"^([A-Z]{4}):\s?(.*)$")
_ACH_REASON_RE = re.compile(r'Reason:\s*"(R\d{2})"')
_NSF_RE = re.compile(r"\bNSF\b", re.IGNORECASE)
_RECORD_NAMES = {
    "01": "file header", "02": "group header", "03": "account identifier", "16": "transaction detail",
    "49": "account trailer", "88": "continuation", "98": "group trailer", "99": "file trailer",
}


def _reject(line: int | None, code: str | None, message: str) -> StatementRejected:
    return rejection(FORMAT, line, f"record {code} {_RECORD_NAMES.get(code, '')}".rstrip() if code else None, message)


@dataclass
class _Record:
    code: str
    segments: list[str]  # the record's own content, then each 88 continuation
    line: int
    physical: int = 1  # number of physical records (1 + continuations)

    def fields(self) -> list[str]:
        """Comma-separated fields across continuations (``/`` ends a segment)."""
        out: list[str] = []
        for seg in self.segments:
            seg = seg.rstrip()
            if seg.endswith("/"):
                seg = seg[:-1]
            out.extend(seg.split(","))
        return out


def _records(text: str) -> list[_Record]:
    records: list[_Record] = []
    for no, raw in enumerate(re.split(r"\r\n|\r|\n", text), 1):
        line = raw.strip()
        if not line:
            continue
        code, sep, rest = line.partition(",")
        if code not in _RECORD_NAMES or not sep:
            raise _reject(no, None, f"record {line[:20]!r} does not start with a BAI2 record code (01, 02, 03, 16, 49, 88, 98, 99) and a comma")
        if code == "88":
            if not records:
                raise _reject(no, code, "continuation record 88 without a record to continue")
            records[-1].segments.append(rest)
            records[-1].physical += 1
        else:
            records.append(_Record(code, [rest], no))
    return records


def _date(text: str, rec: _Record, what: str) -> date:
    if not re.fullmatch(r"\d{6}", text or ""):
        raise _reject(rec.line, rec.code, f"{what} {text!r} is not a date in the form YYMMDD")
    yy, mm, dd = int(text[:2]), int(text[2:4]), int(text[4:])
    try:
        return date(2000 + yy if yy < 70 else 1900 + yy, mm, dd)
    except ValueError:
        raise _reject(rec.line, rec.code, f"{what} {text!r} is not a valid date") from None


def _int(text: str, rec: _Record, what: str, signed: bool = True, required: bool = True) -> int | None:
    text = text.strip()
    if not text:
        if required:
            raise _reject(rec.line, rec.code, f"{what} is missing")
        return None
    pattern = r"[+-]?\d{1,20}" if signed else r"\d{1,20}"
    if not re.fullmatch(pattern, text):
        kind = "a whole number of minor units" if signed else "an unsigned whole number"
        raise _reject(rec.line, rec.code, f"{what} {text!r} is not {kind}")
    return int(text)


class _Cursor:
    """Reads the fields of a 16 record across its 88 continuations."""

    def __init__(self, rec: _Record):
        self.rec = rec
        self.seg = 0
        self.pos = 0
        self.closed = False  # current segment ended with "/"

    def _advance_segment(self) -> bool:
        if self.seg + 1 >= len(self.rec.segments):
            return False
        self.seg += 1
        self.pos = 0
        self.closed = False
        return True

    def field(self) -> str:
        segment = self.rec.segments[self.seg].rstrip()
        if self.closed or self.pos > len(segment):
            if not self._advance_segment():
                return ""
            segment = self.rec.segments[self.seg].rstrip()
        end = segment.find(",", self.pos)
        if end < 0:
            value = segment[self.pos:]
            self.pos = len(segment) + 1
        else:
            value = segment[self.pos:end]
            self.pos = end + 1
        if value.endswith("/"):
            value = value[:-1]
            self.closed = True
        return value

    def text_lines(self) -> list[str]:
        lines: list[str] = []
        segment = self.rec.segments[self.seg].rstrip()
        if not self.closed and self.pos <= len(segment):
            lines.append(segment[self.pos:])
        for later in self.rec.segments[self.seg + 1:]:
            lines.append(later.rstrip())
        return [ln[:-1] if ln.endswith("/") else ln for ln in lines]


def _skip_funds_details(fields: list[str], i: int, funds: str, rec: _Record) -> int:
    """Return the index after the funds-type details starting at ``i``."""
    funds = funds.strip().upper()
    if funds == "S":
        return i + 3
    if funds == "V":
        return i + 2
    if funds == "D":
        count = _int(fields[i] if i < len(fields) else "", rec, "number of availability distributions", signed=False) or 0
        return i + 1 + 2 * count
    if funds in ("", "0", "1", "2", "Z"):
        return i
    raise _reject(rec.line, rec.code, f"funds type {funds!r} is not one of 0, 1, 2, S, V, D, Z")


@dataclass
class _Account:
    rec: _Record
    number: str
    currency: str
    summaries: dict[str, int]
    control: int
    records: int = 0
    details: list[_Record] = field(default_factory=list)


def _account(rec: _Record, group_ccy: str) -> _Account:
    fields = rec.fields()
    number = clean(fields[0]) if fields else None
    if not number:
        raise _reject(rec.line, rec.code, "the account number is missing")
    ccy = (fields[1].strip() if len(fields) > 1 else "") or group_ccy
    if not is_currency_code(ccy):
        raise _reject(rec.line, rec.code, f"currency {ccy!r} is not an ISO 4217 code")
    summaries: dict[str, int] = {}
    control = 0
    i = 2
    while i < len(fields):
        type_code = fields[i].strip()
        amount = _int(fields[i + 1] if i + 1 < len(fields) else "", rec, f"amount of summary {type_code}", required=False)
        funds = fields[i + 3] if i + 3 < len(fields) else ""
        if type_code and not re.fullmatch(r"\d{3}", type_code):
            raise _reject(rec.line, rec.code, f"summary type code {type_code!r} is not a three-digit code")
        if i + 2 < len(fields):
            _int(fields[i + 2], rec, f"item count of summary {type_code}", signed=False, required=False)
        i = _skip_funds_details(fields, i + 4, funds, rec)
        if amount is not None:
            control += amount
            if type_code:
                summaries.setdefault(type_code, amount)
    return _Account(rec, number, ccy, summaries, control)


@dataclass
class _Detail:
    type_code: int
    amount: int
    value_date: date | None
    bank_ref: str | None
    customer_ref: str | None
    text_lines: list[str]


def _detail(rec: _Record) -> _Detail:
    cur = _Cursor(rec)
    type_text = cur.field().strip()
    if not re.fullmatch(r"\d{3}", type_text):
        raise _reject(rec.line, rec.code, f"type code {type_text!r} is not a three-digit BAI type code")
    type_code = int(type_text)
    amount = _int(cur.field(), rec, "amount", signed=False)
    assert amount is not None
    funds = cur.field().strip().upper()
    value_date = None
    if funds == "S":
        for what in ("immediate", "one-day", "two-or-more-day"):
            _int(cur.field(), rec, f"{what} availability amount", required=False)
    elif funds == "V":
        value_date = _date(cur.field().strip(), rec, "value date")
        time = cur.field().strip()
        if time and not re.fullmatch(r"\d{4}", time):
            raise _reject(rec.line, rec.code, f"value time {time!r} is not HHMM")
    elif funds == "D":
        count = _int(cur.field(), rec, "number of availability distributions", signed=False) or 0
        if count > 99:
            raise _reject(rec.line, rec.code, f"{count} availability distributions is not plausible")
        for _ in range(count):
            _int(cur.field(), rec, "availability days", signed=False)
            _int(cur.field(), rec, "availability amount")
    elif funds not in ("", "0", "1", "2", "Z"):
        raise _reject(rec.line, rec.code, f"funds type {funds!r} is not one of 0, 1, 2, S, V, D, Z")
    bank_ref = clean(cur.field())
    customer_ref = clean(cur.field())
    return _Detail(type_code, amount, value_date, bank_ref, customer_ref, cur.text_lines())


def _line(detail: _Detail, rec: _Record, currency: str, as_of: date) -> StatementLine:
    code = detail.type_code
    if 100 <= code <= 399 or 920 <= code <= 959:
        direction = CREDIT
    elif 400 <= code <= 699 or 960 <= code <= 999:
        direction = DEBIT
    else:
        raise _reject(rec.line, rec.code, f"type code {code:03d} is not a credit or debit detail code (100-399, 400-699, 920-999)")
    tags: dict[str, str] = {}
    free: list[str] = []
    for text in detail.text_lines:
        m = _KEY_RE.match(text.strip())
        if m and m[1] in _TEXT_KEYS:
            tags.setdefault(m[1], m[2].strip())
        elif text.strip():
            free.append(text.strip())
    free_text = clean(" ".join(free))
    remi = clean(tags.get("REMI"))
    reason = None
    all_text = " ".join(detail.text_lines)
    m = _ACH_REASON_RE.search(all_text)
    if m:
        reason = m[1]
    elif _NSF_RE.search(all_text):
        reason = "NSF"
    name_key, acct_key = ("DBNM", "DACT") if direction == CREDIT else ("CRNM", "CACT")
    return StatementLine(
        amount=from_minor_units(detail.amount, currency),
        currency=currency,
        direction=direction,
        booking_date=as_of,
        value_date=detail.value_date,
        bank_reference=detail.bank_ref,
        end_to_end_id=clean(tags.get("EREF")),
        payer_name=clean(tags.get(name_key)),
        payer_account=clean(tags.get(acct_key)),
        remittance_unstructured=remi or free_text,
        is_return=code in RETURN_CODES,
        return_reason=reason,
        source_position=f"line {rec.line} (record 16)",
        customer_reference=detail.customer_ref,
        transaction_code=f"{code:03d}",
        additional_info=free_text if remi else None,
    )


def parse_bai2(data: bytes, verify_trailers: bool = True) -> list[Statement]:
    """Parse a BAI2 file into one Statement per account record (03)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    records = _records(text)
    if not records or records[0].code != "01":
        raise _reject(records[0].line if records else None, records[0].code if records else None,
                      "a BAI2 file must start with a 01 file header record")
    header = records[0].fields()
    if len(header) < 5:
        raise _reject(records[0].line, "01", "the file header needs sender, receiver, creation date, time and file id")
    _date(header[2].strip(), records[0], "file creation date")
    file_id = clean(header[4]) or "?"
    version = header[7].strip() if len(header) > 7 else ""
    if version and version != "2":
        raise _reject(records[0].line, "01", f"version {version!r} is not BAI version 2")

    def check(rec: _Record, what: str, stated: int | None, actual: int) -> None:
        if verify_trailers and stated is not None and stated != actual:
            raise _reject(rec.line, rec.code, f"{what}: the trailer says {stated}, the file has {actual}")

    statements: list[Statement] = []
    file_total = 0
    file_records = records[0].physical
    groups = 0
    group: dict | None = None
    account: _Account | None = None
    finished = False
    for rec in records[1:]:
        if finished:
            raise _reject(rec.line, rec.code, "records after the 99 file trailer")
        if rec.code == "01":
            raise _reject(rec.line, rec.code, "a second file header inside the file")
        if rec.code == "02":
            if group is not None:
                raise _reject(rec.line, rec.code, "a new group starts before the previous group's 98 trailer")
            f = rec.fields()
            if len(f) < 4:
                raise _reject(rec.line, rec.code, "the group header needs receiver, originator, status and as-of date")
            ccy = (f[5].strip() if len(f) > 5 else "") or DEFAULT_CURRENCY
            if not is_currency_code(ccy):
                raise _reject(rec.line, rec.code, f"group currency {ccy!r} is not an ISO 4217 code")
            groups += 1
            group = {
                "rec": rec, "as_of": _date(f[3].strip(), rec, "as-of date"), "currency": ccy,
                "total": 0, "records": rec.physical, "accounts": 0, "number": groups,
            }
            continue
        if group is None:
            if rec.code == "99":
                f = rec.fields()
                check(rec, "file control total", _int(f[0] if f else "", rec, "file control total"), file_total)
                check(rec, "number of groups", _int(f[1] if len(f) > 1 else "", rec, "number of groups", signed=False), groups)
                file_records += rec.physical
                check(rec, "number of records", _int(f[2] if len(f) > 2 else "", rec, "number of records", signed=False), file_records)
                finished = True
                continue
            raise _reject(rec.line, rec.code, "record outside a group (expected 02 group header or 99 file trailer)")
        if rec.code == "03":
            if account is not None:
                raise _reject(rec.line, rec.code, f"account {account.number} has no 49 account trailer before this account")
            account = _account(rec, group["currency"])
            account.records = rec.physical
            group["accounts"] += 1
            continue
        if rec.code == "16":
            if account is None:
                raise _reject(rec.line, rec.code, "transaction detail outside an account (no 03 record before it)")
            account.details.append(rec)
            account.records += rec.physical
            continue
        if rec.code == "49":
            if account is None:
                raise _reject(rec.line, rec.code, "account trailer without an account")
            lines, positions = [], []
            for d_rec in account.details:
                detail = _detail(d_rec)
                account.control += detail.amount
                lines.append(_line(detail, d_rec, account.currency, group["as_of"]))
                positions.append(str(d_rec.line))
            account.records += rec.physical
            f = rec.fields()
            stated_total = _int(f[0] if f else "", rec, "account control total")
            stated_count = _int(f[1] if len(f) > 1 else "", rec, "number of records", signed=False)
            problems = []
            if verify_trailers and stated_total != account.control:
                problems.append(f"control total: the trailer says {stated_total}, the amounts add up to {account.control}")
            if verify_trailers and stated_count != account.records:
                problems.append(f"number of records: the trailer says {stated_count}, the account has {account.records}")
            if problems:
                raise _reject(rec.line, rec.code, f"account {account.number}: " + "; ".join(problems))
            statement_id = f"{file_id}/{group['number']}/{group['accounts']}"
            opening = account.summaries.get("010")
            closing = account.summaries.get("015")
            statements.append(Statement(
                statement_id=statement_id,
                account=account.number,
                currency=account.currency,
                opening_balance=from_minor_units(opening, account.currency) if opening is not None else None,
                closing_balance=from_minor_units(closing, account.currency) if closing is not None else None,
                opening_date=group["as_of"],
                closing_date=group["as_of"],
                lines=assign_line_ids(statement_id, account.number, lines, positions),
                format=FORMAT,
                source_position=f"line {account.rec.line} (record 03)",
                opening_balance_currency=account.currency if opening is not None else None,
                closing_balance_currency=account.currency if closing is not None else None,
            ))
            group["total"] += stated_total if stated_total is not None else account.control
            group["records"] += account.records
            account = None
            continue
        if rec.code == "98":
            if account is not None:
                raise _reject(rec.line, rec.code, f"account {account.number} has no 49 account trailer before the group trailer")
            f = rec.fields()
            group["records"] += rec.physical
            stated_total = _int(f[0] if f else "", rec, "group control total")
            check(rec, "group control total", stated_total, group["total"])
            check(rec, "number of accounts", _int(f[1] if len(f) > 1 else "", rec, "number of accounts", signed=False), group["accounts"])
            check(rec, "number of records", _int(f[2] if len(f) > 2 else "", rec, "number of records", signed=False), group["records"])
            file_total += stated_total if stated_total is not None else group["total"]
            file_records += group["records"]
            group = None
            continue
        if rec.code == "99":
            raise _reject(rec.line, rec.code, "file trailer before the group's 98 trailer")
    if not finished:
        last = records[-1]
        where = f"account {account.number}" if account else ("a group" if group else "the file")
        raise _reject(last.line, last.code, f"the file ends inside {where}: the 99 file trailer is missing (is the file truncated?)")
    return statements
