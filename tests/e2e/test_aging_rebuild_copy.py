"""The rebuild writes its rows as COPY text it formats itself (services/aging/replay.py);
whatever a customer's name, a reason or an id holds - tabs, line breaks, backslashes,
the text of COPY's null marker - the rebuilt row equals the one the live handlers store
with bound parameters."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import asyncpg

from services.aging.replay import copy_rows
from tests.support.infrastructure import Infrastructure

COLUMNS = ("name", "reason", "amount", "on_day")
ROWS = [
    ("Müller\tSöhne", "line one\nline two", Decimal("1234.50"), "2026-03-06"),
    ("C:\\ledger\\", "\\N", Decimal("-0.50"), "2026-12-31"),
    ("", None, Decimal("1E+2"), None),
    ("carriage\rreturn", "plain", Decimal("0.000"), "0999-01-01"),
]


async def test_awkward_text_is_copied_as_the_live_handlers_store_it(
        infrastructure: Infrastructure) -> None:
    connection = await asyncpg.connect(infrastructure.database_url)
    try:
        for table in ("live", "rebuilt"):
            await connection.execute(f"CREATE TEMP TABLE {table} (name text, reason text, "
                                     f"amount numeric, on_day date)")
        await connection.executemany(
            "INSERT INTO live VALUES ($1, $2, $3, $4)",
            [(*row[:3], date.fromisoformat(row[3]) if row[3] else None) for row in ROWS])
        schema = await connection.fetchval("SELECT nspname FROM pg_namespace "
                                           "WHERE oid = pg_my_temp_schema()")
        assert await copy_rows(connection, schema, "rebuilt", COLUMNS, ROWS) == len(ROWS)
        live = await connection.fetch("SELECT *, amount::text AS written FROM live")
        rebuilt = await connection.fetch("SELECT *, amount::text AS written FROM rebuilt")
    finally:
        await connection.close()
    assert [tuple(row) for row in rebuilt] == [tuple(row) for row in live]
    assert rebuilt[1]["reason"] == "\\N" and rebuilt[2]["reason"] is None
