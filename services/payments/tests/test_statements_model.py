"""Statement model, line-id rule and format sniffing."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from services.payments.statements import (
    CsvMapping,
    Statement,
    StatementLine,
    StatementRejected,
    detect_format,
    parse_statement,
)
from services.payments.statements.model import assign_line_ids, from_minor_units, minor_units

from .statement_samples import SAMPLES




def line(**kw) -> StatementLine:
    base = dict(amount=Decimal("100.00"), currency="EUR", direction="credit", booking_date=date(2024, 1, 2), value_date=date(2024, 1, 2))
    base.update(kw)
    return StatementLine(**base)


# -- model validation ----------------------------------------------------------


@pytest.mark.parametrize(
    "kw",
    [
        dict(amount=100.0),  # float money
        dict(amount=Decimal("-1")),
        dict(amount=Decimal("NaN")),
        dict(currency="eur"),
        dict(direction="in"),
        dict(creditor_references=["RF18539007547034"]),
    ],
)
def test_invalid_lines_cannot_be_built(kw):
    with pytest.raises(ValueError):
        line(**kw)


def test_signed_amount_follows_the_direction():
    assert line().signed_amount == Decimal("100.00")
    assert line(direction="debit").signed_amount == Decimal("-100.00")


def test_minor_units():
    assert (minor_units("EUR"), minor_units("JPY"), minor_units("BHD")) == (2, 0, 3)
    assert from_minor_units(885, "EUR") == Decimal("8.85")
    assert from_minor_units(2700, "JPY") == Decimal("2700")
    assert from_minor_units(-20000000, "SEK") == Decimal("-200000.00")


def test_rejection_reads_format_location_message():
    exc = StatementRejected("camt.053", "line 42 (Ntry/Amt)", "amount 'abc' is not a decimal", 42)
    assert str(exc) == "camt.053 line 42 (Ntry/Amt): amount 'abc' is not a decimal"
    assert (exc.format, exc.location, exc.message, exc.line) == ("camt.053", "line 42 (Ntry/Amt)", "amount 'abc' is not a decimal", 42)


def test_balance_check_counts_only_booked_lines():
    stmt = Statement("S1", "NL01", "EUR", Decimal("10"), Decimal("110"), None, None,
                     (line(), line(direction="debit", booked=False)), "test")
    stmt.check_balances()
    with pytest.raises(StatementRejected, match="= 10.00, but the closing balance is 110 \\(difference 100.00\\)"):
        replace(stmt, lines=(line(), replace(line(direction="debit"), booked=True))).check_balances()


def test_balance_check_refuses_lines_in_another_currency():
    stmt = Statement("S1", "NL01", "EUR", Decimal("10"), Decimal("110"), None, None, (line(currency="USD"),), "test")
    with pytest.raises(StatementRejected, match="is in USD but the statement is in EUR"):
        stmt.check_balances()


# -- line id rule --------------------------------------------------------------


def ids(lines, positions=None, statement_id="S1", account="NL01"):
    positions = positions or [str(i) for i in range(len(lines))]
    return [ln.line_id for ln in assign_line_ids(statement_id, account, lines, positions)]


def test_unique_bank_reference_gives_an_id_independent_of_position_and_statement():
    a = line(bank_reference="REF-1")
    assert ids([a], ["7"], "S1") == ids([line(), a], ["1", "99"], "S2")[1:]


def test_repeated_bank_reference_falls_back_to_end_to_end_id_then_position():
    a = line(bank_reference="BATCH-1", end_to_end_id="E2E-1")
    b = line(bank_reference="BATCH-1", end_to_end_id="E2E-2")
    first = ids([a, b], ["p1", "p2"])
    assert first == ids([a, b], ["q1", "q2"])  # end-to-end ids are unique, position does not matter
    c = line(bank_reference="BATCH-1")
    d = line(bank_reference="BATCH-1")
    same_content = ids([c, d], ["p1", "p2"])
    assert same_content[0] != same_content[1]  # identical lines told apart by position
    assert ids([c, d], ["p1", "p2"]) == same_content  # and stable for the same file


def test_id_changes_with_amount_account_and_dates():
    a = line(bank_reference="REF-1")
    base = ids([a])
    assert ids([replace(a, amount=Decimal("100.01"))]) != base
    assert ids([a], account="NL02") != base
    assert ids([replace(a, value_date=date(2024, 1, 3))]) != base
    assert ids([replace(a, amount=Decimal("100.0"))]) == base  # same amount written differently


# -- format sniffing and the entry point ---------------------------------------


@pytest.mark.parametrize(
    "path,expected",
    [
        ("camt053/oca_test-camt053.xml", "camt"),
        ("camt054/genkgo_camt054.v2.xml", "camt"),
        ("mt940/jejik_ing.sta", "mt940"),
        ("mt940/mBank_mt940.sta", "mt940"),
        ("mt940/jejik_rabobank-iban.sta", "mt940"),
        ("bai2/moov_sample1.bai2", "bai2"),
        ("csv/oca_balance.csv", None),
    ],
)
def test_format_is_sniffed_from_the_content(path, expected):
    data = (SAMPLES / path).read_bytes()
    assert detect_format(data) == expected
    if expected:
        statements = parse_statement(data)
        assert statements and statements[0].format.startswith(expected[:4])


def test_byte_order_mark_before_xml_is_accepted():
    data = b"\xef\xbb\xbf" + (SAMPLES / "camt054/oca_test-camt054.xml").read_bytes()
    assert parse_statement(data)[0].format == "camt.054"


def test_empty_file_is_rejected():
    with pytest.raises(StatementRejected, match="the file is empty"):
        parse_statement(b"  \n", format="mt940")


def test_programming_errors_are_not_statement_rejections():
    with pytest.raises(TypeError):
        parse_statement("not bytes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown format 'ofx'"):
        parse_statement(b"data", format="ofx")
    with pytest.raises(ValueError, match="CSV needs a csv_mapping"):
        parse_statement(b"a,b\n1,2\n", format="csv")
    assert isinstance(CsvMapping(date_column="d", amount_column="a", currency="EUR"), CsvMapping)
