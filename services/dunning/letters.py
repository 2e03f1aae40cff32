"""Letters and emails from templates, in the customer's language (en, fr, nl, de).

One letter per customer and level lists every invoice that reaches that level on the
day, the fees it charges and how to pay. Templates live in `templates/<language>/`:
`reminder`, `letter` and `final_notice`, each extending the language's `base` layout,
with a `subject` and a `body` block. The rendered subject and body are stored as they
are, so the archive shows exactly what the customer received.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from libs.events.money import MINOR_UNITS

from .domain import (
    LANGUAGES,
    DunningLevel,
    DunningPolicy,
    Fee,
    FeeRule,
    InvoiceState,
    TenantSettings,
)

TEMPLATES = Path(__file__).parent / "templates"

_environment = Environment(
    loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, autoescape=False,
    trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)

MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"],
    "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre"],
    "nl": ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
           "september", "oktober", "november", "december"],
    "de": ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
           "September", "Oktober", "November", "Dezember"],
}

TITLES = {
    "en": {"reminder": "Payment reminder", "first_letter": "Overdue invoices: first notice",
           "second_letter": "Overdue invoices: second notice",
           "final_notice": "Final notice before collection"},
    "fr": {"reminder": "Rappel de paiement", "first_letter": "Première relance",
           "second_letter": "Deuxième relance",
           "final_notice": "Mise en demeure avant recouvrement"},
    "nl": {"reminder": "Betalingsherinnering", "first_letter": "Eerste aanmaning",
           "second_letter": "Tweede aanmaning",
           "final_notice": "Ingebrekestelling: laatste aanmaning"},
    "de": {"reminder": "Zahlungserinnerung", "first_letter": "1. Mahnung",
           "second_letter": "2. Mahnung", "final_notice": "Letzte Mahnung vor Inkasso"},
}

FEE_LABELS = {
    "en": {FeeRule.STATUTORY_INTEREST: "Statutory interest for late payment",
           FeeRule.RECOVERY_INDEMNITY: "Fixed compensation for recovery costs",
           FeeRule.DUNNING_FEE: "Dunning fee"},
    "fr": {FeeRule.STATUTORY_INTEREST: "Intérêts de retard",
           FeeRule.RECOVERY_INDEMNITY: "Indemnité forfaitaire pour frais de recouvrement",
           FeeRule.DUNNING_FEE: "Frais de relance"},
    "nl": {FeeRule.STATUTORY_INTEREST: "Wettelijke handelsrente",
           FeeRule.RECOVERY_INDEMNITY: "Vergoeding voor invorderingskosten",
           FeeRule.DUNNING_FEE: "Aanmaningskosten"},
    "de": {FeeRule.STATUTORY_INTEREST: "Gesetzliche Verzugszinsen",
           FeeRule.RECOVERY_INDEMNITY: "Verzugspauschale für Beitreibungskosten",
           FeeRule.DUNNING_FEE: "Mahngebühr"},
}

PARTNERS = {
    "en": {"collection_agency": "a collection agency", "factoring_company": "a factoring company"},
    "fr": {"collection_agency": "une société de recouvrement",
           "factoring_company": "une société d'affacturage"},
    "nl": {"collection_agency": "een incassobureau",
           "factoring_company": "een factoringmaatschappij"},
    "de": {"collection_agency": "ein Inkassounternehmen",
           "factoring_company": "ein Factoring-Unternehmen"},
}

# (thousands separator, decimal mark, currency before the amount)
_NUMBER_STYLE = {"en": (",", ".", True), "fr": ("\u202f", ",", False), "nl": (".", ",", True),
                 "de": (".", ",", False)}


def format_date(day: date, language: str) -> str:
    month = MONTHS[language][day.month - 1]
    if language == "de":
        return f"{day.day}. {month} {day.year}"
    if language == "fr" and day.day == 1:
        return f"1er {month} {day.year}"
    return f"{day.day} {month} {day.year}"


def format_money(amount: Decimal, currency: str, language: str) -> str:
    thousands, decimal_mark, currency_first = _NUMBER_STYLE[language]
    digits = f"{abs(amount):,.{MINOR_UNITS[currency]}f}"
    digits = digits.replace(",", "\x00").replace(".", decimal_mark).replace("\x00", thousands)
    sign = "-" if amount < 0 else ""
    return f"{currency} {sign}{digits}" if currency_first else f"{sign}{digits} {currency}"


def format_rate(rate: Decimal, language: str) -> str:
    text = f"{rate.normalize():f}" if rate == rate.to_integral() else f"{rate:f}".rstrip("0")
    return text.replace(".", _NUMBER_STYLE[language][1]) + (" %" if language in ("fr", "de") else "%")


@dataclass(frozen=True)
class RenderedLetter:
    language: str
    subject: str
    body: str


def render_letter(*, language: str, policy: DunningPolicy, level: DunningLevel,
                  customer_name: str, customer_id: str, issued_on: date,
                  invoices: Sequence[InvoiceState], fees: Sequence[Fee],
                  settings: TenantSettings) -> RenderedLetter:
    language = language if language in LANGUAGES else "en"
    money = lambda amount, currency: format_money(amount, currency, language)  # noqa: E731
    when = lambda day: format_date(day, language)  # noqa: E731
    fees_by_invoice: dict[str, Decimal] = {}
    for fee in fees:
        fees_by_invoice[fee.invoice_id] = fees_by_invoice.get(fee.invoice_id, Decimal(0)) + fee.amount
    totals: dict[str, dict[str, Decimal]] = {}
    for invoice in invoices:
        total = totals.setdefault(invoice.currency, {"open": Decimal(0), "fees": Decimal(0)})
        total["open"] += invoice.dunnable_amount
        total["fees"] += fees_by_invoice.get(invoice.invoice_id, Decimal(0))
    following = policy.after(level.number)
    context: dict[str, Any] = {
        "title": TITLES[language].get(level.name, TITLES[language]["first_letter"]),
        "level": level.number,
        "company": {"name": settings.company_name, "beneficiary": settings.beneficiary,
                    "iban": settings.iban, "bic": settings.bic},
        "customer": {"name": customer_name, "id": customer_id},
        "issued_on": when(issued_on),
        "pay_by": when(issued_on + timedelta(days=level.pay_within_days)),
        "escalate_on": when(issued_on + timedelta(days=following.delay_days))
        if following is not None else None,
        "partner": PARTNERS[language].get(settings.escalation_partner_kind,
                                          settings.escalation_partner_kind),
        "references": ", ".join(invoice.invoice_number for invoice in invoices),
        "invoices": [{
            "number": invoice.invoice_number,
            "issue_date": when(invoice.issue_date),
            "due_date": when(invoice.due_date),
            "days_overdue": max(0, (issued_on - invoice.due_date).days),
            "open_amount": money(invoice.dunnable_amount, invoice.currency),
        } for invoice in invoices],
        "fees": [{
            "invoice_number": fee.invoice_number,
            "label": FEE_LABELS[language][fee.kind],
            "amount": money(fee.amount, fee.currency),
            "is_interest": fee.kind == FeeRule.STATUTORY_INTEREST,
            "interest_from": when(fee.interest_from) if fee.interest_from else None,
            "interest_to": when(fee.interest_to) if fee.interest_to else None,
            "days": (fee.interest_to - fee.interest_from).days + 1
            if fee.interest_from and fee.interest_to else None,
            "rate": format_rate(fee.annual_rate, language) if fee.annual_rate is not None else None,
        } for fee in fees],
        "totals": [{"open": money(values["open"], currency),
                    "fees": money(values["fees"], currency) if values["fees"] else None,
                    "due": money(values["open"] + values["fees"], currency)}
                   for currency, values in sorted(totals.items())],
    }
    template = _environment.get_template(f"{language}/{level.template}.txt.j2")
    template_context = template.new_context(context)
    subject = "".join(template.blocks["subject"](template_context)).strip()
    body = template.render(context)
    return RenderedLetter(language, " ".join(subject.split()), body)
