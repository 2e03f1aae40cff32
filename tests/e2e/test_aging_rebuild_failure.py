"""A rebuild that fails half-way leaves nothing behind: the live projection stays as it
was and no half-built schema remains, even when the failure cancelled a statement on the
rebuild's own connection."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from services.aging import aggregates, projections
from services.aging.main import AgingSettings
from services.aging.rebuild import run
from tests.support.infrastructure import Infrastructure


async def fresh_schemas(database_url: str) -> list[str]:
    connection = await asyncpg.connect(database_url)
    try:
        return [row[0] for row in await connection.fetch(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'aging_rebuild_%'")]
    finally:
        await connection.close()


def test_a_rebuild_that_fails_in_its_finish_leaves_no_schema_behind(
        infrastructure: Infrastructure, monkeypatch: pytest.MonkeyPatch) -> None:
    # One connection builds the aggregates (slowly here) while the other fails on an
    # index: the failure cancels the statement under way on the first.
    monkeypatch.setattr(aggregates, "FILL", "SELECT pg_sleep(5);" + aggregates.FILL)
    monkeypatch.setattr(projections, "INDEXES_DDL",
                        "CREATE INDEX broken ON {schema}.no_such_table (no_column);")
    settings = AgingSettings(database_url=infrastructure.database_url,
                             kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers)
    with pytest.raises(ExceptionGroup) as failed:
        run(settings, workers=1)
    assert failed.group_contains(asyncpg.UndefinedTableError)
    assert asyncio.run(fresh_schemas(infrastructure.database_url)) == []
