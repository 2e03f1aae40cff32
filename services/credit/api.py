"""HTTP for credit controllers: limits and their approval, credit groups, holds and held
orders, the tenant's blocking rules, and why a customer scores what it scores.

Headers: `X-Tenant` (default: the service's tenant), `X-Actor` (who asks; required for
every change). Bad input is a 4xx with a message and changes nothing.
"""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Header, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from libs.events.credit import RiskClass
from libs.events.money import Amount, Currency
from libs.runtime.causation import Causation
from libs.runtime.telemetry import current_traceparent

from .application import CreditApplication, UnknownAccount
from .domain import (
    CreditAccount,
    CreditError,
    CreditGroup,
    CreditPolicy,
    MissingRate,
    TenantCredit,
    to_functional,
)
from .projections import CreditViews


class LimitRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: Amount = Field(ge=0)
    currency: Currency
    reason: str = Field(min_length=1, max_length=500)
    valid_from: date | None = Field(default=None, description="for a temporary limit")
    expires_on: date | None = Field(default=None, description="for a temporary limit")


class Release(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class ExternalScore(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    score: Amount | None = Field(ge=0, le=100, description="0 safest .. 100 riskiest; null "
                                                           "to forget it")


class Policy(BaseModel):
    """A tenant's blocking rules (see services/credit/domain.py CreditPolicy)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    functional_currency: Currency = "EUR"
    hold_over_limit: bool = True
    hold_without_limit: bool = False
    max_percent_used: Amount | None = Field(default=None, gt=0)
    overdue_days: int = Field(default=60, ge=0)
    overdue_amount: Amount = Field(default=Decimal(0), ge=0)
    hold_risk_classes: tuple[RiskClass, ...] = ("E",)
    max_payment_terms_days: int | None = Field(default=None, ge=0)
    hold_when_on_hold: bool = True
    account_hold_overdue_days: int = Field(default=60, ge=0)
    account_hold_on_escalation: bool = True
    account_hold_risk_classes: tuple[RiskClass, ...] = ("E",)
    external_score_weight: Amount = Field(default=Decimal("0.3"), ge=0, le=1)


def _limits_view(holder: CreditAccount | CreditGroup, today: date) -> dict[str, Any]:
    limits = holder.limits
    return {
        "limit": _text(limits.effective(today)),
        "permanent_limit": _text(limits.permanent),
        "temporary_limit": None if limits.temporary is None else {
            "limit": str(limits.temporary), "valid_from": limits.temporary_from,
            "expires_on": limits.temporary_until},
        "pending_changes": [{"change_id": change_id, **{k: _text(v) if isinstance(v, Decimal)
                                                        else v for k, v in change.items()}}
                            for change_id, change in holder.pending_changes.items()],
    }


def _text(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)


def credit_router(credit: CreditApplication, views: CreditViews,
                  default_tenant: str) -> APIRouter:
    router = APIRouter(tags=["credit"])

    def causation(tenant: str | None, actor: str | None) -> Causation:
        return Causation(tenant=tenant or default_tenant, actor=(actor or "").strip() or None,
                         traceparent=current_traceparent())

    def needs_actor(actor: str | None) -> str:
        if not actor or not actor.strip():
            raise HTTPException(status_code=400, detail="say who asks: header X-Actor")
        return actor.strip()

    async def run(function: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(function, *args, **kwargs)
        except UnknownAccount as error:
            raise HTTPException(status_code=404, detail=str(error)) from None
        except CreditError as error:
            raise HTTPException(status_code=409, detail=str(error)) from None

    def check_currency(request: LimitRequest, tenant: str) -> None:
        functional = credit.policy_of(tenant).functional_currency
        if request.currency != functional:
            raise HTTPException(status_code=422, detail=f"limits are set in the functional "
                                                        f"currency {functional}, not "
                                                        f"{request.currency}")

    @router.get("/customers/{customer_id}/credit", summary="Limit, exposure, risk and holds")
    async def account_view(customer_id: str,
                           x_tenant: str | None = Header(default=None)) -> dict[str, Any]:
        tenant = x_tenant or default_tenant
        account = await run(credit.account, tenant, customer_id)
        today = credit.clock.today()
        policy = credit.policy_of(tenant)
        view: dict[str, Any] = {"customer_id": customer_id, "currency": policy.functional_currency,
                                "credit_group_id": account.group_id,
                                **_limits_view(account, today),
                                "risk_score": _text(account.score),
                                "risk_class": account.risk_class,
                                "holds": [{"rule": rule, **hold}
                                          for rule, hold in sorted(account.holds.items())]}
        try:
            exposure = account.exposure(lambda amount, currency: _convert(
                credit, tenant, amount, currency))
        except MissingRate as missing:
            view["exposure"] = {"error": str(missing)}
            return view
        limit = account.limits.effective(today)
        view["exposure"] = {
            "total": str(exposure.total), "open_receivables": str(exposure.open_receivables),
            "open_orders": str(exposure.open_orders),
            "shipped_not_invoiced": str(exposure.shipped_not_invoiced),
            "unapplied_credits": str(exposure.unapplied_credits)}
        view["percent_used"] = (None if not limit
                                else str((exposure.total / limit * 100).quantize(Decimal("0.01"))))
        return view

    @router.get("/customers/{customer_id}/risk", summary="The risk score and why")
    async def explain_risk(customer_id: str,
                           x_tenant: str | None = Header(default=None)) -> dict[str, Any]:
        account = await run(credit.account, x_tenant or default_tenant, customer_id)
        return {"customer_id": customer_id, "score": _text(account.score),
                "risk_class": account.risk_class,
                "external_score": _text(account.external_score),
                "reasons": [{**reason, "points": str(reason["points"])}
                            for reason in account.reasons],
                "explanation": "; ".join(f"{reason['explanation']} ({reason['points']:+} points)"
                                         for reason in account.reasons)}

    # A customer's limit and a credit group's go through the same four-eyes steps.
    async def request_limit(request: LimitRequest, x_tenant: str | None, x_actor: str | None,
                            **owner: str) -> dict[str, str]:
        needs_actor(x_actor)
        asked = causation(x_tenant, x_actor)
        check_currency(request, asked.tenant)
        change_id = await run(credit.request_limit_change, asked, request.amount,
                              request.reason, valid_from=request.valid_from,
                              expires_on=request.expires_on, **owner)
        return {"change_id": change_id}

    async def approve_limit(change_id: str, x_tenant: str | None, x_actor: str | None,
                            **owner: str) -> None:
        needs_actor(x_actor)
        await run(credit.approve_limit_change, causation(x_tenant, x_actor), change_id, **owner)

    @router.post("/customers/{customer_id}/limit-requests", status_code=201,
                 summary="Ask for a new limit (temporary with valid_from and expires_on)")
    async def request_customer_limit(customer_id: str, request: LimitRequest,
                                     x_tenant: str | None = Header(default=None),
                                     x_actor: str | None = Header(default=None)) -> dict[str, str]:
        return await request_limit(request, x_tenant, x_actor, customer_id=customer_id)

    @router.post("/customers/{customer_id}/limit-requests/{change_id}/approve",
                 summary="Approve a limit change (not by its requester)")
    async def approve_customer_limit(customer_id: str, change_id: str,
                                     x_tenant: str | None = Header(default=None),
                                     x_actor: str | None = Header(default=None)) -> dict[str, Any]:
        await approve_limit(change_id, x_tenant, x_actor, customer_id=customer_id)
        return await account_view(customer_id, x_tenant)

    @router.post("/groups/{group_id}/limit-requests", status_code=201,
                 summary="Ask for a new limit of a credit group")
    async def request_group_limit(group_id: str, request: LimitRequest,
                                  x_tenant: str | None = Header(default=None),
                                  x_actor: str | None = Header(default=None)) -> dict[str, str]:
        return await request_limit(request, x_tenant, x_actor, group_id=group_id)

    @router.post("/groups/{group_id}/limit-requests/{change_id}/approve",
                 summary="Approve a credit group's limit change (not by its requester)")
    async def approve_group_limit(group_id: str, change_id: str,
                                  x_tenant: str | None = Header(default=None),
                                  x_actor: str | None = Header(default=None)) -> dict[str, Any]:
        await approve_limit(change_id, x_tenant, x_actor, group_id=group_id)
        return await group_view(group_id, x_tenant)

    @router.put("/groups/{group_id}/members/{customer_id}",
                summary="Make a customer share the group's limit")
    async def add_member(group_id: str, customer_id: str,
                         x_tenant: str | None = Header(default=None),
                         x_actor: str | None = Header(default=None)) -> dict[str, Any]:
        needs_actor(x_actor)
        await run(credit.add_to_group, causation(x_tenant, x_actor), group_id, customer_id)
        return await group_view(group_id, x_tenant)

    @router.get("/groups/{group_id}", summary="A credit group: members and limit")
    async def group_view(group_id: str,
                         x_tenant: str | None = Header(default=None)) -> dict[str, Any]:
        group = await run(credit.group, x_tenant or default_tenant, group_id)
        return {"credit_group_id": group_id, "members": list(group.members),
                **_limits_view(group, credit.clock.today())}

    @router.post("/customers/{customer_id}/holds", status_code=201,
                 summary="Put the account on hold by hand, with a reason")
    async def place_hold(customer_id: str, hold: Release,
                         x_tenant: str | None = Header(default=None),
                         x_actor: str | None = Header(default=None)) -> dict[str, Any]:
        needs_actor(x_actor)
        await run(credit.place_manual_hold, causation(x_tenant, x_actor), customer_id,
                  hold.reason)
        return await account_view(customer_id, x_tenant)

    @router.post("/customers/{customer_id}/holds/{rule}/release",
                 summary="Release an account hold by hand, with a reason")
    async def release_hold(customer_id: str, rule: str, release: Release,
                           x_tenant: str | None = Header(default=None),
                           x_actor: str | None = Header(default=None)) -> dict[str, Any]:
        needs_actor(x_actor)
        await run(credit.release_hold, causation(x_tenant, x_actor), customer_id, rule,
                  release.reason)
        return await account_view(customer_id, x_tenant)

    @router.post("/customers/{customer_id}/orders/{order_id}/release",
                 summary="Let a held order ship, with a reason")
    async def release_order(customer_id: str, order_id: str, release: Release,
                            x_tenant: str | None = Header(default=None),
                            x_actor: str | None = Header(default=None)) -> dict[str, str]:
        needs_actor(x_actor)
        await run(credit.release_order, causation(x_tenant, x_actor), customer_id, order_id,
                  release.reason)
        return {"order_id": order_id, "status": "approved"}

    @router.put("/customers/{customer_id}/external-score",
                summary="The external agency's score, blended into the risk score")
    async def external_score(customer_id: str, body: ExternalScore,
                             x_tenant: str | None = Header(default=None),
                             x_actor: str | None = Header(default=None)) -> dict[str, Any]:
        needs_actor(x_actor)
        await run(credit.set_external_score, causation(x_tenant, x_actor), customer_id,
                  body.score)
        return await explain_risk(customer_id, x_tenant)

    @router.get("/holds/orders", summary="Orders held for credit")
    async def held_orders(x_tenant: str | None = Header(default=None)) -> list[dict[str, Any]]:
        return await asyncio.to_thread(views.held_orders_of, x_tenant or default_tenant)

    @router.get("/holds/accounts", summary="Accounts on credit hold")
    async def held_accounts(x_tenant: str | None = Header(default=None)) -> list[dict[str, Any]]:
        return await asyncio.to_thread(views.held_accounts_of, x_tenant or default_tenant)

    @router.get("/policy", summary="The tenant's blocking rules")
    async def get_policy(x_tenant: str | None = Header(default=None)) -> dict[str, Any]:
        return Policy(**credit.policy_of(x_tenant or default_tenant).as_dict()).model_dump(
            mode="json")

    @router.put("/policy", summary="Change the tenant's blocking rules")
    async def put_policy(policy: Policy, x_tenant: str | None = Header(default=None),
                         x_actor: str | None = Header(default=None)) -> dict[str, Any]:
        needs_actor(x_actor)
        await run(credit.set_policy, CreditPolicy.from_dict(policy.model_dump()),
                  causation(x_tenant, x_actor))
        return await get_policy(x_tenant)

    @router.post("/reviews", summary="Re-assess every account as of today")
    async def review(x_tenant: str | None = Header(default=None),
                     x_actor: str | None = Header(default=None)) -> dict[str, int]:
        asked = causation(x_tenant, x_actor or "credit")
        customers = await asyncio.to_thread(views.customers_of, asked.tenant)
        for customer_id in customers:
            await run(credit.review, asked, customer_id)
        return {"reviewed": len(customers)}

    return router


def _convert(credit: CreditApplication, tenant: str, amount: Decimal, currency: str) -> Decimal:
    settings = credit.get_or_none(TenantCredit.create_id(tenant))
    return to_functional(amount, currency, credit.policy_of(tenant).functional_currency,
                         settings.rates if settings is not None else {})
