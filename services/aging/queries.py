"""Read queries over the open-item projection: balances and aging buckets."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

import asyncpg
import orjson

from . import aggregates
from .buckets import DEFAULT_BUCKETS, AgingBasis, AgingBuckets, sql_bucket_index
from .history import open_items_source
from .projections import SCHEMA


@dataclass(frozen=True)
class AgingView:
    """How to age: on which date, with which buckets, counted from which date."""

    as_of: date
    today: date
    buckets: AgingBuckets = DEFAULT_BUCKETS
    basis: AgingBasis = AgingBasis.DUE_DATE

    @cached_property  # asked for each line of a report
    def labels(self) -> tuple[str, ...]:
        return self.buckets.labels(self.basis)

    @property
    def day(self) -> str:
        """The column the age counts from."""
        return "due_date" if self.basis is AgingBasis.DUE_DATE else "issue_date"

    @property
    def is_kept(self) -> bool:
        """Whether `customer_buckets` holds this aging: today's, in the default buckets."""
        return (self.as_of == self.today and self.basis is AgingBasis.DUE_DATE
                and self.buckets == aggregates.DEFAULT_BUCKETS)

    def items(self) -> str:
        return open_items_source(self.as_of, self.today)

    def with_bucket(self, rows: str) -> str:
        """`rows` (items or day rows; `$2` is the as-of date) with the index of each one's
        bucket, computed once per row."""
        bucket = sql_bucket_index(self.day, self.as_of, self.buckets, self.basis)
        # The as-of date is in `bucket` as constants; `$2` stays a parameter of every query.
        return f"SELECT *, {bucket} AS bucket FROM ({rows}) AS rows WHERE $2::date IS NOT NULL"

    def bucket_columns(self) -> str:
        """One sum per bucket, b0, b1, ..., over rows `with_bucket`."""
        return ", ".join(f"coalesce(sum(open_amount) FILTER (WHERE bucket = {index}), 0) "
                         f"AS b{index}" for index in range(len(self.labels)))

    def row_buckets(self, row: asyncpg.Record) -> dict[str, str]:
        return {label: str(row[f"b{index}"]) for index, label in enumerate(self.labels)}

    def describe(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "basis": self.basis.value,
                "buckets": list(self.labels)}


@dataclass(frozen=True)
class _Source:
    """Rows to age ($1 tenant, $2 as-of date) with `customer_id`, `currency` and
    `open_amount`, and how to total them: item count and bucket sums b0, b1, ..."""

    rows: str
    item_count: str
    bucket_columns: str
    per_customer: bool = False  # one row per customer and currency already


_KEPT_BUCKETS = ", ".join(aggregates.BUCKETS)


def _kept_rows(as_of: date, of_customer: str) -> str:
    """`customer_buckets` rows aged on $2 as they are; those aged on another date (the date
    moved on, no one has rolled them yet) aged here from their day rows, in the same
    statement, so the answer is today's either way. `stale` says which were which."""
    return f"""
        SELECT customer_id, currency, open_amount, open_items, {_KEPT_BUCKETS}, false AS stale
        FROM {SCHEMA}.customer_buckets WHERE tenant = $1 AND as_of = $2 {of_customer}
        UNION ALL
        SELECT customer_id, currency, sum(open_amount), sum(open_items)::bigint,
               {aggregates.BUCKET_SUMS}, true
        FROM (SELECT day.*, {sql_bucket_index("day.due_date", as_of)} AS bucket
              FROM {SCHEMA}.customer_buckets AS stale
              JOIN {SCHEMA}.open_by_due_date AS day USING (tenant, customer_id, currency)
              WHERE stale.tenant = $1 AND stale.as_of <> $2 {of_customer}) AS day
        GROUP BY customer_id, currency"""


