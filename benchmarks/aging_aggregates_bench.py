"""The full aging report and portfolio DSO over a million open items, from the maintained
aggregates (services/aging/aggregates.py) and from the open items, beside a plain
`SELECT sum()` scan of the same items and a recomputation of DSO from the items.

    python -m benchmarks.aging_aggregates_bench [--items 1000000] [--customers 10000]

Loads synthetic items (a fifth of them settled by an application) with COPY into a
throw-away database, computes the aggregates with the rebuild's bulk SQL, then times
each query (median of 5 after a warm-up).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import urlparse, urlunparse

import asyncpg

from benchmarks.aging_bench import timed
from benchmarks.table import Figure, print_table
from services.aging import aggregates, projections, queries
from services.aging.fold import APPLICATION_COLUMNS, OPEN_ITEM_COLUMNS
from services.aging.queries import (AgingView, GroupBy, aging_report, aging_report_json,
                                   keep_session, roll_buckets)

TENANT = "bench"
TODAY = date(2026, 11, 22)
SCHEMA = projections.SCHEMA


def synthetic_ledger(count: int, customers: int, seed: int = 7):  # noqa: ANN201
    generator = random.Random(seed)
    items, applications = [], []
    for index in range(count):
        issued = TODAY - timedelta(days=generator.randint(0, 200))
        amount = Decimal(generator.randint(1_000, 500_000)) / 100
        settled = generator.random() >= 0.8
        paid_on = issued + timedelta(days=generator.randint(0, 40)) if settled else None
        if paid_on and paid_on > TODAY:
            paid_on = TODAY
        items.append((TENANT, f"inv-{index}", f"INV-{index:08d}", f"C{index % customers:05d}",
                      None, "EUR", issued, issued + timedelta(days=30), amount,
                      Decimal(0) if settled else amount, paid_on, "invoice", None, None))
        if settled:
            applications.append((TENANT, f"app-{index}", f"pay-{index}", f"inv-{index}",
                                  f"C{index % customers:05d}", "EUR", amount, paid_on))
    return items, applications


DSO_FROM_AGGREGATES = f"""
SELECT currency,
       sum(invoiced - settled + changed) AS receivable,
       sum(invoiced) FILTER (WHERE day > $2::date - 90) AS credit_sales
FROM {SCHEMA}.receivable_days WHERE tenant = $1 AND day <= $2
GROUP BY currency
"""

# The same two inputs straight from the items and their applications.
DSO_RECOMPUTED = f"""
SELECT item.currency,
       sum(item.original_amount) - coalesce(sum(applied.amount), 0) AS receivable,
       sum(item.original_amount) FILTER (WHERE item.issue_date > $2::date - 90) AS credit_sales
FROM {SCHEMA}.open_items AS item
LEFT JOIN (SELECT invoice_id, sum(amount) AS amount FROM {SCHEMA}.applications
           WHERE tenant = $1 AND applied_on <= $2 GROUP BY invoice_id) AS applied
       USING (invoice_id)
