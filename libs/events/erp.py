"""Events the ERP publishes: customers and orders (topics erp.*)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .base import IntegrationEvent
from .fields import AccountId
from .money import Amount, Currency
from .topics import ERP_CUSTOMERS, ERP_ORDERS


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
