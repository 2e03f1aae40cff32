"""Rebuild the aging projection from the event log, and switch to it atomically:

    python -m services.aging.rebuild [--workers N]

1. A fresh schema `aging_rebuild_<time>` gets empty tables.
2. Every topic the projection consumes is read from its beginning up to its end now,
   one worker process per partition index, folded in memory (fold.py) and written with
   COPY into tables without their primary keys; the keys (built by sorting, several
   times cheaper than one index insertion per row), aggregates, indexes and triggers
   follow, computed in bulk.
3. Catch up: what the live projection has consumed since is applied to the fresh schema
   with the live handlers, once freely, then again under the projection's switch lock
   (which every live transaction holds shared), so nothing moves meanwhile.
4. In that same transaction the live schema is dropped and the fresh one takes its name;
   the analysts' views and grants are made again. Readers see the old state or the new,
   never a half-built one; writers resume on the new tables when the lock is released.

Kafka must keep these topics whole (retention off) for a rebuild to mean anything.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing import get_context

import asyncpg

from libs.events import InvalidEvent, decode
from libs.events.topics import physical_topic
from libs.runtime.projection import SWITCH_LOCK, apply_once, enter_schema, store_position

from . import aggregates, analysts, projections
from .fold import UNAPPLIED_COLUMNS, CashMove, fold_unapplied_cash
from .main import AgingSettings
from .open_items import refresh_open_items
from .replay import (
    PartitionJob,
    PartitionLoad,
    Position,
    copy_rows,
    ends_and_refusals,
    load_partition,
    records_between,
)

log = logging.getLogger(__name__)

# Folded in this order: a credit note before its uses, an invoice before its payments.
TOPICS = tuple(projections.HANDLERS)
HANDLERS_BY_TOPIC = {physical_topic(topic): handlers
                     for topic, handlers in projections.HANDLERS.items()}
LOADED_TABLES = ("open_items", "applications", "document_changes", "customers",
                 "applied_events", "unapplied_cash")
# For the rebuild's own sessions: FILL's groupings and the key sorts stay in memory (at the
# server's 4 MB they spill to disk and take twice as long). An index is built by its
# session alone: two sessions keep both cores busy already, and with parallel workers an
# index took half as long again.
BULK_SETTINGS = ("SET work_mem = '256MB'; SET maintenance_work_mem = '512MB'; "
                 "SET max_parallel_maintenance_workers = 0")


@dataclass(frozen=True)
class RebuildReport:
    schema: str
    records: int
    validated: int
    rows: int
    caught_up: int
    load_seconds: float
    total_seconds: float
    phases: dict[str, float]  # wall seconds of each step, in order
    worker_cpu_seconds: float  # the workers' CPU (reading, folding, formatting the COPY)

    @property
    def events_per_second(self) -> float:
        return self.records / self.load_seconds if self.load_seconds else 0.0


async def live_positions(connection: asyncpg.Connection, schema: str) -> dict[Position, int]:
    exists = await connection.fetchval("SELECT to_regclass($1) IS NOT NULL",
                                       f"{schema}.consumer_positions")
    if not exists:
        return {}
    rows = await connection.fetch(f"SELECT topic, partition, next_offset "
                                  f"FROM {schema}.consumer_positions")
    return {(row["topic"], row["partition"]): row["next_offset"] for row in rows}


async def _catch_up(connection: asyncpg.Connection, settings: AgingSettings, schema: str,
                    starts: dict[Position, int], ends: dict[Position, int],
                    refused: frozenset[tuple[str, int, int]]) -> int:
    """Apply, with the live handlers, what lies between the fresh schema's positions and
    `ends`; inside the caller's transaction. Returns how many records were read."""
    applied = 0
    for record in records_between(settings.kafka_bootstrap_servers, starts, ends):
        applied += 1
        topic, partition, offset = record.topic(), record.partition(), record.offset()
        await store_position(connection, topic, partition, offset + 1)
        if (topic, partition, offset) in refused:
            continue
        try:
            envelope, event = decode(record.headers(), record.value())
        except InvalidEvent:
            continue  # the live consumer dead-letters it
        handler = HANDLERS_BY_TOPIC[topic].get(type(event))
        await apply_once(connection, handler, envelope, event)
    return applied


class _Stopwatch:
    """Wall seconds of each step of the rebuild, logged as they end."""

    def __init__(self) -> None:
        self.phases: dict[str, float] = {}
        self._since = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.phases[phase] = now - self._since
        self._since = now
        log.info("%s: %.2f s", phase, self.phases[phase])


