"""Reading the event log back for a rebuild: one partition index folded in memory and
copied into the fresh schema (`load_partition`, run in a worker process each), the
records the projection refused (from the dead-letter topics), and the records between
two positions (`records_between`, for catching up).

Which records need the full validation: the live projection has already judged every
record before its stored position and dead-lettered the ones it refused, so those are
folded straight from their JSON; a record past the live position, or one whose body does
not read as expected, goes through `libs.events.decode` exactly as the live consumer's
would.

The fold's rows go to PostgreSQL as COPY text built here, a chunk at a time while the
server stores the chunk before: asyncpg's binary encoding of Decimals and dates cost
several times what the server spends storing them.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import InvalidOperation

import asyncpg
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
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
    PartitionFold,
)

log = logging.getLogger(__name__)

Position = tuple[str, int]  # (physical topic, partition)
# librdkafka (confluent-kafka) reads ahead on its own thread while Python folds the batch
# before, at a third of aiokafka's CPU per record. The group is never joined (the client
# wants a name): partitions are assigned, positions never committed. The broker does not
# hold a fetch at a partition's end for new records (500 ms by default): the next
# partition's first fetch would wait behind it. At the end of a partition it says so (EOF).
READER = {"group.id": "aging-rebuild", "enable.auto.commit": False,
          "isolation.level": "read_committed", "enable.partition.eof": True,
          "fetch.wait.max.ms": 10,
          "fetch.max.bytes": 64 * 1024 * 1024, "max.partition.fetch.bytes": 32 * 1024 * 1024}
BATCH = 100_000  # records
END_OF_PARTITION = KafkaError._PARTITION_EOF  # noqa: SLF001 - librdkafka's own name
POLL_SECONDS = 1.0
TIMEOUT = 30.0  # seconds: for metadata, and for a partition that gives nothing
COPY_CHUNK = 5_000  # rows
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
    cash_moves: list[tuple] = field(default_factory=list)  # CashMove's fields
    read_seconds: float = 0.0  # reading and folding, wall
    copy_seconds: float = 0.0
    read_cpu_seconds: float = 0.0  # this process's CPU
    copy_cpu_seconds: float = 0.0


@contextmanager
def _reader(bootstrap_servers: str) -> Iterator[Consumer]:
    """A consumer outside any group: it reads where it is told. It learns every topic's
    metadata first, in one request: assigned a topic it does not know, librdkafka asks
    for it after a delay (a second here, for each topic)."""
    consumer = Consumer({"bootstrap.servers": bootstrap_servers, **READER})
    try:
        consumer.list_topics(timeout=TIMEOUT)
        yield consumer
    finally:
        consumer.close()


def load_partition(job: PartitionJob) -> PartitionLoad:
    """Worker-process entry point."""
    _finished_folds.clear()
    # The fold keeps millions of objects, none in a reference cycle, to the end of the job:
    # the cycle collector would only walk them again and again (a third of the CPU). Frozen
    # before it comes back on, or its first pass would walk them all once more.
    gc.disable()
    load = PartitionLoad()
    try:
        started, cpu_started = time.perf_counter(), time.process_time()
        fold = PartitionFold()
        with _reader(job.bootstrap_servers) as consumer:
            for rank, topic in enumerate(job.topics):
                _fold_topic(fold, load, job, consumer, topic, rank)
        items, load.strangers = fold.open_item_rows()
        # as plain tuples: pickled back to the main process in half the time
        load.cash_moves = [tuple(move) for move in fold.cash_moves]
        load.read_seconds = time.perf_counter() - started
        load.read_cpu_seconds = time.process_time() - cpu_started
        copied, cpu_copied = time.perf_counter(), time.process_time()
        # Filled, not returned: on its way out, asyncio.run formats the repr of what its
        # task returned (a Python 3.11 signal-handler quirk), a tenth of a second here.
        asyncio.run(_copy_fold(job, items, fold, load))
        load.copy_seconds = time.perf_counter() - copied
        load.copy_cpu_seconds = time.process_time() - cpu_copied
        _finished_folds.append(fold)
    finally:
        gc.freeze()
        gc.enable()
    log.info("partition %d: %d records (%d validated in full) read and folded in %.2f s "
             "(%.2f s CPU), %d rows copied in %.2f s (%.2f s CPU)", job.partition,
             load.records, load.validated, load.read_seconds, load.read_cpu_seconds,
             load.rows, load.copy_seconds, load.copy_cpu_seconds)
    return load


def _fold_topic(fold: PartitionFold, load: PartitionLoad, job: PartitionJob,
                consumer: Consumer, topic: str, rank: int) -> None:
    position = (topic, job.partition)
    judged = job.judged.get(position, 0)
    refused = {offset for (name, partition, offset) in job.refused
               if (name, partition) == position}
    for batch in _batches(consumer, topic, job.partition, 0, job.ends.get(position, 0)):
        load.records += len(batch)
        for record in batch:
            offset = record.offset()
            trusted = offset < judged and offset not in refused
            if not (trusted and _fold_fast(fold, record, rank, offset)):
                load.validated += 1
                _fold_validated(fold, record, rank)


def _fold_fast(fold: PartitionFold, record: Message, rank: int, offset: int) -> bool:
    """Fold a record already judged valid from its JSON; False if it needs validating."""
    headers = dict(record.headers() or ())
    event_type = FOLDED_TYPES.get(headers.get("ce_type"))
    if event_type is None:
        return True  # the live consumer ignored or refused it: no effect
    try:
        body = loads(record.value())
        if body["version"] != CURRENT_VERSION[event_type]:
            return False  # an older version is upcast by the full path
        fold.apply(event_type, headers["ce_id"].decode(), headers["tenant"].decode(), body,
                   (record.timestamp()[1], rank, record.partition(), offset))
    except (KeyError, TypeError, ValueError, AttributeError, InvalidOperation, JSONDecodeError):
        return False
    return True


def _fold_validated(fold: PartitionFold, record: Message, rank: int) -> None:
    try:
        envelope, event = decode(record.headers(), record.value())
    except InvalidEvent:
        return  # the live consumer dead-letters it
    if fold.handles(envelope.type):
        fold.apply(envelope.type, envelope.id, envelope.tenant, event.model_dump(mode="json"),
                   (record.timestamp()[1], rank, record.partition(), record.offset()))


async def _copy_fold(job: PartitionJob, items: list[list], fold: PartitionFold,
                     load: PartitionLoad) -> None:
    connection = await asyncpg.connect(job.database_url)
    try:
        for table, columns, table_rows in (
                ("open_items", OPEN_ITEM_COLUMNS, items),
                ("applications", APPLICATION_COLUMNS, fold.applications.values()),
                ("document_changes", CHANGE_COLUMNS, fold.changes.values()),
                ("customers", CUSTOMER_COLUMNS, fold.customers.values()),
                ("applied_events", APPLIED_EVENT_COLUMNS, fold.applied_events.items())):
            load.rows += await copy_rows(connection, job.schema, table, columns,
                                         list(table_rows))
    finally:
        await connection.close()


async def copy_rows(connection: asyncpg.Connection, schema: str, table: str,
                    columns: Sequence[str], rows: list[Sequence]) -> int:
    """COPY `rows` (values that are None, str, Decimal, int or date) into `table`, formatted
    a chunk at a time: the server stores one while the next is formatted."""
    if rows:
        await connection.copy_to_table(table, schema_name=schema, columns=list(columns),
                                       source=_copy_chunks(rows, len(columns)), format="text")
    return len(rows)


async def _copy_chunks(rows: list[Sequence], width: int) -> AsyncIterator[bytes]:
    for start in range(0, len(rows), COPY_CHUNK):
        yield copy_text(rows[start:start + COPY_CHUNK], width)


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
        # (not row.count(None): that asks every Decimal whether it equals None)
        nulls = sum(1 for row in rows for value in row if value is None)
    if (text.count("\\") != nulls or "\r" in text or text.count("\n") != len(rows) - 1
            or text.count("\t") != len(rows) * (width - 1)):
        text = "\n".join(["\t".join([NULL if value is None else str(value).translate(_ESCAPES)
                                     for value in row]) for row in rows])
    return (text + "\n").encode()


def _batches(consumer: Consumer, topic: str, partition: int, start: int,
             end: int) -> Iterator[list[Message]]:
    """The partition's records from `start` up to (not including) `end`, in big batches.
    A batch asks for as many records as there are offsets left, so it comes back as soon
    as they are read; only where offsets hold no record (transaction markers) does it
    wait out its second, and then the log's end (EOF) ends it."""
    if start >= end:
        return
    consumer.assign([TopicPartition(topic, partition, start)])
    waited = 0.0
    while start < end:
        records, at_log_end = [], False
        for message in consumer.consume(min(end - start, BATCH), POLL_SECONDS):
            if (error := message.error()) is None:
                records.append(message)
            elif error.code() == END_OF_PARTITION:
                at_log_end = True
            else:
                raise KafkaException(error)
        if records and records[-1].offset() >= end:
            records = [record for record in records if record.offset() < end]
        if records:
            start, waited = records[-1].offset() + 1, 0.0
            yield records
        if at_log_end:
            return
        waited += 0.0 if records else POLL_SECONDS
        if waited >= TIMEOUT:
            raise TimeoutError(f"nothing read from {topic} [{partition}] at offset {start} "
                               f"in {TIMEOUT:.0f} s")


