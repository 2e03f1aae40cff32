"""KPIs over the projection: their inputs in SQL, their arithmetic in `kpis.py`.

Each figure is computed per currency from business dates, so a KPI for a past
period is what it was then, not what today's data make of it.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from . import kpis
from .history import OPEN_ITEMS_AS_OF
from .kpis import Period, PeriodSales, SettledInvoice, UndefinedKPI
from .projections import SCHEMA

DEFINITIONS = {
    "dso_standard": "ending AR / credit sales in the period x days in the period",
    "dso_countback": "days of the most recent months' credit sales that the ending AR covers",
    "best_possible_dso": "AR not yet due / credit sales in the period x days in the period",
    "average_days_delinquent": "DSO (standard) - best possible DSO",
    "collection_effectiveness_index": ("(beginning AR + credit sales - ending AR) / "
                                       "(beginning AR + credit sales - ending current AR) x 100"),
    "ar_turnover": "credit sales / average of beginning and ending AR",
    "percent_paid_on_time": "invoices settled in the period on or before their due date, % of count",
    "average_days_late": "mean of max(0, settled - due) over invoices settled in the period",
    "average_days_to_settle": "mean of settled - issued over invoices settled in the period",
}


async def _receivable(connection: asyncpg.Connection, tenant: str, currency: str, on: date,
                      not_yet_due: bool = False) -> Decimal:
    condition = "AND due_date >= $2" if not_yet_due else ""
    return await connection.fetchval(
        f"SELECT coalesce(sum(open_amount), 0) FROM ({OPEN_ITEMS_AS_OF}) AS items "
        f"WHERE currency = $3 {condition}", tenant, on, currency)


async def _credit_sales(connection: asyncpg.Connection, tenant: str, currency: str,
                        period: Period) -> Decimal:
    return await connection.fetchval(
        f"SELECT coalesce(sum(original_amount), 0) FROM {SCHEMA}.open_items "
        "WHERE tenant = $1 AND currency = $2 AND issue_date BETWEEN $3 AND $4",
        tenant, currency, period.start, period.end)


async def _settled_in(connection: asyncpg.Connection, tenant: str, currency: str,
                      period: Period) -> list[SettledInvoice]:
    rows = await connection.fetch(
        f"SELECT invoice_id, issue_date, due_date, settled_on, original_amount "
        f"FROM {SCHEMA}.open_items WHERE tenant = $1 AND currency = $2 "
        "AND settled_on BETWEEN $3 AND $4", tenant, currency, period.start, period.end)
    return [SettledInvoice(invoice_id=row["invoice_id"], invoice_date=row["issue_date"],
                           due_date=row["due_date"], settled_date=row["settled_on"],
                           amount=row["original_amount"]) for row in rows]


def _or_none(compute) -> str | None:  # noqa: ANN001 - a zero-argument KPI
    try:
        return str(compute())
    except UndefinedKPI:
        return None


async def kpi_report(pool: asyncpg.Pool, tenant: str, currency: str,
                     period: Period) -> dict[str, Any]:
    async with pool.acquire() as connection:
        day_before = period.start - timedelta(days=1)
        beginning_ar = await _receivable(connection, tenant, currency, day_before)
        ending_ar = await _receivable(connection, tenant, currency, period.end)
        ending_current_ar = await _receivable(connection, tenant, currency, period.end,
                                              not_yet_due=True)
        credit_sales = await _credit_sales(connection, tenant, currency, period)
        months = kpis.months(period.end.replace(day=1) - timedelta(days=365), period.end)
        monthly_sales = [PeriodSales(month, await _credit_sales(connection, tenant, currency,
                                                                month)) for month in months]
        settled = await _settled_in(connection, tenant, currency, period)
    days = period.days
    return {
        "tenant": tenant,
        "currency": currency,
        "period": {"start": period.start.isoformat(), "end": period.end.isoformat(),
                   "days": days},
        "inputs": {"beginning_ar": str(beginning_ar), "ending_ar": str(ending_ar),
                   "ending_current_ar": str(ending_current_ar),
                   "credit_sales": str(credit_sales), "invoices_settled": len(settled)},
        "kpis": {
            "dso_standard": _or_none(lambda: kpis.dso_standard(ending_ar, credit_sales, days)),
            "dso_countback": _or_none(lambda: kpis.dso_countback(ending_ar, monthly_sales)),
            "best_possible_dso": _or_none(
                lambda: kpis.best_possible_dso(ending_current_ar, credit_sales, days)),
            "average_days_delinquent": _or_none(lambda: kpis.average_days_delinquent(
                ending_ar, ending_current_ar, credit_sales, days)),
            "collection_effectiveness_index": _or_none(
                lambda: kpis.collection_effectiveness_index(beginning_ar, credit_sales,
                                                            ending_ar, ending_current_ar)),
            "ar_turnover": _or_none(lambda: kpis.ar_turnover(credit_sales, beginning_ar,
                                                             ending_ar)),
            "percent_paid_on_time": _or_none(lambda: kpis.percent_paid_on_time(settled)),
            "average_days_late": _or_none(lambda: kpis.average_days_late(settled)),
            "average_days_to_settle": _or_none(lambda: kpis.average_days_to_settle(settled)),
        },
        "definitions": DEFINITIONS,
    }
