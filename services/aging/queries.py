"""Read queries over the open-item projection: balances and aging buckets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from .projections import SCHEMA


@dataclass(frozen=True)
class Bucket:
    label: str
    low: int | None   # days past due, inclusive; None = open below
    high: int | None  # inclusive; None = open above


DEFAULT_BUCKETS = (
    Bucket("current", None, 0),
    Bucket("1-30", 1, 30),
    Bucket("31-60", 31, 60),
    Bucket("61-90", 61, 90),
    Bucket("90+", 91, None),
)


def _bucket_columns(buckets: tuple[Bucket, ...]) -> str:
    columns = []
    for index, bucket in enumerate(buckets):
        conditions = []
        if bucket.low is not None:
            conditions.append(f"$2::date - due_date >= {int(bucket.low)}")
        if bucket.high is not None:
            conditions.append(f"$2::date - due_date <= {int(bucket.high)}")
        condition = " AND ".join(conditions) or "true"
        columns.append(f"coalesce(sum(open_amount) FILTER (WHERE {condition}), 0) AS b{index}")
    return ", ".join(columns)



def _row_buckets(row: asyncpg.Record, buckets: tuple[Bucket, ...]) -> dict[str, str]:
    return {bucket.label: str(row[f"b{index}"]) for index, bucket in enumerate(buckets)}


async def customer_balance(pool: asyncpg.Pool, tenant: str, customer_id: str, as_of: date,
                           buckets: tuple[Bucket, ...] = DEFAULT_BUCKETS) -> dict[str, Any]:
    async with pool.acquire() as connection:
        totals = await connection.fetch(
            f"""
            SELECT currency, sum(open_amount) AS open_amount, count(*) AS open_items,
                   {_bucket_columns(buckets)}
            FROM {SCHEMA}.open_items
            WHERE tenant = $1 AND customer_id = $3 AND open_amount <> 0
            GROUP BY currency ORDER BY currency
            """, tenant, as_of, customer_id)
        unapplied = await connection.fetch(
            f"""
            SELECT currency, sum(amount) AS amount, count(*) AS payments
            FROM {SCHEMA}.unapplied_cash WHERE tenant = $1 AND customer_id = $2
            GROUP BY currency ORDER BY currency
            """, tenant, customer_id)
    return {
        "tenant": tenant,
        "customer_id": customer_id,
        "as_of": as_of.isoformat(),
        "balances": [
            {"currency": row["currency"], "open_amount": str(row["open_amount"]),
             "open_items": row["open_items"], "buckets": _row_buckets(row, buckets)}
            for row in totals
        ],
        "unapplied_cash": [
            {"currency": row["currency"], "amount": str(row["amount"]), "payments": row["payments"]}
            for row in unapplied
        ],
    }


async def aging_report(pool: asyncpg.Pool, tenant: str, as_of: date,
                       buckets: tuple[Bucket, ...] = DEFAULT_BUCKETS) -> dict[str, Any]:
    async with pool.acquire() as connection:
        rows = await connection.fetch(
            f"""
            SELECT customer_id, currency, sum(open_amount) AS open_amount, count(*) AS open_items,
                   {_bucket_columns(buckets)}
            FROM {SCHEMA}.open_items
            WHERE tenant = $1 AND open_amount <> 0
            GROUP BY GROUPING SETS ((customer_id, currency), (currency))
            ORDER BY currency, customer_id NULLS LAST
            """, tenant, as_of)
    customers = [row for row in rows if row["customer_id"] is not None]
    totals = [row for row in rows if row["customer_id"] is None]
    return {
        "tenant": tenant,
        "as_of": as_of.isoformat(),
        "buckets": [bucket.label for bucket in buckets],
        "customers": [
            {"customer_id": row["customer_id"], "currency": row["currency"],
             "open_amount": str(row["open_amount"]), "open_items": row["open_items"],
             "buckets": _row_buckets(row, buckets)}
            for row in customers
        ],
        "totals": [
            {"currency": row["currency"], "open_amount": str(row["open_amount"]),
             "open_items": row["open_items"], "buckets": _row_buckets(row, buckets)}
            for row in totals
        ],
    }


async def invoice_status(pool: asyncpg.Pool, tenant: str, invoice_number: str) -> dict[str, Any] | None:
    async with pool.acquire() as connection:
        row = await connection.fetchrow(
            f"""
            SELECT invoice_id, invoice_number, customer_id, currency, issue_date, due_date,
                   original_amount, open_amount, settled_on
            FROM {SCHEMA}.open_items WHERE tenant = $1 AND invoice_number = $2
            """, tenant, invoice_number)
    if row is None:
        return None
    return {
        "invoice_id": row["invoice_id"],
        "invoice_number": row["invoice_number"],
        "customer_id": row["customer_id"],
        "currency": row["currency"],
        "issue_date": row["issue_date"].isoformat(),
        "due_date": row["due_date"].isoformat(),
        "original_amount": str(row["original_amount"]),
        "open_amount": str(row["open_amount"]),
        "status": "settled" if row["open_amount"] <= 0 else "open",
        "settled_on": row["settled_on"].isoformat() if row["settled_on"] else None,
    }


async def open_items(pool: asyncpg.Pool, tenant: str, customer_id: str, as_of: date,
                     limit: int = 200, include_settled: bool = False) -> list[dict[str, Any]]:
    """The customer's open invoices (or all its invoices), oldest due first."""
    async with pool.acquire() as connection:
        rows = await connection.fetch(
            f"""
            SELECT invoice_id, invoice_number, order_id, currency, issue_date, due_date,
                   original_amount, open_amount, $2::date - due_date AS days_past_due
            FROM {SCHEMA}.open_items
            WHERE tenant = $1 AND customer_id = $3 AND ($5 OR open_amount <> 0)
            ORDER BY due_date, invoice_number LIMIT $4
            """, tenant, as_of, customer_id, limit, include_settled)
    return [
        {"invoice_id": row["invoice_id"], "invoice_number": row["invoice_number"],
         "order_id": row["order_id"], "currency": row["currency"], "issue_date": row["issue_date"].isoformat(),
         "due_date": row["due_date"].isoformat(), "original_amount": str(row["original_amount"]),
         "open_amount": str(row["open_amount"]),
         "days_past_due": max(row["days_past_due"], 0) if row["open_amount"] > 0 else 0}
        for row in rows
    ]
