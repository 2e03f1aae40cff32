"""Events payments publishes: cash in and out of the bank (topic ar.payments).

Every event about one payment carries the payment's partition key, so a return or a
refund is never read before the payment it belongs to.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, model_validator

from .base import IntegrationEvent
from .fields import check_positive
from .money import Money
from .topics import AR_PAYMENTS


def payer_key(customer_id: str | None, payer_account: str | None, payment_id: str) -> str:
    """A payment from an unidentified payer is still kept in order per payer."""
    return customer_id or f"unidentified:{payer_account or payment_id}"


__all__ = [
    "PaymentReceived", "PaymentReturned", "RefundIssued",
]


class PaymentReceived(IntegrationEvent, event_type="PaymentReceived", topic=AR_PAYMENTS):
    """Cash arrived on the company's bank account."""

    version: Literal[1] = 1
    payment_id: str
    customer_id: str | None = Field(default=None, description="when the payer is already known")
    amount: Money
    value_date: date
    booking_date: date | None = None
    payer_name: str | None = None
    payer_account: str | None = Field(default=None, description="the payer's IBAN or account number")
    remittance_text: str | None = Field(default=None, description="unstructured remittance information")
    bank_reference: str | None = None
    end_to_end_id: str | None = Field(default=None, description="the payer's reference, unchanged "
                                      "from their bank to ours (SEPA EndToEndId)")
    creditor_references: tuple[str, ...] = Field(
        default=(), description="structured remittance: ISO 11649 RF creditor references or "
                                "invoice numbers the payer quoted")

    @model_validator(mode="after")
    def _positive(self) -> PaymentReceived:
        check_positive(self.amount, "a received payment")
        return self

    @property
    def partition_key(self) -> str:
        return payer_key(self.customer_id, self.payer_account, self.payment_id)


ReturnKind = Literal["returned", "nsf", "chargeback"]


class PaymentReturned(IntegrationEvent, event_type="PaymentReturned", topic=AR_PAYMENTS):
    """Cash that had arrived went back: the payer's bank returned it, it bounced for
    insufficient funds (NSF), or the payer charged it back. What it settled is open again."""

    version: Literal[1] = 1
    return_id: str
    payment_id: str | None = Field(description="the PaymentReceived that was returned; None when "
                                               "payments could not find it")
    customer_id: str | None = None
    amount: Money
    returned_on: date = Field(description="the day the bank booked the return")
    kind: ReturnKind
    reason_code: str | None = Field(default=None, description="the bank's code, e.g. ISO 20022 "
                                    "AC04, ACH R01, or NSF")
    reason_text: str | None = None
    payer_account: str | None = None
    bank_reference: str | None = None
    end_to_end_id: str | None = None

    @model_validator(mode="after")
    def _positive(self) -> PaymentReturned:
        check_positive(self.amount, "a returned amount")
        return self

    @property
    def partition_key(self) -> str:
        return payer_key(self.customer_id, self.payer_account, self.payment_id or self.return_id)


class RefundIssued(IntegrationEvent, event_type="RefundIssued", topic=AR_PAYMENTS):
    """Part or all of a received payment is paid back to the payer, at someone's request."""

    version: Literal[1] = 1
    refund_id: str
    payment_id: str
    customer_id: str | None = None
    amount: Money
    issued_on: date
    reason: str = Field(min_length=1)
    requested_by: str = Field(min_length=1, description="who asked for the refund")
    payer_account: str | None = Field(default=None, description="where the money goes back to")

    @model_validator(mode="after")
    def _positive(self) -> RefundIssued:
        check_positive(self.amount, "a refund")
        return self

    @property
    def partition_key(self) -> str:
        return payer_key(self.customer_id, self.payer_account, self.payment_id)
