"""The report per customer (queries.aging_report_json, what GET /aging sends) reads each
customer's line as `customer_buckets` keeps it, JSON written when the row changed. Those
lines are the bytes the report computes from the rows when it must, and the report stays
right on a new day's first request, while the rows wait to be rolled forward and a writer
holds one of them through the roll."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg
import orjson

from services.aging import queries
from services.aging.queries import AgingView
from tests.e2e.test_aging_queries import (TENANT, by_hand, database_today, issue, kept_dates,
                                          lines_of)
from tests.e2e.test_aging_queries import pool  # noqa: F401 - the fixture, by its name
from tests.e2e.test_aging_report_json import ODD_CUSTOMER


async def test_a_row_a_writer_holds_through_the_roll_is_aged_by_the_report_itself(
        pool: asyncpg.Pool) -> None:  # noqa: F811 - the fixture imported above
    today = await database_today(pool)
    await issue(pool, "HELD-1", "HELD", "EUR", today - timedelta(days=40),
                today - timedelta(days=10), "100.00")
    await issue(pool, "ODD-1", ODD_CUSTOMER, "EUR", today - timedelta(days=20),
                today + timedelta(days=10), "50.00")
    await issue(pool, "ODD-2", ODD_CUSTOMER, "CHF", today - timedelta(days=70),
                today - timedelta(days=40), "75.25")
    await issue(pool, "ALPHA-1", "ALPHA", "EUR", today - timedelta(days=5), today, "20.00")
    later = today + timedelta(days=30)
    view = AgingView(as_of=later, today=later)

    async with pool.acquire() as writer, writer.transaction():
        # A payment not yet committed holds HELD's kept row: the day's roll passes it by.
        await writer.execute("UPDATE open_items SET open_amount = open_amount - $2 "
                             "WHERE tenant = $1 AND invoice_id = 'HELD-1'", TENANT,
                             Decimal("40.00"))
        report = await queries.aging_report(pool, TENANT, view)
        assert lines_of(report) == await by_hand(pool, view)
        assert await kept_dates(pool) == {today, later}
        held = next(line for line in report["customers"] if line["customer_id"] == "HELD")
        assert held["buckets"]["31-60"] == "100.00"  # as of the new day, before the payment

    # Paid now: the next report rolls the row, then its lines are what it kept.
    computed = await queries.aging_report_json(pool, TENANT, view)
    assert await kept_dates(pool) == {later}
    kept = await queries.aging_report_json(pool, TENANT, view)
    assert kept == computed
    report = orjson.loads(kept)
    assert lines_of(report) == await by_hand(pool, view)
    assert [(line["currency"], line["customer_id"]) for line in report["customers"]] == [
        ("CHF", ODD_CUSTOMER), ("EUR", "ALPHA"), ("EUR", "HELD"), ("EUR", ODD_CUSTOMER)]
    assert report["customers"][2]["buckets"]["31-60"] == "60.00"
