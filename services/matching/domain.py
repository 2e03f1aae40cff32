"""Matching's aggregates: what is open on each receivable, and what became of each payment.

The decisions themselves are made by the pure core (engine.py) over an in-memory book
that the application folds from these aggregates' events; the aggregates record the
decisions and guard their invariants (never settle more than is open, never apply more
cash than is unapplied). Stored event names are explicit topics, never module paths.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from libs.runtime.ids import stable_id

from .engine import RULE_REFERENCE

# Kept for readers of the first slice: the rule that reads invoice numbers.
REMITTANCE_INVOICE_NUMBER = RULE_REFERENCE

PAYMENT_APPLICATION, WRITE_OFF, DEDUCTION, CREDIT_USE = (
    "payment-application", "write-off", "deduction", "credit-use")


class Refused(ValueError):
    """A command the state does not allow; the reason is a person's to read."""


class OpenInvoice(Aggregate):
    """A receivable as matching sees it: an invoice (open > 0) or a credit (open < 0)."""

    TOPIC = "matching.OpenInvoice"

    class Created(Aggregate.Created):
        """Base of the creation event; named so no stored name depends on a module path."""

        TOPIC = "matching.OpenInvoice.Created"

    @staticmethod
    def create_id(tenant: str, invoice_number: str) -> UUID:
        return stable_id(tenant, "open-invoice", invoice_number.upper())

    @event("Opened", topic="matching.OpenInvoice.Opened")
    def __init__(self, tenant: str, invoice_number: str, invoice_id: str, customer_id: str,
                 currency: str, total: Decimal, due_date: date, causation: dict[str, Any],
                 kind: str = "invoice", discount_amount: Decimal | None = None,
                 discount_date: date | None = None) -> None:
        self.tenant = tenant
        self.invoice_number = invoice_number
        self.invoice_id = invoice_id
        self.customer_id = customer_id
        self.currency = currency
        self.total = total
        self.due_date = due_date
        self.kind = kind
        self.discount_amount = discount_amount
        self.discount_date = discount_date
        self.open_amount = total
        self.changes: list[str] = []

    def check_can_settle(self, amount: Decimal) -> None:
        if self.kind == "invoice" and amount > self.open_amount:
            raise Refused(f"{self.invoice_number} has {self.open_amount} {self.currency} open; "
                          f"{amount} cannot be applied to it")

    @event("Settled", topic="matching.OpenInvoice.Settled")
    def settle(self, application_id: str, amount: Decimal, causation: dict[str, Any]) -> None:
        """Cash (or, on a credit, its use) settles `amount`; negative on a credit."""
        self.open_amount -= amount

    @event("Reopened", topic="matching.OpenInvoice.Reopened")
    def reopen(self, application_id: str, amount: Decimal, reason: str,
               causation: dict[str, Any]) -> None:
        self.open_amount += amount

    @event("DifferenceWrittenOff", topic="matching.OpenInvoice.DifferenceWrittenOff")
    def write_off(self, write_off_id: str, amount: Decimal, causation: dict[str, Any]) -> None:
        self.open_amount -= amount

    @event("Changed", topic="matching.OpenInvoice.Changed")
    def change(self, change_id: str, amount: Decimal, cause: str,
               causation: dict[str, Any]) -> None:
        """Invoicing changed what is owed: a credit note, an adjustment, a cancellation."""
        self.open_amount += amount
        self.changes.append(change_id)


class CustomerRecord(Aggregate):
    """The customer master as matching needs it: the name payers are compared with."""

    TOPIC = "matching.CustomerRecord"

    class Created(Aggregate.Created):
        TOPIC = "matching.CustomerRecord.Created"

    @staticmethod
    def create_id(tenant: str, customer_id: str) -> UUID:
        return stable_id(tenant, "customer-record", customer_id)

    @event("Registered", topic="matching.CustomerRecord.Registered")
    def __init__(self, tenant: str, customer_id: str, name: str,
                 causation: dict[str, Any]) -> None:
        self.tenant = tenant
        self.customer_id = customer_id
        self.name = name

    @event("Renamed", topic="matching.CustomerRecord.Renamed")
    def rename(self, name: str, causation: dict[str, Any]) -> None:
        self.name = name


class ExchangeRateRecord(Aggregate):
    """The ERP's rate of one day for one currency pair, as matching converts cash with it."""

    TOPIC = "matching.ExchangeRateRecord"

    class Created(Aggregate.Created):
        TOPIC = "matching.ExchangeRateRecord.Created"

    @staticmethod
    def create_id(tenant: str, from_currency: str, to_currency: str, rate_date: date) -> UUID:
        return stable_id(tenant, "exchange-rate", from_currency, to_currency,
                         rate_date.isoformat())

    @event("Published", topic="matching.ExchangeRateRecord.Published")
    def __init__(self, tenant: str, from_currency: str, to_currency: str, rate_date: date,
                 rate: Decimal, causation: dict[str, Any]) -> None:
        self.tenant = tenant
        self.from_currency = from_currency
        self.to_currency = to_currency
        self.rate_date = rate_date
        self.rate = rate

    @event("Corrected", topic="matching.ExchangeRateRecord.Corrected")
    def correct(self, rate: Decimal, causation: dict[str, Any]) -> None:
        self.rate = rate