async def _drop_primary_keys(connection: asyncpg.Connection, schema: str) -> dict[str, str]:
    """Drop the loaded tables' primary keys; returns, per table, the statement that adds
    its key back as it was (same name, same columns)."""
    keys = await connection.fetch(
        """
        SELECT owner.relname AS table_name, key.conname AS name,
               pg_get_constraintdef(key.oid) AS definition
        FROM pg_constraint AS key JOIN pg_class AS owner ON owner.oid = key.conrelid
        WHERE key.connamespace = $1::text::regnamespace AND key.contype = 'p'
          AND owner.relname = any($2::text[])
        """, schema, list(LOADED_TABLES))
    for key in keys:
        await connection.execute(
            f"ALTER TABLE {schema}.{key['table_name']} DROP CONSTRAINT {key['name']}")
    return {key["table_name"]: f"ALTER TABLE {schema}.{key['table_name']} ADD CONSTRAINT "
                               f"{key['name']} {key['definition']}" for key in keys}


async def _load(settings: AgingSettings, workers: ProcessPoolExecutor, schema: str,
                ends: dict[Position, int], judged: dict[Position, int],
                refused: frozenset) -> list[PartitionLoad]:
    topics = tuple(physical_topic(topic) for topic in TOPICS)
    partitions = sorted({partition for _topic, partition in ends})
    loop = asyncio.get_running_loop()
    jobs = [PartitionJob(settings.kafka_bootstrap_servers, settings.database_url, schema,
                         partition, topics, ends, judged, refused)
            for partition in partitions]
    return list(await asyncio.gather(*(loop.run_in_executor(workers, load_partition, job)
                                       for job in jobs)))


async def _finish_tables(connection: asyncpg.Connection, database_url: str, schema: str,
                         loads: list[PartitionLoad], ends: dict[Position, int],
                         primary_keys: dict[str, str], watch: _Stopwatch) -> None:
    """What the workers could not do alone, then the keys, aggregates and indexes, on two
    connections at once (the server builds each on one core), then the triggers: their DDL
    locks three tables in one transaction, so it waits until nothing else runs."""
    cash = fold_unapplied_cash(CashMove._make(move)  # (sent back as plain tuples)
                               for load in loads for move in load.cash_moves)
    await copy_rows(connection, schema, "unapplied_cash", UNAPPLIED_COLUMNS, cash)
    await connection.executemany(
        f"INSERT INTO {schema}.consumer_positions VALUES ($1, $2, $3)",
        [(topic, partition, end) for (topic, partition), end in ends.items()])
    watch.lap("unapplied cash and positions")
    strangers = set().union(*(load.strangers for load in loads))
    other = await asyncpg.connect(database_url)
    try:
        await other.execute(BULK_SETTINGS)
        async with asyncio.TaskGroup() as both:  # one failing stops the other
            both.create_task(_open_items_and_aggregates(
                connection, schema, strangers, primary_keys.get("open_items")))
            both.create_task(_keys_and_indexes(other, schema, [
                statement for table, statement in primary_keys.items()
                if table != "open_items"]))
    finally:
        await other.close()
    await connection.execute(aggregates.TRIGGERS_DDL.format(schema=schema))
    watch.lap("keys, aggregates, indexes, statistics")


async def _open_items_and_aggregates(connection: asyncpg.Connection, schema: str,
                                     strangers: set[tuple[str, str]],
                                     primary_key: str | None) -> None:
    if primary_key:
        await connection.execute(primary_key)
    if strangers:  # facts about items folded on another partition index
        async with connection.transaction():
            await enter_schema(connection, schema, schema)
            await refresh_open_items(connection, strangers)
    await connection.execute(aggregates.FILL.format(schema=schema))
    await connection.execute(f"ANALYZE {schema}.open_by_due_date, {schema}.open_by_issue_date")


async def _keys_and_indexes(connection: asyncpg.Connection, schema: str,
                            primary_keys: Iterable[str]) -> None:
    for statement in primary_keys:
        await connection.execute(statement)
    await connection.execute(projections.INDEXES_DDL.format(schema=schema))
    await connection.execute(f"ANALYZE {schema}.open_items, {schema}.applications, "
                             f"{schema}.document_changes")


