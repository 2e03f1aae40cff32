"""Events the ERP publishes: customers, orders, its own invoices, exchange rates (topics erp.*).

Payment terms travel as the ERP spells them ("net 30", "2/10 net 30", "EOM+15",
"due on receipt"); invoicing reads them and refuses, with the reason, what it
cannot read.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .base import IntegrationEvent
from .fields import AccountId
from .money import Amount, Currency, Money
from .topics import ERP_CUSTOMERS, ERP_ORDERS

PaymentTermsText = Field(
    default=None, min_length=1, max_length=64,
    description="as the ERP spells them: 'net 30', '2/10 net 30', 'EOM+15', 'due on receipt'")


__all__ = [
    "CustomerUpserted", "ErpInvoiceIssued", "ErpInvoiceMarkedPaid", "ExchangeRatePublished",
    "OrderCancelled", "OrderLine", "OrderPlaced", "OrderShipped",
]


class CustomerUpserted(IntegrationEvent, event_type="CustomerUpserted", topic=ERP_CUSTOMERS):
    """The ERP's customer master record, created or changed.

    Terms come either as text (`payment_terms`) or, for plain net terms, as a number
    of days (`payment_terms_days`); exactly one of the two.
    """

    version: Literal[1] = 1
    customer_id: str = AccountId
    name: str = Field(min_length=1)
    currency: Currency
    payment_terms: str | None = PaymentTermsText
    payment_terms_days: int | None = Field(default=None, ge=0, le=365, description="net N days")
    language: str = Field(default="en", pattern=r"^[a-z]{2}$")
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    email: str | None = None
    segment: str | None = Field(
        default=None, min_length=1, max_length=64,
        description="the ERP's customer segment, e.g. 'key-account', 'retail', 'public'")
    risk_class: str | None = Field(
        default=None, pattern=r"^[A-E]$",
        description="the ERP's own risk class, A (best) to E; credit's score overrides it")
    collector: str | None = Field(
        default=None, min_length=1, max_length=64,
        description="the person or team who chases this customer's invoices")

    @model_validator(mode="after")
    def _one_way_of_giving_terms(self) -> CustomerUpserted:
        if (self.payment_terms is None) == (self.payment_terms_days is None):
            raise ValueError("give the payment terms once: payment_terms ('2/10 net 30') "
                             "or payment_terms_days (net N), not both and not neither")
        return self

    @property
    def terms_text(self) -> str:
        return self.payment_terms if self.payment_terms is not None else (
            f"net {self.payment_terms_days}")


class OrderLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    line_no: int = Field(ge=1)
    sku: str = Field(min_length=1)
    description: str = ""
    quantity: Amount = Field(gt=0)
    unit_price: Amount = Field(ge=0)
    discount_percent: Amount = Field(default=Decimal(0), ge=0, le=100,
                                     description="10 for 10% off this line")
    tax_rate: Amount = Field(default=Decimal(0), ge=0, le=1, description="0.21 for 21%")


class OrderPlaced(IntegrationEvent, event_type="OrderPlaced", topic=ERP_ORDERS):
    """A customer ordered. Optional: it lets shipments inherit the order's PO number and
    terms; invoicing invoices shipments, never orders."""

    version: Literal[1] = 1
    order_id: str = Field(min_length=1)
    customer_id: str = AccountId
    ordered_on: date
    currency: Currency
    po_number: str | None = None
    payment_terms: str | None = PaymentTermsText
    lines: tuple[OrderLine, ...] = Field(min_length=1)


class OrderShipped(IntegrationEvent, event_type="OrderShipped", topic=ERP_ORDERS):
    """Goods left the warehouse: the platform invoices what this shipment shipped.

    An order may ship in several parts; each shipment is invoiced on its own.
    `payment_terms` overrides the customer's terms for this order.
    """

    version: Literal[1] = 1
    order_id: str = Field(min_length=1)
    shipment_id: str = Field(min_length=1)
    customer_id: str = AccountId
    shipped_on: date
    currency: Currency
    po_number: str | None = None
    payment_terms: str | None = PaymentTermsText
    lines: tuple[OrderLine, ...] = Field(min_length=1)


class OrderCancelled(IntegrationEvent, event_type="OrderCancelled", topic=ERP_ORDERS):
    """What has not shipped of the order never will. Shipments already made stay invoiced."""

    version: Literal[1] = 1
    order_id: str = Field(min_length=1)
    customer_id: str = AccountId
    cancelled_on: date
    reason: str = Field(min_length=1)


class ErpInvoiceIssued(IntegrationEvent, event_type="ErpInvoiceIssued", topic=ERP_ORDERS):
    """An invoice the ERP issued itself, under its own number: recorded as it is, once its
    totals are checked against its lines (EN 16931 rounding, see services/invoicing/totals.py)."""

    version: Literal[1] = 1
    invoice_number: str = Field(min_length=1, max_length=64)
    customer_id: str = AccountId
    order_id: str | None = None
    po_number: str | None = None
    issue_date: date
    due_date: date
    payment_terms: str | None = PaymentTermsText
    currency: Currency
    lines: tuple[OrderLine, ...] = Field(min_length=1)
    net_amount: Money
    tax_amount: Money
    total: Money
    discount_date: date | None = Field(default=None, description="pay by then for the discount")
    discount_amount: Money | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ErpInvoiceIssued:
        amounts = [self.net_amount, self.tax_amount, self.total]
        if self.discount_amount is not None:
            amounts.append(self.discount_amount)
        foreign = sorted({money.currency for money in amounts} - {self.currency})
        if foreign:
            raise ValueError(f"amounts in {', '.join(foreign)} on an invoice in {self.currency}")
        if self.due_date < self.issue_date:
            raise ValueError(f"due date {self.due_date} is before issue date {self.issue_date}")
        if (self.discount_date is None) != (self.discount_amount is None):
            raise ValueError("an early-payment discount needs both discount_date and "
                             "discount_amount")
        return self


class ErpInvoiceMarkedPaid(IntegrationEvent, event_type="ErpInvoiceMarkedPaid",
                           topic=ERP_ORDERS):
    """The ERP set an invoice's status to paid (a clerk's click, a bank-import rule there).

    The receivables platform does not take the ERP's word for cash: matching checks that
    a payment of ours actually clears the invoice and reports the ones none does.
    """

    version: Literal[1] = 1
    invoice_number: str = Field(min_length=1, max_length=64)
    customer_id: str = AccountId
    paid_on: date
    reference: str | None = Field(default=None, max_length=140,
                                  description="the ERP's clearing document, if any")


class ExchangeRatePublished(IntegrationEvent, event_type="ExchangeRatePublished",
                            topic=ERP_CUSTOMERS):
    """The ERP's rate of a day: one `from_currency` buys `rate` units of `to_currency`.

    Reference data, not a customer's: keyed by the currency pair.
    """

    version: Literal[1] = 1
    rate_date: date
    from_currency: Currency
    to_currency: Currency
    rate: Amount = Field(gt=0)
    source: str | None = Field(default=None, description="e.g. 'ECB reference rate'")

    @model_validator(mode="after")
    def _two_currencies(self) -> ExchangeRatePublished:
        if self.from_currency == self.to_currency:
            raise ValueError(f"a rate converts between two currencies, got "
                             f"{self.from_currency} to itself")
        return self

    @property
    def partition_key(self) -> str:
        return f"fx:{self.from_currency}-{self.to_currency}"
