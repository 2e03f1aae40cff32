"""What analysts and live dashboards get from the aging service."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import date
from decimal import Decimal

import asyncpg
import httpx
import pyarrow.parquet as pq
import pytest

from libs.events import CustomerUpserted, OrderLine, OrderShipped
from libs.runtime.publisher import EventPublisher
from tests.conftest import eventually

TENANT = "analyst-tenant"
HEADERS = {"X-Tenant": TENANT}


def shipment(order_id: str, amount: str) -> OrderShipped:
    return OrderShipped(order_id=order_id, shipment_id="1", customer_id="CUST-SQL",
                        shipped_on=date(2026, 9, 1), currency="CHF",
                        lines=(OrderLine(line_no=1, sku="X", quantity="1", unit_price=amount),))


@pytest.fixture(scope="module")
async def invoiced(platform, infrastructure) -> None:
    async with EventPublisher(infrastructure.kafka_bootstrap_servers) as erp:
        await erp.publish(CustomerUpserted(customer_id="CUST-SQL", name="Query AG",
                                           currency="CHF", payment_terms_days=30), TENANT)
        await erp.publish(shipment("SQL-1", "1234.56"), TENANT)

    async def open_items() -> list:
        async with httpx.AsyncClient() as client:
            return (await client.get(f"{platform['aging'].url}/customers/CUST-SQL/open-items",
                                     headers=HEADERS)).json()

    await eventually(open_items, until=lambda items: len(items) == 1)


async def test_the_analyst_login_reads_the_views_and_nothing_else(invoiced, infrastructure) -> None:
    connection = await asyncpg.connect(infrastructure.analyst_database_url)
    try:
        row = await connection.fetchrow(
            "SELECT open_amount, current, days_1_30 FROM aging.v_aging_today "
            "WHERE tenant = $1 AND customer_id = 'CUST-SQL'", TENANT)
        assert row["open_amount"] == Decimal("1234.56")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.fetch("SELECT * FROM aging.open_items")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute("DELETE FROM aging.v_open_items")
        daily = await connection.fetchrow(
            "SELECT credit_sales, receivable FROM aging.v_receivable_daily "
            "WHERE tenant = $1 AND currency = 'CHF' AND day = '2026-09-01'", TENANT)
        assert (daily["credit_sales"], daily["receivable"]) == (Decimal("1234.56"),
                                                                Decimal("1234.56"))
    finally:
        await connection.close()


async def test_open_items_export_as_csv_and_parquet_keep_exact_amounts(invoiced, platform) -> None:
    async with httpx.AsyncClient() as client:
        as_csv = await client.get(f"{platform['aging'].url}/exports/open-items.csv",
                                  headers=HEADERS)
        as_parquet = await client.get(f"{platform['aging'].url}/exports/open-items.parquet",
                                      headers=HEADERS)
        missing = await client.get(f"{platform['aging'].url}/exports/salaries.csv",
                                   headers=HEADERS)
    [row] = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert (row["customer_id"], row["currency"], row["open_amount"]) == ("CUST-SQL", "CHF",
                                                                         "1234.56")
    table = pq.read_table(io.BytesIO(as_parquet.content))
    assert str(table.column("open_amount")[0].as_py().normalize()) == "1234.56"
    assert missing.status_code == 404 and "open-items" in missing.json()["detail"]


async def test_a_dashboard_following_a_customer_sees_the_new_balance(invoiced, platform,
                                                                      infrastructure) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        async with client.stream("GET", f"{platform['aging'].url}/stream/balances",
                                 params={"customer_id": "CUST-SQL"}, headers=HEADERS) as stream:
            lines = stream.aiter_lines()
            assert (await anext(lines)).startswith(": following")
            async with EventPublisher(infrastructure.kafka_bootstrap_servers) as erp:
                await erp.publish(shipment("SQL-2", "100.00"), TENANT)

            async def next_balance() -> dict:
                async for line in lines:
                    if line.startswith("data: "):
                        return json.loads(line.removeprefix("data: "))
                raise AssertionError("stream ended")

            balance = await asyncio.wait_for(next_balance(), timeout=20)
    assert balance["customer_id"] == "CUST-SQL"
    assert balance["balances"][0]["open_amount"] == "1334.56"
