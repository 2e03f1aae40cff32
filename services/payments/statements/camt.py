"""ISO 20022 camt.053 (statement) and camt.054 (debit/credit notification).

Accepts message versions 001.02 to 001.08, namespace-agnostic (elements are
matched by local name; a document without a namespace is recognised by its
message element).  XML is parsed with ``defusedxml`` (DTDs, entity
declarations and external references are refused).

Mapping rules
-------------
* Each ``Stmt`` / ``Ntfctn`` becomes a :class:`Statement`; ``OPBD`` (or, if
  absent, ``PRCD``) is the opening balance and ``CLBD`` the closing balance.
  Without balances (camt.054), opening/closing dates come from ``FrToDt``.
* Each ``Ntry`` becomes one line.  An entry with several ``TxDtls`` whose
  amounts are all given in the entry currency is split into one line per
  ``TxDtls``; their signed sum must equal the entry amount, otherwise the
  file is rejected.  An entry whose details carry no usable amounts (or a
  single ``TxDtls``) stays one line with the entry amount; with several
  details, their references are combined (end-to-end id, payer and return
  reason only if all details agree).
* ``bank_reference``: ``TxDtls/Refs/AcctSvcrRef``, else ``Ntry/AcctSvcrRef``,
  else ``Ntry/NtryRef``.  ``end_to_end_id``: ``Refs/EndToEndId`` (the SEPA
  placeholder ``NOTPROVIDED`` becomes None).  ``customer_reference``:
  ``Refs/AcctOwnrTxId``.
* Counterparty: ``Dbtr``/``DbtrAcct`` on credit lines, ``Cdtr``/``CdtrAcct`` on
  debit lines (``Nm`` or, from v8, ``Pty/Nm``; ``IBAN`` or ``Othr/Id``).
* ``remittance_unstructured``: the ``RmtInf/Ustrd`` blocks; a block of the
  maximum 140 characters is glued to the next one, shorter blocks are joined
  with a space.  ``creditor_references``: every ``Strd/CdtrRefInf/Ref``.
* ``is_return``: ``RvslInd`` true or ``RtrInf`` present; ``return_reason``:
  ``RtrInf/Rsn/Cd`` (or ``Prtry``).
* ``transaction_code``: the entry's ``BkTxCd`` as ``DOMAIN-FAMILY-SUBFAMILY``
  or its proprietary code.  ``additional_info``: ``AddtlTxInf``, else
  ``AddtlNtryInf``.
* Dates given as date-times keep the calendar date written in the file (no
  time-zone conversion).  ``booked`` is False for entries whose status is not
  ``BOOK``; such lines do not count in the balance check.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Iterator
from xml.etree.ElementTree import Element, TreeBuilder

from defusedxml.ElementTree import DefusedXMLParser

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

SUPPORTED_VERSIONS = range(2, 9)  # camt.05x.001.02 .. .08

_NS_RE = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:camt\.(\d{3})\.001\.(\d{2})$")
_MESSAGES = {
    "BkToCstmrStmt": ("053", "Stmt"),
    "BkToCstmrDbtCdtNtfctn": ("054", "Ntfctn"),
}
_AMOUNT_RE = re.compile(r"^\d{1,18}(\.\d{1,5})?$")
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?$")
_USTRD_MAX = 140


def _local(tag: object) -> str:
    if not isinstance(tag, str):  # comments / processing instructions
        return ""
    return tag.rsplit("}", 1)[-1]


def _children(elem: Element, name: str) -> list[Element]:
    return [c for c in elem if _local(c.tag) == name]


def _find(elem: Element | None, path: str) -> Element | None:
    """First element along a '/'-separated path of local names."""
    for name in path.split("/"):
        if elem is None:
            return None
        elem = next((c for c in elem if _local(c.tag) == name), None)
    return elem


def _find_all(elem: Element | None, path: str) -> list[Element]:
    if elem is None:
        return []
    current = [elem]
    for name in path.split("/"):
        current = [c for e in current for c in e if _local(c.tag) == name]
    return current


def _text(elem: Element | None, path: str | None = None) -> str | None:
    if path is not None:
        elem = _find(elem, path)
    if elem is None:
        return None
    return clean(elem.text)


class _LineBuilder(TreeBuilder):
    """TreeBuilder that remembers the source line of every element."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[Element, int] = {}
        self.expat = None

    def start(self, tag, attrs):  # type: ignore[override]
        elem = super().start(tag, attrs)
        if self.expat is not None:
            self.lines[elem] = self.expat.CurrentLineNumber
        return elem


