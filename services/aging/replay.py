"""Reading the event log back for a rebuild: one partition index folded in memory and
copied into the fresh schema (`load_partition`, run in a worker process each), the
records the projection refused (from the dead-letter topics), and the records between
two positions (`records_between`, for catching up).

Which records need the full validation: the live projection has already judged every
record before its stored position and dead-lettered the ones it refused, so those are
folded straight from their JSON; a record past the live position, or one whose body does
not read as expected, goes through `libs.events.decode` exactly as the live consumer's
would.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import InvalidOperation

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from orjson import JSONDecodeError, loads  # several times the standard library's speed

from libs.events import InvalidEvent, decode
from libs.events.base import EVENT_TYPES
from libs.events.topics import dead_letter_topic

from .fold import (
    APPLICATION_COLUMNS,
    APPLIED_EVENT_COLUMNS,
    CHANGE_COLUMNS,
    CUSTOMER_COLUMNS,
    OPEN_ITEM_COLUMNS,
    CashMove,
    PartitionFold,
)

log = logging.getLogger(__name__)

Position = tuple[str, int]  # (physical topic, partition)
FETCH = {"fetch_max_bytes": 64 * 1024 * 1024, "max_partition_fetch_bytes": 32 * 1024 * 1024,
         "fetch_max_wait_ms": 20, "isolation_level": "read_committed",
         "enable_auto_commit": False}
CURRENT_VERSION = {name: cls.current_version for name, cls in EVENT_TYPES.items()}


@dataclass(frozen=True)
class PartitionJob:
    """Fold partition `partition` of every topic (in `topics` order) up to `ends`."""

    bootstrap_servers: str
    database_url: str
    schema: str
    partition: int
    topics: tuple[str, ...]
    ends: dict[Position, int]
    judged: dict[Position, int]  # the live projection's next offsets
    refused: frozenset[tuple[str, int, int]]


@dataclass
class PartitionLoad:
    records: int = 0
    validated: int = 0
    rows: int = 0
    strangers: set[tuple[str, str]] = field(default_factory=set)
    cash_moves: list[CashMove] = field(default_factory=list)


@asynccontextmanager
async def _reader(bootstrap_servers: str) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer outside any group: it reads where it is told."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, **FETCH)
    await consumer.start()
    try:
        yield consumer
    finally:
        # aiokafka's stop() fails if its startup task has not run yet: let it run.
        await asyncio.sleep(0)
        await consumer.stop()


def load_partition(job: PartitionJob) -> PartitionLoad:
    """Worker-process entry point."""
    return asyncio.run(_load_partition(job))


async def _load_partition(job: PartitionJob) -> PartitionLoad:
    started = time.perf_counter()
    fold, load = PartitionFold(), PartitionLoad()
    async with _reader(job.bootstrap_servers) as consumer:
        for rank, topic in enumerate(job.topics):
            position = (topic, job.partition)
            end = job.ends.get(position, 0)
            judged = job.judged.get(position, 0)
            async for batch in _batches(consumer, TopicPartition(topic, job.partition), 0, end):
                for record in batch:
                    load.records += 1
                    trusted = record.offset < judged and \
                        (topic, record.partition, record.offset) not in job.refused
                    if not (trusted and _fold_fast(fold, record, rank)):
                        load.validated += 1
                        _fold_validated(fold, record, rank)
    log.info("partition %d: %d records (%d validated in full) read and folded in %.2f s",
             job.partition, load.records, load.validated, time.perf_counter() - started)
    items, load.strangers = fold.open_item_rows()
    load.cash_moves = fold.cash_moves
    connection = await asyncpg.connect(job.database_url)
    try:
        for table, columns, rows in (
                ("open_items", OPEN_ITEM_COLUMNS, items),
                ("applications", APPLICATION_COLUMNS, fold.applications.values()),
                ("document_changes", CHANGE_COLUMNS, fold.changes.values()),
                ("customers", CUSTOMER_COLUMNS, fold.customers.values()),
                ("applied_events", APPLIED_EVENT_COLUMNS, fold.applied_events)):
            rows = list(rows)
            load.rows += len(rows)
            await connection.copy_records_to_table(table, schema_name=job.schema,
                                                   columns=columns, records=rows)
    finally:
        await connection.close()
    log.info("partition %d: %d rows copied, %.2f s in all", job.partition, load.rows,
             time.perf_counter() - started)
    return load


def _fold_fast(fold: PartitionFold, record: ConsumerRecord, rank: int) -> bool:
    """Fold a record already judged valid from its JSON; False if it needs validating."""
    headers = dict(record.headers)
    event_type = headers.get("ce_type", b"").decode()
    if not fold.handles(event_type):
        return True  # the live consumer ignored or refused it: no effect
    try:
        body = loads(record.value)
        if body["version"] != CURRENT_VERSION[event_type]:
            return False  # an older version is upcast by the full path
        fold.apply(event_type, headers["ce_id"].decode(), headers["tenant"].decode(), body,
                   (record.timestamp, rank, record.partition, record.offset))
    except (KeyError, TypeError, ValueError, AttributeError, InvalidOperation, JSONDecodeError):
        return False
    return True


def _fold_validated(fold: PartitionFold, record: ConsumerRecord, rank: int) -> None:
    try:
        envelope, event = decode(record.headers, record.value)
    except InvalidEvent:
        return  # the live consumer dead-letters it
    if fold.handles(envelope.type):
        fold.apply(envelope.type, envelope.id, envelope.tenant, event.model_dump(mode="json"),
                   (record.timestamp, rank, record.partition, record.offset))


async def _batches(consumer: AIOKafkaConsumer, partition: TopicPartition, start: int,
                   end: int) -> AsyncIterator[list[ConsumerRecord]]:
    """The partition's records from `start` up to (not including) `end`, in big batches."""
    if start >= end:
        return
    consumer.assign([partition])
    consumer.seek(partition, start)
    while await consumer.position(partition) < end:
        fetched = await consumer.getmany(partition, timeout_ms=1000, max_records=100_000)
        records = fetched.get(partition, [])
        if records and records[-1].offset >= end:
            records = [record for record in records if record.offset < end]
        if records:
            yield records


