"""Reading the event log back for a rebuild: one partition index folded in memory and
copied into the fresh schema (`load_partition`, run in a worker process each), the
records the projection refused (from the dead-letter topics), and the records between
two positions (`records_between`, for catching up).

Which records need the full validation: the live projection has already judged every
record before its stored position and dead-lettered the ones it refused, so those are
folded straight from their JSON; a record past the live position, or one whose body does
not read as expected, goes through `libs.events.decode` exactly as the live consumer's
would.

The fold's rows go to PostgreSQL as COPY text built here in one pass: asyncpg's binary
encoding of Decimals and dates cost several times what the server spends storing them.
"""

from __future__ import annotations

import asyncio
import gc
import io
import logging
import time
from collections.abc import AsyncIterator, Sequence
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
FOLDED_TYPES = {name.encode(): name for name in PartitionFold().handlers}
NULL = "\\N"
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
# The last job's fold, kept rather than freed: freeing its millions of objects one by one
# takes up to a second, while the worker process's memory goes back at once when it ends.
_finished_folds: list[PartitionFold] = []


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
    read_seconds: float = 0.0  # reading and folding, wall
    copy_seconds: float = 0.0
    read_cpu_seconds: float = 0.0  # this process's CPU
    copy_cpu_seconds: float = 0.0


@asynccontextmanager
async def _reader(bootstrap_servers: str,
                  partitions: list[TopicPartition]) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer outside any group: it reads where it is told. Assigned every partition it
    will read at once, so that it learns their topics in one metadata request (topic by
    topic, aiokafka waits 100 ms before each)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, **FETCH)
    await consumer.start()
    consumer.assign(partitions)
    try:
        yield consumer
    finally:
        # aiokafka's stop() fails if its startup task has not run yet: let it run.
        await asyncio.sleep(0)
        await consumer.stop()


def load_partition(job: PartitionJob) -> PartitionLoad:
    """Worker-process entry point."""
    _finished_folds.clear()
    # The fold keeps millions of objects, none in a reference cycle, to the end of the job:
    # the cycle collector would only walk them again and again (a third of the CPU).
    gc.disable()
    load = PartitionLoad()
    try:
        # Filled, not returned: on its way out, asyncio.run formats the repr of what its
        # task returned (a Python 3.11 signal-handler quirk), a tenth of a second here.
        asyncio.run(_load_partition(job, load))
    finally:
        gc.enable()
    return load


async def _load_partition(job: PartitionJob, load: PartitionLoad) -> None:
    started, cpu_started = time.perf_counter(), time.process_time()
    fold = PartitionFold()
    async with _reader(job.bootstrap_servers, [TopicPartition(topic, job.partition)
                                               for topic in job.topics]) as consumer:
        for rank, topic in enumerate(job.topics):
            await _fold_topic(fold, load, job, consumer, topic, rank)
    items, load.strangers = fold.open_item_rows()
    load.cash_moves = fold.cash_moves
    load.read_seconds = time.perf_counter() - started
    load.read_cpu_seconds = time.process_time() - cpu_started
    copied, cpu_copied = time.perf_counter(), time.process_time()
    load.rows = await _copy_fold(job, items, fold)
    load.copy_seconds = time.perf_counter() - copied
    load.copy_cpu_seconds = time.process_time() - cpu_copied
    _finished_folds.append(fold)
    log.info("partition %d: %d records (%d validated in full) read and folded in %.2f s "
             "(%.2f s CPU), %d rows copied in %.2f s (%.2f s CPU)", job.partition,
             load.records, load.validated, load.read_seconds, load.read_cpu_seconds,
             load.rows, load.copy_seconds, load.copy_cpu_seconds)


async def _fold_topic(fold: PartitionFold, load: PartitionLoad, job: PartitionJob,
                      consumer: AIOKafkaConsumer, topic: str, rank: int) -> None:
    position = (topic, job.partition)
    judged = job.judged.get(position, 0)
    refused = {offset for (name, partition, offset) in job.refused
               if (name, partition) == position}
    async for batch in _batches(consumer, TopicPartition(topic, job.partition), 0,
                                job.ends.get(position, 0)):
        load.records += len(batch)
        for record in batch:
            trusted = record.offset < judged and record.offset not in refused
            if not (trusted and _fold_fast(fold, record, rank)):
                load.validated += 1
                _fold_validated(fold, record, rank)