class _Doc:
    """Parsed document plus helpers to report errors at an element."""

    def __init__(self, fmt: str, lines: dict[Element, int]):
        self.fmt = fmt
        self.lines = lines

    def reject(self, elem: Element | None, path: str, message: str) -> StatementRejected:
        line = self.lines.get(elem) if elem is not None else None
        return rejection(self.fmt, line, path, message, without_line=None)

    def position(self, elem: Element, path: str) -> str:
        line = self.lines.get(elem)
        return f"{path} (line {line})" if line else path

    # -- typed readers ---------------------------------------------------
    def amount(self, parent: Element, path: str, name: str = "Amt", required: bool = True) -> tuple[Decimal, str] | None:
        elem = _find(parent, name)
        if elem is None:
            if required:
                raise self.reject(parent, path, f"the amount ({name}) is missing")
            return None
        text = (elem.text or "").strip()
        if not _AMOUNT_RE.match(text):
            raise self.reject(elem, f"{path}/{name}", f"amount {text!r} is not a decimal")
        ccy = (elem.get("Ccy") or "").strip()
        if not is_currency_code(ccy):
            raise self.reject(elem, f"{path}/{name}", f"currency {ccy!r} of amount {text} is not an ISO 4217 code")
        return Decimal(text), ccy

    def indicator(self, parent: Element, path: str, required: bool = True) -> str | None:
        elem = _find(parent, "CdtDbtInd")
        if elem is None:
            if required:
                raise self.reject(parent, path, "the credit/debit indicator (CdtDbtInd) is missing")
            return None
        text = (elem.text or "").strip()
        if text == "CRDT":
            return CREDIT
        if text == "DBIT":
            return DEBIT
        raise self.reject(elem, f"{path}/CdtDbtInd", f"credit/debit indicator {text!r} must be CRDT or DBIT")

    def date_choice(self, parent: Element | None, path: str) -> date | None:
        """Read a DateAndDateTimeChoice (``Dt`` or ``DtTm``) below ``parent``."""
        if parent is None:
            return None
        elem = _find(parent, "Dt")
        if elem is not None:
            return self.iso_date(elem, f"{path}/Dt")
        elem = _find(parent, "DtTm")
        if elem is not None:
            return self.iso_datetime(elem, f"{path}/DtTm")
        raise self.reject(parent, path, "the date (Dt or DtTm) is missing")

    def iso_date(self, elem: Element, path: str) -> date:
        text = (elem.text or "").strip()
        m = _DATE_RE.match(text)
        if not m:
            raise self.reject(elem, path, f"date {text!r} is not a date in the form YYYY-MM-DD")
        try:
            return date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            raise self.reject(elem, path, f"date {text!r} is not a valid calendar date") from None

    def iso_datetime(self, elem: Element, path: str) -> date:
        text = (elem.text or "").strip()
        if not _DATETIME_RE.match(text):
            raise self.reject(elem, path, f"date-time {text!r} is not in the form YYYY-MM-DDThh:mm:ss")
        try:
            # Keep the calendar date as written; drop fractions beyond micro-seconds.
            return datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", text).replace("Z", "+00:00")).date()
        except ValueError:
            raise self.reject(elem, path, f"date-time {text!r} is not a valid date and time") from None


