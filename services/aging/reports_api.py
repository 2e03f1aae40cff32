"""HTTP: customer statements, payment predictions and the cash-in forecast."""

# No `from __future__ import annotations`: FastAPI resolves the local Annotated aliases.

import re
from datetime import date
from enum import StrEnum
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Response
from fastapi.responses import HTMLResponse

from libs.runtime.clock import Clock

from . import forecast, statement_formats, statements
from .kpis import Period


class StatementFormat(StrEnum):
    HTML = "html"
    PDF = "pdf"
    CSV = "csv"


def reports_router(pool_holder: dict[str, asyncpg.Pool], clock: Clock,
                   default_tenant: str) -> APIRouter:
    router = APIRouter(tags=["statements and forecasts"])

    def pool() -> asyncpg.Pool:
        return pool_holder["pool"]

    def tenant(x_tenant: Annotated[str | None, Header()] = None) -> str:
        return x_tenant or default_tenant

    Tenant = Annotated[str, Depends(tenant)]

    @router.get("/customers/{customer_id}/statement",
                summary="A customer's statement for a period: opening balance, every document "
                        "and cash movement, closing balance and its aging",
                response_class=Response)
    async def statement(
            customer_id: str, tenant: Tenant,
            start: Annotated[date | None, Query(alias="from", description="first day; default "
                                                "the first of the month of `to`")] = None,
            end: Annotated[date | None, Query(alias="to", description="last day; default "
                                              "today")] = None,
            file_format: Annotated[StatementFormat, Query(alias="format")] = StatementFormat.HTML,
    ) -> Response:
        end = end or clock.today()
        try:
            period = Period(start or end.replace(day=1), end)
        except ValueError as error:
            raise HTTPException(status_code=422, detail=f"from after to: {error}") from None
        if not await statements.customer_is_known(pool(), tenant, customer_id):
            raise HTTPException(status_code=404, detail=f"no customer {customer_id!r} in the "
                                f"receivables of tenant {tenant!r}")
        loaded = await statements.load_statement(pool(), tenant, customer_id, period)
        if file_format is StatementFormat.HTML:
            return HTMLResponse(statement_formats.as_html(loaded))
        name = re.sub(r"[^A-Za-z0-9._-]", "_", f"statement-{customer_id}-{period.start}-"
                                               f"{period.end}.{file_format.value}")
        disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
        if file_format is StatementFormat.PDF:
            return Response(statement_formats.as_pdf(loaded), media_type="application/pdf",
                            headers=disposition)
        return Response(statement_formats.as_csv(loaded), media_type="text/csv",
                        headers=disposition)

    @router.get("/customers/{customer_id}/predictions",
                summary="When each open invoice is expected to be paid, from the customer's "
                        "own payment history (the tenant's when it has too little)")
    async def customer_predictions(customer_id: str, tenant: Tenant) -> dict:
        if not await statements.customer_is_known(pool(), tenant, customer_id):
            raise HTTPException(status_code=404, detail=f"no customer {customer_id!r} in the "
                                f"receivables of tenant {tenant!r}")
        today = clock.today()
        expected = await forecast.predictions(pool(), tenant, today, customer_id)
        return {"tenant": tenant, "customer_id": customer_id, "as_of": today.isoformat(),
                "invoices": [forecast.prediction_json(p, today) for p in expected]}

    @router.get("/forecast/cash-in", summary="Expected cash-in per ISO week and currency, "
                "from the predicted payment date of every open invoice")
    async def cash_in(tenant: Tenant,
                      weeks: Annotated[int, Query(ge=1, le=104)] = 8) -> dict:
        return await forecast.cash_in(pool(), tenant, clock.today(), weeks)

    @router.get("/forecast/accuracy", summary="The predictions' measured error on the "
                "tenant's settled invoices, beside 'paid on the due date'")
    async def accuracy(tenant: Tenant, weeks: Annotated[int, Query(ge=1, le=52)] = 8) -> dict:
        return await forecast.accuracy(pool(), tenant, weeks)

    return router
