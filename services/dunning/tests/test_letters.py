"""The letters a customer reads, in French, English, Dutch and German: one letter per level
listing every invoice at that level, the fees with how they were computed, the total due,
the date to pay by and how to pay."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.dunning.domain import STANDARD, InvoiceState, TenantSettings, assess_fees
from services.dunning.letters import format_date, format_money, render_letter

D = Decimal
SETTINGS = TenantSettings(company_name="Brauerei Nord GmbH", beneficiary="Brauerei Nord GmbH",
                          iban="DE89370400440532013000", bic="COBADEFFXXX")
ISSUED = date(2026, 2, 8)


def invoices() -> list[InvoiceState]:
    return [InvoiceState("id-1", "INV-000001", "EUR", D("1210.00"), date(2026, 1, 2),
                         date(2026, 2, 1), D("1210.00")),
            InvoiceState("id-2", "INV-000002", "EUR", D("60.50"), date(2026, 1, 3),
                         date(2026, 2, 1), D("60.50"))]


def first_letter(language: str):  # noqa: ANN201
    level = STANDARD.level(2)
    listed = invoices()
    fees = [fee for invoice in listed for fee in assess_fees(invoice, level, ISSUED, SETTINGS)]
    return render_letter(language=language, policy=STANDARD, level=level,
                         customer_name="Brasserie du Port", customer_id="C-42", issued_on=ISSUED,
                         invoices=listed, fees=fees, settings=SETTINGS)


def test_the_first_letter_in_french() -> None:
    letter = first_letter("fr")

    assert letter.subject == "Première relance : INV-000001, INV-000002"
    body = letter.body
    assert "Date : 8 février 2026" in body
    assert "Malgré notre rappel, les factures suivantes restent impayées." in body
    assert "INV-000001       2 janvier 2026       1er février 2026" in body
    assert "1\u202f210,00 EUR" in body and "60,50 EUR" in body
    # 1,210.00 x 10.15% x 7 / 365 = 2.36; 60.50 x 10.15% x 7 / 365 = 0.12; EUR 40 each
    assert ("Intérêts de retard : 2,36 EUR (7 jours au taux annuel de 10,15 %, du "
            "2 février 2026 au 8 février 2026)") in body
    assert body.count("Indemnité forfaitaire pour frais de recouvrement : 40,00 EUR") == 2
    assert ("Reste dû sur les factures : 1\u202f270,50 EUR ; pénalités : 82,48 EUR ; "
            "total à payer : 1\u202f352,98 EUR") in body
    assert "au plus tard le 15 février 2026" in body
    assert "IBAN DE89370400440532013000, BIC COBADEFFXXX" in body


def test_the_first_letter_in_english() -> None:
    letter = first_letter("en")

    assert letter.subject == "Overdue invoices: first notice: INV-000001, INV-000002"
    body = letter.body
    assert "Date: 8 February 2026" in body
    assert "Despite our reminder, the following invoices are still unpaid." in body
    assert "Statutory interest for late payment: EUR 2.36 (7 days at 10.15% a year" in body
    assert body.count("Fixed compensation for recovery costs: EUR 40.00") == 2
    assert "total due: EUR 1,352.98" in body
    assert "by 15 February 2026 at the latest" in body
    assert "quoting INV-000001, INV-000002" in body


def test_the_first_letter_in_dutch() -> None:
    letter = first_letter("nl")

    assert letter.subject == "Eerste aanmaning: INV-000001, INV-000002"
    body = letter.body
    assert "Datum: 8 februari 2026" in body
    assert "Ondanks onze herinnering zijn de volgende facturen nog niet betaald." in body
    assert "Wettelijke handelsrente: EUR 2,36 (7 dagen tegen 10,15% per jaar" in body
    assert body.count("Vergoeding voor invorderingskosten: EUR 40,00") == 2
    assert "totaal te betalen: EUR 1.352,98" in body
    assert "uiterlijk 15 februari 2026" in body


def test_the_first_letter_in_german() -> None:
    letter = first_letter("de")

    assert letter.subject == "1. Mahnung: INV-000001, INV-000002"
    body = letter.body
    assert "Datum: 8. Februar 2026" in body
    assert "trotz unserer Zahlungserinnerung sind die folgenden Rechnungen noch offen." in body
    assert "Gesetzliche Verzugszinsen: 2,36 EUR (7 Tage zu 10,15 % p. a." in body
    assert body.count("Verzugspauschale für Beitreibungskosten: 40,00 EUR") == 2
    assert "insgesamt fällig: 1.352,98 EUR" in body
    assert "spätestens bis zum 15. Februar 2026" in body


CHARGES_HEADING = {"en": "Late-payment charges", "fr": "Pénalités de retard",
                   "nl": "Kosten wegens te late betaling", "de": "Verzugskosten"}


@pytest.mark.parametrize("language, subject, request_line", [
    ("en", "Payment reminder: INV-000001", "We kindly ask you to pay by 8 February 2026."),
    ("fr", "Rappel de paiement : INV-000001", "avant le 8 février 2026."),
    ("nl", "Betalingsherinnering: INV-000001", "uiterlijk 8 februari 2026 te betalen."),
    ("de", "Zahlungserinnerung: INV-000001", "bis zum 8. Februar 2026 zu begleichen."),
])
def test_the_reminder_in_each_language_asks_politely_and_charges_nothing(
        language: str, subject: str, request_line: str) -> None:
    [invoice, _] = invoices()

    letter = render_letter(language=language, policy=STANDARD, level=STANDARD.level(1),
                           customer_name="Brasserie du Port", customer_id="C-42",
                           issued_on=date(2026, 2, 1), invoices=[invoice], fees=[],
                           settings=SETTINGS)

    assert letter.subject == subject
    assert request_line in letter.body
    assert CHARGES_HEADING[language] not in letter.body


@pytest.mark.parametrize("language, threat", [
    ("en", "we will hand your account over to\na collection agency on 22 March 2026"),
    ("fr", "votre dossier sera transmis à\nune société de recouvrement le 22 mars 2026"),
    ("nl", "dragen wij uw dossier\nop 22 maart 2026 over aan een incassobureau"),
    ("de", "übergeben wir Ihr Konto\nam 22. März 2026 ohne weitere Ankündigung und auf Ihre Kosten "
           "an ein Inkassounternehmen"),
])
def test_the_final_notice_names_the_hand_over_date_and_the_partner(language: str, threat: str) -> None:
    [invoice, _] = invoices()

    letter = render_letter(language=language, policy=STANDARD, level=STANDARD.level(4),
                           customer_name="Brasserie du Port", customer_id="C-42",
                           issued_on=date(2026, 3, 8), invoices=[invoice], fees=[],
                           settings=SETTINGS)

    assert threat in letter.body


def test_a_language_without_templates_gets_the_english_letter() -> None:
    assert first_letter("es").subject.startswith("Overdue invoices: first notice")


def test_dates_and_amounts_are_written_the_way_each_language_writes_them() -> None:
    assert [format_date(date(2026, 3, 1), language) for language in ("en", "fr", "nl", "de")] == [
        "1 March 2026", "1er mars 2026", "1 maart 2026", "1. März 2026"]
    assert [format_money(D("-1234567.5"), "EUR", language) for language in ("en", "fr", "nl", "de")] == [
        "EUR -1,234,567.50", "-1\u202f234\u202f567,50 EUR", "EUR -1.234.567,50", "-1.234.567,50 EUR"]
    assert format_money(D("1234"), "JPY", "en") == "JPY 1,234"
