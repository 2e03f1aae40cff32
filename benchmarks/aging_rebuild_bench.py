"""Rebuild rate of the aging projection, beside a PostgreSQL COPY of the same rows.

    python -m benchmarks.aging_rebuild_bench [--events 300000] [--partitions 2] [--workers 2]

Publishes a realistic ledger (services/aging/sample_events.py) to fresh topics, records
a live projection that has consumed all of it (its positions; the rebuild trusts what
the live projection judged before them, see services/aging/replay.py), runs the rebuild
(`services.aging.rebuild.run`: read from Kafka, fold, COPY, aggregates, indexes, switch)
and then COPYs the very rows the rebuild wrote into empty tables of the same shape.
Both are expressed per event of the ledger, so the ratio is the rebuild's share of a
bare COPY of its output.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import urlparse, urlunparse

import asyncpg
from aiokafka import AIOKafkaProducer

from benchmarks.machine import CORES, cpu_seconds, kafka_broker_pid, postgres_cpu_seconds
from benchmarks.table import Figure, print_table
from libs.runtime.kafka import create_topics, delete_topics

BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
SERVER_URL = os.environ.get("DATABASE_URL", "postgresql://ar:ar@127.0.0.1:15432/receivables")
EVENTS_PER_INVOICE = 391 / 160  # what SampleLedger yields (customers aside)
BENCH_TIME = datetime(2026, 11, 22, tzinfo=UTC)
LOADED_TABLES = ("open_items", "applications", "document_changes", "unapplied_cash",
                 "customers", "applied_events")


async def publish(events: int, tenant: str) -> int:
    from libs.events import encode
    from services.aging.sample_events import SampleLedger

    ledger = SampleLedger(customers=max(10, events // 100), seed=3)
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, linger_ms=50,
                                max_batch_size=1024 * 1024, acks=1)
    await producer.start()
    published = 0
    try:
        pending = []
        for event in ledger.events(invoices=int(events / EVENTS_PER_INVOICE)):
            record = encode(event, event_id=uuid.uuid4().hex, tenant=tenant, source="bench",
                            time=BENCH_TIME)
            pending.append(await producer.send(record.topic, record.value, key=record.key,
                                               headers=record.headers))
            published += 1
            if len(pending) >= 50_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return published


async def pretend_live_projection(database_url: str) -> None:
    """The live projection's positions at the end of every partition: it consumed it all."""
    from services.aging import projections
    from services.aging.replay import end_offsets
    from services.aging.rebuild import TOPICS
    from libs.events.topics import physical_topic

    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(f"CREATE SCHEMA {projections.SCHEMA}")
        await connection.execute(projections.ddl())
        ends = end_offsets(BOOTSTRAP, tuple(physical_topic(topic) for topic in TOPICS))
        await connection.executemany(
            f"INSERT INTO {projections.SCHEMA}.consumer_positions VALUES ($1, $2, $3)",
            [(topic, partition, end) for (topic, partition), end in ends.items()])
    finally:
        await connection.close()


async def copy_same_rows(database_url: str) -> tuple[int, float]:
    """COPY every row the rebuild loaded into empty tables of the same shape."""
    from services.aging import projections

    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("CREATE SCHEMA copy_baseline")
        await connection.execute(projections.TABLES_DDL.format(schema="copy_baseline"))
        tables = {table: await connection.fetch(f"SELECT * FROM aging.{table}")
                  for table in LOADED_TABLES}
        started = time.perf_counter()
        for table, rows in tables.items():
            await connection.copy_records_to_table(table, schema_name="copy_baseline",
                                                   records=[tuple(row) for row in rows])
        seconds = time.perf_counter() - started
        return sum(len(rows) for rows in tables.values()), seconds
    finally:
        await connection.close()


def work_done() -> dict[str, float]:
    """CPU seconds so far of the rebuild (this process and its ended workers), of the
    local PostgreSQL server and of the Kafka broker."""
    own = os.times()
    return {"rebuild": own.user + own.system + own.children_user + own.children_system,
            "PostgreSQL": postgres_cpu_seconds() or 0.0,
            "Kafka broker": cpu_seconds(kafka_broker_pid() or 0)}


def main(events: int, partitions: int, workers: int) -> None:
    session = f"bench_{uuid.uuid4().hex[:8]}"
    os.environ["KAFKA_TOPIC_PREFIX"] = f"{session}."  # before the services' modules read it
    database_url = urlunparse(urlparse(SERVER_URL)._replace(path=f"/{session}"))
    from services.aging.main import AgingSettings
    from services.aging.rebuild import run

    async def prepare() -> int:
        admin = await asyncpg.connect(SERVER_URL)
        await admin.execute(f'CREATE DATABASE "{session}"')
        await admin.close()
        await create_topics(BOOTSTRAP, partitions)
        published = await publish(events, tenant="bench")
        await pretend_live_projection(database_url)
        return published

    async def clean_up() -> None:
        await delete_topics(BOOTSTRAP)
        admin = await asyncpg.connect(SERVER_URL)
        await admin.execute(f'DROP DATABASE IF EXISTS "{session}" WITH (FORCE)')
        await admin.close()

    try:
        started = time.perf_counter()
        published = asyncio.run(prepare())
        print(f"published {published:,} events in {time.perf_counter() - started:.1f} s")
        settings = AgingSettings(database_url=database_url, kafka_bootstrap_servers=BOOTSTRAP,
                                 kafka_topic_partitions=partitions)
        load_before = os.getloadavg()[0]
        work_before = work_done()
        report = run(settings, workers)
        work = {name: spent - work_before[name] for name, spent in work_done().items()}
        print(f"rebuild: {report.records:,} records, {report.rows:,} rows, load "
              f"{report.load_seconds:.2f} s, all with switch {report.total_seconds:.2f} s; "
              f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
        print("rebuild phases (wall seconds):")
        for phase, seconds in report.phases.items():
            print(f"  {phase:<45} {seconds:6.2f}")
        rows, copy_seconds = asyncio.run(copy_same_rows(database_url))
    finally:
        asyncio.run(clean_up())
    rebuild_rate = report.records / report.total_seconds
    copy_rate = report.records / copy_seconds
    cpu_per_event = {name: seconds / report.records for name, seconds in work.items()}
    # What the machine could do at this CPU per event with every core busy all the time
    bound = CORES / sum(cpu_per_event.values())
    print_table(f"aging rebuild ({report.records:,} events, {rows:,} rows, {partitions} "
                f"partitions, {workers} workers)", [
        Figure("rebuild, events/s", rebuild_rate, "events/s",
               f"COPY of its {rows:,} rows", copy_rate,
               ">= 100,000 events/s and >= 0.2x COPY",
               rebuild_rate >= 100_000 and rebuild_rate >= 0.2 * copy_rate),
        Figure("COPY of the same rows, rows/s", rows / copy_seconds, "rows/s"),
        Figure("workers' CPU per event (read, fold, format)",
               report.worker_cpu_seconds / report.records * 1e6, "us"),
        *(Figure(f"{name} CPU per event", seconds * 1e6, "us")
          for name, seconds in cpu_per_event.items()),
        Figure(f"{CORES} cores / CPU per event of all three", bound, "events/s",
               "the rebuild's rate", rebuild_rate),
    ])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--partitions", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(processName)s %(message)s")
    main(arguments.events, arguments.partitions, arguments.workers)