WHERE item.tenant = $1 AND item.issue_date <= $2
GROUP BY item.currency
"""


def dso(rows: list[asyncpg.Record]) -> dict[str, Decimal]:
    return {row["currency"]: (row["receivable"] / row["credit_sales"] * 90).quantize(
        Decimal("0.01")) for row in rows}


async def main(items: int, customers: int) -> None:
    server_url = os.environ.get("DATABASE_URL", "postgresql://ar:ar@127.0.0.1:15432/receivables")
    database = f"bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{database}"')
    url = urlunparse(urlparse(server_url)._replace(path=f"/{database}"))
    try:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2,
                                         reset=keep_session)  # as the service's
        async with pool.acquire() as connection:
            await connection.execute(f"CREATE SCHEMA {SCHEMA}")
            await connection.execute(
                (projections.TABLES_DDL + aggregates.TABLES_DDL).format(schema=SCHEMA))
            open_items, applications = synthetic_ledger(items, customers)
            await connection.copy_records_to_table("open_items", schema_name=SCHEMA,
                                                   columns=OPEN_ITEM_COLUMNS, records=open_items)
            await connection.copy_records_to_table("applications", schema_name=SCHEMA,
                                                   columns=APPLICATION_COLUMNS,
                                                   records=applications)
            await connection.execute(aggregates.FILL.format(schema=SCHEMA))
            await connection.execute(projections.INDEXES_DDL.format(schema=SCHEMA))
            await connection.execute(f"VACUUM ANALYZE {SCHEMA}.open_items")
            await connection.execute(f"VACUUM ANALYZE {SCHEMA}.open_by_due_date")
            await connection.execute(f"VACUUM ANALYZE {SCHEMA}.receivable_days")
            day_rows = await connection.fetchval(f"SELECT count(*) FROM {SCHEMA}.open_by_due_date")

            today = AgingView(as_of=TODAY, today=TODAY)
            # The kept buckets are filled as of the database's date; age them as of TODAY
            # and time a day's roll (every customer's buckets) on the way.
            await roll_buckets(pool, TENANT, TODAY - timedelta(days=1))
            await connection.execute(f"VACUUM ANALYZE {SCHEMA}.customer_buckets")
            started = time.perf_counter()
            rolled = await roll_buckets(pool, TENANT, TODAY)
            roll = time.perf_counter() - started
            await connection.execute(f"VACUUM ANALYZE {SCHEMA}.customer_buckets")
            scan_sql = (f"SELECT sum(open_amount) FROM {SCHEMA}.open_items "
                        "WHERE tenant = $1 AND open_amount <> 0")
            scan = await timed(5, lambda: connection.fetchval(scan_sql, TENANT))
            from_items = await timed(5, lambda: aging_report(pool, TENANT, today, GroupBy.TENANT,
                                                             from_items=True))
            from_aggregates = await timed(5, lambda: aging_report(pool, TENANT, today,
                                                                  GroupBy.TENANT))
            # What GET /aging sends, and the same decoded into Python objects.
            per_customer = await timed(5, lambda: aging_report_json(pool, TENANT, today))
            per_customer_objects = await timed(5, lambda: aging_report(pool, TENANT, today))
            # What it was before the rows kept their lines, and is still for rows not rolled.
            formatted_sql = queries._report_sql(  # noqa: SLF001 - the fallback's own SQL
                today, GroupBy.CUSTOMER, queries._source(today))  # noqa: SLF001
            formatted = await timed(5, lambda: connection.fetch(formatted_sql, TENANT, TODAY))
            equal_reports = (await aging_report(pool, TENANT, today))["totals"] == (
                await aging_report(pool, TENANT, today, from_items=True))["totals"]
            fast = await connection.fetch(DSO_FROM_AGGREGATES, TENANT, TODAY)
            slow = await connection.fetch(DSO_RECOMPUTED, TENANT, TODAY)
            dso_fast = await timed(5, lambda: connection.fetch(DSO_FROM_AGGREGATES, TENANT, TODAY))
            dso_slow = await timed(5, lambda: connection.fetch(DSO_RECOMPUTED, TENANT, TODAY))
        await pool.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
    equal = dso(fast) == dso(slow)
    print_table(f"aging aggregates ({items:,} items, {customers:,} customers, "
                f"{day_rows:,} customer-day rows)", [
        Figure("aging report from aggregates, tenant totals per bucket", from_aggregates * 1000,
               "ms", "plain sum() scan", scan * 1000, "< 50 ms and equal to items'",
               from_aggregates < 0.05 and equal_reports),
        Figure(f"the same, one line per customer ({customers:,} lines; API default), the "
               "JSON GET /aging sends", per_customer * 1000, "ms", "plain sum() scan",
               scan * 1000, "< 50 ms", per_customer < 0.05),
        Figure("the same decoded into Python objects (queries.aging_report)",
               per_customer_objects * 1000, "ms", "plain sum() scan", scan * 1000),
        Figure("the same JSON with every line formatted and sorted when asked (as before "
               "the kept lines; now for rows not yet rolled), the query alone",
               formatted * 1000, "ms", "plain sum() scan", scan * 1000),
        Figure("aging report from open items, tenant totals per bucket", from_items * 1000,
               "ms", "plain sum() scan", scan * 1000, "< 1000 ms and <= 2x scan",
               from_items < 1.0 and from_items <= 2 * scan),
        Figure(f"roll kept buckets to the next day ({rolled:,} rows, once a day)",
               roll * 1000, "ms"),
        Figure(f"DSO 90 days, all customers {dso(fast)}", dso_fast * 1000, "ms",
               f"recomputed from items {dso(slow)}", dso_slow * 1000,
               "< 50 ms and equal", dso_fast < 0.05 and equal),
    ])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=10_000)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.items, arguments.customers))
