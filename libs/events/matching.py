"""Events matching publishes: how cash was applied (topic ar.matching)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, model_validator

from .base import IntegrationEvent
from .fields import AccountId, check_positive
from .money import Money
from .topics import AR_MATCHING


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
        check_positive(self.amount, "an applied amount")
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
