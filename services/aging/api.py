"""HTTP: balances and aging, as of today (the injected clock) or any date given."""

from __future__ import annotations

from datetime import date

import asyncpg
from fastapi import APIRouter, Header, HTTPException, Query

from libs.runtime.clock import Clock

from . import queries


def aging_router(pool_holder: dict[str, asyncpg.Pool], clock: Clock,
                 default_tenant: str) -> APIRouter:
    router = APIRouter(tags=["aging"])

    def pool() -> asyncpg.Pool:
        return pool_holder["pool"]

    @router.get("/customers/{customer_id}/balance", summary="A customer's open balance, aged")
    async def customer_balance(customer_id: str,
                               as_of: date | None = Query(default=None,
                                                          description="YYYY-MM-DD; default today"),
                               x_tenant: str | None = Header(default=None)) -> dict:
        return await queries.customer_balance(pool(), x_tenant or default_tenant, customer_id,
                                              as_of or clock.today())

    @router.get("/customers/{customer_id}/open-items", summary="A customer's open invoices")
    async def customer_open_items(customer_id: str, as_of: date | None = None,
                                  limit: int = Query(default=200, ge=1, le=10_000),
                                  include_settled: bool = False,
                                  x_tenant: str | None = Header(default=None)) -> list[dict]:
        return await queries.open_items(pool(), x_tenant or default_tenant, customer_id,
                                        as_of or clock.today(), limit, include_settled)

    @router.get("/aging", summary="Aging of all open items by customer and currency")
    async def aging(as_of: date | None = Query(default=None, description="YYYY-MM-DD; default today"),
                    x_tenant: str | None = Header(default=None)) -> dict:
        return await queries.aging_report(pool(), x_tenant or default_tenant,
                                          as_of or clock.today())

    @router.get("/invoices/{invoice_number}", summary="One invoice: open or settled")
    async def invoice(invoice_number: str, x_tenant: str | None = Header(default=None)) -> dict:
        status = await queries.invoice_status(pool(), x_tenant or default_tenant, invoice_number)
        if status is None:
            raise HTTPException(status_code=404, detail=f"no invoice {invoice_number!r}")
        return status

    return router
