"""Receivable documents: invoices, credit notes, debit notes, and the rules for changing
an invoice after issue.

What an invoice still owes is its total, plus adjustments, less credit notes,
payments applied by matching, a write-off or a cancellation. Each command checks
its rule against that state before anything is recorded; a refused command
changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from libs.events.money import MINOR_UNITS
from libs.runtime.ids import stable_id


class DocumentRefused(ValueError):
    """A command the document's state does not allow; the message says why and what to do."""


class Invoice(Aggregate):
    """A receivable document: what the customer owes, by when, and what became of it."""

    id: UUID  # given at issue: derived from the business key (create_id)

    TOPIC = "invoicing.Invoice"

    class Created(Aggregate.Created):
        """Base of the creation event; named so no stored name depends on a module path."""

        TOPIC = "invoicing.Invoice.Created"

    @staticmethod
    def create_id(tenant: str, order_id: str, shipment_id: str) -> UUID:
        return stable_id(tenant, "invoice-for-shipment", order_id, shipment_id)

    @staticmethod
    def create_id_for_erp(tenant: str, invoice_number: str) -> UUID:
        return stable_id(tenant, "erp-invoice", invoice_number)

    @event("Issued", topic="invoicing.Invoice.Issued")
    def __init__(self, tenant: str, order_id: str | None, shipment_id: str | None,
                 invoice_number: str, customer_id: str, issue_date: date, due_date: date,
                 payment_terms_days: int | None, currency: str, lines: list[dict[str, Any]],
                 net_amount: Decimal, tax_amount: Decimal, total: Decimal,
                 causation: dict[str, Any], issued_by: str = "platform",
                 payment_terms: str | None = None, po_number: str | None = None,
                 customer_language: str | None = None, discount_date: date | None = None,
                 discount_amount: Decimal | None = None, functional_currency: str | None = None,
                 functional_amount: Decimal | None = None,
                 exchange_rate: dict[str, Any] | None = None,
                 source_fingerprint: str | None = None) -> None:
        self.tenant = tenant
        self.order_id = order_id
        self.shipment_id = shipment_id
        self.invoice_number = invoice_number
        self.customer_id = customer_id
        self.issue_date = issue_date
        self.due_date = due_date
        self.payment_terms_days = payment_terms_days
        self.payment_terms = payment_terms
        self.currency = currency
        self.lines = lines
        self.net_amount = net_amount
        self.tax_amount = tax_amount
        self.total = total
        self.issued_by = issued_by
        self.po_number = po_number
        self.customer_language = customer_language
        self.discount_date = discount_date
        self.discount_amount = discount_amount
        self.functional_currency = functional_currency
        self.functional_amount = functional_amount
        self.exchange_rate = exchange_rate
        self.source_fingerprint = source_fingerprint
        self.adjusted_net = self.adjusted_tax = Decimal(0)
        self.adjustment_ids: list[str] = []
        self.credited_net = self.credited_tax = Decimal(0)
        self.credited_lines: dict[int, dict[str, Decimal]] = {}
        self.credit_notes: list[dict[str, Any]] = []
        self.payments: dict[str, Decimal] = {}
        self.settled_by_matching: dict[str, Decimal] = {}
        self.written_off = Decimal(0)
        self.cancelled_on: date | None = None
        self.voided = Decimal(0)

    # --- what is owed ---------------------------------------------------------------

    @property
    def current_total(self) -> Decimal:
        return self.total + self.adjusted_net + self.adjusted_tax

    @property
    def credited(self) -> Decimal:
        return self.credited_net + self.credited_tax

    @property
    def paid(self) -> Decimal:
        return sum(self.payments.values(), Decimal(0))

    @property
    def settled_without_cash(self) -> Decimal:
        """What matching settled otherwise: small differences written off, credits used."""
        return sum(self.settled_by_matching.values(), Decimal(0))

    @property
    def open_amount(self) -> Decimal:
        return (self.current_total - self.credited - self.paid - self.settled_without_cash
                - self.written_off - self.voided)

    @property
    def creditable_net(self) -> Decimal:
        return self.net_amount + self.adjusted_net - self.credited_net

    @property
    def creditable_tax(self) -> Decimal:
        return self.tax_amount + self.adjusted_tax - self.credited_tax

    @property
    def status(self) -> str:
        if self.cancelled_on is not None:
            return "cancelled"
        if self.written_off:
            return "written_off"
        if self.creditable_net + self.creditable_tax == 0:
            return "credited"
        if self.open_amount <= 0:
            return "paid"
        return "partially_paid" if self.paid else "open"

    def _refuse_unless_live(self, what: str) -> None:
        if self.cancelled_on is not None:
            raise DocumentRefused(f"invoice {self.invoice_number} was cancelled on "
                                  f"{self.cancelled_on}: it cannot be {what}")
        if self.written_off:
            raise DocumentRefused(f"invoice {self.invoice_number} was written off: it cannot "
                                  f"be {what}")

    # --- payments, as matching applied them -------------------------------------------

    def knows_settlement(self, settlement_id: str) -> bool:
        return settlement_id in self.payments or settlement_id in self.settled_by_matching

    @event("PaymentApplied", topic="invoicing.Invoice.PaymentApplied")
    def record_payment(self, application_id: str, amount: Decimal, applied_on: date,
                       causation: dict[str, Any]) -> None:
        self.payments[application_id] = amount

    @event("SettledByMatching", topic="invoicing.Invoice.SettledByMatching")
    def record_settlement(self, settlement_id: str, kind: str, amount: Decimal,
                          settled_on: date, causation: dict[str, Any]) -> None:
        """`kind`: "write-off" (a difference within tolerance) or "credit-use"."""
        self.settled_by_matching[settlement_id] = amount

    @event("SettlementReversed", topic="invoicing.Invoice.SettlementReversed")
    def reverse_settlement(self, settlement_id: str, reversed_on: date,
                           causation: dict[str, Any]) -> None:
        self.payments.pop(settlement_id, None)
        self.settled_by_matching.pop(settlement_id, None)

    # --- adjustments -------------------------------------------------------------------

    def adjust(self, adjustment_id: str, net_amount: Decimal, tax_amount: Decimal,
               adjusted_on: date, reason: str, actor: str, causation: dict[str, Any]) -> None:
        self._refuse_unless_live("adjusted")
        change = net_amount + tax_amount
        if change == 0:
            raise DocumentRefused("an adjustment must change the invoice's total")
        if self.open_amount + change < 0 or self.creditable_net + net_amount < 0 \
                or self.creditable_tax + tax_amount < 0:
            raise DocumentRefused(
                f"lowering invoice {self.invoice_number} by {-change} {self.currency} would "
                f"take it below what is already credited or paid (open: {self.open_amount} "
                f"{self.currency}); issue a credit note for what the customer gets back")
        self._adjust(adjustment_id=adjustment_id, net_amount=net_amount,
                     tax_amount=tax_amount, new_total=self.current_total + change,
                     adjusted_on=adjusted_on, reason=reason, actor=actor,
                     causation=causation, **self._header())

    # The change events repeat the invoice's header: they are published one by one,
    # and a reader of one must know which invoice, whose, and in what currency.
    def _header(self) -> dict[str, Any]:
        return {"invoice_number": self.invoice_number, "customer_id": self.customer_id,
                "currency": self.currency}

    @event("Adjusted", topic="invoicing.Invoice.Adjusted")
    def _adjust(self, adjustment_id: str, invoice_number: str, customer_id: str, currency: str,
                net_amount: Decimal, tax_amount: Decimal, new_total: Decimal,
                adjusted_on: date, reason: str, actor: str, causation: dict[str, Any]) -> None:
        self.adjusted_net += net_amount
        self.adjusted_tax += tax_amount
        self.adjustment_ids.append(adjustment_id)

    # --- credit notes ------------------------------------------------------------------

    def check_credit(self, net_amount: Decimal, tax_amount: Decimal) -> None:
        self._refuse_unless_live("credited")
        if net_amount + tax_amount <= 0:
            raise DocumentRefused("a credit note must credit a positive amount")
        if net_amount > self.creditable_net or tax_amount > self.creditable_tax:
            raise DocumentRefused(
                f"a credit of {net_amount} net + {tax_amount} tax exceeds what invoice "
                f"{self.invoice_number} has left to credit: {self.creditable_net} net + "
                f"{self.creditable_tax} tax {self.currency}")

    @event("Credited", topic="invoicing.Invoice.Credited")
    def credit(self, credit_note_id: str, credit_note_number: str, issue_date: date,
               net_amount: Decimal, tax_amount: Decimal, lines: list[dict[str, Any]],
               causation: dict[str, Any]) -> None:
        self.credited_net += net_amount
        self.credited_tax += tax_amount
        for line in lines:
            so_far = self.credited_lines.setdefault(
                int(line["line_no"]), {"quantity": Decimal(0), "net_amount": Decimal(0),
                                       "tax_amount": Decimal(0)})
            for name in so_far:
                so_far[name] += Decimal(line[name])
        self.credit_notes.append({"credit_note_number": credit_note_number,
                                  "issue_date": issue_date,
                                  "total": net_amount + tax_amount})

    # --- cancellation and write-off ----------------------------------------------------

    def cancel(self, cancelled_on: date, reason: str, actor: str,
               causation: dict[str, Any]) -> None:
        self._refuse_unless_live("cancelled again")
        if self.payments:
            raise DocumentRefused(
                f"invoice {self.invoice_number} has {self.paid} {self.currency} of payments "
                f"applied: only an unpaid invoice can be cancelled; credit it instead")
        if self.open_amount <= 0:
            raise DocumentRefused(f"invoice {self.invoice_number} owes nothing any more: "
                                  "there is nothing to cancel")
        self._cancel(cancelled_on=cancelled_on, amount=self.open_amount, reason=reason,
                     actor=actor, causation=causation, **self._header())

    @event("Cancelled", topic="invoicing.Invoice.Cancelled")
    def _cancel(self, invoice_number: str, customer_id: str, currency: str,
                cancelled_on: date, amount: Decimal, reason: str, actor: str,
                causation: dict[str, Any]) -> None:
        self.cancelled_on = cancelled_on
        self.voided = amount

    def write_off(self, write_off_id: str, written_off_on: date, expected_amount: Decimal | None,
                  reason: str, actor: str, causation: dict[str, Any]) -> None:
        self._refuse_unless_live("written off")
        remainder = self.open_amount
        if remainder <= 0:
            raise DocumentRefused(f"invoice {self.invoice_number} has nothing open to write "
                                  "off")
        if expected_amount is not None and expected_amount != remainder:
            raise DocumentRefused(
                f"invoice {self.invoice_number} has {remainder} {self.currency} open, not "
                f"{expected_amount}: look again before writing it off")
        self._write_off(write_off_id=write_off_id, written_off_on=written_off_on,
                        amount=remainder, reason=reason, actor=actor, causation=causation,
                        **self._header())

    @event("WrittenOff", topic="invoicing.Invoice.WrittenOff")
    def _write_off(self, write_off_id: str, invoice_number: str, customer_id: str,
                   currency: str, written_off_on: date, amount: Decimal, reason: str,
                   actor: str, causation: dict[str, Any]) -> None:
        self.written_off = amount


