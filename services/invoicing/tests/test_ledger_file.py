"""A company's ledger file, checked whole before anything is loaded: every bad line is
named, with what is wrong; a good file becomes customers, invoices and payments."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from libs.runtime.ids import stable_id
from services.invoicing.backfill import invoice_event, payment_event
from services.invoicing.ledger_file import LedgerFileRejected, read_ledger
from services.invoicing.ledger_sample import AS_OF, write_ledger
from services.invoicing.totals import check_declared_totals

TODAY = date(2024, 6, 30)
HEADER = ("record,customer_id,name,currency,payment_terms,language,document_number,order_id,"
          "issue_date,due_date,amount,reference,paid_on")
GOOD = [
    "customer,C-1,Neptune Retail,USD,net 30,en,,,,,,,",
    "customer,C-2,Triton GmbH,EUR,2/10 net 30,de,,,,,,,",
    "invoice,C-1,,USD,,,0000611365,SO-1,2024-01-02,2024-02-01,55.94,,",
    "invoice,C-2,,EUR,EOM+15,,SI-24001,,2024-01-20,,100.00,,",
    "payment,C-1,,USD,,,0000611365,,,,20.00,BANK-1,2024-01-15",
    "payment,,,,,,0000611365,,,,35.94,,2024-02-03",
]


def ledger_file(tmp_path: Path, *lines: str, name: str = "ledger.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join((HEADER, *lines)) + "\n")
    return path


def problems(path: Path) -> list[tuple[int, str]]:
    with pytest.raises(LedgerFileRejected) as rejected:
        read_ledger(path, TODAY)
    return rejected.value.problems


def test_a_good_ledger_reads_as_customers_invoices_and_payments(tmp_path: Path) -> None:
    ledger = read_ledger(ledger_file(tmp_path, *GOOD), TODAY)

    assert [(c.customer_id, c.payment_terms, c.language) for c in ledger.customers] == [
        ("C-1", "net 30", "en"), ("C-2", "2/10 net 30", "de")]
    first, second = ledger.invoices
    assert (first.document_number, first.order_id, first.amount, first.due_date) == (
        "0000611365", "SO-1", Decimal("55.94"), date(2024, 2, 1))
    # No due date given: the invoice's own terms, from its issue date (end of January + 15).
    assert (second.payment_terms, second.due_date) == ("EOM+15", date(2024, 2, 15))
    assert [(p.reference, p.amount, p.paid_on, p.customer_id) for p in ledger.payments] == [
        ("BANK-1", Decimal("20.00"), date(2024, 1, 15), "C-1"),
        ("0000611365/2", Decimal("35.94"), date(2024, 2, 3), "C-1")]


@pytest.mark.parametrize(("bad", "problem"), [
    ("customer,C-3,,USD,net 30,en,,,,,,,", "name is missing"),
    ("customer,C-3,Moon Ltd,USD,net thirty,en,,,,,,,", "cannot read payment terms 'net thirty'"),
    ("customer,C 3,Moon Ltd,USD,net 30,en,,,,,,,", "customer_id 'C 3' is not an account id"),
    ("customer,C-1,Neptune again,USD,net 30,en,,,,,,,", "customer C-1 is already on line 2"),
    ("invoice,C-9,,USD,,,0000611366,,2024-01-02,2024-02-01,10.00,,",
     "customer C-9 has no customer record in the file"),
    ("invoice,C-1,,XXY,,,0000611366,,2024-01-02,2024-02-01,10.00,,",
     "'XXY' is not an active ISO 4217 currency code"),
    ("invoice,C-1,,USD,,,0000611366,,2024-01-02,2024-02-01,-10.00,,",
     "amount must be positive, got -10.00"),
    ("invoice,C-1,,USD,,,0000611366,,2024-01-02,2024-02-01,10.001,,",
     "amount 10.001 has more decimals than USD has"),
    ("invoice,C-1,,USD,,,0000611366,,2024-02-30,,10.00,,",
     "issue_date '2024-02-30' is not a date (YYYY-MM-DD)"),
    ("invoice,C-1,,USD,,,0000611366,,2024-03-01,2024-02-01,10.00,,",
     "due date 2024-02-01 is before issue date 2024-03-01"),
    ("invoice,C-1,,USD,,,0000611366,,2024-07-01,,10.00,,",
     "issue_date 2024-07-01 is in the future (today is 2024-06-30)"),
    ("invoice,C-1,,USD,,,0000611365,,2024-01-02,2024-02-01,10.00,,",
     "invoice 0000611365 is already on line 4"),
    ("invoice,C-1,,USD,,,INV/2024/7,,2024-01-02,2024-02-01,10.00,,",
     "document_number 'INV/2024/7' cannot be found in a remittance text"),
    ("payment,C-1,,USD,,,0000999999,,,,10.00,,2024-01-15",
     "invoice 0000999999 is not in the file"),
    ("payment,C-1,,USD,,,0000611365,,,,0.06,,2024-01-15",
     "payments of invoice 0000611365 add up to 56.00, more than its 55.94 USD"),
    ("payment,C-1,,USD,,,0000611365,,,,0.01,,2023-12-31",
     "paid on 2023-12-31, before invoice 0000611365 was issued on 2024-01-02"),
    ("payment,C-2,,USD,,,0000611365,,,,0.01,,2024-01-15",
     "invoice 0000611365 belongs to C-1, not C-2"),
    ("payment,C-1,,EUR,,,0000611365,,,,0.01,,2024-01-15",
     "a payment in EUR of invoice 0000611365 in USD"),
    ("payment,C-2,,EUR,,,SI-24001,,,,1.00,BANK-1,2024-01-25",
     "reference 'BANK-1' names more than one payment"),
    ("refund,C-1,,USD,,,0000611365,,,,0.01,,2024-01-15",
     "record must be customer, invoice or payment, not 'refund'"),
    ("invoice,C-1,,USD,,,0000611366,,2024-01-02,2024-02-01,10.00,,,surplus",
     "more fields than the header has columns"),
])
def test_a_bad_line_rejects_the_file_naming_the_line_and_what_is_wrong(
        tmp_path: Path, bad: str, problem: str) -> None:
    found = problems(ledger_file(tmp_path, *GOOD, bad))

    bad_line = len(GOOD) + 2
    assert any(line == bad_line and problem in text for line, text in found), found


def test_a_refused_invoice_takes_its_payments_with_it_and_both_lines_are_named(
        tmp_path: Path) -> None:
    lines = list(GOOD)
    lines[2] = lines[2].replace("55.94", "fifty")

    found = problems(ledger_file(tmp_path, *lines))

    assert found == [(4, "amount 'fifty' is not a decimal number"),
                     (6, "invoice 0000611365 is not in the file (or was refused)"),
                     (7, "invoice 0000611365 is not in the file (or was refused)")]


def test_the_rejection_says_nothing_was_loaded_and_counts_the_bad_lines(tmp_path: Path) -> None:
    path = ledger_file(tmp_path, *GOOD, "invoice,C-1,,USD,,,0000611366,,,,10.00,,")

    with pytest.raises(LedgerFileRejected) as rejected:
        read_ledger(path, TODAY)

    assert str(rejected.value).startswith(f"{path}: rejected, nothing loaded: 1 bad line(s) "
                                          "among 7 record(s)")
    assert "line 8: issue_date is missing" in str(rejected.value)


def test_a_header_without_the_columns_is_refused_on_line_1(tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    path.write_text("kind,account,total\ninvoice,C-1,10.00\n")

    [(line, problem)] = problems(path)

    assert line == 1 and "the header lacks record, customer_id, document_number" in problem


def test_a_json_ledger_reads_amounts_exactly_and_names_lines(tmp_path: Path) -> None:
    records = [
        {"record": "customer", "customer_id": "C-1", "name": "Neptune", "currency": "USD",
         "payment_terms": "net 30"},
        {"record": "invoice", "customer_id": "C-1", "document_number": "0000611365",
         "issue_date": "2024-01-02", "amount": 55.94, "currency": "USD"},
        {"record": "payment", "document_number": "0000611365", "amount": "55.94",
         "paid_on": "2024-01-20"},
    ]
    path = tmp_path / "ledger.json"
    path.write_text("[\n" + ",\n".join(json.dumps(record) for record in records) + "\n]\n")

    ledger = read_ledger(path, TODAY)

    assert ledger.invoices[0].amount == Decimal("55.94")  # the JSON number, not a float
    assert ledger.invoices[0].due_date == date(2024, 2, 1)
    records[2]["paid_on"] = "2024-01-01"
    path.write_text("[\n" + ",\n".join(json.dumps(record) for record in records) + "\n]\n")
    assert problems(path) == [(4, "paid on 2024-01-01, before invoice 0000611365 was issued "
                                  "on 2024-01-02")]


# --- the sample ledger grown from the IBM data -----------------------------------------


def test_the_sample_ledger_is_the_same_every_time_and_leaves_some_history_open(
        tmp_path: Path, ibm_sample) -> None:  # noqa: ANN001
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"

    counts = write_ledger(first, 10_000, ibm_sample)
    write_ledger(second, 10_000, ibm_sample)

    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(
        second.read_bytes()).digest()
    ledger = read_ledger(first, date(2026, 1, 1))
    assert counts == {"customers": 100, "invoices": 10_000, "payments": len(ledger.payments)}
    paid: dict[str, Decimal] = {}
    for payment in ledger.payments:
        paid[payment.document_number] = paid.get(payment.document_number, Decimal(0)) + \
            payment.amount
    still_open = [i for i in ledger.invoices if paid.get(i.document_number, 0) < i.amount]
    partly_paid = [i for i in still_open if paid.get(i.document_number)]
    assert 100 < len(still_open) < 2_000 and partly_paid
    assert max(payment.paid_on for payment in ledger.payments) <= AS_OF
    # The first copy keeps the IBM sample's numbers and dates.
    sample = next(i for i in ledger.invoices if i.document_number == "0360452276")
    assert (sample.issue_date, sample.due_date) == (date(2012, 1, 30), date(2012, 2, 29))


def test_each_ledger_record_becomes_an_event_invoicing_and_matching_accept(
        tmp_path: Path) -> None:
    ledger = read_ledger(ledger_file(tmp_path, *GOOD), TODAY)

    erp = invoice_event(ledger.invoices[0])
    payment = payment_event("acme", ledger.payments[0])

    check_declared_totals(erp.lines, erp.currency, erp.net_amount, erp.tax_amount, erp.total)
    assert (erp.invoice_number, erp.issue_date, erp.due_date, erp.payment_terms) == (
        "0000611365", date(2024, 1, 2), date(2024, 2, 1), "net 30")
    # The id the payments service gives a payment with this bank reference.
    assert payment.payment_id == str(stable_id("acme", "payment", "BANK-1"))
    assert (payment.remittance_text, payment.value_date) == ("invoice 0000611365",
                                                             date(2024, 1, 15))
