"""HTTP: why a payment was applied (or not), a person's match, unmatch and re-match, and
the invoices the ERP says are paid that no payment clears.

Every change says who (`actor`) and why (`reason`); bad input is a 4xx with a message
and changes nothing. The tenant comes from the X-Tenant header.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Header, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from libs.events.money import Amount
from libs.runtime.clock import Clock

from .application import MatchingApplication, PaymentNotFound
from .domain import Refused


class InvoiceToSettle(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invoice_number: str = Field(min_length=1)
    amount: Amount | None = Field(default=None, gt=0,
                                  description="default: as much as is open and unapplied")


class ManualMatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invoices: list[InvoiceToSettle] = Field(min_length=1)
    actor: str = Field(min_length=1, description="who decides: the collector's id")
    reason: str = Field(min_length=1, description="why, in their words")


class Unmatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    application_id: str | None = Field(default=None,
                                       description="one application; default: all of them")
    actor: str = Field(min_length=1)
    reason: str = Field(min_length=1)


class ErpPaidCheckRun(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: dt.date | None = Field(default=None, description="check as of this day; default today")


def matching_router(matching: MatchingApplication, default_tenant: str, clock: Clock) -> APIRouter:
    router = APIRouter(tags=["matching"])

    async def run(command: Any, *args: Any) -> None:
        try:
            await asyncio.to_thread(command, *args)
        except PaymentNotFound as error:
            raise HTTPException(status_code=404, detail=str(error)) from None
        except Refused as error:
            raise HTTPException(status_code=409, detail=str(error)) from None

    async def explained(tenant: str, payment_id: str) -> dict[str, Any]:
        explanation = await asyncio.to_thread(matching.explanation, tenant, payment_id)
        if explanation is None:
            raise HTTPException(status_code=404, detail=f"no payment {payment_id!r}")
        return explanation

    @router.get("/payments/{payment_id}/explanation",
                summary="What was decided about a payment, and why, in a collector's words")
    async def explanation(payment_id: str, x_tenant: str | None = Header(default=None)) -> dict:
        return await explained(x_tenant or default_tenant, payment_id)

    @router.post("/payments/{payment_id}/matches", status_code=201,
                 summary="Apply a payment to invoices by hand")
    async def match(payment_id: str, command: ManualMatch,
                    x_tenant: str | None = Header(default=None)) -> dict:
        tenant = x_tenant or default_tenant
        allocations: list[tuple[str, Decimal | None]] = [
            (invoice.invoice_number, invoice.amount) for invoice in command.invoices]
        await run(matching.match_manually, tenant, payment_id, allocations, command.actor,
                  command.reason, clock.today())
        return await explained(tenant, payment_id)

    @router.post("/payments/{payment_id}/unmatch",
                 summary="Undo an application (or all): the invoices are open again")
    async def unmatch(payment_id: str, command: Unmatch,
                      x_tenant: str | None = Header(default=None)) -> dict:
        tenant = x_tenant or default_tenant
        await run(matching.unmatch, tenant, payment_id, command.application_id, command.actor,
                  command.reason, clock.today())
        return await explained(tenant, payment_id)

    @router.post("/payments/{payment_id}/rematch",
                 summary="Undo what was applied and apply the payment to these invoices instead")
    async def rematch(payment_id: str, command: ManualMatch,
                      x_tenant: str | None = Header(default=None)) -> dict:
        tenant = x_tenant or default_tenant
        allocations: list[tuple[str, Decimal | None]] = [
            (invoice.invoice_number, invoice.amount) for invoice in command.invoices]
        await run(matching.match_manually, tenant, payment_id, allocations, command.actor,
                  command.reason, clock.today(), True)
        return await explained(tenant, payment_id)

    @router.get("/exceptions/erp-paid-uncleared",
                summary="Invoices the ERP marked paid that no payment clears, past the grace")
    async def erp_paid_uncleared(x_tenant: str | None = Header(default=None)) -> dict:
        exceptions = await asyncio.to_thread(matching.erp_paid_uncleared,
                                             x_tenant or default_tenant)
        return {"exceptions": exceptions}

    @router.post("/exceptions/erp-paid-uncleared/checks",
                 summary="Check the ERP's paid invoices now (the service also does it on a "
                         "schedule)")
    async def check_erp_paid(command: ErpPaidCheckRun | None = None) -> dict:
        on = (command.date if command else None) or clock.today()
        raised = await asyncio.to_thread(matching.check_erp_paid, on)
        return {"checked_on": on.isoformat(), "raised": raised}

    return router
