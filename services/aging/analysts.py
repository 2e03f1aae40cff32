"""The analysts' side: documented SQL views, a read-only role, CSV and Parquet export."""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

import asyncpg
import pyarrow as pa
import pyarrow.parquet as pq

log = logging.getLogger(__name__)

VIEWS_SQL = Path(__file__).with_name("analyst_views.sql")
ANALYST_ROLE = "ar_analyst"

# What analysts may export, by name: a view each, nothing else reaches the query.
EXPORTS = {
    "open-items": "aging.v_open_items",
    "invoices": "aging.v_invoices",
    "aging": "aging.v_aging_today",
    "payments-applied": "aging.v_payments_applied",
    "unapplied-cash": "aging.v_unapplied_cash",
    "receivable-daily": "aging.v_receivable_daily",
}


async def create_views(pool: asyncpg.Pool, analyst_password: str | None) -> None:
    async with pool.acquire() as connection:
        await connection.execute(VIEWS_SQL.read_text())
        if analyst_password:
            await _grant_read_only(connection, analyst_password)


async def _grant_read_only(connection: asyncpg.Connection, password: str) -> None:
    """A login that can read the views and nothing else (not the tables, no writes)."""
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1",
                                           ANALYST_ROLE)
        verb = "ALTER" if exists else "CREATE"
        quoted = password.replace("'", "''")
        await connection.execute(f"{verb} ROLE {ANALYST_ROLE} LOGIN PASSWORD '{quoted}'")
        await connection.execute(f"GRANT USAGE ON SCHEMA aging TO {ANALYST_ROLE}")
        await connection.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA aging FROM {ANALYST_ROLE}")
        views = ", ".join(EXPORTS.values())
        await connection.execute(f"GRANT SELECT ON {views} TO {ANALYST_ROLE}")
    except asyncpg.InsufficientPrivilegeError:
        # On a managed database a DBA creates roles; the views still serve.
        log.warning("no privilege to create role %s; ask a DBA to grant SELECT on the views",
                    ANALYST_ROLE)


async def export_rows(pool: asyncpg.Pool, name: str, tenant: str) -> list[asyncpg.Record]:
    view = EXPORTS[name]
    async with pool.acquire() as connection:
        return await connection.fetch(f"SELECT * FROM {view} WHERE tenant = $1 ORDER BY 2, 3",
                                      tenant)


def as_csv(rows: list[asyncpg.Record]) -> str:
    buffer = io.StringIO()
    if rows:
        writer = csv.writer(buffer)
        writer.writerow(rows[0].keys())
        writer.writerows([("" if value is None else str(value)) for value in row.values()]
                         for row in rows)
    return buffer.getvalue()


def as_parquet(rows: list[asyncpg.Record]) -> bytes:
    """Amounts stay exact: numeric columns become Parquet decimals, never doubles."""
    columns: dict[str, list] = {key: [row[key] for row in rows] for key in (rows[0].keys() if rows else [])}
    arrays = {}
    for key, values in columns.items():
        if any(hasattr(value, "as_tuple") for value in values):  # Decimal
            arrays[key] = pa.array(values, type=pa.decimal128(28, 6))
        else:
            arrays[key] = pa.array(values)
    buffer = io.BytesIO()
    pq.write_table(pa.table(arrays), buffer)
    return buffer.getvalue()
