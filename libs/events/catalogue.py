"""The event catalogue: what each bounded context publishes.

Business dates (shipped_on, issue_date, due_date, value_date) are dates, kept
apart from the moment an event was recorded, which travels in `ce_time`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .base import IntegrationEvent
from .money import Amount, Currency, Money
from .topics import AR_INVOICING, AR_MATCHING, AR_PAYMENTS, ERP_CUSTOMERS, ERP_ORDERS

AccountId = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")


def _check_positive(money: Money, what: str) -> None:
    if money.amount <= 0:
        raise ValueError(f"{what} must be positive, got {money}")


# --- ERP in -----------------------------------------------------------------


class CustomerUpserted(IntegrationEvent, event_type="CustomerUpserted", topic=ERP_CUSTOMERS):
    """The ERP's customer master record, created or changed."""

    version: Literal[1] = 1
    customer_id: str = AccountId
    name: str = Field(min_length=1)
    currency: Currency
    payment_terms_days: int = Field(ge=0, le=365, description="net N days")
    language: str = Field(default="en", pattern=r"^[a-z]{2}$")
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    email: str | None = None


class OrderLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    line_no: int = Field(ge=1)
    sku: str = Field(min_length=1)
    description: str = ""
    quantity: Amount = Field(gt=0)
    unit_price: Amount = Field(ge=0)
    tax_rate: Amount = Field(default=Decimal(0), ge=0, le=1, description="0.21 for 21%")


class OrderShipped(IntegrationEvent, event_type="OrderShipped", topic=ERP_ORDERS):
    """Goods left the warehouse: the platform invoices what this shipment shipped."""

    version: Literal[1] = 1
    order_id: str = Field(min_length=1)
    shipment_id: str = Field(min_length=1)
    customer_id: str = AccountId
    shipped_on: date
    currency: Currency
    po_number: str | None = None
    lines: tuple[OrderLine, ...] = Field(min_length=1)


# --- invoicing ----------------------------------------------------------------


class InvoiceLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    line_no: int
    sku: str
    description: str
    quantity: Amount
    unit_price: Amount
    tax_rate: Amount
    net_amount: Amount
    tax_amount: Amount


class InvoiceIssued(IntegrationEvent, event_type="InvoiceIssued", topic=AR_INVOICING):
    """A receivable exists: the customer owes `total` by `due_date`."""

    version: Literal[1] = 1
    invoice_id: str
    invoice_number: str
    customer_id: str = AccountId
    order_id: str | None = None
    shipment_id: str | None = None
    issue_date: date
    due_date: date
    payment_terms_days: int = Field(ge=0)
    net_amount: Money
    tax_amount: Money
    total: Money
    lines: tuple[InvoiceLine, ...] = ()

    @model_validator(mode="after")
    def _totals_add_up(self) -> InvoiceIssued:
        if self.net_amount + self.tax_amount != self.total:
            raise ValueError(
                f"net {self.net_amount} + tax {self.tax_amount} does not equal total {self.total}"
            )
        if self.due_date < self.issue_date:
            raise ValueError(f"due date {self.due_date} is before issue date {self.issue_date}")
        return self


# --- payments -----------------------------------------------------------------


class PaymentReceived(IntegrationEvent, event_type="PaymentReceived", topic=AR_PAYMENTS):
    """Cash arrived on the company's bank account."""

    version: Literal[1] = 1
    payment_id: str
    customer_id: str | None = Field(default=None, description="when the payer is already known")
    amount: Money
    value_date: date
    booking_date: date | None = None
    payer_name: str | None = None
    payer_account: str | None = None
    remittance_text: str | None = None
    bank_reference: str | None = None

    @model_validator(mode="after")
    def _positive(self) -> PaymentReceived:
        _check_positive(self.amount, "a received payment")
        return self

    @property
    def partition_key(self) -> str:
        # A payment from an unidentified payer is still kept in order per payer.
        return self.customer_id or f"unidentified:{self.payer_account or self.payment_id}"


# --- matching -----------------------------------------------------------------


class PaymentApplied(IntegrationEvent, event_type="PaymentApplied", topic=AR_MATCHING):
    """Part or all of a payment settles part or all of an invoice."""

    version: Literal[1] = 1
    application_id: str
    payment_id: str
    invoice_id: str
    invoice_number: str
    customer_id: str = AccountId
    amount: Money
    applied_on: date = Field(description="the payment's value date")
    rule: str = Field(description="the matching rule that decided")
    explanation: str = Field(description="why, in a collector's words")

    @model_validator(mode="after")
    def _positive(self) -> PaymentApplied:
        _check_positive(self.amount, "an applied amount")
        return self


class PaymentUnapplied(IntegrationEvent, event_type="PaymentUnapplied", topic=AR_MATCHING):
    """Cash that no invoice could be matched to with confidence; left for a person."""

    version: Literal[1] = 1
    payment_id: str
    customer_id: str | None = None
    amount: Money
    value_date: date
    reason: str

    @property
    def partition_key(self) -> str:
        return self.customer_id or f"unidentified:{self.payment_id}"