def _source(view: AgingView, of_customer: str = "", from_items: bool = False) -> _Source:
    """Today's aging reads the maintained aggregates (aggregates.py): the customers' kept
    buckets, or for other buckets and the document date the day rows; a past date (or
    `from_items`) reads the items as they stood then. `of_customer`: a condition more."""
    if view.is_kept and not from_items:
        return _Source(_kept_rows(view.as_of, of_customer), "sum(open_items)::bigint",
                       ", ".join(f"sum({column}) AS {column}" for column in aggregates.BUCKETS),
                       per_customer=True)
    if view.as_of >= view.today and not from_items:
        rows = f"SELECT * FROM {SCHEMA}.open_by_{view.day} WHERE tenant = $1 {of_customer}"
        return _Source(view.with_bucket(rows), "sum(open_items)::bigint", view.bucket_columns())
    rows = f"SELECT * FROM ({view.items()}) AS items WHERE true {of_customer}"
    return _Source(view.with_bucket(rows), "count(*)", view.bucket_columns())


async def keep_session(_connection: asyncpg.Connection) -> None:
    """The pool's `reset` (asyncpg.create_pool): nothing to undo. Readers and the
    projection's writers here set transaction-local state only (SET LOCAL,
    set_config(..., true), transaction locks), and asyncpg rolls back a transaction left
    open before it calls this. Its default reset (RESET ALL, UNLISTEN *, CLOSE ALL,
    advisory unlocks) is a round trip after every request: a quarter of the CPU a
    balance costs, client and server."""


async def roll_buckets(pool: asyncpg.Pool, tenant: str, as_of: date,
                       customer_id: str | None = None) -> int:
    """Age the tenant's (or one customer's) kept buckets as of `as_of`; returns how many
    rows moved. Rows a writer holds now are left for the next roll."""
    async with pool.acquire() as connection, connection.transaction():
        stale = await connection.fetch(aggregates.LOCK_STALE_BUCKETS.format(schema=SCHEMA),
                                       tenant, as_of, customer_id)
        if not stale:
            return 0
        await connection.execute(aggregates.ROLL_BUCKETS.format(schema=SCHEMA), tenant, as_of,
                                 [row["customer_id"] for row in stale],
                                 [row["currency"] for row in stale])
    return len(stale)


async def customer_balance(pool: asyncpg.Pool, tenant: str, customer_id: str,
                           view: AgingView) -> dict[str, Any]:
    """Read from the customer's kept buckets or day rows today: as fast for a customer with
    100,000 open items as for one with ten. One statement, one round trip."""
    rows = await pool.fetch(_balance_sql(view), tenant, view.as_of, customer_id)
    if any(row["stale"] for row in rows):
        await roll_buckets(pool, tenant, view.as_of, customer_id)
    return {
        "tenant": tenant,
        "customer_id": customer_id,
        **view.describe(),
        "balances": [
            {"currency": row["currency"], "open_amount": row["amount"],
             "open_items": row["count"], "buckets": view.row_buckets(row)}
            for row in rows if not row["unapplied"]
        ],
        "unapplied_cash": [
            {"currency": row["currency"], "amount": row["amount"], "payments": row["count"]}
            for row in rows if row["unapplied"]
        ],
    }


@lru_cache(maxsize=64)  # the SQL depends on the view alone; asyncpg keeps it prepared
def _balance_sql(view: AgingView) -> str:
    """The customer's ($3) aged balance per currency, then their unapplied cash per
    currency (`unapplied` true), amounts as text: shown so, never computed with here."""
    source = _source(view, "AND customer_id = $3")
    columns = [f"b{index}" for index in range(len(view.labels))]
    return f"""
        WITH balances AS (
            SELECT currency, sum(open_amount) AS open_amount, {source.item_count} AS open_items,
                   {source.bucket_columns}, {"bool_or(stale)" if view.is_kept else "false"} AS stale
            FROM ({source.rows}) AS items
            GROUP BY currency)
        SELECT false AS unapplied, currency, open_amount::text AS amount, open_items AS count,
               {", ".join(f"{column}::text" for column in columns)}, stale
        FROM balances
        UNION ALL
        SELECT true, currency, sum(amount)::text, count(*), {", ".join("NULL" for _ in columns)},
               false
        FROM {SCHEMA}.unapplied_cash WHERE tenant = $1 AND customer_id = $3
        GROUP BY currency
        ORDER BY unapplied, currency"""


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