class ErpPaidCheck(Aggregate):
    """The ERP's word that an invoice is paid, checked against our cash: once the grace
    for the bank statement has passed, an invoice still open is an exception (raised),
    until a payment clears it (resolved). Keyed by invoice number: the ERP may name an
    invoice matching has not seen yet."""

    TOPIC = "matching.ErpPaidCheck"

    class Created(Aggregate.Created):
        TOPIC = "matching.ErpPaidCheck.Created"

    @staticmethod
    def create_id(tenant: str, invoice_number: str) -> UUID:
        return stable_id(tenant, "erp-paid-check", invoice_number.upper())

    @event("Recorded", topic="matching.ErpPaidCheck.Recorded")
    def __init__(self, tenant: str, invoice_number: str, customer_id: str, paid_on: date,
                 reference: str | None, check_on: date, causation: dict[str, Any]) -> None:
        self.tenant = tenant
        self.invoice_number = invoice_number
        self.customer_id = customer_id
        self.paid_on = paid_on
        self.reference = reference
        self.check_on = check_on
        self.raised = False

    # The events repeat what the check knows, so each one publishes on its own.

    @event("Raised", topic="matching.ErpPaidCheck.Raised")
    def raise_uncleared(self, invoice_number: str, customer_id: str, paid_on: date,
                        reference: str | None, invoice_id: str | None,
                        open_amount: Decimal | None, currency: str | None, detected_on: date,
                        reason: str, causation: dict[str, Any]) -> None:
        self.raised = True

    @event("Resolved", topic="matching.ErpPaidCheck.Resolved")
    def resolve(self, invoice_number: str, customer_id: str, paid_on: date,
                invoice_id: str | None, cleared_on: date, reason: str,
                causation: dict[str, Any]) -> None:
        self.raised = False


