"""BAI2 import: sample files read by hand, continuations, trailers, rejections."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.payments.statements import StatementRejected, parse_statement
from services.payments.statements.bai2 import parse_bai2

from .statement_samples import SAMPLES, assert_parsed_or_rejected, fuzzing, mutated




def read(name: str) -> bytes:
    return (SAMPLES / "bai2" / name).read_bytes()


D = Decimal

# ----------------------------------------------------------------------------
# sample1: every field of every line, read by hand
# ----------------------------------------------------------------------------

# (line, type code, amount CAD, direction, value date, text)
SAMPLE1 = [
    [
        (5, "409", D("25.00"), "debit", date(2006, 3, 16), "RETURNED CHEQUE"),
        (6, "409", D("900.00"), "debit", date(2006, 3, 16), "RTN-UNKNOWN"),
        (7, "409", D("5.00"), "debit", date(2006, 3, 16), "RTD CHQ SERVICE CHRG"),
        (8, "108", D("2035.00"), "credit", date(2006, 3, 16), "TFR 1020 0345678"),
        (9, "108", D("25.00"), "credit", date(2006, 3, 16), "MACLEOD MALL"),
        (10, "108", D("25.00"), "credit", date(2006, 3, 16), "MASCOUCHE QUE"),
        (11, "409", D("200.00"), "debit", date(2006, 3, 16), "1000 ISLANDS MALL"),
        (12, "409", D("900.00"), "debit", date(2006, 3, 16), "PENHORA MALL"),
        (13, "409", D("20.00"), "debit", date(2006, 3, 16), "CAPILANO MALL"),
        (14, "409", D("25.00"), "debit", date(2006, 3, 16), "GALERIES LA CAPITALE"),
        (15, "409", D("10.00"), "debit", date(2006, 3, 16), "PLAZA ROCK FOREST"),
    ],
    [
        (19, "108", D("115.00"), "credit", date(2006, 3, 17), "TFR 1020 0345678"),
        (20, "108", D("1000.00"), "credit", date(2006, 3, 17), "MONTREAL"),
        (21, "409", D("1000.00"), "debit", date(2006, 3, 17), "GRANDFALL NB"),
        (22, "409", D("90.00"), "debit", date(2006, 3, 17), "HAMILTON ON"),
        (23, "409", D("20.00"), "debit", date(2006, 3, 17), "WOODSTOCK NB"),
        (24, "409", D("5.00"), "debit", date(2006, 3, 17), "GALERIES RICHELIEU"),
    ],
]


def test_canadian_sample_every_field():
    statements = parse_statement(read("moov_sample1.bai2"))
    assert [(s.statement_id, s.account, s.currency, s.source_position) for s in statements] == [
        ("001/1/1", "10200123456", "CAD", "line 3 (record 03)"),
        ("001/1/2", "10200123456", "CAD", "line 17 (record 03)"),
    ]
    for stmt, expected in zip(statements, SAMPLE1):
        # Only available balances (040/045) are reported, no ledger balances.
        assert (stmt.opening_balance, stmt.closing_balance) == (None, None)
        assert (stmt.opening_date, stmt.closing_date) == (date(2006, 3, 17), date(2006, 3, 17))
        got = [
            (int(ln.source_position.split()[1]), ln.transaction_code, ln.amount, ln.direction, ln.value_date, ln.remittance_unstructured)
            for ln in stmt.lines
        ]
        assert got == expected
        for ln in stmt.lines:
            assert ln.currency == "CAD"
            assert ln.booking_date == date(2006, 3, 17)  # the group's as-of date
            assert ln.source_position == f"line {ln.source_position.split()[1]} (record 16)"
            assert (ln.bank_reference, ln.customer_reference, ln.end_to_end_id) == (None, None, None)
            assert (ln.payer_name, ln.payer_account, ln.creditor_references) == (None, None, ())
            # 409 is the generic debit code, so a "RETURNED CHEQUE" text alone does not make a return.
            assert (ln.is_return, ln.return_reason, ln.additional_info, ln.booked) == (False, None, None, True)
    # the 100/400 summaries of each account equal its detail totals
    assert [(s.total_credits, s.total_debits) for s in statements] == [(D("2085.00"), D("2085.00")), (D("1115.00"), D("1115.00"))]


# ----------------------------------------------------------------------------
# sample2: continuation records and funds types
# ----------------------------------------------------------------------------


def test_spec_sample_with_continuations_and_funds_types():
    statements = parse_statement(read("moov_sample2.bai2"))
    summary = [(s.statement_id, s.account, s.currency, s.opening_balance, s.closing_balance, len(s.lines)) for s in statements]
    assert summary == [
        ("1/1/1", "0123456789", "USD", D("43500.00"), None, 1),
        ("1/1/2", "9876543210", "USD", D("-5000.00"), None, 1),  # opening ledger "-500000"; 88 splits the summaries
        ("1/2/1", "4589761203", "USD", D("100000.00"), None, 2),
        ("1/3/1", "0975312468", "USD", D("5000.00"), None, 0),  # funds type D with three distributions
        ("1/4/1", "7890654321", "USD", D("8000.00"), None, 0),  # item count continued on an 88 record
    ]
    lockbox = statements[1].lines[0]
    assert (lockbox.transaction_code, lockbox.amount, lockbox.direction) == ("115", D("5000.00"), "credit")
    assert lockbox.remittance_unstructured == "LOCK BOX NO.68751"
    letter_of_credit, wire = statements[2].lines
    assert (letter_of_credit.transaction_code, letter_of_credit.amount, letter_of_credit.value_date) == ("218", D("200000.00"), date(2004, 6, 22))
    assert (letter_of_credit.bank_reference, letter_of_credit.customer_reference) == ("SP4738", "YRC065321")
    # the text field arrives on the 88 continuation record
    assert letter_of_credit.remittance_unstructured == "PROCEEDS OF LETTER OF CREDIT FROM THE ARAMCO OIL CO"
    assert (wire.transaction_code, wire.amount, wire.value_date, wire.remittance_unstructured) == ("195", D("100000.00"), None, None)
    assert statements[0].lines[0].booking_date == date(2004, 6, 20)


# ----------------------------------------------------------------------------
# sample4: trailers that do not match, tagged 88 continuation text
# ----------------------------------------------------------------------------


def test_sample_with_wrong_trailers_is_rejected_by_default():
    with pytest.raises(StatementRejected) as exc:
        parse_statement(read("moov_sample4-continuations-newline-delimited.bai2"))
    assert str(exc.value) == (
        "bai2 line 22 (record 49 account trailer): account 107049932: control total: the trailer says -1260161341762, "
        "the amounts add up to 7999960; number of records: the trailer says 26, the account has 18"
    )


def test_tagged_continuation_lines_when_trailer_checks_are_switched_off():
    statements = parse_bai2(read("moov_sample4-continuations-newline-delimited.bai2"), verify_trailers=False)
    assert [(s.account, len(s.lines)) for s in statements] == [
        ("107049924", 0), ("107049932", 3), ("104108339", 14), ("260000033037", 0), ("280000010657", 0),
    ]
    third = statements[2]
    assert (third.opening_balance, third.closing_balance) == (D("1595811.94"), D("1593811.94"))
    ach_return = third.lines[0]
    assert (ach_return.transaction_code, ach_return.amount, ach_return.direction) == ("557", D("2000.00"), "debit")
    assert (ach_return.is_return, ach_return.return_reason) == (True, "R02")
    assert (ach_return.bank_reference, ach_return.customer_reference, ach_return.end_to_end_id) == (
        "SB2322600000214", "021000080000030", "021000080000030")
    assert (ach_return.payer_name, ach_return.payer_account) == ("Test", None)  # debit: creditor name CRNM
    incoming_wire = third.lines[4]
    assert (incoming_wire.transaction_code, incoming_wire.direction, incoming_wire.amount) == ("195", "credit", D("11.25"))
    assert (incoming_wire.payer_name, incoming_wire.payer_account) == (None, "8348572423")  # DACT, no DBNM
    assert incoming_wire.end_to_end_id == "GS0D9VGMP1IWPLW"
    outgoing_wire = third.lines[3]
    assert outgoing_wire.remittance_unstructured == "QWERTIOP"  # from REMI
    assert outgoing_wire.additional_info.startswith("Outgoing Wire,To: TEST COMPANY, Remittance Info:")
    assert (outgoing_wire.payer_name, outgoing_wire.payer_account) == ("TEST COMPANY", None)
    returns = [(ln.transaction_code, ln.return_reason) for ln in third.lines if ln.is_return]
    assert returns == [("557", "R02"), ("266", None), ("257", "R02"), ("255", None)]
    assert statements[1].lines[1].transaction_code == "261" and statements[1].lines[1].is_return


# ----------------------------------------------------------------------------
# Balances on a small hand-made file
# ----------------------------------------------------------------------------


def bai2_file(opening: int, closing: int, details: list[tuple[str, int, str]]) -> bytes:
    """A one-account BAI2 file with correct trailers (amounts in cents)."""
    account = [f"03,DE001,,010,+{opening},,,015,+{closing},,/"]
    for type_code, amount, rest in details:
        account.append(f"16,{type_code},{amount},0,{rest}")
    control = opening + closing + sum(a for _, a, _ in details)
    n_account = len(account) + 1 + sum(r.count("\n88,") for _, _, r in details)
    account.append(f"49,{control},{n_account}/")
    body = "\n".join(account)
    n_group = n_account + 2
    return (
        f"01,SENDER,RECEIVER,240105,1200,F1,80,1,2/\n02,RECEIVER,BANK,1,240104,2359,EUR,2/\n{body}\n"
        f"98,{control},1,{n_group}/\n99,{control},1,{n_group + 2}/\n"
    ).encode()


CUSTOMER_PAYMENT = ("165", 20000, "BANKREF1,INV-1001,CUSTOMER PAYMENT\n88,EREF: E2E-1\n88,DBNM: ACME GMBH\n88,DACT: DE44500105175407324931")
DIRECT_DEBIT = ("451", 7500, "BANKREF2,,DIRECT DEBIT/")


def test_account_that_reconciles_is_accepted():
    (stmt,) = parse_statement(bai2_file(100000, 112500, [CUSTOMER_PAYMENT, DIRECT_DEBIT]), require_reconciled=True)
    payment, debit = stmt.lines
    assert (stmt.currency, stmt.opening_balance, stmt.closing_balance) == ("EUR", D("1000.00"), D("1125.00"))
    assert (payment.amount, payment.direction, payment.end_to_end_id, payment.customer_reference) == (D("200.00"), "credit", "E2E-1", "INV-1001")
    assert (payment.payer_name, payment.payer_account, payment.remittance_unstructured) == ("ACME GMBH", "DE44500105175407324931", "CUSTOMER PAYMENT")
    assert (debit.amount, debit.direction, debit.bank_reference) == (D("75.00"), "debit", "BANKREF2")


def test_account_that_does_not_reconcile_is_rejected_with_both_figures():
    with pytest.raises(StatementRejected) as exc:
        parse_statement(bai2_file(100000, 112400, [CUSTOMER_PAYMENT, DIRECT_DEBIT]), require_reconciled=True)
    assert str(exc.value) == (
        "bai2 line 3 (record 03): statement 'F1/1/1': balances do not reconcile: opening 1000.00"
        " + credits 200.00 - debits 75.00 = 1125.00, but the closing balance is 1124.00 (difference -1.00)"
    )


def test_account_without_ledger_balances_cannot_be_reconciled():
    with pytest.raises(StatementRejected, match="has no opening balance"):
        parse_statement(read("moov_sample1.bai2"), require_reconciled=True)


# ----------------------------------------------------------------------------
# Rejections
# ----------------------------------------------------------------------------


def reject(data: bytes) -> StatementRejected:
    with pytest.raises(StatementRejected) as exc:
        parse_statement(data)
    return exc.value


def test_wrong_record_count_in_account_trailer():
    exc = reject(read("moov_sample1.bai2").replace(b"49,+00000000000834000,14/", b"49,+00000000000834000,15/"))
    assert str(exc) == (
        "bai2 line 16 (record 49 account trailer): account 10200123456: number of records: the trailer says 15, the account has 14"
    )


def test_wrong_control_total_in_account_trailer():
    exc = reject(read("moov_sample1.bai2").replace(b"49,+00000000000834000,14/", b"49,+00000000000834100,14/"))
    assert exc.line == 16 and "control total: the trailer says 834100, the amounts add up to 834000" in exc.message


def test_wrong_record_count_in_file_trailer():
    exc = reject(read("moov_sample1.bai2").replace(b"99,+00000000001280000,1,27/", b"99,+00000000001280000,1,28/"))
    assert str(exc) == "bai2 line 27 (record 99 file trailer): number of records: the trailer says 28, the file has 27"


def test_wrong_number_of_accounts_in_group_trailer():
    exc = reject(read("moov_sample1.bai2").replace(b"98,+00000000001280000,2,25/", b"98,+00000000001280000,3,25/"))
    assert exc.line == 26 and exc.message == "number of accounts: the trailer says 3, the file has 2"


def test_truncated_file_is_rejected():
    data = read("moov_sample1.bai2")
    exc = reject(data[: data.index(b"49,+00000000000446000")])
    assert exc.message == "the file ends inside account 10200123456: the 99 file trailer is missing (is the file truncated?)"
    exc = reject(data[: data.index(b"99,")])
    assert "the file ends inside the file" in exc.message


def test_amount_that_is_not_a_number():
    exc = reject(read("moov_sample1.bai2").replace(b"16,409,000000000002500,V,060316,,,,RETURNED", b"16,409,00000000000250O,V,060316,,,,RETURNED"))
    assert str(exc) == "bai2 line 5 (record 16 transaction detail): amount '00000000000250O' is not an unsigned whole number"


def test_detail_amounts_must_be_unsigned():
    exc = reject(read("moov_sample1.bai2").replace(b"16,409,000000000002500", b"16,409,-00000000002500"))
    assert exc.line == 5 and "is not an unsigned whole number" in exc.message


def test_invalid_value_date():
    exc = reject(read("moov_sample1.bai2").replace(b"16,409,000000000002500,V,060316", b"16,409,000000000002500,V,060231"))
    assert exc.line == 5 and exc.message == "value date '060231' is not a valid date"


def test_summary_code_in_a_detail_record():
    exc = reject(read("moov_sample1.bai2").replace(b"16,409,000000000002500", b"16,045,000000000002500"))
    assert exc.message == "type code 045 is not a credit or debit detail code (100-399, 400-699, 920-999)"


def test_unknown_record_code():
    exc = reject(read("moov_sample1.bai2").replace(b"16,409,000000000090000", b"17,409,000000000090000"))
    assert exc.line == 6 and "does not start with a BAI2 record code" in exc.message


def test_detail_outside_an_account():
    data = read("moov_sample2.bai2").replace(b"03,0123456789,,010,+4350000,,,040,2830000,,/\n88,072,1020000,,,074,500000,,/\n", b"")
    exc = reject(data)
    assert exc.line == 3 and exc.message == "transaction detail outside an account (no 03 record before it)"


# ----------------------------------------------------------------------------
# Fuzzing
# ----------------------------------------------------------------------------

BAI2_SAMPLES = {p.name: p.read_bytes() for p in sorted((SAMPLES / "bai2").glob("*.bai2"))}
BAI2_SAMPLES["handmade.bai2"] = bai2_file(100000, 112500, [CUSTOMER_PAYMENT, DIRECT_DEBIT])
BAI2_TOKENS = [b"\n", b",", b"/", b"88,", b"16,", b"03,", b"49,", b"98,", b"99,", b"V,", b"S,", b"D,", b"9,", b"-", b"+",
               b"EREF: ", b"Reason: \"R01\"", b"\x00", b"\xff", b"9" * 25]


@fuzzing
@given(sample=mutated(BAI2_SAMPLES, BAI2_TOKENS), strict=st.booleans())
def test_mutated_bai2_files_are_parsed_or_rejected(sample, strict):
    _, data = sample
    assert_parsed_or_rejected(lambda: parse_bai2(data, verify_trailers=strict))