async def aging_report(pool: asyncpg.Pool, tenant: str, view: AgingView,
                       group_by: GroupBy = GroupBy.CUSTOMER,
                       from_items: bool = False) -> dict[str, Any]:
    """The aging per customer (or group) and currency, with totals per currency.
    `from_items`: computed from the open items, never the aggregates (to check them)."""
    return orjson.loads(await aging_report_json(pool, tenant, view, group_by, from_items))


async def aging_report_json(pool: asyncpg.Pool, tenant: str, view: AgingView,
                            group_by: GroupBy = GroupBy.CUSTOMER,
                            from_items: bool = False) -> bytes:
    """`aging_report` as the JSON the API sends. The database writes the lines' JSON:
    ten thousand customers' lines decoded into Python objects only to be encoded again
    cost more than the query, and would hold the event loop while they did."""
    source = _source(view, from_items=from_items)
    rows = None
    if source.per_customer and group_by is GroupBy.CUSTOMER:
        rows = await _kept_report_rows(pool, tenant, view.as_of)
    if rows is None:
        rows = await _computed_report_rows(pool, tenant, view, group_by, source)
    report = {
        "tenant": tenant,
        **view.describe(),
        "group_by": group_by.value,
        "totals": [{"currency": row["currency"], "open_amount": row["open_amount"],
                    "open_items": row["open_items"],
                    "buckets": {label: row[f"b{index}"]
                                for index, label in enumerate(view.labels)}}
                   for row in rows],
    }
    if group_by is not GroupBy.TENANT:
        report[_lines_named(group_by)[0]] = orjson.Fragment(
            "[" + ", ".join(row["lines"] for row in rows) + "]")
    return orjson.dumps(report)


def _totals(columns: tuple[str, ...]) -> str:
    """SQL: the totals of `open_amount` and `columns` (b0, b1, ...), as text."""
    return ", ".join(f"sum({column})::text AS {column}" for column in ("open_amount", *columns))


# Each currency's totals, and its customers' lines as `customer_buckets` keeps them, in the
# report's order (`stale`: some row was aged on another date than $2, so they are not
# that date's). As the rows come from the index (tenant, currency, customer_id), in order.
_KEPT_REPORT = f"""
    SELECT currency, sum(open_items)::bigint AS open_items, {_totals(aggregates.BUCKETS)},
           string_agg(line_json, ', ') AS lines, bool_or(as_of <> $2) AS stale
    FROM (SELECT * FROM {SCHEMA}.customer_buckets WHERE tenant = $1
          ORDER BY currency, customer_id) AS kept
    GROUP BY currency ORDER BY currency"""


async def _kept_report_rows(pool: asyncpg.Pool, tenant: str,
                            as_of: date) -> list[asyncpg.Record] | None:
    """The per-customer report's rows from the kept lines: nothing to format or sort. None
    when some rows were aged on another date: they are rolled to `as_of` first, and the
    caller computes the report (which ages any row a writer held through the roll)."""
    async with pool.acquire() as connection, connection.transaction():
        # The planner would sooner sort the rows than read them in the index's order, and
        # sorting on two keys is most of the query's time. (Without the index, the sort it
        # would have to make is costed as "disabled": dear enough to be compiled.)
        await connection.execute("SET LOCAL enable_sort = off; SET LOCAL jit = off")
        rows = await connection.fetch(_KEPT_REPORT, tenant, as_of)
    if not any(row["stale"] for row in rows):
        return rows
    await roll_buckets(pool, tenant, as_of)
    return None