class CashReceipt(Aggregate):
    """A received payment, every decision about it, and where its cash went."""

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
                 causation: dict[str, Any], payer_name: str | None = None,
                 payer_account: str | None = None, references: list[str] | None = None) -> None:
        self.tenant = tenant
        self.payment_id = payment_id
        self.customer_id = customer_id
        self.amount = amount
        self.currency = currency
        self.value_date = value_date
        self.remittance_text = remittance_text
        self.payer_name = payer_name
        self.payer_account = payer_account
        self.references = list(references or [])
        self.unapplied = amount
        self.account_customer_id: str | None = None  # whose account unapplied cash sits on
        self.reported_unapplied = False
        self.returned = False
        self.effects: dict[str, dict[str, Any]] = {}  # application/write-off/... id -> what
        self.waiting_for: list[str] = []
        self.decisions: list[dict[str, Any]] = []

    # what was decided --------------------------------------------------------------------

    @event("Decided", topic="matching.CashReceipt.Decided")
    def record_decision(self, kind: str, rule: str, score: Decimal, customer_id: str | None,
                        identified_by: str | None, summary: str, evidence: list[str],
                        actor: str | None, reason: str | None, decided_on: date,
                        causation: dict[str, Any]) -> None:
        """kind: automatic, manual, unmatch, rematch, returned."""
        self.decisions.append({
            "kind": kind, "rule": rule, "score": score, "customer_id": customer_id,
            "identified_by": identified_by, "summary": summary, "evidence": list(evidence),
            "actor": actor, "reason": reason, "decided_on": decided_on,
        })

    @event("AppliedToInvoice", topic="matching.CashReceipt.AppliedToInvoice")
    def apply_to(self, application_id: str, payment_id: str, invoice_id: str, invoice_number: str,
                 customer_id: str, amount: Decimal, currency: str, applied_on: date, rule: str,
                 explanation: str, causation: dict[str, Any], score: Decimal | None = None,
                 evidence: list[str] | None = None, actor: str | None = None,
                 reason: str | None = None, unapplied_after: Decimal | None = None,
                 changes_unapplied: bool = False, account_customer_id: str | None = None,
                 paid_amount: Decimal | None = None, paid_currency: str | None = None,
                 exchange_rate: dict[str, Any] | None = None) -> None:
        """`amount` settles the invoice in `currency`, its own; cash in another currency
        also says what it took of the payment (`paid_amount`) and at which rate."""
        self.unapplied -= amount if paid_amount is None else paid_amount
        self.effects[application_id] = {
            "kind": PAYMENT_APPLICATION, "invoice_id": invoice_id,
            "invoice_number": invoice_number, "customer_id": customer_id, "amount": amount,
            "currency": currency, "paid_amount": paid_amount, "paid_currency": paid_currency,
            "exchange_rate": exchange_rate,
            "rule": rule, "score": score, "explanation": explanation, "actor": actor,
            "reason": reason, "on": applied_on, "active": True,
        }
        if changes_unapplied and not self.reported_unapplied:
            self.account_customer_id = account_customer_id

    @event("UsedCredit", topic="matching.CashReceipt.UsedCredit")
    def use_credit(self, payment_id: str, credit_use_id: str, credit_invoice_id: str, credit_number: str,
                   invoice_id: str, invoice_number: str, customer_id: str, amount: Decimal,
                   currency: str, used_on: date, rule: str, causation: dict[str, Any]) -> None:
        self.effects[credit_use_id] = {
            "kind": CREDIT_USE, "invoice_id": invoice_id, "invoice_number": invoice_number,
            "credit_invoice_id": credit_invoice_id, "credit_number": credit_number,
            "customer_id": customer_id, "amount": amount, "rule": rule, "on": used_on,
            "active": True,
        }

    @event("WroteOffDifference", topic="matching.CashReceipt.WroteOffDifference")
    def write_off_difference(self, payment_id: str, write_off_id: str, invoice_id: str,
                             invoice_number: str,
                             customer_id: str, amount: Decimal, currency: str,
                             written_off_on: date, reason_code: str, reason: str,
                             explanation: str, causation: dict[str, Any]) -> None:
        self.effects[write_off_id] = {
            "kind": WRITE_OFF, "invoice_id": invoice_id, "invoice_number": invoice_number,
            "customer_id": customer_id, "amount": amount, "reason_code": reason_code,
            "reason": reason, "on": written_off_on, "active": True,
        }

    @event("RaisedDeduction", topic="matching.CashReceipt.RaisedDeduction")
    def raise_deduction(self, payment_id: str, deduction_id: str, invoice_id: str,
                        invoice_number: str,
                        customer_id: str, amount: Decimal, currency: str, raised_on: date,
                        reason_code: str, reason: str, explanation: str,
                        causation: dict[str, Any]) -> None:
        self.effects[deduction_id] = {
            "kind": DEDUCTION, "invoice_id": invoice_id, "invoice_number": invoice_number,
            "customer_id": customer_id, "amount": amount, "reason_code": reason_code,
            "reason": reason, "on": raised_on, "active": True,
        }

    @event("LeftUnapplied", topic="matching.CashReceipt.LeftUnapplied")
    def leave_unapplied(self, payment_id: str, customer_id: str | None, amount: Decimal,
                        currency: str, value_date: date, reason: str,
                        causation: dict[str, Any], waiting_for: list[str] | None = None) -> None:
        """The amount stays on the account as unapplied cash, for a person to place (or
        for the invoice it names, when that arrives)."""
        self.reported_unapplied = True
        self.account_customer_id = customer_id
        self.waiting_for = list(waiting_for or [])

    @event("Reversed", topic="matching.CashReceipt.Reversed")
    def reverse(self, payment_id: str, effect_id: str, kind: str, invoice_id: str,
                invoice_number: str,
                customer_id: str, amount: Decimal, currency: str, reversed_on: date,
                reason: str, actor: str | None, causation: dict[str, Any],
                unapplied_after: Decimal | None = None, changes_unapplied: bool = False,
                account_customer_id: str | None = None,
                credit_invoice_id: str | None = None,
                paid_amount: Decimal | None = None, paid_currency: str | None = None) -> None:
        self.effects[effect_id]["active"] = False
        if kind == PAYMENT_APPLICATION:
            self.unapplied += amount if paid_amount is None else paid_amount
        if changes_unapplied and not self.reported_unapplied:
            self.account_customer_id = account_customer_id

    @event("Returned", topic="matching.CashReceipt.Returned")
    def mark_returned(self, payment_id: str, return_id: str, amount: Decimal, currency: str,
                      returned_on: date, reason: str, causation: dict[str, Any],
                      unapplied_after: Decimal | None = None,
                      account_customer_id: str | None = None) -> None:
        """The bank took the money back: it no longer settles anything, nor sits on the
        account as unapplied cash."""
        self.returned = True
        self.unapplied = max(Decimal(0), self.unapplied - amount)

    # reading -----------------------------------------------------------------------------

    def active_effects(self, kind: str | None = None) -> dict[str, dict[str, Any]]:
        return {effect_id: effect for effect_id, effect in self.effects.items()
                if effect["active"] and (kind is None or effect["kind"] == kind)}

    def check_can_apply(self, amount: Decimal) -> None:
        if self.returned:
            raise Refused(f"payment {self.payment_id} was returned; it settles nothing")
        if amount <= 0:
            raise Refused(f"an applied amount must be positive, got {amount}")
        if amount > self.unapplied:
            raise Refused(f"payment {self.payment_id} has {self.unapplied} {self.currency} "
                          f"unapplied; {amount} cannot be applied")
