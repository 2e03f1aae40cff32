"""camt.053 / camt.054 import: sample files against their published results."""

from __future__ import annotations

import ast
import json
import re
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given

from services.payments.statements import Statement, StatementRejected, parse_statement
from services.payments.statements.model import from_minor_units

from .statement_samples import SAMPLES, assert_parsed_or_rejected, fuzzing, mutated




def read(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def text(name: str) -> str:
    return read(name).decode("utf-8")


# ----------------------------------------------------------------------------
# OCA golden results (.expected.pydata)
# ----------------------------------------------------------------------------

OCA_FILES = {
    "camt053/oca_test-camt053.xml": "camt053/oca_test-camt053.expected.pydata",
    "camt053/oca_test-camt053-txdtls.xml": "camt053/oca_test-camt053-txdtls.expected.pydata",
    "camt054/oca_test-camt054.xml": "camt054/oca_test-camt054.expected.pydata",
}
# Value dates are not in OCA's golden files; read by hand from the XML (ValDt).
OCA_VALUE_DATES = {
    "camt053/oca_test-camt053.xml": [date(2014, 1, 5)] * 4,
    "camt053/oca_test-camt053-txdtls.xml": [date(2017, 3, 23)] * 2,
    "camt054/oca_test-camt054.xml": [date(2022, 1, 26)],
}


def _narration(narration: str) -> dict[str, str]:
    """OCA narration lines look like 'Label (Path): value'."""
    fields = {}
    for line in narration.split("\n"):
        key, _, value = line.partition(": ")
        fields[key.rstrip(":")] = value
    return fields


@pytest.mark.parametrize("xml_name", sorted(OCA_FILES))
def test_oca_statement_matches_golden_result(xml_name):
    currency, account, expected_statements = ast.literal_eval(text(OCA_FILES[xml_name]))
    statements = parse_statement(read(xml_name))

    assert len(statements) == len(expected_statements)
    for stmt, exp in zip(statements, expected_statements):
        assert stmt.currency == currency
        assert stmt.account == account
        assert stmt.statement_id == exp["name"]
        assert stmt.opening_date == date.fromisoformat(exp["date"])
        # OCA stores 0.0 when a camt.054 notification has no balances; we keep None.
        if stmt.format == "camt.054":
            assert (exp["balance_start"], exp["balance_end_real"]) == (0.0, 0.0)
            assert (stmt.opening_balance, stmt.closing_balance) == (None, None)
        else:
            assert stmt.opening_balance == Decimal(str(exp["balance_start"]))
            assert stmt.closing_balance == Decimal(str(exp["balance_end_real"]))

        assert len(stmt.lines) == len(exp["transactions"])
        for line, tx, value_date in zip(stmt.lines, exp["transactions"], OCA_VALUE_DATES[xml_name]):
            n = _narration(tx["narration"])
            assert line.signed_amount == Decimal(str(tx["amount"]))
            assert line.direction == ("credit" if tx["amount"] > 0 else "debit")
            assert line.currency == currency
            assert line.booking_date == date.fromisoformat(tx["date"])
            assert line.booking_date == date.fromisoformat(n["Transaction Date (BookgDt)"])
            assert line.value_date == value_date
            assert line.payer_name == tx["partner_name"]
            assert line.payer_account == tx["account_number"]
            assert line.transaction_code == tx["transaction_type"]
            # OCA's 'ref' is the structured creditor reference when there is one, else the end-to-end id.
            assert (line.creditor_references[0] if line.creditor_references else line.end_to_end_id) == tx["ref"]
            assert line.end_to_end_id == n.get("End To End Id (Refs/EndToEndId)")
            assert line.creditor_references == tuple(
                [n["Structured Reference (RmtInf/Strd/CdtrRefInf/Ref)"]] if "Structured Reference (RmtInf/Strd/CdtrRefInf/Ref)" in n else []
            )
            assert line.remittance_unstructured == n.get("Unstructured Reference (RmtInf/Ustrd)")
            assert line.bank_reference == n.get("Account Servicer Reference (Refs/AcctSvcrRef)")
            assert line.additional_info == (
                n.get("Additional Transaction Information (AddtlTxInf)") or n.get("Additional Entry Information (AddtlNtryInf)")
            )
            # (OCA's narration also shows a 'Proprietary' return reason that the XML does not contain.)
            assert line.return_reason == n.get("Return Reason Code (RtrInf/Rsn/Cd)")
            assert line.is_return == (n.get("Reversal Indicator (RvslInd)") == "true" or line.return_reason is not None)
            assert line.customer_reference is None  # no AcctOwnrTxId in these files
            assert line.booked is True
            assert "Ntry[" in line.source_position and "(line " in line.source_position
            assert re.fullmatch(r"[0-9a-f]{32}", line.line_id)


# ----------------------------------------------------------------------------
# genkgo/camt PHP DTO dumps (.expected.json, amounts in minor units)
# ----------------------------------------------------------------------------

GENKGO_FILES = {
    "camt053/genkgo_camt053.v2.multi.statement.xml": "camt053/genkgo_camt053.v2.multi.statement.expected.json",
    "camt053/genkgo_camt053.v2.with-party-ids.xml": "camt053/genkgo_camt053.v2.with-party-ids.expected.json",
    "camt053/genkgo_camt053.v8.xml": "camt053/genkgo_camt053.v8.expected.json",
    "camt054/genkgo_camt054.v2.xml": "camt054/genkgo_camt054.v2.expected.json",
}
REC = "__RECURSIVITY__"  # the dumper's marker for an object already shown


def _money(m: dict) -> tuple[Decimal, str]:
    currency = m["getCurrency"]["getCode"]
    return from_minor_units(int(m["getAmount"]), currency), currency


def _list(owner: dict, plural: str, singular: str) -> list[dict]:
    return [owner[singular] if item == REC else item for item in owner[plural]]


def _dt(value: dict | None) -> date | None:
    return None if value is None else date.fromisoformat(value["0"][:10])


def _btc(code: dict | None) -> str | None:
    if code is None:
        return None
    if code["getDomain"]:
        d = code["getDomain"]
        return "-".join(x for x in (d["getCode"], d["getFamily"]["getCode"], d["getFamily"]["getSubFamilyCode"]) if x)
    return code["getProprietary"]["getCode"]


def _expected_detail(detail: dict, direction: str) -> dict:
    party_class = "Debtor" if direction == "credit" else "Creditor"
    party = next(
        (p for p in detail["getRelatedParties"] if p["getRelatedPartyType"]["__CLASS__"].endswith("\\" + party_class)),
        None,
    )
    rmt = detail["getRemittanceInformation"]
    ustrd, refs = [], []
    if rmt:
        ustrd = [b["getMessage"] for b in _list(rmt, "getUnstructuredBlocks", "getUnstructuredBlock")]
        for block in _list(rmt, "getStructuredBlocks", "getStructuredBlock"):
            cref = block["getCreditorReferenceInformation"]
            cref = rmt["getCreditorReferenceInformation"] if cref == REC else cref
            if cref and cref["getRef"]:
                refs.append(cref["getRef"])
    ref = detail["getReference"] or {}
    return {
        "e2e": ref.get("getEndToEndId"),
        "acct_svcr_ref": ref.get("getAccountServicerReference"),
        "customer_reference": ref.get("getAccountOwnerTransactionId"),
        "payer_name": party["getRelatedPartyType"]["getName"] if party else None,
        "payer_account": (party["getAccount"] or {}).get("getIdentification") if party else None,
        "ustrd": " ".join(ustrd) or None,  # blocks shorter than 140 characters are joined with a space
        "refs": refs,
        "return_reason": None if detail["getReturnInformation"] is None else detail["getReturnInformation"],
        "addtl": detail["getAdditionalTransactionInformation"],
    }


def _agreed(values: list):
    return values[0] if len(set(values)) == 1 else None


@pytest.mark.parametrize("xml_name", sorted(GENKGO_FILES))
def test_genkgo_entries_match_php_dump(xml_name):
    dump = json.loads(text(GENKGO_FILES[xml_name]))
    statements = parse_statement(read(xml_name))
    by_id = {s.statement_id: (i, s) for i, s in enumerate(statements, 1)}
    assert dump["getEntries"], "the dump should list entries"
    for entry in dump["getEntries"]:
        record = entry["getRecord"]
        index, stmt = by_id[record["getId"]]
        record_name = "Stmt" if stmt.format == "camt.053" else "Ntfctn"
        prefix = f"{record_name}[{index}]/Ntry[{entry['getIndex'] + 1}]"
        lines = [ln for ln in stmt.lines if ln.source_position.startswith(prefix)]
        assert len(lines) == 1, "each of these entries becomes one statement line"
        line = lines[0]

        # statement level
        assert stmt.account == record["getAccount"]["getIdentification"]
        for bal in record.get("getBalances") or []:
            amount, ccy = _money(bal["getAmount"])
            if bal["getType"] == "opening":
                assert (stmt.opening_balance, stmt.opening_balance_currency, stmt.opening_date) == (amount, ccy, _dt(bal["getDate"]))
            if bal["getType"] == "closing":
                assert (stmt.closing_balance, stmt.closing_balance_currency, stmt.closing_date) == (amount, ccy, _dt(bal["getDate"]))

        # entry level
        signed, currency = _money(entry["getAmount"])
        assert line.signed_amount == signed and line.currency == currency
        assert line.direction == {"CRDT": "credit", "DBIT": "debit"}[entry["getCreditDebitIndicator"]]
        assert line.booking_date == _dt(entry["getBookingDate"])  # date as written in the file
        assert line.value_date == _dt(entry["getValueDate"])
        assert line.transaction_code == _btc(entry["getBankTransactionCode"])
        assert line.booked == (entry["getStatus"] == "BOOK")

        details = [_expected_detail(d, line.direction) for d in _list(entry, "getTransactionDetails", "getTransactionDetail")]
        single = details[0] if len(details) == 1 else None
        assert line.bank_reference == ((single or {}).get("acct_svcr_ref") or entry["getAccountServicerReference"] or entry["getReference"])
        assert line.end_to_end_id == _agreed([d["e2e"] for d in details])
        assert line.payer_name == _agreed([d["payer_name"] for d in details])
        assert line.payer_account == _agreed([d["payer_account"] for d in details])
        assert line.customer_reference == _agreed([d["customer_reference"] for d in details])
        assert line.remittance_unstructured == ("\n".join(d["ustrd"] for d in details if d["ustrd"]) or None)
        assert line.creditor_references == tuple(r for d in details for r in d["refs"])
        assert line.return_reason is None and all(d["return_reason"] is None for d in details)
        assert line.is_return is entry["getReversalIndicator"] is False
        assert line.additional_info == ((single or {}).get("addtl") or entry["getAdditionalInfo"] or None)


def test_first_statement_of_multi_statement_file_read_by_hand():
    """genkgo's dump only shows the second statement; the first is checked by hand."""
    first, second = parse_statement(read("camt053/genkgo_camt053.v2.multi.statement.xml"))
    assert (first.statement_id, first.account, first.currency) == ("253EURNL26VAYB8060476890", "NL26VAYB8060476890", "EUR")
    assert (first.opening_balance, first.closing_balance) == (Decimal("18.15"), Decimal("27.00"))
    assert (first.opening_date, first.closing_date) == (date(2014, 12, 30), date(2014, 12, 31))
    (line,) = first.lines
    assert (line.amount, line.currency, line.direction) == (Decimal("8.85"), "EUR", "credit")
    assert (line.booking_date, line.value_date) == (date(2014, 12, 31), date(2015, 1, 2))
    assert line.end_to_end_id == "000000001"
    assert line.remittance_unstructured == "Transaction Description 1"
    # A credit's counterparty is the debtor; this entry only names a creditor.
    assert (line.payer_name, line.payer_account) == (None, None)
    assert (line.bank_reference, line.customer_reference, line.creditor_references) == (None, None, ())
    assert (line.is_return, line.return_reason, line.transaction_code) == (False, None, "544")
    assert second.opening_balance == first.closing_balance


# ----------------------------------------------------------------------------
# Business rules
# ----------------------------------------------------------------------------


def test_batch_credit_is_split_into_its_payments():
    (stmt,) = parse_statement(read("camt053/oca_test-camt053-txdtls.xml"))
    assert [ln.amount for ln in stmt.lines] == [Decimal("2187.00"), Decimal("1296.00")]
    assert sum(ln.amount for ln in stmt.lines) == Decimal("3483.00")  # the booked entry amount
    assert [ln.creditor_references for ln in stmt.lines] == [("302388292000011111111111111",), ("302388292000022222222222222",)]
    # Both payments carry the same bank reference, so the id falls back to the position.
    assert len({ln.line_id for ln in stmt.lines}) == 2


def test_batch_whose_details_have_no_amounts_stays_one_line_with_all_references():
    (stmt,) = parse_statement(read("camt054/genkgo_camt054.v2.xml"))
    (line,) = stmt.lines
    assert (line.amount, line.currency, line.direction) == (Decimal("200000"), "SEK", "debit")
    assert line.creditor_references == ("ISR ref number V1", "ISR ref number V2", "Ref number V3 block 1", "Ref number V3 block 2")
    assert line.remittance_unstructured == (
        "Unstructured Remittance Information V1\n"
        "Unstructured Remittance Information V3 block 1 Unstructured Remittance Information V3 block 2"
    )


def test_returned_direct_debits_are_flagged_with_their_reason():
    (stmt,) = parse_statement(read("camt053/oca_test-camt053.xml"))
    returns = [ln for ln in stmt.lines if ln.is_return]
    assert [(ln.amount, ln.direction, ln.return_reason) for ln in returns] == [
        (Decimal("564.05"), "debit", "AC06"),
        (Decimal("100.00"), "debit", "AC06"),
    ]
    assert not stmt.lines[0].is_return and not stmt.lines[3].is_return


def test_resent_notification_keeps_the_id_of_a_line_the_bank_identifies():
    original = read("camt054/oca_test-camt054.xml")
    (before,) = parse_statement(original)
    # The bank re-sends the notification with another entry in front of the known one.
    entry = re.search(rb"<Ntry>.*?</Ntry>", original, re.S)[0]
    extra = entry.replace(b"15180015077602405", b"99999999999999999").replace(b"ENDTOENDID-01", b"OTHER-E2E")
    resent = original.replace(entry, extra + entry)
    (after,) = parse_statement(resent)
    assert len(after.lines) == 2
    assert after.lines[1].line_id == before.lines[0].line_id
    assert after.lines[0].line_id != before.lines[0].line_id
    assert parse_statement(original)[0].lines[0].line_id == before.lines[0].line_id  # deterministic


def test_entry_with_pending_status_is_not_booked_and_not_counted_in_the_balance():
    pending = read("camt053/genkgo_camt053.v2.multi.statement.xml").replace(b"<Sts>BOOK</Sts>", b"<Sts>PDNG</Sts>", 1)
    first = parse_statement(pending)[0]
    assert first.lines[0].booked is False
    with pytest.raises(StatementRejected, match="opening 18.15 \\+ credits 0 - debits 0 = 18.15, but the closing balance is 27.00"):
        first.check_balances()


def test_nonstandard_end_to_end_placeholder_is_dropped():
    data = read("camt054/oca_test-camt054.xml").replace(b"ENDTOENDID-01", b"NOTPROVIDED")
    assert parse_statement(data)[0].lines[0].end_to_end_id is None


# ----------------------------------------------------------------------------
# Balance reconciliation
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["camt053/genkgo_camt053.v2.multi.statement.xml", "camt053/oca_test-camt053-txdtls.xml"])
def test_reconciling_statements_are_accepted(name):
    statements = parse_statement(read(name), require_reconciled=True)
    assert all(isinstance(s, Statement) for s in statements)


