"""Events invoicing publishes: receivable documents (topic ar.invoicing), and the fee
dunning asks it to bill (topic ar.dunning).

Every change to a document after issue says why (`reason`) and who asked (`actor`:
a person's id, or the service whose policy decided).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .base import IntegrationEvent
from .fields import AccountId, check_positive
from .money import Amount, Currency, Money
from .topics import AR_DUNNING, AR_INVOICING

Reason = Field(min_length=1, description="why, in the words of the person or policy that asked")
Actor = Field(min_length=1, description="who asked: a person's id, or the deciding service")


__all__ = [
    "AppliedExchangeRate", "CreditNoteIssued", "DebitNoteIssued", "FeeAssessed",
    "InvoiceAdjusted", "InvoiceCancelled", "InvoiceIssued", "InvoiceLine", "InvoiceWrittenOff",
]


class InvoiceLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    line_no: int
    sku: str
    description: str
    quantity: Amount
    unit_price: Amount
    discount_percent: Amount = Decimal(0)
    tax_rate: Amount
    net_amount: Amount
    tax_amount: Amount


class AppliedExchangeRate(BaseModel):
    """The published rate an amount was converted with: one `from_currency` buys `rate`
    `to_currency`. When the invoice currency is `to_currency` the rate was used inverted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    from_currency: Currency
    to_currency: Currency
    rate: Amount = Field(gt=0)
    rate_date: date


class InvoiceIssued(IntegrationEvent, event_type="InvoiceIssued", topic=AR_INVOICING):
    """A receivable exists: the customer owes `total` by `due_date`.

    `functional_amount` is the total in the tenant's functional currency at the rate of
    the issue date; when no rate was known, it is null and `rate_missing` is true.
    """

    version: Literal[1] = 1
    invoice_id: str
    invoice_number: str
    customer_id: str = AccountId
    issued_by: Literal["platform", "erp"] = Field(
        default="platform", description="erp: the ERP's own invoice, recorded as issued")
    order_id: str | None = None
    shipment_id: str | None = None
    po_number: str | None = None
    customer_language: str | None = None
    issue_date: date
    due_date: date
    payment_terms: str | None = Field(default=None, description="e.g. '2/10 net 30'")
    payment_terms_days: int | None = Field(default=None, ge=0,
                                           description="N of net N terms; null for other terms")
    discount_date: date | None = Field(default=None, description="last day of the discount")
    discount_amount: Money | None = Field(default=None, description="what paying early saves")
    net_amount: Money
    tax_amount: Money
    total: Money
    functional_currency: Currency | None = None
    functional_amount: Money | None = None
    exchange_rate: AppliedExchangeRate | None = None
    rate_missing: bool = False
    lines: tuple[InvoiceLine, ...] = ()

    @model_validator(mode="after")
    def _totals_add_up(self) -> InvoiceIssued:
        if self.net_amount + self.tax_amount != self.total:
            raise ValueError(
                f"net {self.net_amount} + tax {self.tax_amount} does not equal total {self.total}"
            )
        if self.due_date < self.issue_date:
            raise ValueError(f"due date {self.due_date} is before issue date {self.issue_date}")
        if (self.discount_date is None) != (self.discount_amount is None):
            raise ValueError("an early-payment discount needs both discount_date and "
                             "discount_amount")
        if self.discount_amount is not None and not (
                Money.zero(self.total.currency) <= self.discount_amount <= self.total):
            raise ValueError(f"a discount of {self.discount_amount} on a total of {self.total}")
        self._functional_amount_is_explained()
        return self

    def _functional_amount_is_explained(self) -> None:
        if self.rate_missing:
            if self.functional_currency is None or self.functional_amount is not None \
                    or self.exchange_rate is not None:
                raise ValueError("a missing rate means a functional currency, no functional "
                                 "amount and no exchange rate")
            return
        if self.functional_currency is None:
            if self.functional_amount is not None or self.exchange_rate is not None:
                raise ValueError("a functional amount needs its functional_currency")
            return
        if self.functional_amount is None:
            raise ValueError("give the functional amount, or say rate_missing")
        if self.functional_amount.currency != self.functional_currency:
            raise ValueError(f"functional amount {self.functional_amount} is not in the "
                             f"functional currency {self.functional_currency}")
        converted = self.functional_currency != self.total.currency
        if converted != (self.exchange_rate is not None):
            raise ValueError("an exchange rate is given exactly when the invoice currency is "
                             "not the functional currency")


