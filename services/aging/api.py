"""HTTP: balances and aging, as of today (the injected clock) or any past date."""

# No `from __future__ import annotations`: FastAPI resolves the local Annotated aliases.

from datetime import date
from typing import Annotated

import asyncpg
import orjson
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse

from libs.runtime.clock import Clock

from . import analysts, live, queries
from .buckets import AgingBasis, AgingBuckets
from .kpi_report import kpi_report
from .kpis import Period
from .queries import AgingView, GroupBy


def _json(content: object) -> Response:
    """`content` as the JSON response, encoded once by orjson. A returned dict would be
    validated and encoded by FastAPI: several times what the query costs."""
    return Response(orjson.dumps(content), media_type="application/json")


def aging_router(pool_holder: dict[str, asyncpg.Pool], clock: Clock,
                 default_tenant: str, database_url: str) -> APIRouter:
    router = APIRouter(tags=["aging"])

    def pool() -> asyncpg.Pool:
        return pool_holder["pool"]

    # Dependencies are coroutines: FastAPI runs a plain function in a worker thread, a
    # hop that cost more than the balance query.
    async def tenant(x_tenant: Annotated[str | None, Header()] = None) -> str:
        return x_tenant or default_tenant

    async def aging_view(
        as_of: Annotated[date | None, Query(description="YYYY-MM-DD; default today. A past "
                                            "date reconstructs what was open then.")] = None,
        buckets: Annotated[str, Query(description="bucket limits in days",
                                      examples=["30,60,90"])] = "30,60,90",
        basis: Annotated[AgingBasis, Query(description="age from the due date or the "
                                           "document date")] = AgingBasis.DUE_DATE,
    ) -> AgingView:
        try:
            limits = AgingBuckets.from_spec(buckets)
        except ValueError as error:
            raise HTTPException(status_code=422, detail=str(error)) from None
        today = clock.today()
        return AgingView(as_of=as_of or today, today=today, buckets=limits, basis=basis)

    Tenant = Annotated[str, Depends(tenant)]
    View = Annotated[AgingView, Depends(aging_view)]

    @router.get("/customers/{customer_id}/balance", summary="A customer's open balance, aged")
    async def customer_balance(customer_id: str, tenant: Tenant, view: View) -> Response:
        return _json(await queries.customer_balance(pool(), tenant, customer_id, view))

    @router.get("/customers/{customer_id}/open-items", summary="A customer's open invoices")
    async def customer_open_items(
            customer_id: str, tenant: Tenant, view: View,
            limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
            include_settled: bool = False) -> Response:
        return _json(await queries.open_items(pool(), tenant, customer_id, view, limit,
                                              include_settled))

    @router.get("/aging", summary="Aging of all open items by customer (or segment, "
                "collector, credit group, tenant) and currency")
    async def aging(
            tenant: Tenant, view: View,
            group_by: Annotated[GroupBy, Query(description="one line per customer, segment, "
                                               "collector, credit group, or the tenant")]
            = GroupBy.CUSTOMER,
            functional: Annotated[bool, Query(description="add today's totals in the "
                                              "functional currency")] = False) -> Response:
        if not functional:  # the report's JSON as the database wrote it
            return Response(await queries.aging_report_json(pool(), tenant, view, group_by),
                            media_type="application/json")
        report = await queries.aging_report(pool(), tenant, view, group_by)
        report["functional_totals"] = await queries.functional_totals(pool(), tenant)
        return _json(report)

    @router.get("/kpis", summary="DSO, best possible DSO, ADD, CEI, turnover, days late")
    async def kpi_figures(
            tenant: Tenant,
            currency: Annotated[str, Query(min_length=3, max_length=3)],
            period_end: Annotated[date | None, Query(description="default today")] = None,
            days: Annotated[int, Query(ge=1, le=3660, description="period length")] = 90,
    ) -> dict:
        period = Period.rolling(period_end or clock.today(), days)
        return await kpi_report(pool(), tenant, currency.upper(), period)

    @router.get("/stream/balances", summary="Server-sent events: a customer's new balance "
                "each time it changes (all customers when none is given)")
    async def balance_stream(request: Request, tenant: Tenant,
                             customer_id: str | None = None) -> StreamingResponse:
        def today_view() -> AgingView:
            return AgingView(as_of=clock.today(), today=clock.today())

        return StreamingResponse(
            live.balance_changes(request, pool(), database_url, tenant, customer_id, today_view),
            media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @router.get("/exports/{name}.{file_format}", summary="A view as CSV or Parquet",
                description="Names: " + ", ".join(analysts.EXPORTS))
    async def export(name: str, file_format: str, tenant: Tenant) -> Response:
        if name not in analysts.EXPORTS or file_format not in ("csv", "parquet"):
            raise HTTPException(status_code=404, detail=(
                f"no export {name}.{file_format}; exports are "
                f"{', '.join(analysts.EXPORTS)} as .csv or .parquet"))
        rows = await analysts.export_rows(pool(), name, tenant)
        if file_format == "csv":
            return Response(analysts.as_csv(rows), media_type="text/csv")
        return Response(analysts.as_parquet(rows), media_type="application/vnd.apache.parquet")

    @router.get("/invoices/{invoice_number}", summary="One invoice: open or settled")
    async def invoice(invoice_number: str, tenant: Tenant) -> dict:
        status = await queries.invoice_status(pool(), tenant, invoice_number)
        if status is None:
            raise HTTPException(status_code=404, detail=f"no invoice {invoice_number!r}")
        return status

    return router
