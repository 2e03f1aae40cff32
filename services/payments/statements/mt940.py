"""SWIFT MT940 customer statements (including German DK/SEPA and Dutch dialects).

The file is decoded as UTF-8 when valid, else as Windows-1252 (Latin-1 for the
bytes Windows-1252 leaves undefined).  Lines outside a statement that are not
fields (SWIFT envelopes such as ``ABNANL2A`` / ``940``, ``{1:...}``, ``-XXX``,
SOH/ETX bytes) are skipped; a field outside a statement is an error.

Statement structure: ``:20:`` starts a statement (a new ``:20:`` or a line
``-`` ends it), ``:25:`` account and ``:60F:``/``:60M:`` opening balance are
required before the first ``:61:``, each ``:61:`` may be followed by one
``:86:``, and ``:62F:``/``:62M:`` closing balance is required.  ``:28:``/``:28C:``,
``:21:``, ``:13D:``, ``:64:``, ``:65:`` and a statement-level ``:86:`` after
``:62:`` are accepted; any other field is rejected (MT942 fields included).

``:61:`` mapping: value date, optional entry date (booking date; its year
is taken from the value date, moving to the neighbouring year across a year
end), C/D mark (``RC``/``RD`` are reversals: ``is_return`` True, direction
debit/credit), optional funds code, amount with decimal comma, transaction
type (``transaction_code``), reference for the account owner
(``customer_reference``; ``NONREF`` is None), ``//`` bank reference
(``bank_reference``) and supplementary details (``additional_info``; an
IBAN there becomes ``payer_account`` when ``:86:`` has none).  The booking
date is None when the ``:61:`` has no entry date.

``:86:`` dialects:

* German DK structured (``GVC?00...?20...``) and the Triodos variant with
  ``>`` separators: ``?20``-``?29`` and ``?60``-``?63`` form the purpose; when
  it carries SEPA keywords at the start of a subfield (``EREF+``, ``KREF+``,
  ``MREF+``, ``CRED+``, ``SVWZ+``, ``ABWA+``, ``ABWE+`` ...) ``EREF`` is the
  end-to-end id (``NOTPROVIDED`` dropped), ``KREF`` the customer reference,
  ``SVWZ`` the remittance text; ``MREF``/``CRED``/``ABWA``/``ABWE`` and the
  ``?00`` posting text go to ``additional_info``.  Without keywords the whole
  purpose is the remittance.  ``?31`` account, ``?32``+``?33`` name of the
  counterparty.  Subfields that are 27 characters long (the DK maximum)
  continue directly in the next one, shorter ones are joined with a space.
  GVC 109 (SEPA direct-debit return) and 159 (SEPA credit-transfer return)
  mark a return; ``?34`` is then the numeric DK return reason (e.g. ``914``).
  Triodos (``>``) puts the counterparty account in ``>10`` and its own
  account in ``>31``.  ``transaction_code`` becomes ``<type>:<GVC>``.
* Tagged (Rabobank, ABN AMRO, ING SEPA: ``/EREF/.../BENM//NAME/...``):
  ``EREF``, ``REMI``, ``NAME`` (of ``ORDP`` on credits, ``BENM`` on debits),
  ``IBAN``, ``CDTRREF`` (creditor reference), ``RTRN`` (return reason).
* Anything else is free text: the whole field, line breaks kept as ``\\n``,
  is the remittance text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date
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
    minor_units,
    rejection,
    unique_ids,
)

FORMAT = "mt940"

_TAG_RE = re.compile(r"^:(\d{2}[A-Z]?):(.*)$")
_KNOWN_TAGS = {"20", "21", "25", "25P", "28", "28C", "13D", "60F", "60M", "61", "86", "62F", "62M", "64", "65"}
_END_RE = re.compile(r"^-(XXX)?\}?$")
_BALANCE_RE = re.compile(r"^([CD])(\d{6})([A-Z]{3})(\d[\d]*,\d*)$")
_AMOUNT_RE = re.compile(r"^(\d+),(\d*)")
_IBAN_RE = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")
_SEPA_KEYS = ("EREF", "KREF", "MREF", "CRED", "DEBT", "SVWZ", "ABWA", "ABWE", "COAM", "OAMT", "IBAN", "BIC", "PURP", "RREF")
_SEPA_KEY_RE = re.compile(r"^(%s)\+" % "|".join(_SEPA_KEYS))
_TAGGED_KEYS = (
    "TRTP", "EREF", "PREF", "MARF", "CSID", "REMI", "CDTRREFTP", "CDTRREF", "CD", "ISSR", "BENM", "ORDP",
    "NAME", "ADDR", "IBAN", "BIC", "ID", "ISDT", "RTRN", "PURP", "ULTC", "ULTD", "EXCH", "CHGS", "OCMT",
    "BUSP", "SVCL", "ACCW", "CNTP",
)
_TAGGED_RE = re.compile(r"/(%s)/" % "|".join(sorted(_TAGGED_KEYS, key=len, reverse=True)))
_RETURN_GVC = {"109", "159"}
_DK_SUBFIELD_LEN = 27


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            return data.decode("latin-1")


@dataclass
class _Field:
    tag: str
    lines: list[str]
    line_no: int

    @property
    def first(self) -> str:
        return self.lines[0]


@dataclass
class _RawStatement:
    start_line: int
    fields: list[_Field] = field(default_factory=list)


def _reject(line: int | None, tag: str | None, message: str) -> StatementRejected:
    return rejection(FORMAT, line, f":{tag}:" if tag else None, message)


def _split_statements(text: str) -> list[_RawStatement]:
    physical = re.split(r"\r\n|\r|\n", text)
    statements: list[_RawStatement] = []
    current: _RawStatement | None = None
    for no, raw in enumerate(physical, 1):
        line = raw.strip("\x00\x01\x02\x03\x04 \t")
        if not line:
            continue
        # Field values keep trailing blanks (they matter in wrapped :86: text).
        m = _TAG_RE.match(raw.lstrip("\x00\x01\x02\x03\x04 \t").rstrip("\r\x00\x01\x02\x03\x04"))
        if line.startswith(":940:"):
            continue
        if m is None:
            if current is None:
                continue  # envelope / header line outside a statement
            if _END_RE.match(line):
                statements.append(current)
                current = None
                continue
            if not current.fields:
                raise _reject(no, None, f"unexpected text {line[:40]!r} before the first field")
            current.fields[-1].lines.append(raw.rstrip("\r\x03"))
            continue
        tag, value = m[1], m[2]
        if tag == "20":
            if current is not None:
                statements.append(current)
            current = _RawStatement(no)
        elif current is None:
            raise _reject(no, tag, f"field :{tag}: appears outside a statement; every statement must start with :20:")
        if tag not in _KNOWN_TAGS:
            raise _reject(no, tag, f"field :{tag}: is not an MT940 statement field (MT942 and other messages are not supported)")
        current.fields.append(_Field(tag, [value], no))
    if current is not None:
        statements.append(current)
    return statements


def _parse_date(text: str, line: int, tag: str, what: str) -> date:
    yy, mm, dd = int(text[0:2]), int(text[2:4]), int(text[4:6])
    year = 2000 + yy if yy < 70 else 1900 + yy
    try:
        return date(year, mm, dd)
    except ValueError:
        raise _reject(line, tag, f"{what} {text!r} is not a valid date (YYMMDD)") from None


def _parse_amount(text: str, currency: str, line: int, tag: str) -> Decimal:
    m = re.fullmatch(r"(\d+),(\d*)", text)
    if not m or len(text) > 15:
        raise _reject(line, tag, f"amount {text!r} is not an MT940 amount (digits with a decimal comma, e.g. 1234,56)")
    if len(m[2]) > max(minor_units(currency), 0) and m[2].strip("0"):
        raise _reject(line, tag, f"amount {text!r} has more decimals than {currency} allows")
    return Decimal(f"{m[1]}.{m[2]}" if m[2] else m[1])


def _parse_balance(f: _Field) -> tuple[Decimal, str, date]:
    value = " ".join(s.strip() for s in f.lines).strip()
    m = _BALANCE_RE.match(value)
    if not m:
        raise _reject(
            f.line_no, f.tag,
            f"balance {value!r} is not in the form C/D mark, YYMMDD date, currency, amount (e.g. C110522EUR3236,28)",
        )
    sign, when, ccy, amt = m.groups()
    when_date = _parse_date(when, f.line_no, f.tag, "balance date")
    amount = _parse_amount(amt, ccy, f.line_no, f.tag)
    return (amount if sign == "C" else -amount), ccy, when_date


@dataclass
class _Details:
    end_to_end_id: str | None = None
    customer_reference: str | None = None
    remittance: str | None = None
    payer_name: str | None = None
    payer_account: str | None = None
    creditor_references: tuple[str, ...] = ()
    return_reason: str | None = None
    is_return: bool = False
    gvc: str | None = None
    additional: str | None = None
    tagged: bool = False


def _join_subfields(parts: list[tuple[str, str]], width: int = _DK_SUBFIELD_LEN) -> str:
    """Join (raw subfield, content) pairs.

    A subfield of the full DK width continues directly in the next one;
    after a shorter one a space separates the texts.
    """
    out = ""
    prev_raw: str | None = None
    for raw, content in parts:
        if prev_raw is None:
            out = content
        elif len(prev_raw) >= width or out.endswith(" ") or content.startswith(" "):
            out += content
        else:
            out += " " + content
        prev_raw = raw
    return out


def _squash(text: str | None) -> str | None:
    return clean(" ".join(text.split())) if text else None


def _parse_dk(body: str, sep: str, direction: str) -> _Details:
    gvc = body[:3]
    esc = re.escape(sep)
    subfields: list[tuple[str, str]] = [(m[1], m[2]) for m in re.finditer(esc + r"(\d{2})([^" + esc + r"]*)", body[3:])]
    purpose = [v for k, v in subfields if "20" <= k <= "29" or "60" <= k <= "63"]
    d = _Details(gvc=gvc)
    get = {k: v for k, v in reversed(subfields)}  # first occurrence wins
    # A SEPA keyword starts a section at the start of a subfield.  A subfield
    # without keyword continues the section only when the previous subfield
    # was full (DK rule); otherwise it is plain text.
    sections: list[tuple[str | None, list[tuple[str, str]]]] = []
    plain: list[tuple[str, str]] = []
    prev_raw: str | None = None
    for part in purpose:
        m = _SEPA_KEY_RE.match(part)
        if m:
            sections.append((m[1], [(part, part[m.end():])]))
        elif sections and prev_raw is not None and len(prev_raw) >= _DK_SUBFIELD_LEN and sections[-1][1][-1][0] == prev_raw:
            sections[-1][1].append((part, part))
        else:
            plain.append((part, part))
        prev_raw = part
    keyed: dict[str, str | None] = {}
    for key, parts in sections:
        keyed.setdefault(key or "", clean(_join_subfields(parts)))
    plain_text = clean(_join_subfields(plain))
    eref = keyed.get("EREF")
    d.end_to_end_id = None if eref is None or eref.upper() == "NOTPROVIDED" else eref
    kref = keyed.get("KREF")
    d.customer_reference = None if kref is None or kref.upper() == "NOTPROVIDED" else kref
    d.remittance = keyed.get("SVWZ") or plain_text
    extra = [clean(get.get("00"))]
    extra += [f"{k}: {keyed[k]}" for k in ("MREF", "CRED", "ABWA", "ABWE") if keyed.get(k)]
    if keyed.get("SVWZ") and plain_text:
        extra.append(plain_text)
    d.additional = "; ".join(e for e in extra if e) or None
    if sep == ">":  # Triodos: >10 counterparty account, >31 own account
        d.payer_account = clean(get.get("10"))
    else:
        iban38 = clean(get.get("38"))  # Polish ZBP variant: IBAN in ?38
        d.payer_account = iban38 if iban38 and _IBAN_RE.match(iban38.replace(" ", "")) else clean(get.get("31"))
        if d.payer_account and iban38 == d.payer_account:
            d.payer_account = iban38.replace(" ", "")
    names = [(get[k], get[k]) for k in ("32", "33") if k in get]
    d.payer_name = _squash(_join_subfields(names))
    if gvc in _RETURN_GVC:
        d.is_return = True
        d.return_reason = clean(get.get("34"))
    return d


def _parse_tagged(body: str, direction: str) -> _Details:
    matches = list(_TAGGED_RE.finditer(body))
    values: list[tuple[str, str]] = []
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(body)
        values.append((m[1], body[m.end():end].strip()))
    d = _Details(tagged=True)
    party = None  # which party block the NAME/IBAN belongs to
    names: dict[str | None, str] = {}
    ibans: dict[str | None, str] = {}
    refs: list[str] = []
    for key, value in values:
        value = value.rstrip("/").strip()
        if key in ("BENM", "ORDP", "ULTC", "ULTD"):
            party = key
        elif key == "NAME" and value:
            names.setdefault(party, value)
        elif key == "IBAN" and value:
            ibans.setdefault(party, value)
        elif key == "EREF" and value and d.end_to_end_id is None and value.upper() != "NOTPROVIDED":
            d.end_to_end_id = value
        elif key == "REMI" and value and d.remittance is None:
            d.remittance = value
        elif key == "CDTRREF" and value:
            refs.append(value)
        elif key == "RTRN" and value:
            d.is_return = True
            d.return_reason = value
        elif key == "TRTP" and value:
            d.additional = value
    own_party = "ORDP" if direction == CREDIT else "BENM"
    d.payer_name = names.get(own_party) or names.get(None)
    d.payer_account = ibans.get(own_party) or ibans.get(None)
    d.creditor_references = tuple(refs)
    return d


def parse_details(lines: list[str], direction: str) -> _Details:
    """Interpret the text of an :86: field."""
    first = lines[0].lstrip()
    rest = lines[1:]
    if re.match(r"^\d{3}[?>]\d{2}", first):
        sep = first[3]
        return _parse_dk("".join([first] + rest), sep, direction)
    if _TAGGED_RE.match(first):
        return _parse_tagged("".join([first] + rest), direction)
    text = "\n".join(s.rstrip() for s in [first] + rest)
    if re.match(r"^999", text):  # DK code for unstructured text
        text = text[3:]
    return _Details(remittance=clean(text))


def _parse_61(f: _Field, currency: str) -> dict:
    text = f.first.strip()
    line, tag = f.line_no, f.tag
    if not re.match(r"^\d{6}", text):
        raise _reject(line, tag, f"the value date is missing at the start of {text[:20]!r} (expected YYMMDD)")
    value_date = _parse_date(text[:6], line, tag, "value date")
    pos = 6
    entry_md = None
    if re.match(r"^\d{4}", text[pos:]):
        entry_md = text[pos:pos + 4]
        pos += 4
    mark_m = re.match(r"^(RC|RD|C|D)", text[pos:])
    if not mark_m:
        raise _reject(line, tag, f"the debit/credit mark must be C, D, RC or RD, found {text[pos:pos + 2]!r}")
    mark = mark_m[1]
    pos += len(mark)
    if re.match(r"^[A-Z]", text[pos:]):  # funds code (3rd letter of the currency)
        pos += 1
    amt_m = _AMOUNT_RE.match(text[pos:])
    if not amt_m:
        raise _reject(
            line, tag,
            f"the amount is missing or malformed at {text[pos:pos + 15]!r} (expected digits with a decimal comma, e.g. 1234,56)",
        )
    amount = _parse_amount(amt_m[0], currency, line, tag)
    pos += len(amt_m[0])
    type_m = re.match(r"^[NSF][A-Z0-9]{3}", text[pos:])
    if not type_m:
        raise _reject(line, tag, f"the transaction type is missing at {text[pos:pos + 4]!r} (expected e.g. NTRF, N192, FMSC)")
    tx_type = type_m[0]
    pos += 4
    rest = text[pos:]
    customer_ref, _, bank_ref = rest.partition("//")
    customer_ref = clean(customer_ref)
    if customer_ref and customer_ref.upper() == "NONREF":
        customer_ref = None

    booking_date = None
    if entry_md is not None:
        mm, dd = int(entry_md[:2]), int(entry_md[2:])
        year = value_date.year
        if mm - value_date.month > 6:
            year -= 1
        elif value_date.month - mm > 6:
            year += 1
        try:
            booking_date = date(year, mm, dd)
        except ValueError:
            raise _reject(line, tag, f"entry date {entry_md!r} is not a valid date (MMDD)") from None

    direction = {"C": CREDIT, "D": DEBIT, "RC": DEBIT, "RD": CREDIT}[mark]
    supplementary = clean(" ".join(s.strip() for s in f.lines[1:]))
    return dict(
        value_date=value_date,
        booking_date=booking_date,
        direction=direction,
        reversal=mark.startswith("R"),
        amount=amount,
        tx_type=tx_type,
        customer_reference=customer_ref,
        bank_reference=clean(bank_ref),
        supplementary=supplementary,
    )


def _build(raw: _RawStatement) -> tuple[Statement, list[str]]:
    fields = raw.fields
    ref20 = clean(" ".join(fields[0].lines)) or ""
    account = None
    number = None
    opening = closing = None
    closing_field = None
    pending: list[tuple[_Field, _Field | None]] = []
    seen_closing = False
    for f in fields[1:]:
        if f.tag in ("25", "25P"):
            if account is not None:
                raise _reject(f.line_no, f.tag, "the statement has a second account field :25:")
            account = clean(" ".join(f.lines))
        elif f.tag in ("28", "28C"):
            number = clean(" ".join(f.lines))
        elif f.tag in ("60F", "60M"):
            if opening is not None:
                raise _reject(f.line_no, f.tag, "the statement has a second opening balance")
            if pending:
                raise _reject(f.line_no, f.tag, "the opening balance must come before the first :61: line")
            opening = _parse_balance(f)
        elif f.tag == "61":
            if seen_closing:
                raise _reject(f.line_no, f.tag, "statement line :61: after the closing balance :62:")
            pending.append((f, None))
        elif f.tag == "86":
            if seen_closing:
                continue  # statement-level information
            if not pending or pending[-1][1] is not None:
                raise _reject(f.line_no, f.tag, "information field :86: does not follow a statement line :61:")
            pending[-1] = (pending[-1][0], f)
        elif f.tag in ("62F", "62M"):
            if seen_closing:
                raise _reject(f.line_no, f.tag, "the statement has a second closing balance")
            closing = _parse_balance(f)
            closing_field = f
            seen_closing = True
    if account is None:
        raise _reject(raw.start_line, "20", f"statement {ref20!r} has no account field :25:")
    if opening is None:
        raise _reject(raw.start_line, "20", f"statement {ref20!r} has no opening balance :60F: or :60M:")
    currency = opening[1]
    if not is_currency_code(currency):  # pragma: no cover - regex guarantees it
        raise _reject(raw.start_line, "60F", f"currency {currency!r} is not an ISO 4217 code")

    lines: list[StatementLine] = []
    positions: list[str] = []
    for idx, (f61, f86) in enumerate(pending, 1):
        base = _parse_61(f61, currency)
        details = parse_details(f86.lines, base["direction"]) if f86 else _Details()
        if details.tagged and base["customer_reference"] in _TAGGED_KEYS:
            # Rabobank puts the name of the :86: reference tag (EREF, PREF, MARF) here.
            base["customer_reference"] = None
        payer_account = details.payer_account
        if payer_account is None and base["supplementary"] and _IBAN_RE.match(base["supplementary"]):
            payer_account = base["supplementary"]
        code = base["tx_type"] + (f":{details.gvc}" if details.gvc else "")
        additional = "; ".join(x for x in (details.additional, base["supplementary"]) if x) or None
        lines.append(
            StatementLine(
                amount=base["amount"],
                currency=currency,
                direction=base["direction"],
                booking_date=base["booking_date"],
                value_date=base["value_date"],
                bank_reference=base["bank_reference"],
                end_to_end_id=details.end_to_end_id,
                payer_name=details.payer_name,
                payer_account=payer_account,
                remittance_unstructured=details.remittance,
                creditor_references=details.creditor_references,
                return_reason=details.return_reason,
                is_return=base["reversal"] or details.is_return,
                source_position=f"line {f61.line_no} (:61:)",
                customer_reference=details.customer_reference or base["customer_reference"],
                transaction_code=code,
                additional_info=additional,
            )
        )
        positions.append(str(idx))
    if closing is None:
        raise _reject(
            raw.start_line, "20",
            f"statement {ref20!r} has no closing balance :62F: or :62M: (is the file truncated?)",
        )
    statement_id = f"{ref20}/{number}" if number else ref20
    assert closing_field is not None
    st = Statement(
        statement_id=statement_id,
        account=account,
        currency=currency,
        opening_balance=opening[0],
        closing_balance=closing[0],
        opening_date=opening[2],
        closing_date=closing[2],
        lines=tuple(lines),
        format=FORMAT,
        source_position=f"line {closing_field.line_no} (:{closing_field.tag}:)",
        opening_balance_currency=opening[1],
        closing_balance_currency=closing[1],
    )
    return st, positions


def parse_mt940(data: bytes) -> list[Statement]:
    """Parse an MT940 file into one Statement per ``:20:`` block."""
    text = decode(data)
    raws = _split_statements(text)
    if not raws:
        raise _reject(None, None, "no MT940 statement found (no line starting with :20:)")
    built = [_build(raw) for raw in raws]
    ids = unique_ids(st.statement_id for st, _ in built)
    result = []
    for (st, positions), sid in zip(built, ids):
        lines = assign_line_ids(sid, st.account, st.lines, positions)
        result.append(replace(st, statement_id=sid, lines=lines))
    return result


