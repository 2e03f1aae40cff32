"""Changing what a customer owes after issue: credit notes, adjustments, cancellations
and write-offs asked for by people; debit notes for the fees dunning assesses; and the
payments matching applied, which decide what may still be cancelled or written off.

A command names who asks (`Causation.actor`) and why (`reason`). It stores all of its
effects in one transaction or, refused, none of them.
"""

from __future__ import annotations

import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from eventsourcing.persistence import Tracking
from pydantic import BaseModel, ConfigDict, Field, model_validator

from libs.events import FeeAssessed, PaymentApplied
from libs.events.matching import ApplicationReversed, CreditApplied, DifferenceWrittenOff
from libs.events.money import MINOR_UNITS, Amount, Currency
from libs.runtime.causation import Causation
from libs.runtime.ids import stable_id

from .documents import (
    CreditNote,
    DebitNote,
    DocumentRefused,
    Invoice,
    LineCredit,
    credit_of_lines,
    remaining_lines,
)
from .issuing import CREDIT_NOTE_SERIES, DEBIT_NOTE_SERIES, InvoicingLedger

Reason = Field(min_length=1, max_length=500, description="why, for the customer and the auditor")
Reference = Field(default=None, min_length=1, max_length=140,
                  description="your idempotency key: the same reference is applied once")


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CreditLineRequest(_Command):
    line_no: int = Field(ge=1)
    quantity: Amount = Field(gt=0)


class IssueCreditNote(_Command):
    """Credit an invoice: in full (no lines, no amount), some of its lines, or an allowance
    (a net amount at a tax rate)."""

    reason: str = Reason
    lines: tuple[CreditLineRequest, ...] = ()
    net_amount: Amount | None = Field(default=None, gt=0)
    tax_rate: Amount | None = Field(default=None, ge=0, le=1, description="0.21 for 21%")
    reference: str | None = Reference

    @model_validator(mode="after")
    def _one_kind_of_credit(self) -> IssueCreditNote:
        if self.lines and self.net_amount is not None:
            raise ValueError("credit either lines or an amount, not both")
        if (self.net_amount is None) != (self.tax_rate is None):
            raise ValueError("an amount credited needs its tax_rate (0 when untaxed)")
        return self


class CreditAccount(_Command):
    """A credit on the customer's account, against no invoice."""

    currency: Currency
    net_amount: Amount = Field(gt=0)
    tax_rate: Amount = Field(default=Decimal(0), ge=0, le=1)
    reason: str = Reason
    reference: str | None = Reference


class AdjustInvoice(_Command):
    """Correct an invoice's amount: signed changes of its net and its tax."""

    net_amount: Amount
    tax_amount: Amount = Decimal(0)
    reason: str = Reason
    reference: str | None = Reference


class CancelInvoice(_Command):
    reason: str = Reason


class WriteOffInvoice(_Command):
    reason: str = Reason
    amount: Amount | None = Field(default=None, gt=0,
                                  description="the remainder you expect to write off")


class InvoiceNotFound(LookupError):
    pass


class ConflictingRequest(ValueError):
    """A reference used before for a different request."""


