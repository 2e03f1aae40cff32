"""Payments' aggregate: a payment as the bank or a person reported it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from libs.runtime.ids import stable_id


class Payment(Aggregate):
    """Cash received. Its id comes from the bank reference (or the caller's idempotency
    key), so the same payment reported twice is recorded once."""

    TOPIC = "payments.Payment"

    class Created(Aggregate.Created):
        """Base of the creation event; named so no stored name depends on a module path."""

        TOPIC = "payments.Payment.Created"

    @staticmethod
    def create_id(tenant: str, reference: str) -> UUID:
        return stable_id(tenant, "payment", reference)

    @event("Received", topic="payments.Payment.Received")
    def __init__(self, tenant: str, reference: str, customer_id: str | None, amount: Decimal,
                 currency: str, value_date: date, booking_date: date | None,
                 payer_name: str | None, payer_account: str | None,
                 remittance_text: str | None, causation: dict[str, Any]) -> None:
        self.tenant = tenant
        self.reference = reference
        self.customer_id = customer_id
        self.amount = amount
        self.currency = currency
        self.value_date = value_date
        self.booking_date = booking_date
        self.payer_name = payer_name
        self.payer_account = payer_account
        self.remittance_text = remittance_text
