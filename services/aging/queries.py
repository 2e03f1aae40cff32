"""Read queries over the open-item projection: balances and aging buckets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

import asyncpg

from .buckets import DEFAULT_BUCKETS, AgingBasis, AgingBuckets
from .history import open_items_source
from .projections import SCHEMA


@dataclass(frozen=True)
class AgingView:
    """How to age: on which date, with which buckets, counted from which date."""

    as_of: date
    today: date
    buckets: AgingBuckets = DEFAULT_BUCKETS
    basis: AgingBasis = AgingBasis.DUE_DATE

    @property
    def labels(self) -> tuple[str, ...]:
        return self.buckets.labels(self.basis)

    def items(self) -> str:
        return open_items_source(self.as_of, self.today)

    def bucket_columns(self) -> str:
        """One sum per bucket; `$2` is the as-of date."""
        age = "$2::date - due_date" if self.basis is AgingBasis.DUE_DATE else "$2::date - issue_date"
        bounds: list[tuple[int | None, int | None]] = []
        lower: int | None = None if self.basis is AgingBasis.DUE_DATE else 0
        if self.basis is AgingBasis.DUE_DATE:
            bounds.append((None, 0))  # current: not yet due
            lower = 1
        for limit in self.buckets.limits:
            bounds.append((lower, limit))
            lower = limit + 1
        bounds.append((lower, None))
        columns = []
        for index, (low, high) in enumerate(bounds):
            conditions = [f"{age} >= {int(low)}" if low is not None else "true",
                          f"{age} <= {int(high)}" if high is not None else "true"]
            columns.append(f"coalesce(sum(open_amount) FILTER "
                           f"(WHERE {' AND '.join(conditions)}), 0) AS b{index}")
        return ", ".join(columns)

    def row_buckets(self, row: asyncpg.Record) -> dict[str, str]:
        return {label: str(row[f"b{index}"]) for index, label in enumerate(self.labels)}

    def describe(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "basis": self.basis.value,
                "buckets": list(self.labels)}


async def customer_balance(pool: asyncpg.Pool, tenant: str, customer_id: str,
                           view: AgingView) -> dict[str, Any]:
    async with pool.acquire() as connection:
        totals = await connection.fetch(
            f"""
            SELECT currency, sum(open_amount) AS open_amount, count(*) AS open_items,
                   {view.bucket_columns()}
            FROM ({view.items()}) AS items
            WHERE customer_id = $3
            GROUP BY currency ORDER BY currency
            """, tenant, view.as_of, customer_id)
        unapplied = await connection.fetch(
            f"""
            SELECT currency, sum(amount) AS amount, count(*) AS payments
            FROM {SCHEMA}.unapplied_cash WHERE tenant = $1 AND customer_id = $2
            GROUP BY currency ORDER BY currency
            """, tenant, customer_id)
    return {
        "tenant": tenant,
        "customer_id": customer_id,
        **view.describe(),
        "balances": [
            {"currency": row["currency"], "open_amount": str(row["open_amount"]),
             "open_items": row["open_items"], "buckets": view.row_buckets(row)}
            for row in totals
        ],
        "unapplied_cash": [
            {"currency": row["currency"], "amount": str(row["amount"]), "payments": row["payments"]}
            for row in unapplied
        ],
    }


class GroupBy(StrEnum):
    """What one line of the aging report stands for."""

    CUSTOMER = "customer"
    SEGMENT = "segment"
    COLLECTOR = "collector"
    CREDIT_GROUP = "credit_group"
    TENANT = "tenant"


# How each grouping names its line; customers' attributes come from the ERP master data
# (erp.customers) and credit's order decisions (ar.credit). None: the tenant line alone.
_GROUP_KEY = {GroupBy.CUSTOMER: "items.customer_id", GroupBy.SEGMENT: "customer.segment",
              GroupBy.COLLECTOR: "customer.collector",
              GroupBy.CREDIT_GROUP: "customer.credit_group_id", GroupBy.TENANT: "NULL::text"}


def _report_source(view: AgingView) -> tuple[str, str]:
    """Today's report reads the day aggregates (aggregates.py), a past date the items as
    they stood then. Returns (FROM clause, item-count expression)."""
    if view.as_of >= view.today:
        table = ("open_by_due_date" if view.basis is AgingBasis.DUE_DATE
                 else "open_by_issue_date")
        return (f"(SELECT * FROM {SCHEMA}.{table} WHERE tenant = $1) AS items",
                "sum(open_items)::bigint")
    return f"({view.items()}) AS items", "count(*)"


async def aging_report(pool: asyncpg.Pool, tenant: str, view: AgingView,
                       group_by: GroupBy = GroupBy.CUSTOMER) -> dict[str, Any]:
    source, item_count = _report_source(view)
    key = _GROUP_KEY[group_by]
    joined = "" if group_by in (GroupBy.CUSTOMER, GroupBy.TENANT) else (
        f"LEFT JOIN {SCHEMA}.customers AS customer "
        "ON customer.tenant = $1 AND customer.customer_id = items.customer_id")
    async with pool.acquire() as connection:
        rows = await connection.fetch(
            f"""
            SELECT {key} AS line, currency, sum(open_amount) AS open_amount,
                   {item_count} AS open_items, {view.bucket_columns()}
            FROM {source} {joined}
            GROUP BY 1, currency
            ORDER BY currency, 1 NULLS LAST
            """, tenant, view.as_of)
    lines = [_report_line(view, row["currency"], row["open_amount"], row["open_items"],
                          view.row_buckets(row)) for row in rows]
    totals: dict[str, dict[str, Any]] = {}
    for row, line in zip(rows, lines):
        total = totals.setdefault(row["currency"], {
            "open_amount": Decimal(0), "open_items": 0,
            "buckets": {label: Decimal(0) for label in view.labels}})
        total["open_amount"] += row["open_amount"]
        total["open_items"] += row["open_items"]
        for index, label in enumerate(view.labels):
            total["buckets"][label] += row[f"b{index}"]
        if group_by is GroupBy.CUSTOMER:
            line["customer_id"] = row["line"]
        elif group_by is not GroupBy.TENANT:
            line[group_by.value] = row["line"]
    report = {
        "tenant": tenant,
        **view.describe(),
        "group_by": group_by.value,
        "totals": [_report_line(view, currency, total["open_amount"], total["open_items"],
                                {label: str(amount) for label, amount in total["buckets"].items()})
                   for currency, total in totals.items()],
    }
    if group_by is GroupBy.CUSTOMER:
        report["customers"] = lines  # the name this line had before grouping came
    elif group_by is not GroupBy.TENANT:
        report["groups"] = lines
    return report


def _report_line(view: AgingView, currency: str, open_amount: Decimal, open_items: int,
                 buckets: dict[str, str]) -> dict[str, Any]:
    return {"currency": currency, "open_amount": str(open_amount), "open_items": open_items,
            "buckets": buckets}


async def functional_totals(pool: asyncpg.Pool, tenant: str) -> list[dict[str, Any]]:
    """Today's open receivable in the tenant's functional currency, each invoice at the rate
    of its issue date; invoices issued without a rate are counted apart, not guessed."""
    async with pool.acquire() as connection:
        rows = await connection.fetch(
            f"""
            SELECT functional_currency,
                   sum(open_amount * functional_amount / original_amount)
                       FILTER (WHERE functional_amount IS NOT NULL) AS open_amount,
                   count(*) FILTER (WHERE functional_amount IS NULL) AS without_rate
            FROM {SCHEMA}.open_items
            WHERE tenant = $1 AND open_amount <> 0 AND functional_currency IS NOT NULL
            GROUP BY functional_currency ORDER BY functional_currency
            """, tenant)
    return [{"currency": row["functional_currency"],
             "open_amount": str((row["open_amount"] or Decimal(0)).quantize(Decimal("0.01"))),
             "open_items_without_rate": row["without_rate"]} for row in rows]


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


async def open_items(pool: asyncpg.Pool, tenant: str, customer_id: str, view: AgingView,
                     limit: int = 200, include_settled: bool = False) -> list[dict[str, Any]]:
    """The customer's invoices open on the view's date (or all of them), oldest due first."""
    source = (f"SELECT customer_id, currency, invoice_id, invoice_number, order_id, issue_date, "
              f"due_date, original_amount, open_amount FROM {SCHEMA}.open_items WHERE tenant = $1"
              if include_settled else view.items())
    async with pool.acquire() as connection:
        rows = await connection.fetch(
            f"""
            SELECT invoice_id, invoice_number, order_id, currency, issue_date, due_date,
                   original_amount, open_amount, $2::date - due_date AS days_past_due
            FROM ({source}) AS items
            WHERE customer_id = $3
            ORDER BY due_date, invoice_number LIMIT $4
            """, tenant, view.as_of, customer_id, limit)
    return [
        {"invoice_id": row["invoice_id"], "invoice_number": row["invoice_number"],
         "order_id": row["order_id"], "currency": row["currency"],
         "issue_date": row["issue_date"].isoformat(), "due_date": row["due_date"].isoformat(),
         "original_amount": str(row["original_amount"]), "open_amount": str(row["open_amount"]),
         "days_past_due": max(row["days_past_due"], 0) if row["open_amount"] > 0 else 0}
        for row in rows
    ]