def test_statement_that_does_not_reconcile_is_rejected_with_both_figures():
    with pytest.raises(StatementRejected) as exc:
        parse_statement(read("camt053/oca_test-camt053.xml"), require_reconciled=True)
    message = str(exc.value)
    # entries net to -12.99 but the balances move by -447.15
    assert "opening 15568.27 + credits 1405.31 - debits 1418.30 = 15555.28" in message
    assert "closing balance is 15121.12 (difference -434.16)" in message
    assert exc.value.location == "Stmt[1] (line 7)"


@pytest.mark.parametrize("name", ["camt053/genkgo_camt053.v2.with-party-ids.xml", "camt053/genkgo_camt053.v8.xml"])
def test_statement_with_a_balance_in_another_currency_cannot_reconcile(name):
    with pytest.raises(StatementRejected, match="the closing balance is in SEK but the statement is in EUR"):
        parse_statement(read(name), require_reconciled=True)


def test_notification_without_balances_cannot_be_shown_to_reconcile():
    (stmt,) = parse_statement(read("camt054/oca_test-camt054.xml"))
    with pytest.raises(StatementRejected, match="has no opening balance"):
        stmt.check_balances()


# ----------------------------------------------------------------------------
# Rejections
# ----------------------------------------------------------------------------


def test_truncated_file_is_rejected_at_the_end():
    data = read("camt053/oca_test-camt053.xml")
    cut = data[: len(data) // 2]
    with pytest.raises(StatementRejected) as exc:
        parse_statement(cut)
    assert exc.value.format == "camt"
    assert exc.value.line == cut.count(b"\n") + 1
    assert "not well-formed XML" in exc.value.message


def test_malformed_xml_names_the_line():
    data = read("camt053/oca_test-camt053.xml").replace(b"<Sts>BOOK</Sts>", b"<Sts>BOOK</Stts>", 1)
    with pytest.raises(StatementRejected) as exc:
        parse_statement(data)
    assert exc.value.line == 53
    assert str(exc.value).startswith("camt line 53: the file is not well-formed XML (mismatched tag)")


def test_amount_that_is_not_a_number():
    data = read("camt053/oca_test-camt053.xml").replace(b'<Amt Ccy="EUR">754.25</Amt>', b'<Amt Ccy="EUR">abc</Amt>', 1)
    with pytest.raises(StatementRejected) as exc:
        parse_statement(data)
    assert str(exc.value) == "camt.053 line 51 (Stmt[1]/Ntry[1]/Amt): amount 'abc' is not a decimal"


@pytest.mark.parametrize("bad", [b"-754.25", b"NaN", b"1e3", b"754,25"])
def test_amount_must_be_a_plain_positive_decimal(bad):
    data = read("camt053/oca_test-camt053.xml").replace(b">754.25<", b">" + bad + b"<", 1)
    with pytest.raises(StatementRejected, match="is not a decimal"):
        parse_statement(data)


def test_invalid_calendar_date():
    data = re.sub(rb"(<BookgDt>\s*<Dt>)2014-01-05", rb"\g<1>2014-02-30", read("camt053/oca_test-camt053.xml"), count=1)
    with pytest.raises(StatementRejected) as exc:
        parse_statement(data)
    assert exc.value.location == "line 55 (Stmt[1]/Ntry[1]/BookgDt/Dt)"
    assert exc.value.message == "date '2014-02-30' is not a valid calendar date"


def test_missing_credit_debit_indicator():
    data = read("camt053/oca_test-camt053.xml").replace(b"<CdtDbtInd>DBIT</CdtDbtInd>", b"", 1)
    with pytest.raises(StatementRejected, match=r"Stmt\[1\]/Ntry\[1\]\): the credit/debit indicator \(CdtDbtInd\) is missing"):
        parse_statement(data)


def test_batch_details_that_do_not_add_up_are_rejected():
    data = read("camt053/oca_test-camt053-txdtls.xml").replace(b'<Amt Ccy="CHF">1296.00</Amt>', b'<Amt Ccy="CHF">1269.00</Amt>')
    with pytest.raises(StatementRejected, match=r"entry amount CHF 3483.00 does not equal the sum of its 2 transaction details \(CHF 3456.00\)"):
        parse_statement(data)


def test_entity_expansion_and_dtds_are_refused():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>&lol2;</BkToCstmrStmt></Document>'
    )
    with pytest.raises(StatementRejected, match="DTDs, entities and external references are not allowed"):
        parse_statement(bomb)


