"""CSV import with column mappings: the OCA sample exports read by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given

from services.payments.statements import PRESETS, CsvMapping, Statement, StatementRejected, parse_statement
from services.payments.statements.csv_import import OCA_BALANCE, OCA_DEBIT_CREDIT_AMOUNT, OCA_SAMPLE_STATEMENT_EN

from .statement_samples import SAMPLES, assert_parsed_or_rejected, fuzzing, mutated




def read(preset: str) -> bytes:
    return (SAMPLES / "csv" / f"{preset}.csv").read_bytes()


D = Decimal
FIELDS = (
    "amount", "currency", "direction", "booking_date", "value_date", "bank_reference", "end_to_end_id", "payer_name",
    "payer_account", "remittance_unstructured", "additional_info", "source_position",
)


def rows(stmt: Statement) -> list[tuple]:
    return [tuple(getattr(ln, f) for f in FIELDS) for ln in stmt.lines]


DEC15 = date(2018, 12, 15)

# Every field of every line, read by hand from the files.
EXPECTED = {
    "oca_sample_statement_en": dict(
        opening=None, closing=None, account=None, currency="USD",
        lines=[
            (D("33.50"), "USD", "debit", DEC15, None, None, None, "John Doe", "123456789", "Your best supplier on 12/15/2018", None, "line 2"),
            (D("1525.00"), "USD", "credit", DEC15, None, None, None, "Azure Interior", None, "Your payment on 12/15/2018", None, "line 3"),
        ],
    ),
    "oca_balance": dict(
        opening=D("10.00"), closing=D("1510.00"), account=None, currency="USD",
        lines=[
            (D("33.50"), "USD", "debit", DEC15, None, None, None, "John Doe", "123456789", "Your best supplier", None, "line 2"),
            (D("1533.50"), "USD", "credit", DEC15, None, None, None, "Azure Interior", None, "Your payment", None, "line 3"),
        ],
    ),
    # The Balance column only adds up when "Debit" raises the balance, so the preset negates.
    "oca_debit_credit_amount": dict(
        opening=D("10.00"), closing=D("1510.00"), account=None, currency="USD",
        lines=[
            (D("20.00"), "USD", "debit", DEC15, None, None, None, "John Doe", "123456789", "Credit 20.00", None, "line 2"),
            (D("13.50"), "USD", "debit", DEC15, None, None, None, "John Doe", "123456789", "Credit 13.50", None, "line 3"),
            (D("33.50"), "USD", "credit", DEC15, None, None, None, "Azure Interior", None, "Debit 33.50", None, "line 4"),
            (D("1500.00"), "USD", "credit", DEC15, None, None, None, "Azure Interior", None, "Debit 1500", None, "line 5"),
        ],
    ),
    # Metadata header and footer; dates read as day/month/year.
    "oca_meta_data_separated_credit_debit": dict(
        opening=D("30000.77"), closing=D("31070.11"), account="08088804068", currency="EUR",
        lines=[
            (D("50.00"), "EUR", "debit", date(2020, 4, 1), None, "UNIQUE OP 1", None, None, None, "LABEL 1", "DETAILS 1", "line 6"),
            (D("100.00"), "EUR", "debit", date(2020, 4, 1), None, "UNIQUE OP 2", None, None, None, "LABEL 2", "CLIENTS X", "line 7"),
            (D("80.68"), "EUR", "debit", date(2020, 4, 2), None, "UNIQUE OP 3", None, None, None, "LABEL 3", "DETAILS 2", "line 8"),
            (D("1300.00"), "EUR", "credit", date(2020, 4, 2), None, "UNIQUE OP 4", None, None, None, "LABEL 4", "DETAILS 3", "line 9"),
        ],
    ),
}


@pytest.mark.parametrize("preset", sorted(EXPECTED))
def test_oca_export_every_field(preset):
    (stmt,) = parse_statement(read(preset), csv_mapping=PRESETS[preset])
    exp = EXPECTED[preset]
    assert (stmt.opening_balance, stmt.closing_balance) == (exp["opening"], exp["closing"])
    assert (stmt.account, stmt.currency, stmt.format) == (exp["account"], exp["currency"], "csv")
    assert rows(stmt) == exp["lines"]
    for ln in stmt.lines:
        assert (ln.customer_reference, ln.creditor_references, ln.is_return, ln.return_reason) == (None, (), False, None)
    assert stmt.opening_date == min(ln.booking_date for ln in stmt.lines)
    assert stmt.closing_date == max(ln.booking_date for ln in stmt.lines)
    assert len({ln.line_id for ln in stmt.lines}) == len(stmt.lines)


def test_same_bytes_give_the_same_statement_and_line_ids():
    first = parse_statement(read("oca_balance"), csv_mapping=OCA_BALANCE)[0]
    again = parse_statement(read("oca_balance"), csv_mapping=OCA_BALANCE)[0]
    assert first.statement_id == again.statement_id and first.statement_id.startswith("csv-")
    assert [ln.line_id for ln in first.lines] == [ln.line_id for ln in again.lines]


def test_debit_credit_indicator_column():
    data = b"Booked;Text;Amount;DC;Ccy\n03.01.2024;Invoice 4711;1.234,50;C;EUR\n04.01.2024;Fee;2,00;D;EUR\n"
    mapping = CsvMapping(date_column="Booked", date_format="%d.%m.%Y", amount_column="Amount", dc_indicator_column="DC",
                         currency_column="Ccy", delimiter=";", decimal_separator=",", thousands_separator=".",
                         description_column="Text", account="DE44500105175407324931")
    (stmt,) = parse_statement(data, csv_mapping=mapping)
    assert [(ln.amount, ln.direction, ln.currency, ln.remittance_unstructured) for ln in stmt.lines] == [
        (D("1234.50"), "credit", "EUR", "Invoice 4711"), (D("2.00"), "debit", "EUR", "Fee")]
    assert stmt.account == "DE44500105175407324931"


# ----------------------------------------------------------------------------
# Balances
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("preset", ["oca_balance", "oca_debit_credit_amount"])
def test_exports_with_a_running_balance_reconcile(preset):
    (stmt,) = parse_statement(read(preset), csv_mapping=PRESETS[preset], require_reconciled=True)
    assert stmt.opening_balance + stmt.total_credits - stmt.total_debits == stmt.closing_balance


def test_labelled_balances_that_do_not_add_up_are_rejected():
    with pytest.raises(StatementRejected) as exc:
        parse_statement(read("oca_meta_data_separated_credit_debit"), csv_mapping=PRESETS["oca_meta_data_separated_credit_debit"],
                        require_reconciled=True)
    assert "opening 30000.77 + credits 1300.00 - debits 230.68 = 31070.09, but the closing balance is 31070.11 (difference 0.02)" in str(exc.value)


def test_export_without_balances_cannot_be_reconciled():
    with pytest.raises(StatementRejected, match="has no opening balance"):
        parse_statement(read("oca_sample_statement_en"), csv_mapping=OCA_SAMPLE_STATEMENT_EN, require_reconciled=True)


def test_wrong_sign_convention_is_caught_by_the_running_balance():
    bank_convention = replace(OCA_DEBIT_CREDIT_AMOUNT, negate_amounts=False)
    with pytest.raises(StatementRejected) as exc:
        parse_statement(read("oca_debit_credit_amount"), csv_mapping=bank_convention)
    assert str(exc.value) == (
        "csv line 3 (column 'Balance'): running balance -23.50 does not follow from line 2's balance -10.00 and this row's"
        " amount +13.50 (expected 3.50); check the file or the mapping's sign convention"
    )


# ----------------------------------------------------------------------------
# Rejections
# ----------------------------------------------------------------------------


def reject(data: bytes, mapping: CsvMapping) -> StatementRejected:
    with pytest.raises(StatementRejected) as exc:
        parse_statement(data, csv_mapping=mapping)
    return exc.value


def test_amount_that_is_not_a_number_names_the_line():
    exc = reject(read("oca_balance").replace(b'"1,533.50"', b'"abc"'), OCA_BALANCE)
    assert str(exc) == "csv line 3 (column 'Amount'): amount 'abc' is not a number in the form 1,234.56"
    assert exc.line == 3


@pytest.mark.parametrize("bad", [b"1.533,50", b"$1,533.50", b"1,53,3.50", b"1533.50 USD", b"--5"])
def test_amounts_in_another_format_are_rejected(bad):
    exc = reject(read("oca_balance").replace(b'"1,533.50"', b'"' + bad + b'"'), OCA_BALANCE)
    assert exc.location == "line 3 (column 'Amount')"


def test_invalid_date():
    exc = reject(read("oca_balance").replace(b'"12/15/2018","Your payment"', b'"13/45/2018","Your payment"'), OCA_BALANCE)
    assert str(exc) == "csv line 3 (column 'Date'): date '13/45/2018' does not match the format %m/%d/%Y or is not a valid date"


def test_missing_column():
    exc = reject(read("oca_balance"), replace(OCA_BALANCE, amount_column="Betrag"))
    assert exc.location == "line 1 (column 'Betrag')"
    assert "is not in the header row; the columns are ['Date', 'Label', 'Amount'" in exc.message


def test_row_with_both_debit_and_credit():
    data = read("oca_debit_credit_amount").replace(b'"0.00","20.00"', b'"5.00","20.00"')
    exc = reject(data, OCA_DEBIT_CREDIT_AMOUNT)
    assert exc.line == 2 and exc.message == "both debit (5.00) and credit (20.00) are filled in; a row must have one of them"


def test_rows_in_two_currencies_are_rejected():
    mapping = replace(OCA_SAMPLE_STATEMENT_EN, currency=None, currency_column="Currency")
    exc = reject(read("oca_sample_statement_en"), mapping)
    assert str(exc) == "csv line 3 (column 'Currency'): the row is in EUR but line 2 is in USD; a statement has one currency"


def test_short_row():
    exc = reject(read("oca_balance") + b'"12/16/2018","Short"\n', OCA_BALANCE)
    assert exc.line == 4 and exc.message == "the row has 2 columns, the header has 6"


def test_file_in_another_encoding():
    exc = reject(read("oca_balance").replace(b"John Doe", b"Jos\xe9 Doe"), OCA_BALANCE)
    assert exc.line == 2 and "not valid utf-8-sig text" in exc.message


def test_header_only():
    exc = reject(read("oca_balance").split(b"\n")[0] + b"\n", OCA_BALANCE)
    assert exc.message == "the file has no statement rows after the header"


def test_csv_without_mapping_cannot_be_recognised():
    with pytest.raises(StatementRejected) as exc:
        parse_statement(read("oca_balance"))
    assert str(exc.value) == (
        "unknown format start of file: the file is not camt.053/054 XML, MT940 or BAI2; to import a CSV export pass csv_mapping"
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(amount_column="Amount", debit_column="D", credit_column="C", currency="EUR"),
        dict(debit_column="D", currency="EUR"),
        dict(currency="EUR"),
        dict(amount_column="Amount"),
        dict(amount_column="Amount", currency="EUR", currency_column="Ccy"),
        dict(amount_column="Amount", currency="euro"),
        dict(amount_column="Amount", currency="EUR", thousands_separator="."),
        dict(dc_indicator_column="DC", debit_column="D", credit_column="C", currency="EUR"),
    ],
)
def test_inconsistent_mappings_are_refused_when_defined(kwargs):
    with pytest.raises(ValueError):
        CsvMapping(date_column="Date", **kwargs)


# ----------------------------------------------------------------------------
# Fuzzing
# ----------------------------------------------------------------------------

CSV_SAMPLES = {name: read(name) for name in PRESETS}
CSV_TOKENS = [b",", b'"', b"\n", b"\r", b"-", b".", b"1,0", b"abc", b"13/45/2018", b"+", b"\x00", b"\xff", b";", b"9" * 40]


@fuzzing
@given(sample=mutated(CSV_SAMPLES, CSV_TOKENS))
def test_mutated_csv_files_are_parsed_or_rejected(sample):
    preset, data = sample
    assert_parsed_or_rejected(lambda: parse_statement(data, csv_mapping=PRESETS[preset]))
