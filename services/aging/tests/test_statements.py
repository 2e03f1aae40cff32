"""A customer's March statement, worked by hand (net 30, EUR, buckets 30/60/90):

  before March   INV-1 15 Jan 1,000.00 (due 14 Feb); INV-2 10 Feb 500.00 (due 12 Mar);
                 PAY-1 20 Feb pays 400.00 of INV-1                  opening  1,100.00
   5 Mar  INV-3 issued, due 4 Apr                   +2,000.00                3,100.00
   8 Mar  CN-1 credits 100.00 of INV-2                -100.00                3,000.00
  10 Mar  PAY-2 pays the 600.00 left on INV-1         -600.00                2,400.00
  15 Mar  DN-1 late fee, due 29 Mar                    +40.00                2,440.00
  20 Mar  25.00 of INV-2 written off                   -25.00                2,415.00
  25 Mar  PAY-3 300.00, not matched yet               -300.00       closing  2,115.00
   2 Apr  PAY-4 pays INV-3: after the period, not on the statement.

On 31 March INV-3 is current (2,000.00); INV-2 (375.00, 19 days) and DN-1 (40.00,
2 days) are 1-30 days past due; PAY-3 is unapplied (-300.00). Plus a USD invoice from
December, untouched since: 50.00 open 90 days on 31 March, so in 61-90.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

from pypdf import PdfReader

from services.aging.kpis import Period
from services.aging.statement_formats import as_csv, as_html, as_pdf
from services.aging.statements import Entry, EntryKind, build_statement

MARCH = Period(date(2026, 3, 1), date(2026, 3, 31))


def entry(on: str, kind: EntryKind, reference: str, amount: str, item_id: str,
          due: str | None = None, currency: str = "EUR", description: str = "") -> Entry:
    return Entry(on=date.fromisoformat(on), kind=kind, reference=reference,
                 description=description, currency=currency, amount=Decimal(amount),
                 item_id=item_id, due_date=date.fromisoformat(due) if due else None)


ENTRIES = [
    entry("2026-01-15", EntryKind.INVOICE, "INV-1", "1000.00", "inv-1", "2026-02-14"),
    entry("2026-02-10", EntryKind.INVOICE, "INV-2", "500.00", "inv-2", "2026-03-12"),
    entry("2026-02-20", EntryKind.PAYMENT, "PAY-1", "-400.00", "inv-1"),
    entry("2026-03-05", EntryKind.INVOICE, "INV-3", "2000.00", "inv-3", "2026-04-04"),
    entry("2026-03-08", EntryKind.CREDIT_NOTE, "CN-1", "-100.00", "inv-2", "2026-03-12",
          description="on INV-2: two cases damaged"),
    entry("2026-03-10", EntryKind.PAYMENT, "PAY-2", "-600.00", "inv-1",
          description="applied to INV-1"),
    entry("2026-03-15", EntryKind.DEBIT_NOTE, "DN-1", "40.00", "dn-1", "2026-03-29"),
    entry("2026-03-20", EntryKind.WRITE_OFF, "INV-2", "-25.00", "inv-2", "2026-03-12"),
    entry("2026-03-25", EntryKind.UNAPPLIED_CASH, "PAY-3", "-300.00", "pay-3"),
    entry("2026-04-02", EntryKind.PAYMENT, "PAY-4", "-2000.00", "inv-3"),
    entry("2025-12-01", EntryKind.INVOICE, "INV-9", "50.00", "inv-9", "2025-12-31",
          currency="USD"),
]


def march_statement():  # noqa: ANN201
    return build_statement("acme", "CUST-1", MARCH, ENTRIES)


def test_the_march_statement_runs_from_the_opening_to_the_closing_balance() -> None:
    eur = march_statement().sections[0]
    assert eur.currency == "EUR"
    assert eur.opening_balance == Decimal("1100.00")
    assert [(line.entry.reference, line.balance) for line in eur.lines] == [
        ("INV-3", Decimal("3100.00")), ("CN-1", Decimal("3000.00")),
        ("PAY-2", Decimal("2400.00")), ("DN-1", Decimal("2440.00")),
        ("INV-2", Decimal("2415.00")), ("PAY-3", Decimal("2115.00"))]
    assert eur.closing_balance == Decimal("2115.00")


def test_the_closing_balance_is_aged_with_the_unapplied_cash_beside_it() -> None:
    eur = march_statement().sections[0]
    assert dict(eur.aging.buckets) == {"current": Decimal("2000.00"), "1-30": Decimal("415.00"),
                                       "31-60": 0, "61-90": 0, "90+": 0}
    assert eur.aging.unapplied == Decimal("-300.00")
    assert eur.aging.total == eur.closing_balance


def test_a_currency_without_movements_in_the_period_still_shows_its_balance() -> None:
    usd = march_statement().sections[1]
    assert (usd.currency, usd.opening_balance, usd.lines, usd.closing_balance) == (
        "USD", Decimal("50.00"), (), Decimal("50.00"))
    assert usd.aging.buckets["61-90"] == Decimal("50.00")  # 90 days past due on 31 March


def test_the_next_statement_opens_on_this_ones_closing_balance() -> None:
    april = build_statement("acme", "CUST-1", Period(date(2026, 4, 1), date(2026, 4, 30)),
                            ENTRIES)
    eur = april.sections[0]
    assert eur.opening_balance == Decimal("2115.00")
    assert eur.closing_balance == Decimal("115.00")  # INV-3 paid on 2 April


def test_the_csv_lists_every_row_with_plain_amounts() -> None:
    rows = list(csv.DictReader(io.StringIO(as_csv(march_statement()))))
    eur = [row for row in rows if row["currency"] == "EUR"]
    assert [(row["entry"], row["reference"], row["amount"], row["balance"]) for row in eur[:8]] == [
        ("Opening balance", "", "", "1100.00"),
        ("Invoice", "INV-3", "2000.00", "3100.00"),
        ("Credit note", "CN-1", "-100.00", "3000.00"),
        ("Payment", "PAY-2", "-600.00", "2400.00"),
        ("Debit note", "DN-1", "40.00", "2440.00"),
        ("Write-off", "INV-2", "-25.00", "2415.00"),
        ("Unapplied cash", "PAY-3", "-300.00", "2115.00"),
        ("Closing balance", "", "", "2115.00")]
    aged = {row["entry"]: row["amount"] for row in eur[8:]}
    assert aged == {"aged current": "2000.00", "aged 1-30": "415.00", "aged 31-60": "0.00",
                    "aged 61-90": "0.00", "aged 90+": "0.00", "aged unapplied": "-300.00",
                    "aged total": "2115.00"}
    assert eur[3]["due date"] == "" and eur[1]["due date"] == "2026-04-04"


def test_the_html_escapes_what_people_typed_and_shows_the_figures() -> None:
    entries = [*ENTRIES, entry("2026-03-30", EntryKind.ADJUSTMENT, "INV-3", "0.00", "inv-3",
                               description="<script>price check</script>")]
    html = as_html(build_statement("acme", "CUST-1", MARCH, entries))
    assert "<script>" not in html and "&lt;script&gt;price check" in html
    assert "Statement of account: CUST-1" in html
    for figure in ("1,100.00", "3,100.00", "2,115.00", "-300.00", "on INV-2: two cases damaged"):
        assert figure in html


def test_the_pdf_reads_back_with_the_balances_and_the_aging() -> None:
    reader = PdfReader(io.BytesIO(as_pdf(march_statement())))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Statement of account: CUST-1" in text
    assert "Period 2026-03-01 to 2026-03-31" in text
    for figure in ("Opening balance", "1,100.00", "INV-3", "3,100.00", "CN-1", "PAY-3",
                   "Closing balance", "2,115.00", "aged 1-30", "415.00", "In USD", "50.00"):
        assert figure in text, figure
    assert "PAY-4" not in text  # April's payment


def test_a_customer_with_nothing_up_to_the_period_end_gets_an_empty_statement() -> None:
    statement = build_statement("acme", "CUST-1", Period(date(2025, 1, 1), date(2025, 1, 31)),
                                ENTRIES)
    assert statement.sections == ()
    text = PdfReader(io.BytesIO(as_pdf(statement))).pages[0].extract_text()
    assert "No movements and no balance" in text
