"""Events invoicing publishes: receivable documents (topic ar.invoicing)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .base import IntegrationEvent
from .fields import AccountId
from .money import Amount, Money
from .topics import AR_INVOICING


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