def records_between(bootstrap_servers: str, starts: dict[Position, int],
                    ends: dict[Position, int]) -> Iterator[Message]:
    """Every record from `starts` (default 0) up to `ends`, partition after partition.
    Read on the caller's thread: a rebuild waits for them anyway."""
    behind = {position: end for position, end in ends.items()
              if end > starts.get(position, 0)}
    if not behind:
        return
    with _reader(bootstrap_servers) as consumer:
        for (topic, partition), end in sorted(behind.items()):
            for batch in _batches(consumer, topic, partition, starts.get((topic, partition), 0),
                                  end):
                yield from batch


def end_offsets(bootstrap_servers: str, topics: tuple[str, ...]) -> dict[Position, int]:
    """Where each partition of `topics` ends now (for committed records)."""
    with _reader(bootstrap_servers) as consumer:
        metadata = consumer.list_topics(timeout=TIMEOUT).topics
        return {(topic, partition): consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), TIMEOUT)[1]
                for topic in topics if topic in metadata
                for partition in sorted(metadata[topic].partitions)}


def ends_and_refusals(bootstrap_servers: str, topics: tuple[str, ...],
                      consumer_group: str) -> tuple[dict[Position, int], frozenset]:
    """Where `topics` end now, and (topic, partition, offset) of every record
    `consumer_group` dead-lettered from them."""
    dead_letter_topics = tuple(dead_letter_topic(topic) for topic in topics)
    ends = end_offsets(bootstrap_servers, topics + dead_letter_topics)
    return ({position: end for position, end in ends.items() if position[0] in topics},
            _refused_records(bootstrap_servers, consumer_group, {
                position: end for position, end in ends.items()
                if position[0] in dead_letter_topics}))


def _refused_records(bootstrap_servers: str, consumer_group: str,
                     dead_letter_ends: dict[Position, int]) -> frozenset:
    refused = set()
    for record in records_between(bootstrap_servers, {}, dead_letter_ends):
        headers = dict(record.headers() or ())
        if headers.get("dlq_consumer", b"").decode() != consumer_group:
            continue
        refused.add((headers["dlq_original_topic"].decode(),
                     int(headers["dlq_original_partition"]),
                     int(headers["dlq_original_offset"])))
    return frozenset(refused)