def _fold_fast(fold: PartitionFold, record: ConsumerRecord, rank: int) -> bool:
    """Fold a record already judged valid from its JSON; False if it needs validating."""
    headers = dict(record.headers)
    event_type = FOLDED_TYPES.get(headers.get("ce_type"))
    if event_type is None:
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


async def _copy_fold(job: PartitionJob, items: list[list], fold: PartitionFold) -> int:
    connection = await asyncpg.connect(job.database_url)
    try:
        rows = 0
        for table, columns, table_rows in (
                ("open_items", OPEN_ITEM_COLUMNS, items),
                ("applications", APPLICATION_COLUMNS, fold.applications.values()),
                ("document_changes", CHANGE_COLUMNS, fold.changes.values()),
                ("customers", CUSTOMER_COLUMNS, fold.customers.values()),
                ("applied_events", APPLIED_EVENT_COLUMNS, fold.applied_events)):
            rows += await copy_rows(connection, job.schema, table, columns, list(table_rows))
        return rows
    finally:
        await connection.close()


async def copy_rows(connection: asyncpg.Connection, schema: str, table: str,
                    columns: Sequence[str], rows: list[Sequence]) -> int:
    """COPY `rows` (values that are None, str, Decimal, int or date) into `table`."""
    if rows:
        await connection.copy_to_table(table, schema_name=schema, columns=list(columns),
                                       source=io.BytesIO(copy_text(rows, len(columns))),
                                       format="text")
    return len(rows)


def copy_text(rows: list[Sequence], width: int) -> bytes:
    """`rows` in COPY's text format. Values are written with str(), which reads back as
    the same Decimal or date. Escaping every value would double the cost for values that
    almost never need it, so the text is checked instead: one backslash per null and
    only the separators' tabs and line breaks, else it is made again, every value
    escaped."""
    try:  # rows of text alone (event ids and types) join as they are
        text, nulls = "\n".join(["\t".join(row) for row in rows]), 0
    except TypeError:
        text = "\n".join(["\t".join([NULL if value is None else str(value) for value in row])
                          for row in rows])
        nulls = sum(row.count(None) for row in rows)
    if (text.count("\\") != nulls or "\r" in text or text.count("\n") != len(rows) - 1
            or text.count("\t") != len(rows) * (width - 1)):
        text = "\n".join(["\t".join([NULL if value is None else str(value).translate(_ESCAPES)
                                     for value in row]) for row in rows])
    return (text + "\n").encode()


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
    async with _reader(bootstrap_servers, [TopicPartition(*position) for position in behind]
                       ) as consumer:
        for (topic, partition), end in sorted(behind.items()):
            async for batch in _batches(consumer, TopicPartition(topic, partition),
                                        starts.get((topic, partition), 0), end):
                for record in batch:
                    yield record


async def end_offsets(bootstrap_servers: str, topics: tuple[str, ...]) -> dict[Position, int]:
    async with _reader(bootstrap_servers, []) as consumer:
        metadata = await consumer._client.fetch_all_metadata()  # noqa: SLF001 - unsubscribed
        partitions = [TopicPartition(topic, partition) for topic in topics
                      for partition in sorted(metadata.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)  # their topics' metadata in one request
        ends = await consumer.end_offsets(partitions) if partitions else {}
        return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}


async def ends_and_refusals(bootstrap_servers: str, topics: tuple[str, ...],
                            consumer_group: str) -> tuple[dict[Position, int], frozenset]:
    """Where `topics` end now, and (topic, partition, offset) of every record
    `consumer_group` dead-lettered from them."""
    dead_letter_topics = tuple(dead_letter_topic(topic) for topic in topics)
    ends = await end_offsets(bootstrap_servers, topics + dead_letter_topics)
    return ({position: end for position, end in ends.items() if position[0] in topics},
            await _refused_records(bootstrap_servers, consumer_group, {
                position: end for position, end in ends.items()
                if position[0] in dead_letter_topics}))


async def _refused_records(bootstrap_servers: str, consumer_group: str,
                           dead_letter_ends: dict[Position, int]) -> frozenset:
    refused = set()
    async for record in records_between(bootstrap_servers, {}, dead_letter_ends):
        headers = {name: value for name, value in record.headers}
        if headers.get("dlq_consumer", b"").decode() != consumer_group:
            continue
        refused.add((headers["dlq_original_topic"].decode(),
                     int(headers["dlq_original_partition"]),
                     int(headers["dlq_original_offset"])))
    return frozenset(refused)
