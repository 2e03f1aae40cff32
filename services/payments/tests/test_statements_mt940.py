"""MT940 import: sample files read by hand, dialects of :86:, rejections."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given

from services.payments.statements import StatementRejected, parse_statement

from .statement_samples import SAMPLES, assert_parsed_or_rejected, fuzzing, mutated




def read(name: str) -> bytes:
    return (SAMPLES / "mt940" / name).read_bytes()


D = Decimal
FIELDS = (
    "amount", "direction", "booking_date", "value_date", "bank_reference", "customer_reference", "end_to_end_id",
    "payer_name", "payer_account", "remittance_unstructured", "is_return", "return_reason", "transaction_code",
    "additional_info", "source_position",
)


def as_tuple(line) -> tuple:
    return tuple(getattr(line, f) for f in FIELDS)


# ----------------------------------------------------------------------------
# German SEPA statement (betterplace), every field of every line read by hand
# ----------------------------------------------------------------------------

RETURN_TEXT = "MTLG:Grund nicht spezifiziert Reject aus SEPA-Ueberweisungsauftrag"
BETTERPLACE = [
    # statement 1: :20:T089414086000001
    (D("50990.05"), "credit", date(2007, 9, 4), date(2007, 9, 7), "0724710333343453", None,
     "EndToEndId TFNR 22 004 00001", "KARL KAUFMANN", "DE14508800500194785000", "Verw CTSc-01 BC-PPP TFNr 22 004",
     False, None, "NTRF:166", "GUTSCHRIFT", "line 5 (:61:)"),
    (D("154551.93"), "credit", date(2007, 9, 4), date(2007, 9, 7), "0724710324647450", None,
     "TFNR 0300300004", "Quentin Quast", "DE03508800500194791600", "Strukturierter Verwendungszweck 30030004 DE",
     False, None, "NTRF:166", "GUTSCHRIFT", "line 10 (:61:)"),
    (D("154551.93"), "credit", date(2007, 9, 4), date(2007, 9, 7), "0724710324661090", None,
     "TFNR 0500500004", "Karl Kaufmann", "DE14508800500194785000", "Strukturierter Verwendungszweck 50050004 DE",
     False, None, "NTRF:166", "GUTSCHRIFT", "line 15 (:61:)"),
    (D("1500.00"), "debit", date(2007, 9, 4), date(2007, 9, 4), "536D80EFEC56ACF8", "TFNr 01022 MSGID CTSc-01 EBB",
     None, None, None, "MTLG:SEPA-Ueberweisungsauftrag Datei mit 0000001 Zahlungen",
     False, None, "NTRF:191", "SEPA-UEBERW", "line 19 (:61:)"),
    # statement 2: :20:T089414096000001 -- returned SEPA transfers (GVC 159, reason in ?34)
    (D("0.08"), "debit", date(2007, 9, 4), date(2007, 9, 4), "0724710345316116", "TFNr 40001 MSGID",
     "TFNR 40001 00005", None, None, RETURN_TEXT, True, "914", "NTRF:159", "RETOURE", "line 29 (:61:)"),
    (D("335.33"), "credit", date(2007, 9, 4), date(2007, 9, 4), "0724710351063401", "TFNr 44001 MSGID",
     "TFNR 44001 00001", None, None, RETURN_TEXT, True, "914", "NTRF:159", "RETOURE", "line 32 (:61:)"),
    (D("15000"), "credit", date(2007, 9, 4), date(2007, 9, 4), "0724710345316110", "TFNr 40001 MSGID",
     "TFNR 40001 00002", None, None, RETURN_TEXT, True, "914", "NTRF:159", "RETOURE", "line 35 (:61:)"),
    (D("15000.05"), "credit", date(2007, 9, 4), date(2007, 9, 4), "0724710290659857", None,
     "EndToEndIdTFNR2000100001", "Richter Renate 70 Zeichen Beginn Fuellzeichen xxxxxxxx", "DE42100100100043921105",
     "TO 13 TFNr 20001 Eingangskanal Mint Unstrukturierter Verwendungszweck 140 Zeichen Beginn Fuellzeichen " + "x" * 38,
     False, None, "NTRF:166", "GUTSCHRIFT", "line 38 (:61:)"),
    (D("125004.88"), "credit", date(2007, 9, 4), date(2007, 9, 4), "0724710290624796", None,
     None, "Richter Renate 70 Zeichen Beginn Fuellzeichen xxxxxxxx", "DE42100100100043921105", "TO13 TF20005 MINT",
     False, None, "NTRF:166", "GUTSCHRIFT", "line 45 (:61:)"),
    (D("915311.55"), "credit", date(2007, 9, 4), date(2007, 9, 4), "R724710351063405", "TFNr 44001 MSGID",
     "TFNR 44001 00002", None, None, "MTLG:IBAN ungueltig Rueckueberweisung aus SEPA-Ueberweisungsauftrag",
     True, "901", "NTRF:159", "RETOURE", "line 50 (:61:)"),
    (D("3572569.03"), "debit", date(2007, 9, 4), date(2007, 9, 4), None, None,
     None, None, None, "0904059001", False, None, "NMSC:079", "SAMMLER", "line 53 (:61:)"),
]


def test_german_sepa_statement_every_field():
    first, second = parse_statement(read("betterplace_sepa_snippet.sta"))
    assert (first.statement_id, first.account, first.currency) == ("T089414086000001/00004/00001", "50880050/0194787400888", "EUR")
    assert (first.opening_balance, first.opening_date) == (D("766656.49"), date(2007, 9, 3))
    assert (first.closing_balance, first.closing_date) == (D("1125250.4"), date(2007, 9, 4))
    assert (second.statement_id, second.account) == ("T089414096000001/00004/00001", "50880050/0194791600888")
    assert (second.opening_balance, second.closing_balance) == (D("-1970431.87"), D("-4472049.09"))
    lines = first.lines + second.lines
    assert [as_tuple(ln) for ln in lines] == BETTERPLACE
    for ln in lines:
        assert (ln.currency, ln.creditor_references, ln.booked) == ("EUR", (), True)
    assert len({ln.line_id for ln in lines}) == len(lines)


# ----------------------------------------------------------------------------
# Dutch dialects: Rabobank tagged :86:, Triodos '>' subfields
# ----------------------------------------------------------------------------


def test_rabobank_tagged_details_every_field():
    first, second = parse_statement(read("jejik_rabobank-iban.sta"))
    # The bank re-uses :20:/:28C: for both statements; the second id gets a suffix.
    assert (first.statement_id, second.statement_id) == ("940S130101/0", "940S130101/0 (2)")
    assert (first.opening_balance, first.closing_balance, second.opening_balance, second.closing_balance) == (
        D("1000.00"), D("965.00"), D("965.00"), D("930.00"))
    expected = [
        (D("25.00"), "debit", None, date(2013, 1, 1), None, None, "01-01-2013 12:00 0030000987654321",
         "CONTRA ACCOUNT HOLDER", "NL70ABNA0987654321", None, False, None, "N102", "NL70ABNA0987654321", "line 6 (:61:)"),
        (D("10.00"), "debit", None, date(2013, 1, 2), None, None, None,
         "JOHN DOE", None, "Reference 201301234", False, None, "N154", "P001234567", "line 10 (:61:)"),
        (D("25.00"), "debit", None, date(2013, 1, 8), None, None, "08-01-2013 12:00 0030000987654321",
         "CONTRA ACCOUNT HOLDER", "NL70ABNA0987654321", None, False, None, "N102", "NL70ABNA0987654321", "line 18 (:61:)"),
        (D("10.00"), "debit", None, date(2013, 1, 9), None, None, None,
         "JOHN DOE", None, "Reference 201301234", False, None, "N154", "P001234567", "line 22 (:61:)"),
    ]
    assert [as_tuple(ln) for ln in first.lines + second.lines] == expected
    assert (first.account, first.currency) == ("NL71RABO0123456789", "EUR")


def test_triodos_details_every_field():
    (stmt,) = parse_statement(read("jejik_triodos.sta"))
    assert (stmt.statement_id, stmt.account, stmt.currency) == ("1308728725026/1/1", "TRIODOSBANK/0390123456", "EUR")
    expected = [
        (D("15.70"), "debit", None, date(2011, 1, 1), None, None, None, None, "0987654321",
         "ALGEMENE TUSSENREKENING KOSTEN VAN 01-10-2010 TOT EN MET 31-12-2010", False, None, "N000:000", None, "line 5 (:61:)"),
        (D("700.00"), "debit", None, date(2011, 1, 25), None, None, None, None, "0133967858",
         "HUUR KANTOOR - FEB 2010", False, None, "N000:000", None, "line 9 (:61:)"),
    ]
    assert [as_tuple(ln) for ln in stmt.lines] == expected


# ----------------------------------------------------------------------------
# Remaining files: counts and totals per statement (read by hand)
# ----------------------------------------------------------------------------

TOTALS = {
    "jejik_abnamro.sta": [
        ("ABN AMRO BANK NV/19321/1", "517852257", "EUR", D("3236.28"), D("876.84"), 8, D("0"), D("321.44")),
        ("ABN AMRO BANK NV/19322/1", "517852257", "EUR", D("2876.84"), D("1849.75"), 2, D("0"), D("24.49")),
    ],
    "jejik_ing.sta": [("MPBZ/000", "0001234567", "EUR", D("0.00"), D("3.47"), 7, D("4.68"), D("50.27"))],
    "mBank_mt940.sta": [("ST170119CYC/1/1/1", "PL29114010810000267002001002", "PLN", D("0.40"), D("0.43"), 3, D("0.03"), D("0"))],
    "cmxl_mt940.sta": [
        ("131110/27/01", "45050050/76198810", "DEM", D("84349.74"), D("84437.04"), 11, D("49396.74"), D("49309.44")),
        ("1234567/5/1", "10020030/1234567", "EUR", D("2187.95"), D("4387.95"), 2, D("3000"), D("800")),
        ("TELEWIZORY S.A./00084/001", "BPHKPLPK/320000546101", "PLN", D("40000.00"), D("50040.00"), 3, D("20040.00"), D("10000.00")),
    ],
}


@pytest.mark.parametrize("name", sorted(TOTALS))
def test_statement_counts_and_totals(name):
    statements = parse_statement(read(name))
    got = [(s.statement_id, s.account, s.currency, s.opening_balance, s.closing_balance, len(s.lines), s.total_credits, s.total_debits)
           for s in statements]
    assert got == TOTALS[name]


def test_free_text_details_keep_their_line_breaks():
    (stmt,) = parse_statement(read("jejik_ing.sta"))
    assert stmt.lines[0].remittance_unstructured == (
        "RC AFREKENING BETALINGSVERKEER\nBETREFT REKENING 4715589 PERIODE: 01-10-2010 / 31-12-2010\nING Bank N.V. tarifering ING"
    )
    assert stmt.lines[2].customer_reference == "TMG TANGO"


def test_polish_details_take_the_iban_from_subfield_38():
    polish = parse_statement(read("cmxl_mt940.sta"))[2]
    assert polish.lines[0].payer_account == "PL08106000760000777777777777"
    assert polish.lines[0].payer_name == "HUTA SZKLA TOPIC UL PRZEMY SLOWA 67 32-669 WROCLAW"
    assert polish.lines[0].additional_info == "Wyplata-(dysp/przel); Card transaction"


# ----------------------------------------------------------------------------
# Balances
# ----------------------------------------------------------------------------

RECONCILES = {
    ("betterplace_sepa_snippet.sta", 0): True,
    ("betterplace_sepa_snippet.sta", 1): False,  # 300.08 short
    ("cmxl_mt940.sta", 0): True,
    ("cmxl_mt940.sta", 1): True,
    ("cmxl_mt940.sta", 2): True,
    ("jejik_rabobank-iban.sta", 0): True,
    ("jejik_rabobank-iban.sta", 1): True,
    ("mBank_mt940.sta", 0): True,
    ("jejik_abnamro.sta", 0): False,
    ("jejik_abnamro.sta", 1): False,
    ("jejik_ing.sta", 0): False,
    ("jejik_triodos.sta", 0): False,
}


@pytest.mark.parametrize("name,index", sorted(RECONCILES))
def test_balance_check_accepts_only_statements_that_add_up(name, index):
    stmt = parse_statement(read(name))[index]
    computed = stmt.opening_balance + stmt.total_credits - stmt.total_debits
    if RECONCILES[(name, index)]:
        stmt.check_balances()
        assert computed == stmt.closing_balance
    else:
        with pytest.raises(StatementRejected) as exc:
            stmt.check_balances()
        assert f"= {computed}, but the closing balance is {stmt.closing_balance}" in exc.value.message


def test_require_reconciled_rejects_the_file_naming_the_closing_balance():
    with pytest.raises(StatementRejected) as exc:
        parse_statement(read("betterplace_sepa_snippet.sta"), require_reconciled=True)
    assert str(exc.value).startswith("mt940 line 55 (:62F:): statement 'T089414096000001/00004/00001': balances do not reconcile")
    assert "(difference 300.08)" in str(exc.value)


# ----------------------------------------------------------------------------
# Business cases on small hand-made statements
# ----------------------------------------------------------------------------

YEAR_END = b"""{1:F01TESTBANKXXXX0000000000}
:20:YEAREND
:25:NL00TEST0123456789
:28C:1/1
:60F:C101231EUR100,00
:61:1012310103C25,00NTRFINV-2010-99//B1
:86:Payment invoice 2010-99
:61:1101011231RD5,00NTRFNONREF//B2
:86:/RTRN/MS03/EREF/E2E-7/REMI/Refund of debit
:62F:C110103EUR130,00
-}
"""


def test_entry_dates_across_the_year_end_and_a_reversed_debit():
    (stmt,) = parse_statement(YEAR_END, require_reconciled=True)
    payment, reversal = stmt.lines
    assert (payment.value_date, payment.booking_date) == (date(2010, 12, 31), date(2011, 1, 3))
    assert (payment.customer_reference, payment.bank_reference, payment.remittance_unstructured) == ("INV-2010-99", "B1", "Payment invoice 2010-99")
    assert (reversal.value_date, reversal.booking_date) == (date(2011, 1, 1), date(2010, 12, 31))
    # RD = reversal of a debit: money comes back in
    assert (reversal.direction, reversal.is_return, reversal.return_reason) == ("credit", True, "MS03")
    assert (reversal.end_to_end_id, reversal.remittance_unstructured) == ("E2E-7", "Refund of debit")


def test_end_to_end_placeholder_is_not_an_id():
    data = YEAR_END.replace(b"/EREF/E2E-7", b"/EREF/NOTPROVIDED")
    assert parse_statement(data)[0].lines[1].end_to_end_id is None


# ----------------------------------------------------------------------------
# Rejections
# ----------------------------------------------------------------------------


def reject(data: bytes) -> StatementRejected:
    with pytest.raises(StatementRejected) as exc:
        parse_statement(data, format="mt940")
    return exc.value


def test_statement_line_without_amount():
    exc = reject(read("jejik_triodos.sta").replace(b":61:110101D15,70N000NONREF", b":61:110101DN000NONREF"))
    assert exc.line == 5
    assert str(exc).startswith("mt940 line 5 (:61:): the amount is missing or malformed")
    assert "digits with a decimal comma" in exc.message


def test_truncated_statement_has_no_closing_balance():
    data = read("jejik_triodos.sta")
    exc = reject(data[: data.index(b":62F:")])
    assert str(exc) == (
        "mt940 line 1 (:20:): statement '1308728725026/1' has no closing balance :62F: or :62M: (is the file truncated?)"
    )


def test_statement_cut_inside_an_amount():
    data = read("jejik_triodos.sta")
    exc = reject(data[: data.index(b"700,00") + 3])
    assert exc.line == 9 and "amount" in exc.message


def test_invalid_value_date():
    exc = reject(read("jejik_triodos.sta").replace(b":61:110101D", b":61:111301D"))
    assert str(exc) == "mt940 line 5 (:61:): value date '111301' is not a valid date (YYMMDD)"


def test_invalid_entry_date():
    exc = reject(read("jejik_abnamro.sta").replace(b":61:1105240524D9,", b":61:1105240532D9,"))
    assert exc.line == 8 and exc.message == "entry date '0532' is not a valid date (MMDD)"


def test_details_without_a_statement_line():
    exc = reject(read("jejik_triodos.sta").replace(b":60F:C110101EUR4975,09", b":60F:C110101EUR4975,09\n:86:loose text"))
    assert exc.line == 5 and "does not follow a statement line :61:" in exc.message


def test_malformed_balance():
    exc = reject(read("jejik_triodos.sta").replace(b":60F:C110101EUR4975,09", b":60F:C110101EUR4975.09"))
    assert exc.location == "line 4 (:60F:)" and "C/D mark, YYMMDD date, currency, amount" in exc.message


def test_mt942_fields_are_refused():
    exc = reject(read("jejik_triodos.sta").replace(b":28:1", b":28:1\n:34F:EURD0,00"))
    assert exc.location == "line 4 (:34F:)" and "MT942" in exc.message


def test_field_outside_a_statement():
    exc = reject(b":25:NL00TEST0123456789\n:60F:C110101EUR1,00\n")
    assert exc.message.startswith("field :25: appears outside a statement")


def test_file_without_statements():
    exc = reject(b"ABNANL2A\n940\nABNANL2A\n")
    assert exc.message == "no MT940 statement found (no line starting with :20:)"


def test_too_many_decimals_for_the_currency():
    exc = reject(read("jejik_triodos.sta").replace(b"D15,70N000", b"D15,705N000"))
    assert exc.message == "amount '15,705' has more decimals than EUR allows"


# ----------------------------------------------------------------------------
# Fuzzing
# ----------------------------------------------------------------------------

MT940_SAMPLES = {p.name: p.read_bytes() for p in sorted((SAMPLES / "mt940").glob("*.sta"))}
MT940_TOKENS = [b"\n", b":61:", b":86:", b":62F:", b":20:", b":60F:", b"-\n", b"?20", b"?34", b">20", b"/EREF/", b"/NAME/",
                b"RD", b"RC", b",", b"EREF+", b"SVWZ+", b"\x00", b"\xff", b"\x03", b"999", b"1301", b"9" * 20]


@fuzzing
@given(sample=mutated(MT940_SAMPLES, MT940_TOKENS))
def test_mutated_mt940_files_are_parsed_or_rejected(sample):
    _, data = sample
    assert_parsed_or_rejected(lambda: parse_statement(data, format="mt940"))