class CreditNote(Aggregate):
    """The customer owes less: against one invoice, or on the account."""

    id: UUID  # given at issue: derived from the business key (create_id)

    TOPIC = "invoicing.CreditNote"

    class Created(Aggregate.Created):
        TOPIC = "invoicing.CreditNote.Created"

    @staticmethod
    def create_id(tenant: str, request: str) -> UUID:
        return stable_id(tenant, "credit-note", request)

    @event("Issued", topic="invoicing.CreditNote.Issued")
    def __init__(self, tenant: str, credit_note_number: str, customer_id: str, scope: str,
                 invoice_id: str | None, invoice_number: str | None, issue_date: date,
                 currency: str, net_amount: Decimal, tax_amount: Decimal,
                 lines: list[dict[str, Any]], reason: str, actor: str,
                 causation: dict[str, Any]) -> None:
        self.tenant = tenant
        self.credit_note_number = credit_note_number
        self.customer_id = customer_id
        self.scope = scope
        self.invoice_id = invoice_id
        self.invoice_number = invoice_number
        self.issue_date = issue_date
        self.currency = currency
        self.net_amount = net_amount
        self.tax_amount = tax_amount
        self.total = net_amount + tax_amount
        self.lines = lines
        self.reason = reason
        self.actor = actor


class DebitNote(Aggregate):
    """A fee dunning assessed, billed: a receivable of its own. One per fee."""

    id: UUID  # given at issue: derived from the business key (create_id)

    TOPIC = "invoicing.DebitNote"

    class Created(Aggregate.Created):
        TOPIC = "invoicing.DebitNote.Created"

    @staticmethod
    def create_id(tenant: str, fee_id: str) -> UUID:
        return stable_id(tenant, "debit-note-for-fee", fee_id)

    @event("Issued", topic="invoicing.DebitNote.Issued")
    def __init__(self, tenant: str, debit_note_number: str, customer_id: str, fee_id: str,
                 kind: str, invoice_id: str | None, invoice_number: str | None,
                 issue_date: date, due_date: date, currency: str, total: Decimal, reason: str,
                 actor: str, causation: dict[str, Any]) -> None:
        self.tenant = tenant
        self.debit_note_number = debit_note_number
        self.customer_id = customer_id
        self.fee_id = fee_id
        self.kind = kind
        self.invoice_id = invoice_id
        self.invoice_number = invoice_number
        self.issue_date = issue_date
        self.due_date = due_date
        self.currency = currency
        self.total = total
        self.reason = reason
        self.actor = actor