async def _computed_report_rows(pool: asyncpg.Pool, tenant: str, view: AgingView,
                                group_by: GroupBy, source: _Source) -> list[asyncpg.Record]:
    sql = _report_sql(view, group_by, source)
    if source.per_customer:  # a few thousand kept rows: nothing to tune
        rows = await pool.fetch(sql, tenant, view.as_of)
    else:
        async with pool.acquire() as connection, connection.transaction():
            # A million items in one pass in memory, not worth compiling.
            await connection.execute("SET LOCAL work_mem = '64MB'; SET LOCAL jit = off")
            rows = await connection.fetch(sql, tenant, view.as_of)
    if any(row["stale"] for row in rows):
        await roll_buckets(pool, tenant, view.as_of)
    return rows


def _report_sql(view: AgingView, group_by: GroupBy, source: _Source) -> str:
    """Per currency: its lines as JSON (`lines`), then its totals, `open_items`,
    `open_amount`, b0, b1, ... (as text, as the report shows them), and `stale`.
    $1 tenant, $2 the as-of date."""
    key = _GROUP_KEY[group_by]
    joined = "" if group_by in (GroupBy.CUSTOMER, GroupBy.TENANT) else (
        f"LEFT JOIN {SCHEMA}.customers AS customer "
        "ON customer.tenant = $1 AND customer.customer_id = items.customer_id")
    if source.per_customer and group_by is GroupBy.CUSTOMER:  # nothing left to add up
        lines = f"SELECT {key} AS line, * FROM ({source.rows}) AS items"
    elif source.per_customer or group_by is GroupBy.CUSTOMER:
        lines = f"""
            SELECT {key} AS line, currency, sum(open_amount) AS open_amount,
                   {source.item_count} AS open_items, {source.bucket_columns},
                   bool_or({"stale" if source.per_customer else "false"}) AS stale
            FROM ({source.rows}) AS items {joined}
            GROUP BY 1, currency"""
    else:
        # A few lines (the tenant's, a segment's) over many items: each item adds to one
        # sum per line, currency and bucket, and the buckets become columns after, over a
        # few rows; a FILTERed sum per bucket would test every bucket for every item. (Per
        # customer the sums per bucket outnumber the lines five to one: the FILTERs win.)
        lines = f"""
            SELECT line, currency, sum(open_amount) AS open_amount,
                   sum(open_items)::bigint AS open_items, {view.bucket_columns()},
                   false AS stale
            FROM (SELECT {key} AS line, currency, bucket, sum(open_amount) AS open_amount,
                         {source.item_count} AS open_items
                  FROM ({source.rows}) AS items {joined}
                  GROUP BY 1, currency, bucket) AS by_bucket
            GROUP BY line, currency"""
    totals = _totals(tuple(f"b{index}" for index in range(len(view.labels))))
    line_json = "NULL" if group_by is GroupBy.TENANT else (
        # One sort key, not (currency, line): three times as fast over 10,000 lines.
        f"string_agg({_line_json(view, _lines_named(group_by)[1])}, ', ' "
        "ORDER BY line NULLS LAST)")
    return f"""
        SELECT currency, sum(open_items)::bigint AS open_items, {totals},
               {line_json} AS lines, bool_or(stale) AS stale
        FROM ({lines}) AS lines
        GROUP BY currency ORDER BY currency"""


def _lines_named(group_by: GroupBy) -> tuple[str, str]:
    """Where the report puts its lines and the key that names each: `groups`, by the
    grouping's name; but customers' lines kept the names they had before grouping came."""
    if group_by is GroupBy.CUSTOMER:
        return "customers", "customer_id"
    return "groups", group_by.value


def _line_json(view: AgingView, line_key: str) -> str:
    """SQL: a row of the report's lines as its JSON text (the kept lines' format)."""
    return aggregates.report_line_json(view.labels, line_key,
                                       name="coalesce(to_json(line)::text, 'null')")


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