async def records_between(bootstrap_servers: str, starts: dict[Position, int],
                          ends: dict[Position, int]) -> AsyncIterator[ConsumerRecord]:
    """Every record from `starts` (default 0) up to `ends`, partition after partition."""
    behind = {position: end for position, end in ends.items()
              if end > starts.get(position, 0)}
    if not behind:
        return
    async with _reader(bootstrap_servers) as consumer:
        for (topic, partition), end in sorted(behind.items()):
            async for batch in _batches(consumer, TopicPartition(topic, partition),
                                        starts.get((topic, partition), 0), end):
                for record in batch:
                    yield record


async def end_offsets(bootstrap_servers: str, topics: tuple[str, ...]) -> dict[Position, int]:
    async with _reader(bootstrap_servers) as consumer:
        metadata = await consumer._client.fetch_all_metadata()  # noqa: SLF001 - unsubscribed
        partitions = [TopicPartition(topic, partition) for topic in topics
                      for partition in sorted(metadata.partitions_for_topic(topic) or ())]
        ends = await consumer.end_offsets(partitions) if partitions else {}
        return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}


async def refused_records(bootstrap_servers: str, topics: tuple[str, ...],
                          consumer_group: str) -> frozenset[tuple[str, int, int]]:
    """(topic, partition, offset) of every record `consumer_group` dead-lettered."""
    dead_letter_topics = tuple(dead_letter_topic(topic) for topic in topics)
    ends = await end_offsets(bootstrap_servers, dead_letter_topics)
    refused = set()
    async for record in records_between(bootstrap_servers, {}, ends):
        headers = {name: value for name, value in record.headers}
        if headers.get("dlq_consumer", b"").decode() != consumer_group:
            continue
        refused.add((headers["dlq_original_topic"].decode(),
                     int(headers["dlq_original_partition"]),
                     int(headers["dlq_original_offset"])))
    return frozenset(refused)