def test_other_iso20022_messages_are_rejected():
    pain = b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"><CstmrCdtTrfInitn/></Document>'
    with pytest.raises(StatementRejected, match="is not a camt.053 or camt.054 namespace"):
        parse_statement(pain)
    report = b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.052.001.02"><BkToCstmrAcctRpt/></Document>'
    with pytest.raises(StatementRejected, match=r"camt.052 messages are not supported \(only camt.053 and camt.054\)"):
        parse_statement(report)


def test_unsupported_camt_version_is_rejected():
    data = read("camt053/genkgo_camt053.v8.xml").replace(b"camt.053.001.08", b"camt.053.001.13")
    with pytest.raises(StatementRejected, match="version 001.13 is not supported"):
        parse_statement(data)


def test_document_without_namespace_is_recognised_by_its_message():
    data = read("camt053/oca_test-camt053.xml").replace(b' xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"', b"")
    (stmt,) = parse_statement(data)
    assert stmt.format == "camt.053" and len(stmt.lines) == 4


def test_asking_for_camt053_but_getting_a_notification():
    with pytest.raises(StatementRejected, match="expected camt.053 but the file is camt.054"):
        parse_statement(read("camt054/oca_test-camt054.xml"), format="camt.053")


# ----------------------------------------------------------------------------
# Fuzzing: mutated real files are parsed or rejected, never crash
# ----------------------------------------------------------------------------

CAMT_SAMPLES = {name: read(name) for name in list(OCA_FILES) + list(GENKGO_FILES)}
CAMT_TOKENS = [b"<", b">", b"</Amt>", b"<Amt>", b"abc", b"-1", b"NaN", b"2014-02-30", b"DBIT", b"CRDT", b"true",
               b"<TxDtls>", b"</TxDtls>", b"Ccy=\"X\"", b"&amp;", b"<!DOCTYPE x>", b"9" * 25, b"\x00", b"\xff"]


@fuzzing
@given(sample=mutated(CAMT_SAMPLES, CAMT_TOKENS))
def test_mutated_camt_files_are_parsed_or_rejected(sample):
    _, data = sample
    assert_parsed_or_rejected(lambda: parse_statement(data))