# --- what a partial credit of lines is worth ------------------------------------------


@dataclass(frozen=True)
class LineCredit:
    line_no: int
    quantity: Decimal


def credit_of_lines(invoice: Invoice, requested: list[LineCredit]) -> list[dict[str, Any]]:
    """The credited lines, each with its net and tax.

    A line's tax on the invoice is its allocated share of the rate's tax (totals.py),
    so crediting every line in full credits exactly the invoice's tax. Part of a line
    is worth its share of the line's net (rounded half-up, as nets are) and the same
    share of the line's tax; the last part of a line gets what remains of it, so parts
    always add up to the whole.
    """
    by_number = {int(line["line_no"]): line for line in invoice.lines}
    quantum = Decimal(1).scaleb(-MINOR_UNITS[invoice.currency])
    credited, seen = [], set()
    for request in requested:
        line = by_number.get(request.line_no)
        if line is None:
            raise DocumentRefused(f"invoice {invoice.invoice_number} has no line "
                                  f"{request.line_no}")
        if request.line_no in seen:
            raise DocumentRefused(f"line {request.line_no} is named twice; name each line once")
        seen.add(request.line_no)
        so_far = invoice.credited_lines.get(request.line_no, {})
        quantity, net, tax = (Decimal(line[name]) for name in ("quantity", "net_amount",
                                                                "tax_amount"))
        left = quantity - so_far.get("quantity", Decimal(0))
        if request.quantity <= 0 or request.quantity > left:
            raise DocumentRefused(
                f"line {request.line_no} of invoice {invoice.invoice_number} has {left} left "
                f"to credit (of {quantity}); cannot credit {request.quantity}")
        net_left = net - so_far.get("net_amount", Decimal(0))
        tax_left = tax - so_far.get("tax_amount", Decimal(0))
        if request.quantity == left:
            part_net, part_tax = net_left, tax_left
        else:
            share = request.quantity / quantity
            part_net = min(net_left, (net * share).quantize(quantum, rounding=ROUND_HALF_UP))
            part_tax = min(tax_left, (tax * share).quantize(quantum, rounding=ROUND_HALF_UP))
        credited.append({**line, "quantity": request.quantity, "net_amount": part_net,
                         "tax_amount": part_tax})
    return credited


def remaining_lines(invoice: Invoice) -> list[LineCredit]:
    """Every line's quantity not yet credited: what a full credit note credits."""
    remaining = []
    for line in invoice.lines:
        so_far = invoice.credited_lines.get(int(line["line_no"]), {})
        left = Decimal(line["quantity"]) - so_far.get("quantity", Decimal(0))
        if left > 0:
            remaining.append(LineCredit(int(line["line_no"]), left))
    return remaining
