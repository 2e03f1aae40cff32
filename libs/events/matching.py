"""Events matching publishes: how cash was applied (topic ar.matching).

Every decision says which rule made it, how sure it was (`score`, 0 to 1) and why, in a
collector's words (`explanation`); a person's decision says who (`actor`) and why
(`reason`). Amounts are positive; what an event does to a balance is in its name.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import Field, model_validator

from .base import IntegrationEvent, upcaster
from .fields import AccountId, check_positive
from .invoicing import AppliedExchangeRate
from .money import Amount, Money
from .topics import AR_MATCHING

Score = Field(default=None, ge=0, le=1, description="how sure the rule was, 0 to 1")
ReasonCode = Field(min_length=1, description="e.g. bank-charges, damaged-goods, "
                                             "early-payment-discount, small-difference")


__all__ = [
    "ApplicationReversed", "CreditApplied", "DeductionRaised", "DifferenceWrittenOff",
    "ErpPaidInvoiceCleared", "ErpPaidInvoiceUncleared", "PaymentApplied", "PaymentUnapplied",
    "UnappliedCashChanged",
]


class PaymentApplied(IntegrationEvent, event_type="PaymentApplied", topic=AR_MATCHING):
    """Part or all of a payment settles part or all of an invoice.

    `amount` is what it settles, in the invoice's currency. Cash in another currency also
    says what it took of the payment (`paid`, in the payment's currency) and the published
    rate it was converted at (`exchange_rate`); v2 added both."""

    version: Literal[2] = 2
    application_id: str
    payment_id: str
    invoice_id: str
    invoice_number: str
    customer_id: str = AccountId
    amount: Money
    applied_on: date = Field(description="the payment's value date")
    rule: str = Field(description="the matching rule that decided")
    explanation: str = Field(description="why, in a collector's words")
    score: Amount | None = Score
    evidence: tuple[str, ...] = Field(default=(), description="the facts the rule relied on")
    actor: str | None = Field(default=None, description="the person who matched it by hand; "
                                                        "null for an automatic match")
    reason: str | None = Field(default=None, description="why the person matched it")
    paid: Money | None = Field(default=None, description="cash in another currency than the "
                                                         "invoice: what it took of the payment")
    exchange_rate: AppliedExchangeRate | None = Field(
        default=None, description="the published rate `paid` was converted at")

    @model_validator(mode="after")
    def _positive(self) -> PaymentApplied:
        check_positive(self.amount, "an applied amount")
        if (self.paid is None) != (self.exchange_rate is None):
            raise ValueError("cash in another currency needs both paid and exchange_rate")
        if self.paid is not None:
            check_positive(self.paid, "a paid amount")
            if self.paid.currency == self.amount.currency:
                raise ValueError(f"paid is in the invoice's currency {self.amount.currency}: "
                                 f"no exchange rate is involved")
        return self


@upcaster("PaymentApplied", from_version=1)
def _same_currency_application(body: dict[str, Any]) -> dict[str, Any]:
    """A v1 application was always in the invoice's currency: nothing was converted."""
    return {**body, "version": 2}


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


class UnappliedCashChanged(IntegrationEvent, event_type="UnappliedCashChanged",
                           topic=AR_MATCHING):
    """What of a payment sits unapplied on the account changed after its first decision:
    the invoice it named arrived, a person matched or unmatched it, or it was returned.
    `unapplied` is the new amount (zero: nothing left)."""

    version: Literal[1] = 1
    payment_id: str
    customer_id: str | None = None
    unapplied: Money
    value_date: date
    reason: str

    @model_validator(mode="after")
    def _not_negative(self) -> UnappliedCashChanged:
        if self.unapplied.amount < 0:
            raise ValueError(f"unapplied cash cannot be negative, got {self.unapplied}")
        return self

    @property
    def partition_key(self) -> str:
        return self.customer_id or f"unidentified:{self.payment_id}"


class ApplicationReversed(IntegrationEvent, event_type="ApplicationReversed",
                          topic=AR_MATCHING):
    """An earlier application (or the write-off, deduction or credit use that came with it)
    is undone: what it settled is open again. A person unmatched it, or the payment came
    back from the bank."""

    version: Literal[1] = 1
    application_id: str = Field(description="the id of the PaymentApplied, DifferenceWrittenOff, "
                                            "DeductionRaised or CreditApplied undone")
    reverses: Literal["payment-application", "write-off", "deduction", "credit-use"]
    payment_id: str
    invoice_id: str
    invoice_number: str
    customer_id: str = AccountId
    amount: Money
    reversed_on: date
    reason: str = Field(min_length=1)
    actor: str = Field(min_length=1, description="who: a person's id, or 'matching' when a "
                                                 "returned payment undid it")
    credit_note_id: str | None = Field(default=None, description="for a credit use: the credit "
                                                                 "note whose credit is back")

    @model_validator(mode="after")
    def _positive(self) -> ApplicationReversed:
        check_positive(self.amount, "a reversed amount")
        return self


class DifferenceWrittenOff(IntegrationEvent, event_type="DifferenceWrittenOff",
                           topic=AR_MATCHING):
    """A payment settled an invoice but for a small difference, within the write-off
    tolerance: the difference is written off and the invoice is settled."""

    version: Literal[1] = 1
    write_off_id: str
    payment_id: str
    invoice_id: str
    invoice_number: str
    customer_id: str = AccountId
    amount: Money
    written_off_on: date
    reason_code: str = ReasonCode
    reason: str = Field(min_length=1)
    explanation: str

    @model_validator(mode="after")
    def _positive(self) -> DifferenceWrittenOff:
        check_positive(self.amount, "a written-off difference")
        return self


class DeductionRaised(IntegrationEvent, event_type="DeductionRaised", topic=AR_MATCHING):
    """A payment fell short of an invoice by more than the tolerance: the difference stays
    open as a deduction with a reason, for a collector to accept or claim back."""

    version: Literal[1] = 1
    deduction_id: str
    payment_id: str
    invoice_id: str
    invoice_number: str
    customer_id: str = AccountId
    amount: Money
    raised_on: date
    reason_code: str = ReasonCode
    reason: str = Field(min_length=1)
    explanation: str

    @model_validator(mode="after")
    def _positive(self) -> DeductionRaised:
        check_positive(self.amount, "a deduction")
        return self


class CreditApplied(IntegrationEvent, event_type="CreditApplied", topic=AR_MATCHING):
    """An open credit (a credit note on account) settles part of an invoice, because the
    payer deducted it from a payment."""

    version: Literal[1] = 1
    credit_use_id: str
    payment_id: str
    credit_note_id: str
    credit_note_number: str
    invoice_id: str
    invoice_number: str
    customer_id: str = AccountId
    amount: Money
    applied_on: date
    rule: str

    @model_validator(mode="after")
    def _positive(self) -> CreditApplied:
        check_positive(self.amount, "an applied credit")
        return self


class ErpPaidInvoiceUncleared(IntegrationEvent, event_type="ErpPaidInvoiceUncleared",
                              topic=AR_MATCHING):
    """The ERP says an invoice is paid, but the grace period for the bank statement has
    passed and no payment of ours clears it: money the ERP counts that never arrived (or
    a payment applied elsewhere). Stays an exception until a payment clears the invoice
    (`ErpPaidInvoiceCleared`)."""

    version: Literal[1] = 1
    invoice_number: str = Field(min_length=1, max_length=64)
    invoice_id: str | None = Field(default=None,
                                   description="null when receivables knows no such invoice")
    customer_id: str = AccountId
    erp_paid_on: date = Field(description="the date the ERP says it was paid")
    erp_reference: str | None = Field(default=None, description="the ERP's clearing document")
    open_amount: Money | None = Field(default=None, description="what is still open on it; "
                                                                "null when the invoice is unknown")
    detected_on: date
    reason: str = Field(min_length=1, description="why, in a collector's words")


class ErpPaidInvoiceCleared(IntegrationEvent, event_type="ErpPaidInvoiceCleared",
                            topic=AR_MATCHING):
    """An invoice reported by `ErpPaidInvoiceUncleared` is cleared after all (a payment
    arrived, was matched, or what was open was otherwise settled): the exception is closed."""

    version: Literal[1] = 1
    invoice_number: str = Field(min_length=1, max_length=64)
    invoice_id: str | None = None
    customer_id: str = AccountId
    erp_paid_on: date
    cleared_on: date
    reason: str = Field(min_length=1, description="what cleared it")
