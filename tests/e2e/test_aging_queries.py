"""Balances and the aging report read from the maintained aggregates give what ageing the
open items by hand gives (`buckets.age_items`), on a worked ledger in three currencies,
on today's bucket boundaries, after the date moves on and after payments.

Rows go straight into the projection's `open_items` table; the triggers keep the
aggregates, as they do behind the live handlers. A throw-away database per module.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import urlparse, urlunparse

import asyncpg
import pytest

from services.aging import aggregates, projections, queries
from services.aging.buckets import AgedItem, AgingBasis, AgingBuckets, age_items
from services.aging.queries import AgingView, GroupBy
from tests.support.infrastructure import Infrastructure

TENANT = "queries-tenant"


@pytest.fixture(scope="module")
async def pool(infrastructure: Infrastructure) -> AsyncIterator[asyncpg.Pool]:
    server_url = infrastructure.server_database_url
    database = f"aging_queries_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{database}"')
    url = urlunparse(urlparse(server_url)._replace(path=f"/{database}"))
    # The triggers name tables unqualified, as the projection's writers do.
    pool = await asyncpg.create_pool(url, min_size=1, max_size=4,
                                     server_settings={"search_path": projections.SCHEMA})
    await projections.create_tables(pool)
    try:
        yield pool
    finally:
        await pool.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


async def database_today(pool: asyncpg.Pool) -> date:
    """The date the triggers age new rows on (CURRENT_DATE)."""
    return await pool.fetchval("SELECT CURRENT_DATE")


async def issue(pool: asyncpg.Pool, invoice_id: str, customer_id: str, currency: str,
                issue_date: date, due_date: date, amount: str) -> None:
    await pool.execute(
        """
        INSERT INTO open_items (tenant, invoice_id, invoice_number, customer_id, currency,
                                issue_date, due_date, original_amount, open_amount)
        VALUES ($1, $2, $2, $3, $4, $5, $6, $7, $7)
        """, TENANT, invoice_id, customer_id, currency, issue_date, due_date, Decimal(amount))


async def pay(pool: asyncpg.Pool, invoice_id: str, amount: str) -> None:
    await pool.execute("UPDATE open_items SET open_amount = open_amount - $3 "
                       "WHERE tenant = $1 AND invoice_id = $2", TENANT, invoice_id,
                       Decimal(amount))


async def by_hand(pool: asyncpg.Pool, view: AgingView) -> dict[tuple[str | None, str], dict]:
    """The plain computation: every open item aged in Python, per customer and currency;
    (None, currency) is the currency's total."""
    rows = await pool.fetch("SELECT * FROM open_items WHERE tenant = $1 AND open_amount <> 0",
                            TENANT)
    expected: dict[tuple[str | None, str], dict] = {}
    for currency in {row["currency"] for row in rows}:
        report = age_items([AgedItem(row["invoice_id"], row["customer_id"], row["issue_date"],
                                     row["due_date"], row["open_amount"])
                            for row in rows if row["currency"] == currency],
                           view.as_of, view.buckets, view.basis)
        for line in (*report.customers, report.totals):
            expected[(line.customer_id, currency)] = {
                "open_amount": line.aged_total, "open_items": line.count,
                "buckets": dict(line.buckets)}
    return expected


def as_numbers(line: dict) -> dict:
    return {"open_amount": Decimal(line["open_amount"]), "open_items": line["open_items"],
            "buckets": {label: Decimal(amount) for label, amount in line["buckets"].items()}}


def lines_of(report: dict) -> dict[tuple[str | None, str], dict]:
    """The report's lines and totals as numbers (a bucket emptied by a payment reads 0.00
    where one that never held anything reads 0)."""
    lines = {(line["customer_id"], line["currency"]): as_numbers(line)
             for line in report.get("customers", ())}
    return lines | {(None, line["currency"]): as_numbers(line) for line in report["totals"]}


async def assert_report_is_by_hand(pool: asyncpg.Pool, view: AgingView) -> dict:
    report = await queries.aging_report(pool, TENANT, view)
    expected = await by_hand(pool, view)
    assert lines_of(report) == expected
    assert lines_of(await queries.aging_report(pool, TENANT, view, from_items=True)) == expected
    tenant_lines = await queries.aging_report(pool, TENANT, view, GroupBy.TENANT)
    assert lines_of(tenant_lines) == {key: line for key, line in expected.items()
                                      if key[0] is None}
    for customer_id in {customer for customer, _ in expected if customer}:
        balance = await queries.customer_balance(pool, TENANT, customer_id, view)
        assert {(customer_id, line["currency"]): as_numbers(line)
                for line in balance["balances"]} == {
            key: value for key, value in expected.items() if key[0] == customer_id}
    return report


async def kept_dates(pool: asyncpg.Pool) -> set[date]:
    return {row["as_of"] for row in await pool.fetch(
        "SELECT as_of FROM customer_buckets WHERE tenant = $1", TENANT)}