class DocumentCorrections(InvoicingLedger):

    # --- credit notes ------------------------------------------------------------------

    def issue_credit_note(self, invoice_number: str, command: IssueCreditNote,
                          causation: Causation) -> tuple[CreditNote, bool]:
        """The credit note, and whether it is new (False: the reference was used before)."""
        def attempt() -> tuple[CreditNote, bool]:
            invoice = self._invoice(causation.tenant, invoice_number)
            note_id = self._request_id(causation, "credit-note", command.reference)
            earlier = self._earlier(note_id, invoice_id=str(invoice.id))
            if earlier is not None:
                return earlier, False
            net, tax, lines, scope = self._credit_of(invoice, command)
            invoice.check_credit(net, tax)
            today, cause = self.clock.today(), causation.as_dict()
            series = self._series(causation.tenant, CREDIT_NOTE_SERIES, cause)
            number = series.allocate(cause)
            note = CreditNote(
                id=note_id, tenant=causation.tenant, credit_note_number=number,
                customer_id=invoice.customer_id, scope=scope, invoice_id=str(invoice.id),
                invoice_number=invoice.invoice_number, issue_date=today,
                currency=invoice.currency, net_amount=net, tax_amount=tax, lines=lines,
                reason=command.reason, actor=_actor(causation), causation=cause)
            invoice.credit(credit_note_id=str(note_id), credit_note_number=number,
                           issue_date=today, net_amount=net, tax_amount=tax, lines=lines,
                           causation=cause)
            self.record(None, series, note, invoice,
                        self._claim(causation.tenant, number, "credit note", note_id, cause))
            return note, True
        return self._with_retries(attempt)

    def credit_account(self, customer_id: str, command: CreditAccount,
                       causation: Causation) -> tuple[CreditNote, bool]:
        def attempt() -> tuple[CreditNote, bool]:
            note_id = self._request_id(causation, "credit-note", command.reference)
            earlier = self._earlier(note_id, invoice_id=None)
            if earlier is not None:
                return earlier, False
            net = command.net_amount
            tax = _tax_at(net, command.tax_rate, command.currency)
            _check_minor_units(net, command.currency)
            today, cause = self.clock.today(), causation.as_dict()
            series = self._series(causation.tenant, CREDIT_NOTE_SERIES, cause)
            number = series.allocate(cause)
            note = CreditNote(
                id=note_id, tenant=causation.tenant, credit_note_number=number,
                customer_id=customer_id, scope="on_account", invoice_id=None,
                invoice_number=None, issue_date=today, currency=command.currency,
                net_amount=net, tax_amount=tax, lines=[], reason=command.reason,
                actor=_actor(causation), causation=cause)
            self.record(None, series, note,
                        self._claim(causation.tenant, number, "credit note", note_id, cause))
            return note, True
        return self._with_retries(attempt)

    @staticmethod
    def _credit_of(invoice: Invoice, command: IssueCreditNote
                   ) -> tuple[Decimal, Decimal, list[dict[str, Any]], str]:
        if command.net_amount is not None:
            _check_minor_units(command.net_amount, invoice.currency)
            tax = _tax_at(command.net_amount, command.tax_rate or Decimal(0), invoice.currency)
            return command.net_amount, tax, [], "partial"
        if command.lines:
            lines = credit_of_lines(invoice, [LineCredit(line.line_no, line.quantity)
                                              for line in command.lines])
            net = sum((line["net_amount"] for line in lines), Decimal(0))
            tax = sum((line["tax_amount"] for line in lines), Decimal(0))
            return net, tax, lines, _scope(invoice, net, tax)
        # "In full": whatever is left to credit, adjustments included.
        lines = credit_of_lines(invoice, remaining_lines(invoice))
        net, tax = invoice.creditable_net, invoice.creditable_tax
        return net, tax, lines, _scope(invoice, net, tax)

    def _earlier(self, note_id: uuid.UUID, invoice_id: str | None) -> CreditNote | None:
        earlier = self.get_or_none(note_id)
        if earlier is not None and earlier.invoice_id != invoice_id:
            raise ConflictingRequest(
                f"the reference was used before for credit note {earlier.credit_note_number}"
                f" {'on account' if earlier.invoice_id is None else 'of another invoice'}")
        return earlier

    # --- adjustments, cancellations, write-offs ------------------------------------------

    def adjust_invoice(self, invoice_number: str, command: AdjustInvoice,
                       causation: Causation) -> tuple[Invoice, bool]:
        def attempt() -> tuple[Invoice, bool]:
            invoice = self._invoice(causation.tenant, invoice_number)
            adjustment_id = str(self._request_id(causation, "adjustment", command.reference))
            if adjustment_id in invoice.adjustment_ids:
                return invoice, False
            for amount in (command.net_amount, command.tax_amount):
                _check_minor_units(amount, invoice.currency)
            invoice.adjust(adjustment_id=adjustment_id, net_amount=command.net_amount,
                           tax_amount=command.tax_amount, adjusted_on=self.clock.today(),
                           reason=command.reason, actor=_actor(causation),
                           causation=causation.as_dict())
            self.record(None, invoice)
            return invoice, True
        return self._with_retries(attempt)

    def cancel_invoice(self, invoice_number: str, command: CancelInvoice,
                       causation: Causation) -> Invoice:
        def attempt() -> Invoice:
            invoice = self._invoice(causation.tenant, invoice_number)
            invoice.cancel(cancelled_on=self.clock.today(), reason=command.reason,
                           actor=_actor(causation), causation=causation.as_dict())
            self.record(None, invoice)
            return invoice
        return self._with_retries(attempt)

    def write_off_invoice(self, invoice_number: str, command: WriteOffInvoice,
                          causation: Causation) -> Invoice:
        def attempt() -> Invoice:
            invoice = self._invoice(causation.tenant, invoice_number)
            invoice.write_off(write_off_id=str(stable_id(str(invoice.id), "write-off")),
                              written_off_on=self.clock.today(), expected_amount=command.amount,
                              reason=command.reason, actor=_actor(causation),
                              causation=causation.as_dict())
            self.record(None, invoice)
            return invoice
        return self._with_retries(attempt)

    # --- from other services -------------------------------------------------------------

    def record_payment_applied(self, applied: PaymentApplied, causation: Causation,
                               tracking: Tracking | None = None) -> None:
        """Matching applied cash to one of our invoices: it is no longer unpaid."""
        invoice = self._settled_invoice(applied.invoice_id, applied.application_id)
        if invoice is not None:
            invoice.record_payment(application_id=applied.application_id,
                                   amount=applied.amount.amount, applied_on=applied.applied_on,
                                   causation=causation.as_dict())
        self.record(tracking, invoice)

    def record_difference_written_off(self, written_off: DifferenceWrittenOff,
                                      causation: Causation,
                                      tracking: Tracking | None = None) -> None:
        invoice = self._settled_invoice(written_off.invoice_id, written_off.write_off_id)
        if invoice is not None:
            invoice.record_settlement(settlement_id=written_off.write_off_id, kind="write-off",
                                      amount=written_off.amount.amount,
                                      settled_on=written_off.written_off_on,
                                      causation=causation.as_dict())
        self.record(tracking, invoice)

    def record_credit_applied(self, credit: CreditApplied, causation: Causation,
                              tracking: Tracking | None = None) -> None:
        invoice = self._settled_invoice(credit.invoice_id, credit.credit_use_id)
        if invoice is not None:
            invoice.record_settlement(settlement_id=credit.credit_use_id, kind="credit-use",
                                      amount=credit.amount.amount, settled_on=credit.applied_on,
                                      causation=causation.as_dict())
        self.record(tracking, invoice)

    def record_application_reversed(self, reversed_: ApplicationReversed, causation: Causation,
                                    tracking: Tracking | None = None) -> None:
        """What matching undid is owed again (a returned payment, an unmatched one)."""
        invoice = self._invoice_by_id(reversed_.invoice_id)
        if invoice is not None and invoice.knows_settlement(reversed_.application_id):
            invoice.reverse_settlement(settlement_id=reversed_.application_id,
                                       reversed_on=reversed_.reversed_on,
                                       causation=causation.as_dict())
            self.record(tracking, invoice)
            return
        self.record(tracking)

    def _settled_invoice(self, invoice_id: str, settlement_id: str) -> Invoice | None:
        """The invoice a settlement is news for; None when it is not ours (another
        tenant's or instance's) or already known (the same event delivered again)."""
        invoice = self._invoice_by_id(invoice_id)
        if invoice is None or invoice.knows_settlement(settlement_id):
            return None
        return invoice

    def _invoice_by_id(self, invoice_id: str) -> Invoice | None:
        try:
            document = self.get_or_none(uuid.UUID(invoice_id))
        except ValueError:
            return None
        return document if isinstance(document, Invoice) else None

    def bill_fee(self, fee: FeeAssessed, causation: Causation,
                 tracking: Tracking | None = None) -> None:
        """A debit note per fee, numbered in the DN series; a re-sent fee is billed once."""
        tenant, cause = causation.tenant, causation.as_dict()
        note_id = DebitNote.create_id(tenant, fee.fee_id)
        if self.exists(note_id):
            self.record(tracking)
            return
        series = self._series(tenant, DEBIT_NOTE_SERIES, cause)
        number = series.allocate(cause)
        note = DebitNote(
            id=note_id, tenant=tenant, debit_note_number=number, customer_id=fee.customer_id,
            fee_id=fee.fee_id, kind=fee.kind, invoice_id=fee.invoice_id,
            invoice_number=fee.invoice_number, issue_date=fee.assessed_on,
            due_date=fee.due_date or fee.assessed_on, currency=fee.amount.currency,
            total=fee.amount.amount, reason=fee.reason, actor=fee.actor, causation=cause)
        self.record(tracking, series, note,
                    self._claim(tenant, number, "debit note", note_id, cause))

    # --- helpers -----------------------------------------------------------------------

    def _invoice(self, tenant: str, invoice_number: str) -> Invoice:
        invoice = self.invoice_by_number(tenant, invoice_number)
        if invoice is None:
            raise InvoiceNotFound(f"no invoice {invoice_number!r} in tenant {tenant!r}")
        return invoice

    @staticmethod
    def _request_id(causation: Causation, kind: str, reference: str | None) -> uuid.UUID:
        if reference is None:
            return uuid.uuid4()
        return stable_id(causation.tenant, kind, reference)


def _scope(invoice: Invoice, net: Decimal, tax: Decimal) -> str:
    """Full: the note credits the whole invoice; anything less, or the rest after an
    earlier credit, is partial."""
    whole = (invoice.net_amount + invoice.adjusted_net, invoice.tax_amount + invoice.adjusted_tax)
    return "full" if (net, tax) == whole else "partial"


def _actor(causation: Causation) -> str:
    if not causation.actor:
        raise DocumentRefused("say who asks: a change to a document needs an actor")
    return causation.actor


def _tax_at(net: Decimal, rate: Decimal, currency: str) -> Decimal:
    quantum = Decimal(1).scaleb(-MINOR_UNITS[currency])
    return (net * rate).quantize(quantum, rounding=ROUND_HALF_UP)


def _check_minor_units(amount: Decimal, currency: str) -> None:
    quantum = Decimal(1).scaleb(-MINOR_UNITS[currency])
    if amount != amount.quantize(quantum):
        raise DocumentRefused(f"{amount} is not a whole amount of {currency} "
                              f"({MINOR_UNITS[currency]} decimals)")
