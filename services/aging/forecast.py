"""Payment predictions and the cash-in forecast over the projection: the history and the
open invoices in SQL, the rule in prediction.py."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from typing import Any

import asyncpg

from .prediction import (
    Invoice,
    PaymentBehaviour,
    Prediction,
    as_of_dates,
    backtest,
    on_due_date,
    weekly_cash_in,
)
from .projections import SCHEMA

# Settled by payment (or by a difference written off with one): settled_on is set then.
_DELAYS_SQL = f"""
    SELECT customer_id, settled_on - due_date AS delay, count(*) AS invoices
    FROM {SCHEMA}.open_items
    WHERE tenant = $1 AND settled_on IS NOT NULL AND open_amount <= 0 {{customer}}
    GROUP BY customer_id, delay
"""

_OPEN_SQL = f"""
    SELECT invoice_id, invoice_number, customer_id, currency, issue_date, due_date, open_amount
    FROM {SCHEMA}.open_items
    WHERE tenant = $1 AND open_amount > 0 {{customer}}
"""


async def _behaviour(connection: asyncpg.Connection, tenant: str,
                     customer_id: str | None) -> PaymentBehaviour:
    by_customer: dict[str, Counter[int]] = defaultdict(Counter)
    everyone: Counter[int] = Counter()
    for row in await connection.fetch(_DELAYS_SQL.format(customer=""), tenant):
        everyone[row["delay"]] += row["invoices"]
        if customer_id in (None, row["customer_id"]):
            by_customer[row["customer_id"]][row["delay"]] += row["invoices"]
    return PaymentBehaviour(by_customer, everyone)


async def _open_invoices(connection: asyncpg.Connection, tenant: str,
                         customer_id: str | None) -> list[Invoice]:
    if customer_id is None:
        rows = await connection.fetch(_OPEN_SQL.format(customer=""), tenant)
    else:
        rows = await connection.fetch(_OPEN_SQL.format(customer="AND customer_id = $2"),
                                      tenant, customer_id)
    return [Invoice(row["invoice_id"], row["customer_id"], row["currency"], row["issue_date"],
                    row["due_date"], row["open_amount"], invoice_number=row["invoice_number"])
            for row in rows]


async def predictions(pool: asyncpg.Pool, tenant: str, as_of: date,
                      customer_id: str | None = None) -> list[Prediction]:
    async with pool.acquire() as connection:
        behaviour = await _behaviour(connection, tenant, customer_id)
        invoices = await _open_invoices(connection, tenant, customer_id)
    return sorted((behaviour.predict(invoice, as_of) for invoice in invoices),
                  key=lambda p: (p.expected_on, p.invoice.invoice_number))


def prediction_json(prediction: Prediction, as_of: date) -> dict[str, Any]:
    invoice = prediction.invoice
    return {"invoice_id": invoice.invoice_id, "invoice_number": invoice.invoice_number,
            "currency": invoice.currency, "open_amount": str(invoice.amount),
            "due_date": invoice.due_date.isoformat(),
            "days_past_due": max((as_of - invoice.due_date).days, 0),
            "expected_payment_date": prediction.expected_on.isoformat(),
            "expected_days_late": (prediction.expected_on - invoice.due_date).days,
            "basis": prediction.basis, "history": prediction.history}


async def cash_in(pool: asyncpg.Pool, tenant: str, as_of: date, weeks: int) -> dict[str, Any]:
    expected = [(p.invoice, p.expected_on) for p in await predictions(pool, tenant, as_of)]
    return {"tenant": tenant, "as_of": as_of.isoformat(), "weeks": [
        {"currency": week.currency, "week": week.week,
         "week_start": week.week_start.isoformat(), "amount": str(week.amount),
         "invoices": week.invoices}
        for week in weekly_cash_in(expected, as_of, weeks)]}


async def accuracy(pool: asyncpg.Pool, tenant: str, weeks: int) -> dict[str, Any]:
    """The backtest on the tenant's settled invoices (those still open cannot be scored
    and are left out), beside the 'paid on the due date' baseline."""
    rows = await pool.fetch(
        f"SELECT invoice_id, customer_id, currency, issue_date, due_date, original_amount, "
        f"settled_on FROM {SCHEMA}.open_items "
        "WHERE tenant = $1 AND settled_on IS NOT NULL AND open_amount <= 0", tenant)
    invoices = [Invoice(row["invoice_id"], row["customer_id"], row["currency"],
                        row["issue_date"], row["due_date"], row["original_amount"],
                        row["settled_on"]) for row in rows]
    result: dict[str, Any] = {"tenant": tenant, "weeks": weeks, "settled_invoices": len(invoices)}
    try:
        dates = as_of_dates(invoices) if invoices else []
        model = backtest(invoices, dates, weeks)
        baseline = backtest(invoices, dates, weeks, rule=on_due_date)
    except ValueError as nothing_to_measure:
        return {**result, "measured": False, "reason": str(nothing_to_measure)}
    return {**result, "measured": True, "as_of_dates": len(dates),
            "predictions": model.predictions,
            "mean_absolute_error_days": round(model.mean_absolute_error_days, 2),
            "weekly_error_percent": round(model.weekly_error_percent, 1),
            "baseline_on_due_date": {
                "mean_absolute_error_days": round(baseline.mean_absolute_error_days, 2),
                "weekly_error_percent": round(baseline.weekly_error_percent, 1)}}