def _parse_xml(data: bytes, fmt_hint: str) -> tuple[Element, dict[Element, int]]:
    builder = _LineBuilder()
    parser = DefusedXMLParser(target=builder, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    builder.expat = parser.parser
    try:
        parser.feed(data)
        root = parser.close()
    except SyntaxError as exc:  # ElementTree.ParseError (pure-Python flavour included)
        position = getattr(exc, "position", None)
        line = position[0] if position else None
        detail = str(exc).split(":", 1)[0] if position else str(exc)
        raise rejection(fmt_hint, line, None, f"the file is not well-formed XML ({detail})", without_line="XML") from None
    except (ValueError, LookupError) as exc:  # defusedxml refusals, unknown encodings
        line = getattr(parser.parser, "CurrentLineNumber", None)
        raise rejection(
            fmt_hint,
            line,
            None,
            f"the XML is refused ({type(exc).__name__}: {exc}); DTDs, entities and external references are not allowed",
            without_line="XML",
        ) from None
    return root, builder.lines


def parse_camt(data: bytes, expected: str | None = None) -> list[Statement]:
    """Parse a camt.053 or camt.054 document.

    ``expected`` ("camt.053" or "camt.054") makes a file of the other kind an
    error.
    """
    hint = expected or "camt"
    root, lines = _parse_xml(data, hint)
    doc = _Doc(hint, lines)
    if _local(root.tag) != "Document":
        raise doc.reject(root, _local(root.tag) or "root", f"the root element is <{_local(root.tag)}>, expected <Document>")

    ns_kind = ns_version = None
    if isinstance(root.tag, str) and root.tag.startswith("{"):
        ns = root.tag[1:].split("}", 1)[0]
        m = _NS_RE.match(ns)
        if not m:
            raise doc.reject(root, "Document", f"namespace {ns!r} is not a camt.053 or camt.054 namespace")
        ns_kind, ns_version = m[1], int(m[2])
        if ns_kind not in ("053", "054"):
            raise doc.reject(root, "Document", f"camt.{ns_kind} messages are not supported (only camt.053 and camt.054)")

    message = next((c for c in root if _local(c.tag) in _MESSAGES), None)
    if message is None:
        names = ", ".join(sorted({_local(c.tag) for c in root if _local(c.tag)})) or "nothing"
        raise doc.reject(root, "Document", f"no BkToCstmrStmt or BkToCstmrDbtCdtNtfctn message inside (found {names})")
    kind, record_name = _MESSAGES[_local(message.tag)]
    if ns_kind is not None and ns_kind != kind:
        raise doc.reject(message, _local(message.tag), f"namespace says camt.{ns_kind} but the message is camt.{kind}")
    fmt = f"camt.{kind}"
    doc.fmt = fmt
    if ns_version is not None and ns_version not in SUPPORTED_VERSIONS:
        raise doc.reject(root, "Document", f"{fmt} version 001.{ns_version:02d} is not supported (supported: 001.02 to 001.08)")
    if expected and expected not in ("camt", fmt):
        raise doc.reject(message, _local(message.tag), f"expected {expected} but the file is {fmt}")

    records = _children(message, record_name)
    if not records:
        raise doc.reject(message, _local(message.tag), f"the message contains no <{record_name}>")
    return [_statement(doc, rec, f"{record_name}[{i}]") for i, rec in enumerate(records, 1)]


def _statement(doc: _Doc, rec: Element, path: str) -> Statement:
    statement_id = _text(rec, "Id")
    if statement_id is None:
        raise doc.reject(rec, path, "the statement has no identification (Id)")
    acct = _find(rec, "Acct")
    account = _text(acct, "Id/IBAN") or _text(acct, "Id/Othr/Id")
    if account is None:
        raise doc.reject(acct if acct is not None else rec, f"{path}/Acct", "the account identification (Acct/Id/IBAN or Othr/Id) is missing")
    acct_ccy = _text(acct, "Ccy")
    if acct_ccy is not None and not is_currency_code(acct_ccy):
        raise doc.reject(_find(acct, "Ccy"), f"{path}/Acct/Ccy", f"account currency {acct_ccy!r} is not an ISO 4217 code")

    balances: dict[str, tuple[Decimal, str, date | None]] = {}
    for b_idx, bal in enumerate(_children(rec, "Bal"), 1):
        bpath = f"{path}/Bal[{b_idx}]"
        code = _text(bal, "Tp/CdOrPrtry/Cd") or _text(bal, "Tp/CdOrPrtry/Prtry")
        if code not in ("OPBD", "PRCD", "CLBD") or code in balances:
            continue
        amount, ccy = doc.amount(bal, bpath)  # type: ignore[misc]
        sign = doc.indicator(bal, bpath)
        when = doc.date_choice(_find(bal, "Dt"), f"{bpath}/Dt")
        balances[code] = (amount if sign == CREDIT else -amount, ccy, when)
    opening = balances.get("OPBD") or balances.get("PRCD")
    closing = balances.get("CLBD")

    period = _find(rec, "FrToDt")
    period_from = period_to = None
    if period is not None:
        f_el, t_el = _find(period, "FrDtTm"), _find(period, "ToDtTm")
        period_from = doc.iso_datetime(f_el, f"{path}/FrToDt/FrDtTm") if f_el is not None else None
        period_to = doc.iso_datetime(t_el, f"{path}/FrToDt/ToDtTm") if t_el is not None else None

    lines: list[StatementLine] = []
    positions: list[str] = []
    for e_idx, entry in enumerate(_children(rec, "Ntry"), 1):
        for line, pos in _entry_lines(doc, entry, f"{path}/Ntry[{e_idx}]"):
            lines.append(line)
            positions.append(pos)

    currency = acct_ccy or (opening[1] if opening else None) or (closing[1] if closing else None)
    currency = currency or (lines[0].currency if lines else "XXX")
    return Statement(
        statement_id=statement_id,
        account=account,
        currency=currency,
        opening_balance=opening[0] if opening else None,
        closing_balance=closing[0] if closing else None,
        opening_date=opening[2] if opening else period_from,
        closing_date=closing[2] if closing else period_to,
        lines=assign_line_ids(statement_id, account, lines, positions),
        format=doc.fmt,
        source_position=doc.position(rec, path),
        opening_balance_currency=opening[1] if opening else None,
        closing_balance_currency=closing[1] if closing else None,
    )


def _bank_transaction_code(entry: Element) -> str | None:
    btc = _find(entry, "BkTxCd")
    if btc is None:
        return None
    domain = _text(btc, "Domn/Cd")
    if domain:
        parts = [domain, _text(btc, "Domn/Fmly/Cd"), _text(btc, "Domn/Fmly/SubFmlyCd")]
        return "-".join(p for p in parts if p)
    return _text(btc, "Prtry/Cd")


def _join_ustrd(blocks: list[str]) -> str | None:
    """Join Ustrd blocks: a full 140-character block continues in the next one."""
    out = ""
    previous: str | None = None
    for raw in blocks:
        if previous is None:
            out = raw.strip()
        elif len(previous) >= _USTRD_MAX:
            out += raw.rstrip()
        else:
            out += " " + raw.strip()
        previous = raw
    return clean(out)


class _Tx:
    """Fields read from one TxDtls (or from the entry when it has none)."""

    def __init__(self, doc: _Doc, tx: Element | None, path: str, direction: str):
        self.elem = tx
        self.path = path
        refs = _find(tx, "Refs")
        e2e = _text(refs, "EndToEndId")
        self.end_to_end_id = None if e2e is None or e2e.upper() == "NOTPROVIDED" else e2e
        self.acct_svcr_ref = _text(refs, "AcctSvcrRef")
        self.customer_reference = _text(refs, "AcctOwnrTxId")
        self.direction = direction
        parties = _find(tx, "RltdPties")
        party_name, account_name = ("Dbtr", "DbtrAcct") if direction == CREDIT else ("Cdtr", "CdtrAcct")
        party = _find(parties, party_name)
        self.payer_name = _text(party, "Nm") or _text(party, "Pty/Nm")
        acct = _find(parties, account_name)
        self.payer_account = _text(acct, "Id/IBAN") or _text(acct, "Id/Othr/Id")
        rmt = _find(tx, "RmtInf")
        self.ustrd = [e.text for e in _find_all(rmt, "Ustrd") if e.text and e.text.strip()]
        self.creditor_refs = [t for t in (clean(e.text) for e in _find_all(rmt, "Strd/CdtrRefInf/Ref")) if t]
        rtr = _find(tx, "RtrInf")
        self.has_return_info = rtr is not None
        self.return_reason = _text(rtr, "Rsn/Cd") or _text(rtr, "Rsn/Prtry")
        self.additional = _text(tx, "AddtlTxInf")
        self.amount: tuple[Decimal, str] | None = None
        if tx is not None:
            self.amount = doc.amount(tx, path, "Amt", required=False)
            if self.amount is None:
                amt_dtls = _find(tx, "AmtDtls/TxAmt")
                if amt_dtls is not None:
                    self.amount = doc.amount(amt_dtls, f"{path}/AmtDtls/TxAmt", "Amt", required=False)
            own = doc.indicator(tx, path, required=False)
            if own is not None:
                self.direction = own


def _entry_lines(doc: _Doc, entry: Element, path: str) -> Iterator[tuple[StatementLine, str]]:
    amount, currency = doc.amount(entry, path)  # type: ignore[misc]
    direction = doc.indicator(entry, path)
    assert direction is not None
    rvsl_el = _find(entry, "RvslInd")
    reversal = False
    if rvsl_el is not None:
        flag = (rvsl_el.text or "").strip().lower()
        if flag not in ("true", "false", "1", "0"):
            raise doc.reject(rvsl_el, f"{path}/RvslInd", f"reversal indicator {flag!r} must be true or false")
        reversal = flag in ("true", "1")
    status = _text(entry, "Sts/Cd") or _text(entry, "Sts")
    booked = status is None or status == "BOOK"
    booking = doc.date_choice(_find(entry, "BookgDt"), f"{path}/BookgDt")
    value = doc.date_choice(_find(entry, "ValDt"), f"{path}/ValDt")
    entry_ref = _text(entry, "AcctSvcrRef") or _text(entry, "NtryRef")
    btc = _bank_transaction_code(entry)
    entry_info = _text(entry, "AddtlNtryInf")

    tx_elems = [tx for dtls in _children(entry, "NtryDtls") for tx in _children(dtls, "TxDtls")]
    txs = [
        _Tx(doc, tx, f"{path}/NtryDtls/TxDtls[{i}]" if len(tx_elems) > 1 else f"{path}/NtryDtls/TxDtls", direction)
        for i, tx in enumerate(tx_elems, 1)
    ]

    def make(tx_list: list[_Tx], amt: Decimal, drc: str, bank_ref: str | None, elem: Element, pos: str) -> tuple[StatementLine, str]:
        def agreed(values: list[str | None]) -> str | None:
            distinct = set(values)
            return values[0] if len(distinct) == 1 else None

        refs: list[str] = []
        for tx in tx_list:
            refs += [r for r in tx.creditor_refs if r not in refs]
        remittance = "\n".join(t for t in (_join_ustrd(tx.ustrd) for tx in tx_list) if t) or None
        has_return_info = any(tx.has_return_info for tx in tx_list)
        line = StatementLine(
            amount=amt,
            currency=currency,
            direction=drc,
            booking_date=booking,
            value_date=value,
            bank_reference=bank_ref,
            end_to_end_id=agreed([tx.end_to_end_id for tx in tx_list]) if tx_list else None,
            payer_name=agreed([tx.payer_name for tx in tx_list]) if tx_list else None,
            payer_account=agreed([tx.payer_account for tx in tx_list]) if tx_list else None,
            remittance_unstructured=remittance,
            creditor_references=tuple(refs),
            return_reason=agreed([tx.return_reason for tx in tx_list]) if tx_list else None,
            is_return=reversal or has_return_info,
            source_position=doc.position(elem, pos),
            customer_reference=agreed([tx.customer_reference for tx in tx_list]) if tx_list else None,
            transaction_code=btc,
            additional_info=(tx_list[0].additional if len(tx_list) == 1 else None) or entry_info,
            booked=booked,
        )
        return line, pos

    splittable = (
        len(txs) > 1
        and all(tx.amount is not None and tx.amount[1] == currency for tx in txs)
    )
    if not splittable:
        bank_ref = (txs[0].acct_svcr_ref if len(txs) == 1 else None) or entry_ref
        yield make(txs, amount, direction, bank_ref, entry, path)
        return

    signed_total = sum(
        (tx.amount[0] if tx.direction == CREDIT else -tx.amount[0] for tx in txs),  # type: ignore[index]
        Decimal(0),
    )
    signed_entry = amount if direction == CREDIT else -amount
    if signed_total != signed_entry:
        raise doc.reject(
            entry,
            path,
            f"the entry amount {currency} {signed_entry} does not equal the sum of its {len(txs)}"
            f" transaction details ({currency} {signed_total})",
        )
    for tx in txs:
        assert tx.amount is not None and tx.elem is not None
        yield make([tx], tx.amount[0], tx.direction, tx.acct_svcr_ref or entry_ref, tx.elem, tx.path)