async def test_balances_and_the_report_from_aggregates_equal_the_items_aged_by_hand(
        pool: asyncpg.Pool) -> None:
    today = await database_today(pool)

    def ago(days: int) -> date:
        return today - timedelta(days=days)

    # ACME owes in EUR on every boundary of today's buckets, and in USD; BETA in GBP.
    for number, days_past_due, amount in ((1, -10, "100.00"), (2, 0, "200.00"),
                                          (3, 1, "300.00"), (4, 30, "400.00"),
                                          (5, 31, "500.00"), (6, 60, "600.00"),
                                          (7, 61, "700.00"), (8, 90, "800.00"),
                                          (9, 91, "900.00")):
        await issue(pool, f"ACME-EUR-{number}", "ACME", "EUR", ago(days_past_due + 30),
                    ago(days_past_due), amount)
    await issue(pool, "ACME-USD-1", "ACME", "USD", ago(40), ago(10), "1000.00")
    await issue(pool, "BETA-GBP-1", "BETA", "GBP", ago(100), ago(70), "55.55")
    await issue(pool, "BETA-GBP-2", "BETA", "GBP", ago(5), today + timedelta(days=25), "44.45")
    # A customer's first item opens its row of buckets: due today, and 31 days ago.
    await issue(pool, "EPSILON-1", "EPSILON", "EUR", ago(30), today, "12.34")
    await issue(pool, "ZETA-1", "ZETA", "USD", ago(61), ago(31), "56.78")

    view = AgingView(as_of=today, today=today)
    balance = await queries.customer_balance(pool, TENANT, "ACME", view)
    assert balance["balances"][0] == {
        "currency": "EUR", "open_amount": "4500.00", "open_items": 9,
        "buckets": {"current": "300.00", "1-30": "700.00", "31-60": "1100.00",
                    "61-90": "1500.00", "90+": "900.00"}}
    assert balance["balances"][1]["buckets"]["1-30"] == "1000.00"
    await assert_report_is_by_hand(pool, view)
    assert await kept_dates(pool) == {today}  # served from the kept buckets

    # Payments move amounts out of their buckets; a settled invoice leaves the aging.
    await pay(pool, "ACME-EUR-5", "500.00")
    await pay(pool, "ACME-EUR-9", "0.01")
    await pay(pool, "BETA-GBP-1", "55.55")
    report = await assert_report_is_by_hand(pool, view)
    assert report["totals"][0]["currency"] == "EUR"
    assert report["totals"][0]["buckets"]["31-60"] == "600.00"
    assert report["totals"][0]["buckets"]["90+"] == "899.99"

    # Other buckets, the document date, and a past date come from elsewhere: still equal.
    for other in (AgingView(as_of=today, today=today, buckets=AgingBuckets((15, 45))),
                  AgingView(as_of=today, today=today, basis=AgingBasis.DOCUMENT_DATE)):
        await assert_report_is_by_hand(pool, other)


async def test_the_kept_buckets_roll_forward_as_the_date_moves_on(pool: asyncpg.Pool) -> None:
    today = await database_today(pool)
    await issue(pool, "ROLL-1", "GAMMA", "CHF", today - timedelta(days=30), today, "10.00")
    await issue(pool, "ROLL-2", "GAMMA", "CHF", today - timedelta(days=60), today - timedelta(
        days=30), "20.00")
    for days in (1, 30, 31, 365):
        later = today + timedelta(days=days)
        view = AgingView(as_of=later, today=later)
        # The first answer of the new day computes the stale rows itself, then rolls them.
        await assert_report_is_by_hand(pool, view)
        assert await kept_dates(pool) == {later}
        await issue(pool, f"ROLL-NEW-{days}", "GAMMA", "CHF", later, later, "1.00")
        await pay(pool, "ROLL-1", "1.00")
        await assert_report_is_by_hand(pool, view)
    gamma = await queries.customer_balance(pool, TENANT, "GAMMA", view)
    # A year on: what is left of ROLL-1 (6.00), ROLL-2, and three of the new ones are 90+.
    assert gamma["balances"][0]["buckets"]["90+"] == "29.00"
    assert gamma["balances"][0]["buckets"]["current"] == "1.00"


async def test_the_bulk_fill_keeps_what_the_triggers_keep(pool: asyncpg.Pool) -> None:
    today = await database_today(pool)
    await issue(pool, "FILL-1", "DELTA", "JPY", today - timedelta(days=50), today, "5000")
    await pay(pool, "FILL-1", "1234")
    await queries.roll_buckets(pool, TENANT, today)
    kept = "SELECT * FROM {} WHERE tenant = $1"
    tables = ("open_by_due_date", "open_by_issue_date", "customer_buckets", "receivable_days")
    by_triggers = {table: await pool.fetch(kept.format(table), TENANT) for table in tables}
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute(f"TRUNCATE {', '.join(tables)}")
        await connection.execute(aggregates.FILL.format(schema=projections.SCHEMA))
    await queries.roll_buckets(pool, TENANT, today)
    for table in tables:
        filled = await pool.fetch(kept.format(table), TENANT)
        assert sorted(map(tuple, filled)) == sorted(map(tuple, by_triggers[table])), table