async def _switch(connection: asyncpg.Connection, settings: AgingSettings, fresh: str,
                  live: str, refused: frozenset) -> int:
    """Under the switch lock: the last catch-up, then the fresh schema takes the live
    schema's name, all in one transaction."""
    retired = f"{live}_retired_{fresh.rsplit('_', 1)[-1]}"
    async with connection.transaction():
        await connection.execute(SWITCH_LOCK, live)
        await enter_schema(connection, fresh, live)
        caught_up = await _catch_up(connection, settings, fresh,
                                    await live_positions(connection, fresh),
                                    await live_positions(connection, live), refused)
        await connection.execute("SET LOCAL search_path TO DEFAULT")
        if await connection.fetchval("SELECT to_regnamespace($1) IS NOT NULL", live):
            await connection.execute(f"ALTER SCHEMA {live} RENAME TO {retired}")
        await connection.execute(f"ALTER SCHEMA {fresh} RENAME TO {live}")
        # Dropping the old tables also makes every session re-plan its cached statements
        # against the new ones.
        await connection.execute(f"DROP SCHEMA IF EXISTS {retired} CASCADE")
        await connection.execute(analysts.VIEWS_SQL.read_text())
        if settings.analyst_database_password:
            async with connection.transaction():  # a savepoint: a refused grant is no abort
                await analysts._grant_read_only(  # noqa: SLF001 - the same grants as startup
                    connection, settings.analyst_database_password)
    return caught_up


async def rebuild(settings: AgingSettings, workers: ProcessPoolExecutor,
                  live: str = projections.SCHEMA) -> RebuildReport:
    started = time.perf_counter()
    watch = _Stopwatch()
    fresh = f"{live}_rebuild_{datetime.now(UTC):%Y%m%d%H%M%S}"
    topics = tuple(physical_topic(topic) for topic in TOPICS)
    connection = await asyncpg.connect(settings.database_url)
    try:
        await connection.execute(BULK_SETTINGS)
        await connection.execute(f"CREATE SCHEMA {fresh}")
        await connection.execute(
            (projections.TABLES_DDL + aggregates.TABLES_DDL).format(schema=fresh))
        primary_keys = await _drop_primary_keys(connection, fresh)
        watch.lap("fresh tables")
        load_started = time.perf_counter()
        judged = await live_positions(connection, live)
        ends, refused = ends_and_refusals(settings.kafka_bootstrap_servers, topics,
                                          settings.consumer_group)
        watch.lap("positions and dead letters")
        loads = await _load(settings, workers, fresh, ends, judged, refused)
        watch.lap("workers: read, fold, copy")
        watch.phases["  of which read and fold (slowest worker)"] = max(
            (load.read_seconds for load in loads), default=0.0)
        watch.phases["  of which copy (slowest worker)"] = max(
            (load.copy_seconds for load in loads), default=0.0)
        await _finish_tables(connection, settings.database_url, fresh, loads, ends,
                             primary_keys, watch)
        load_seconds = time.perf_counter() - load_started
        async with connection.transaction():  # most of the way, without holding anyone up
            await enter_schema(connection, fresh, fresh)
            caught_up = await _catch_up(connection, settings, fresh, ends,
                                        await live_positions(connection, live), refused)
        watch.lap("catch-up")
        caught_up += await _switch(connection, settings, fresh, live, refused)
        watch.lap("switch")
    except BaseException:
        await connection.execute(f"DROP SCHEMA IF EXISTS {fresh} CASCADE")
        raise
    finally:
        await connection.close()
    return RebuildReport(
        schema=live, records=sum(load.records for load in loads),
        validated=sum(load.validated for load in loads),
        rows=sum(load.rows for load in loads), caught_up=caught_up,
        load_seconds=load_seconds, total_seconds=time.perf_counter() - started,
        phases=watch.phases,
        worker_cpu_seconds=sum(load.read_cpu_seconds + load.copy_cpu_seconds for load in loads))


def run(settings: AgingSettings, workers: int | None = None) -> RebuildReport:
    """Fork the workers before any event loop exists, then rebuild."""
    count = workers or max(1, min(os.cpu_count() or 1, settings.kafka_topic_partitions))
    with ProcessPoolExecutor(count, mp_context=get_context("fork")) as pool:
        pool.submit(int).result()  # with fork, every worker starts on the first task
        return asyncio.run(rebuild(settings, pool))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes (default: cores, at most one per partition)")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    report = run(AgingSettings(), arguments.workers)
    print(f"rebuilt {report.schema}: {report.records:,} records "
          f"({report.validated:,} validated in full), {report.rows:,} rows in "
          f"{report.load_seconds:.2f} s ({report.events_per_second:,.0f} events/s); "
          f"{report.caught_up:,} caught up; switched after {report.total_seconds:.2f} s")


if __name__ == "__main__":
    main()
