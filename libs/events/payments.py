"""Events payments publishes: cash in and out of the bank (topic ar.payments)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, model_validator

from .base import IntegrationEvent
from .fields import check_positive
from .money import Money
from .topics import AR_PAYMENTS


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
        check_positive(self.amount, "a received payment")
        return self

    @property
    def partition_key(self) -> str:
        # A payment from an unidentified payer is still kept in order per payer.
        return self.customer_id or f"unidentified:{self.payer_account or self.payment_id}"
