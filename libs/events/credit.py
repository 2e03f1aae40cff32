"""Events credit publishes: limits, risk scores, account holds and order credit decisions
(topic ar.credit).

Amounts are in the tenant's functional currency. A limit belongs to a customer or to a
credit group (customers sharing one limit); a group's events are keyed `group:<id>`, so
all of one group's limit changes stay in order. Every decision names the rules that made
it, in a credit controller's words.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .base import IntegrationEvent
from .fields import AccountId
from .money import Amount, Money
from .topics import AR_CREDIT

RiskClass = Literal["A", "B", "C", "D", "E"]
HoldRule = Literal["overdue", "escalated", "risk_class", "manual"]
OrderRule = Literal["over_limit", "group_over_limit", "percent_used", "overdue", "risk_class",
                    "payment_terms", "on_hold", "no_limit", "rate_missing"]


class _LimitOwner(IntegrationEvent):
    """A limit is a customer's or a credit group's, never both."""

    customer_id: str | None = Field(default=None, min_length=1, max_length=64)
    credit_group_id: str | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _one_owner(self) -> _LimitOwner:
        if (self.customer_id is None) == (self.credit_group_id is None):
            raise ValueError("a limit belongs to a customer_id or a credit_group_id, exactly one")
        return self

    @property
    def partition_key(self) -> str:
        return self.customer_id or f"group:{self.credit_group_id}"


class CreditLimitSet(_LimitOwner, event_type="CreditLimitSet", topic=AR_CREDIT):
    """A permanent credit limit, set by an approver who is not the requester."""

    version: Literal[1] = 1
    change_id: str
    limit: Money
    previous_limit: Money | None = None
    requested_by: str = Field(min_length=1)
    approved_by: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    effective_on: date


class TemporaryCreditLimitGranted(_LimitOwner, event_type="TemporaryCreditLimitGranted",
                                  topic=AR_CREDIT):
    """A higher limit until `expires_on` (inclusive); the permanent limit applies after."""

    version: Literal[1] = 1
    change_id: str
    limit: Money
    valid_from: date
    expires_on: date
    requested_by: str = Field(min_length=1)
    approved_by: str = Field(min_length=1)
    reason: str = Field(min_length=1)

    @model_validator(mode="after")
    def _expires_after_start(self) -> TemporaryCreditLimitGranted:
        if self.expires_on < self.valid_from:
            raise ValueError(f"expires on {self.expires_on}, before {self.valid_from}")
        return self


class RiskReason(BaseModel):
    """One factor of a risk score: how many points it added (or took off) and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    factor: str = Field(description="days_beyond_terms, trend, disputes, returned_payments, "
                                    "broken_promises, relationship_age, external_score, base")
    points: Amount
    explanation: str


class RiskScoreChanged(IntegrationEvent, event_type="RiskScoreChanged", topic=AR_CREDIT):
    """A customer's risk score moved: 0 is the safest, 100 the riskiest. Classes A (best)
    to E drive the blocking rules and the dunning policy."""

    version: Literal[1] = 1
    customer_id: str = AccountId
    score: Amount = Field(ge=0, le=100)
    risk_class: RiskClass
    previous_score: Amount | None = None
    previous_class: RiskClass | None = None
    internal_score: Amount = Field(ge=0, le=100, description="from payment behaviour alone")
    external_score: Amount | None = Field(default=None, ge=0, le=100,
                                          description="the external agency's, on the same scale")
    reasons: tuple[RiskReason, ...] = Field(min_length=1)
    scored_on: date


class CreditHoldPlaced(IntegrationEvent, event_type="CreditHoldPlaced", topic=AR_CREDIT):
    """The account is on credit hold: its new orders are held until the hold is released."""

    version: Literal[1] = 1
    hold_id: str
    customer_id: str = AccountId
    rule: HoldRule
    explanation: str
    placed_on: date


class CreditHoldReleased(IntegrationEvent, event_type="CreditHoldReleased", topic=AR_CREDIT):
    """The hold ended: automatically when its condition cleared, or by an approver."""

    version: Literal[1] = 1
    hold_id: str
    customer_id: str = AccountId
    rule: HoldRule
    automatic: bool
    released_by: str | None = Field(default=None, description="the approver; null when automatic")
    reason: str = Field(min_length=1)
    released_on: date

    @model_validator(mode="after")
    def _manual_release_names_approver(self) -> CreditHoldReleased:
        if not self.automatic and not self.released_by:
            raise ValueError("a manual release names the approver (released_by)")
        return self


class HeldBy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: OrderRule
    explanation: str


class _OrderDecision(IntegrationEvent):
    order_id: str = Field(min_length=1)
    customer_id: str = AccountId
    credit_group_id: str | None = None
    order_amount: Money = Field(description="the order's value in the functional currency")
    exposure: Money = Field(description="the customer's exposure including this order")
    limit: Money | None = Field(default=None, description="the customer's limit that applied")
    percent_used: Amount | None = Field(default=None, description="exposure / limit x 100")
    decided_on: date


class OrderCreditApproved(_OrderDecision, event_type="OrderCreditApproved", topic=AR_CREDIT):
    """The order may ship: no blocking rule held it, or an approver released it."""

    version: Literal[1] = 1
    released_by: str | None = Field(default=None, description="who released a held order")
    reason: str | None = None


class OrderCreditHeld(_OrderDecision, event_type="OrderCreditHeld", topic=AR_CREDIT):
    """The order must not ship yet: the rules that held it, each with why."""

    version: Literal[1] = 1
    held_by: tuple[HeldBy, ...] = Field(min_length=1)


__all__ = ["CreditHoldPlaced", "CreditHoldReleased", "CreditLimitSet", "HeldBy",
           "OrderCreditApproved", "OrderCreditHeld", "RiskReason", "RiskScoreChanged",
           "TemporaryCreditLimitGranted"]