class InvoiceAdjusted(IntegrationEvent, event_type="InvoiceAdjusted", topic=AR_INVOICING):
    """The invoice's amount was corrected after issue; `amount` is the signed change."""

    version: Literal[1] = 1
    adjustment_id: str
    invoice_id: str
    invoice_number: str
    customer_id: str = AccountId
    adjusted_on: date
    net_amount: Money = Field(description="signed change of the net amount")
    tax_amount: Money = Field(description="signed change of the tax")
    amount: Money = Field(description="signed change of the total: net + tax")
    new_total: Money
    reason: str = Reason
    actor: str = Actor

    @model_validator(mode="after")
    def _adds_up(self) -> InvoiceAdjusted:
        if self.net_amount + self.tax_amount != self.amount:
            raise ValueError(f"net {self.net_amount} + tax {self.tax_amount} is not the "
                             f"adjustment {self.amount}")
        if self.amount.is_zero:
            raise ValueError("an adjustment changes the amount; this one changes nothing")
        return self


class InvoiceCancelled(IntegrationEvent, event_type="InvoiceCancelled", topic=AR_INVOICING):
    """An unpaid invoice is void: nothing is owed on it any more."""

    version: Literal[1] = 1
    invoice_id: str
    invoice_number: str
    customer_id: str = AccountId
    cancelled_on: date
    amount: Money = Field(description="what was still owed and is no longer")
    reason: str = Reason
    actor: str = Actor


class CreditNoteIssued(IntegrationEvent, event_type="CreditNoteIssued", topic=AR_INVOICING):
    """The customer owes less: all or part of an invoice, or a credit on the account."""

    version: Literal[1] = 1
    credit_note_id: str
    credit_note_number: str
    customer_id: str = AccountId
    scope: Literal["full", "partial", "on_account"]
    invoice_id: str | None = None
    invoice_number: str | None = None
    issue_date: date
    net_amount: Money
    tax_amount: Money
    total: Money = Field(description="the credit, a positive amount")
    lines: tuple[InvoiceLine, ...] = Field(default=(), description="the invoice lines credited")
    reason: str = Reason
    actor: str = Actor

    @model_validator(mode="after")
    def _consistent(self) -> CreditNoteIssued:
        check_positive(self.total, "a credit note")
        if self.net_amount + self.tax_amount != self.total:
            raise ValueError(f"net {self.net_amount} + tax {self.tax_amount} does not equal "
                             f"total {self.total}")
        if (self.scope == "on_account") != (self.invoice_id is None):
            raise ValueError("a credit note is on account exactly when it names no invoice")
        return self


class InvoiceWrittenOff(IntegrationEvent, event_type="InvoiceWrittenOff", topic=AR_INVOICING):
    """What remained open on the invoice will not be collected."""

    version: Literal[1] = 1
    write_off_id: str
    invoice_id: str
    invoice_number: str
    customer_id: str = AccountId
    written_off_on: date
    amount: Money
    reason: str = Reason
    actor: str = Actor

    @model_validator(mode="after")
    def _positive(self) -> InvoiceWrittenOff:
        check_positive(self.amount, "a write-off")
        return self


FeeKind = Literal["late_fee", "interest", "reminder_fee", "collection_cost"]


class FeeAssessed(IntegrationEvent, event_type="FeeAssessed", topic=AR_DUNNING):
    """Dunning charges the customer a fee; invoicing bills it with a debit note.
    (The catalogue's LateFeeAssessed is this event with kind late_fee.)"""

    version: Literal[1] = 1
    fee_id: str = Field(min_length=1)
    customer_id: str = AccountId
    kind: FeeKind
    invoice_id: str | None = Field(default=None, description="the overdue invoice, if one")
    invoice_number: str | None = None
    amount: Money
    assessed_on: date
    due_date: date | None = Field(default=None, description="default: due on receipt")
    reason: str = Reason
    actor: str = Actor

    @model_validator(mode="after")
    def _positive(self) -> FeeAssessed:
        check_positive(self.amount, "a fee")
        if self.due_date is not None and self.due_date < self.assessed_on:
            raise ValueError(f"due date {self.due_date} is before {self.assessed_on}")
        return self


class DebitNoteIssued(IntegrationEvent, event_type="DebitNoteIssued", topic=AR_INVOICING):
    """The customer owes a fee: a receivable of its own, due by `due_date`. Fees carry no
    tax (they pay for no supply)."""

    version: Literal[1] = 1
    debit_note_id: str
    debit_note_number: str
    customer_id: str = AccountId
    fee_id: str
    kind: FeeKind
    invoice_id: str | None = None
    invoice_number: str | None = None
    issue_date: date
    due_date: date
    total: Money
    reason: str = Reason
    actor: str = Actor

    @model_validator(mode="after")
    def _positive(self) -> DebitNoteIssued:
        check_positive(self.total, "a debit note")
        if self.due_date < self.issue_date:
            raise ValueError(f"due date {self.due_date} is before issue date {self.issue_date}")
        return self
