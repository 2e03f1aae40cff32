"""Events dunning publishes: reminders, levels, fees, disputes, promises, escalation
(topic ar.dunning).

A letter that goes to a customer is one `ReminderSent`; each invoice it raises to a
higher level is one `DunningLevelRaised`; each fee it charges is one `LateFeeAssessed`.
`ReminderSent` means the letter was issued to its channel: an email that the mail
server later refuses is recorded by dunning as a delivery failure, not unpublished.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .base import IntegrationEvent
from .fields import AccountId, check_positive
from .money import Amount, Money
from .topics import AR_DUNNING

DisputeReason = Literal["price", "quantity", "damaged", "not_received", "duplicate", "other"]
DisputeResolution = Literal["rejected", "credit_note_requested"]
FeeKind = Literal["statutory_interest", "recovery_indemnity", "dunning_fee"]
EscalationPartner = Literal["collection_agency", "factoring_company"]
Channel = Literal["email", "post"]


class DunnedInvoice(BaseModel):
    """An invoice as a letter, a dispute or a promise names it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    invoice_id: str
    invoice_number: str
    due_date: date
    open_amount: Money


class ReminderSent(IntegrationEvent, event_type="ReminderSent", topic=AR_DUNNING):
    """A reminder or dunning letter was issued to the customer, listing its overdue invoices."""

    version: Literal[1] = 1
    letter_id: str
    customer_id: str = AccountId
    level: int = Field(ge=1, description="the dunning level this letter is for; 1 is the reminder")
    level_name: str = Field(description="reminder, first_letter, second_letter, final_notice, ...")
    channel: Channel
    language: str = Field(pattern=r"^[a-z]{2}$")
    sent_on: date = Field(description="the business date of the dunning run that issued it")
    pay_by: date
    invoices: tuple[DunnedInvoice, ...] = Field(min_length=1)
    fees: tuple[Money, ...] = Field(default=(), description="fees charged in this letter, per currency")


class DunningLevelRaised(IntegrationEvent, event_type="DunningLevelRaised", topic=AR_DUNNING):
    """An invoice reached a higher dunning level."""

    version: Literal[1] = 1
    invoice_id: str
    invoice_number: str
    customer_id: str = AccountId
    from_level: int = Field(ge=0)
    to_level: int = Field(ge=1)
    level_name: str
    raised_on: date
    letter_id: str | None = Field(default=None, description="the letter that announced it")

    @model_validator(mode="after")
    def _raised(self) -> DunningLevelRaised:
        if self.to_level <= self.from_level:
            raise ValueError(f"level {self.to_level} is not above {self.from_level}")
        return self


class LateFeeAssessed(IntegrationEvent, event_type="LateFeeAssessed", topic=AR_DUNNING):
    """A late-payment fee charged on an overdue invoice: statutory interest, the fixed
    recovery indemnity (EU Directive 2011/7/EU) or a dunning fee."""

    version: Literal[1] = 1
    fee_id: str
    invoice_id: str
    invoice_number: str
    customer_id: str = AccountId
    kind: FeeKind
    amount: Money
    assessed_on: date
    interest_from: date | None = Field(default=None, description="first day of interest charged")
    interest_to: date | None = Field(default=None, description="last day of interest charged")
    annual_rate: Amount | None = Field(
        default=None, description="percent per year, e.g. 10.15 for the ECB rate 2.15 + 8 points")
    letter_id: str | None = None
    explanation: str

    @model_validator(mode="after")
    def _positive(self) -> LateFeeAssessed:
        check_positive(self.amount, "a late fee")
        return self


class DisputeOpened(IntegrationEvent, event_type="DisputeOpened", topic=AR_DUNNING):
    """The customer contests invoices; dunning pauses for them until the dispute is resolved."""

    version: Literal[1] = 1
    dispute_id: str
    customer_id: str = AccountId
    invoices: tuple[DunnedInvoice, ...] = Field(min_length=1)
    reason: DisputeReason
    owner: str = Field(min_length=1, description="who works the dispute")
    notes: str = ""
    opened_on: date


class DisputeResolved(IntegrationEvent, event_type="DisputeResolved", topic=AR_DUNNING):
    """A dispute ended: rejected (dunning resumes), or a credit note is requested from invoicing
    (dunning resumes on what the credit note leaves open)."""

    version: Literal[1] = 1
    dispute_id: str
    customer_id: str = AccountId
    invoice_ids: tuple[str, ...] = Field(min_length=1)
    resolution: DisputeResolution
    credit_note_amount: Money | None = Field(
        default=None, description="what invoicing is asked to credit, when a credit note is requested")
    notes: str = ""
    resolved_on: date

    @model_validator(mode="after")
    def _credit_note_has_an_amount(self) -> DisputeResolved:
        if self.resolution == "credit_note_requested":
            if self.credit_note_amount is None:
                raise ValueError("a credit note request needs credit_note_amount")
            check_positive(self.credit_note_amount, "a credit note amount")
        elif self.credit_note_amount is not None:
            raise ValueError("a rejected dispute requests no credit note")
        return self


class Instalment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    due_on: date
    amount: Money


class PromiseToPayRecorded(IntegrationEvent, event_type="PromiseToPayRecorded", topic=AR_DUNNING):
    """The customer promised to pay by a date (or in instalments); dunning pauses meanwhile."""

    version: Literal[1] = 1
    promise_id: str
    customer_id: str = AccountId
    invoice_ids: tuple[str, ...] = Field(min_length=1)
    instalments: tuple[Instalment, ...] = Field(min_length=1)
    recorded_on: date
    recorded_by: str | None = None

    @model_validator(mode="after")
    def _instalments_in_order(self) -> PromiseToPayRecorded:
        dates = [instalment.due_on for instalment in self.instalments]
        if dates != sorted(set(dates)):
            raise ValueError("instalments must be in date order, one per date")
        for instalment in self.instalments:
            check_positive(instalment.amount, "an instalment")
        return self


class PromiseToPayBroken(IntegrationEvent, event_type="PromiseToPayBroken", topic=AR_DUNNING):
    """An instalment of a promise was not paid in time; dunning resumes at the next level."""

    version: Literal[1] = 1
    promise_id: str
    customer_id: str = AccountId
    invoice_ids: tuple[str, ...] = Field(min_length=1)
    instalment_due_on: date
    promised: Money = Field(description="what was due by that instalment, cumulated")
    received: Money = Field(description="what had been paid on the promised invoices by then")
    broken_on: date


class CaseEscalated(IntegrationEvent, event_type="CaseEscalated", topic=AR_DUNNING):
    """Overdue invoices handed over to a collection agency or a factoring company."""

    version: Literal[1] = 1
    escalation_id: str
    customer_id: str = AccountId
    invoices: tuple[DunnedInvoice, ...] = Field(min_length=1)
    partner_kind: EscalationPartner
    partner_name: str = Field(min_length=1)
    escalated_on: date
    total_open: tuple[Money, ...] = Field(min_length=1, description="per currency")


__all__ = ["CaseEscalated", "DisputeOpened", "DisputeResolved", "DunnedInvoice",
           "DunningLevelRaised", "Instalment", "LateFeeAssessed", "PromiseToPayBroken",
           "PromiseToPayRecorded", "ReminderSent"]
