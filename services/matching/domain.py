"""Matching's aggregates and rules: which open invoice a payment settles.

The rule in this first slice: the remittance text names an open invoice by its
number. Anything else stays unapplied for a person; a wrong match is worse than none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from libs.runtime.ids import stable_id

REMITTANCE_INVOICE_NUMBER = "remittance-invoice-number"


class OpenInvoice(Aggregate):
    """An invoice as matching sees it: what is still open on it."""

    TOPIC = "matching.OpenInvoice"

    class Created(Aggregate.Created):
        """Base of the creation event; named so no stored name depends on a module path."""

        TOPIC = "matching.OpenInvoice.Created"

    @staticmethod
    def create_id(tenant: str, invoice_number: str) -> UUID:
        return stable_id(tenant, "open-invoice", invoice_number.upper())

    @event("Opened", topic="matching.OpenInvoice.Opened")
    def __init__(self, tenant: str, invoice_number: str, invoice_id: str, customer_id: str,
                 currency: str, total: Decimal, due_date: date,
                 causation: dict[str, Any]) -> None:
        self.tenant = tenant
        self.invoice_number = invoice_number
        self.invoice_id = invoice_id
        self.customer_id = customer_id
        self.currency = currency
        self.total = total
        self.due_date = due_date
        self.open_amount = total

    @event("Settled", topic="matching.OpenInvoice.Settled")
    def settle(self, application_id: str, amount: Decimal, causation: dict[str, Any]) -> None:
        self.open_amount -= amount


class CashReceipt(Aggregate):
    """A received payment and how it was applied."""

    TOPIC = "matching.CashReceipt"

    class Created(Aggregate.Created):
        """Base of the creation event; named so no stored name depends on a module path."""

        TOPIC = "matching.CashReceipt.Created"

    @staticmethod
    def create_id(tenant: str, payment_id: str) -> UUID:
        return stable_id(tenant, "cash-receipt", payment_id)

    @event("Received", topic="matching.CashReceipt.Received")
    def __init__(self, tenant: str, payment_id: str, customer_id: str | None, amount: Decimal,
                 currency: str, value_date: date, remittance_text: str | None,
                 causation: dict[str, Any]) -> None:
        self.tenant = tenant
        self.payment_id = payment_id
        self.customer_id = customer_id
        self.amount = amount
        self.currency = currency
        self.value_date = value_date
        self.remittance_text = remittance_text
        self.unapplied = amount

    @event("AppliedToInvoice", topic="matching.CashReceipt.AppliedToInvoice")
    def apply_to(self, application_id: str, payment_id: str, invoice_id: str, invoice_number: str,
                 customer_id: str, amount: Decimal, currency: str, applied_on: date, rule: str,
                 explanation: str, causation: dict[str, Any]) -> None:
        self.unapplied -= amount

    @event("LeftUnapplied", topic="matching.CashReceipt.LeftUnapplied")
    def leave_unapplied(self, payment_id: str, customer_id: str | None, amount: Decimal, currency: str,
                        value_date: date, reason: str, causation: dict[str, Any]) -> None:
        """The amount stays on the account as unapplied cash, for a person to place."""


_CANDIDATE = re.compile(r"[A-Za-z]{0,5}-?\d{3,}")


def invoice_number_candidates(remittance_text: str | None) -> list[str]:
    """Tokens of the remittance text that look like document numbers, in order, once each."""
    seen: list[str] = []
    for token in _CANDIDATE.findall(remittance_text or ""):
        candidate = token.upper()
        if candidate not in seen:
            seen.append(candidate)
    return seen


@dataclass(frozen=True)
class Application:
    invoice: OpenInvoice
    amount: Decimal


def allocate(amount: Decimal, currency: str, named_invoices: list[OpenInvoice]) -> list[Application]:
    """Apply the amount to the named invoices in the order the payer named them."""
    remaining = amount
    applications = []
    for invoice in named_invoices:
        if remaining <= 0:
            break
        if invoice.currency != currency or invoice.open_amount <= 0:
            continue
        applied = min(remaining, invoice.open_amount)
        applications.append(Application(invoice, applied))
        remaining -= applied
    return applications
