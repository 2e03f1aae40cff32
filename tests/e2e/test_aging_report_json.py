"""The aging report's lines are JSON that PostgreSQL writes (queries.aging_report_json,
what GET /aging sends): a customer id JSON has to escape comes back as the ERP sent it,
from the kept aggregates and from the open items alike."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from services.aging import queries
from services.aging.queries import AgingView, GroupBy
from tests.e2e.test_aging_queries import TENANT, database_today, issue, pool  # noqa: F401

ODD_CUSTOMER = 'O"Brien \\ Söhne\ttab'  # a quote, a backslash, a non-ASCII letter, a tab


async def test_a_customer_id_that_json_escapes_comes_back_as_it_was(
        pool: asyncpg.Pool) -> None:  # noqa: F811 - the fixture imported above
    today = await database_today(pool)
    await issue(pool, "ODD-1", ODD_CUSTOMER, "EUR", today - timedelta(days=40),
                today - timedelta(days=10), "12.50")
    view = AgingView(as_of=today, today=today)
    for from_items in (False, True):
        report = await queries.aging_report(pool, TENANT, view, from_items=from_items)
        odd = [line for line in report["customers"] if line["customer_id"] == ODD_CUSTOMER]
        assert [(line["open_amount"], line["buckets"]["1-30"]) for line in odd] == [
            ("12.50", "12.50")]
    by_tenant = await queries.aging_report(pool, TENANT, view, GroupBy.TENANT)
    assert "customers" not in by_tenant and by_tenant["totals"][0]["open_amount"] == "12.50"
