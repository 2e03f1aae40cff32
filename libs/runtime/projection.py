"""Consuming events into a read model on asyncpg, each event applied exactly once.

In one transaction: the event ids are recorded (a re-published or redelivered event is
recognised by its `ce_id` and skipped), the handlers update the read model, the
consumed positions are stored, and what changed is announced (NOTIFY, delivered on
commit: live views refresh, on every replica). The Kafka offsets are committed after.

A process writes a projection through one `ProjectionWriter`, one transaction at a time:
whatever its consumers (aging has one for all its topics) have ready when a transaction
begins goes into it. In it, consecutive events of one type are applied together where the
projection has a batch handler for the type: set-based statements over arrays, so a
transaction costs about five round trips (BEGIN and COMMIT included) however many events
it holds: a round trip costs each side ~0.1 ms of CPU here, as much as a few events' work.

Handlers write unqualified SQL: each transaction first points `search_path` at the
projection's schema, so the same handlers can fill a fresh schema during a rebuild.
Each transaction also holds the projection's switch lock (shared): a rebuild takes it
exclusively to swap schemas, so no transaction straddles the swap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from json.encoder import encode_basestring_ascii as _quoted

import asyncpg
from aiokafka.structs import ConsumerRecord
from faststream.kafka import KafkaBroker
from prometheus_client import Histogram

from libs.events import Envelope, IntegrationEvent

from .consumer import (
    APPLIED,
    DUPLICATE,
    IGNORED,
    LAG_BUCKETS,
    Decoded,
    InboundConsumer,
    LagByEventType,
)
from .settings import ServiceSettings

log = logging.getLogger(__name__)

ProjectionHandler = Callable[[asyncpg.Connection, Envelope, IntegrationEvent], Awaitable[None]]
# A run of consecutive events of one type, applied at once (set-based statements).
BatchHandler = Callable[[asyncpg.Connection, list[tuple[Envelope, IntegrationEvent]]],
                        Awaitable[None]]
# An event with its handler (None: not this projection's business).
Handled = tuple[Envelope, IntegrationEvent, ProjectionHandler | None]

# Bytes of one NOTIFY payload, below PostgreSQL's limit of 8000.
NOTICE_LIMIT = 7900

VISIBLE_LAG = Histogram(
    "ar_projection_visible_lag_seconds",
    "From an event's publication (ce_time) to its visibility in the read model",
    ["projection", "event_type"], buckets=LAG_BUCKETS)

TRACKING_DDL = """
CREATE TABLE IF NOT EXISTS {schema}.applied_events (
    event_id   text PRIMARY KEY,
    event_type text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {schema}.consumer_positions (
    topic       text   NOT NULL,
    partition   int    NOT NULL,
    next_offset bigint NOT NULL,
    PRIMARY KEY (topic, partition)
);
"""

# Taken shared by every projection transaction, exclusively by a rebuild's swap.
_ENTER = ("SELECT set_config('search_path', $1, true), "
          "pg_advisory_xact_lock_shared(hashtext('projection-switch'), hashtext($2))")
SWITCH_LOCK = "SELECT pg_advisory_xact_lock(hashtext('projection-switch'), hashtext($1))"
# Taken by every `ProjectionWriter` transaction: one of a projection's transactions at a
# time, whatever process it is in. Its rows that every event touches (a tenant's day, a
# customer's buckets) would hold them in line anyway, and in no set order: replicas,
# each with a topic's partitions, deadlocked.
_ONE_WRITER = "SELECT pg_advisory_xact_lock(hashtext('projection-writer'), hashtext($1))"


def changes_channel(schema: str) -> str:
    """The PostgreSQL NOTIFY channel on which a projection announces what it changed."""
    return f"{schema}_changes"


async def enter_schema(connection: asyncpg.Connection, schema: str, projection: str) -> None:
    """In a transaction: write into `schema`, holding `projection`'s switch lock (shared)."""
    await connection.execute(_ENTER, schema, projection)


# A writer's statements look rows up by key, a batch's worth: never a scan of a table,
# however small the planner believes it (a young table grows faster than its statistics
# follow), nor worth compiling (JIT), nor worth planning afresh for each batch. PostgreSQL
# plans a prepared statement for its parameters (a custom plan) while the plan it makes
# once for any (the generic one, which guesses ten rows to an array) looks dearer than
# the custom ones so far: with small batches, every statement of every batch was planned
# again (a sixth of the server's CPU at twelve events a commit).
_BY_KEY_ONLY = ("set_config('enable_seqscan', 'off', true), set_config('jit', 'off', true), "
                "set_config('plan_cache_mode', 'force_generic_plan', true)")


def _begin_writing(schema: str) -> str:
    """SQL: BEGIN, then `enter_schema`, `_ONE_WRITER` and `_BY_KEY_ONLY` in one SELECT (in
    that order), in one round trip (so with no parameters)."""
    literal = "'" + schema.replace("'", "''") + "'"
    enter = _ENTER.removeprefix("SELECT ").replace("$1", literal).replace("$2", literal)
    one_writer = _ONE_WRITER.removeprefix("SELECT ").replace("$1", literal)
    return f"BEGIN; SELECT {enter}, {one_writer}, {_BY_KEY_ONLY}"


def as_columns(rows: Iterable[Sequence], width: int) -> list[list]:
    """Rows as `width` columns: the arrays a set-based statement unnests."""
    columns = [list(column) for column in zip(*rows, strict=True)]
    if not columns:
        return [[] for _ in range(width)]
    if len(columns) != width:
        raise ValueError(f"rows of {len(columns)} values, not {width}")
    return columns


# The next offset to consume, per (topic, partition); never moved back.
_STORE_POSITIONS = """
INSERT INTO consumer_positions AS known SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[])
ON CONFLICT (topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset
WHERE known.next_offset < EXCLUDED.next_offset"""


def _positions(next_offsets: dict[tuple[str, int], int]) -> list[list]:
    return as_columns(((topic, partition, offset)
                       for (topic, partition), offset in next_offsets.items()), 3)


async def store_position(connection: asyncpg.Connection, topic: str, partition: int,
                         next_offset: int) -> None:
    await connection.execute(_STORE_POSITIONS, *_positions({(topic, partition): next_offset}))


def _change(envelope: Envelope) -> str:
    """One change as JSON: {tenant, subject, type, event_id} (what json.dumps writes)."""
    return (f'{{"tenant": {_quoted(envelope.tenant)}, "subject": {_quoted(envelope.subject)}, '
            f'"type": {_quoted(envelope.type)}, "event_id": {_quoted(envelope.id)}}}')


def _notice_numbers(changes: list[str]) -> list[int]:
    """For each change (ASCII JSON), the notice it goes in: in order, each notice as full
    as one NOTIFY takes (PostgreSQL refuses a payload of 8000 bytes or more)."""
    numbers: list[int] = []
    notice = size = 0
    for change in changes:
        if size and size + len(change) > NOTICE_LIMIT:
            notice, size = notice + 1, 0
        numbers.append(notice)
        size += len(change) + 1
    return numbers


async def apply_once(connection: asyncpg.Connection, handler: ProjectionHandler | None,
                     envelope: Envelope, event: IntegrationEvent) -> str:
    """Inside the caller's transaction (after `enter_schema`): the handler's effect unless
    the event id was applied before. (A rebuild's catch-up; it announces nothing.)"""
    if handler is None:
        return IGNORED
    first_time = await connection.fetchval(
        "INSERT INTO applied_events (event_id, event_type) "
        "VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
        envelope.id, envelope.type)
    if not first_time:
        return DUPLICATE
    await handler(connection, envelope, event)
    return APPLIED


# In one statement, before any handler runs: the positions stored, the handled events'
# ids recorded (an id recorded before is not fresh), and the fresh events announced, each
# at its first place in the batch, in the notices `_notice_numbers` chose for the batch
# (NOTIFY is delivered on commit, so never for a batch rolled back). Returns the fresh ids.
_RECORD_BATCH = f"""
WITH stored AS ({_STORE_POSITIONS}),
recorded AS (
    INSERT INTO applied_events (event_id, event_type)
    SELECT * FROM unnest($4::text[], $5::text[]) ON CONFLICT DO NOTHING RETURNING event_id),
fresh AS (
    SELECT min(place) AS place
    FROM unnest($4::text[]) WITH ORDINALITY AS handled(event_id, place)
    JOIN recorded USING (event_id) GROUP BY event_id),
announced AS (
    SELECT pg_notify($6, '[' || string_agg(change, ',' ORDER BY place) || ']')
    FROM fresh JOIN unnest($7::text[], $8::int[]) WITH ORDINALITY
        AS handled(change, notice, place) USING (place)
    GROUP BY notice ORDER BY notice)
SELECT (SELECT coalesce(array_agg(event_id), '{{}}') FROM recorded),
       (SELECT count(*) FROM announced)  -- (a CTE that only reads runs when it is read)
"""


async def apply_all(connection: asyncpg.Connection, events: list[Handled],
                    batch_handlers: dict[type[IntegrationEvent], BatchHandler],
                    notify_channel: str,
                    next_offsets: dict[tuple[str, int], int]) -> list[str]:
    """`apply_once` for many events, each topic's in their order, and the positions after
    them stored, in few statements: one stores the positions, records the ids and
    announces the fresh ones (`_RECORD_BATCH`), then consecutive events of a type with a
    batch handler are applied together."""
    handled = [envelope for envelope, _, handler in events if handler]
    changes = [_change(envelope) for envelope in handled]
    fresh = set(await connection.fetchval(
        _RECORD_BATCH, *_positions(next_offsets), [envelope.id for envelope in handled],
        [envelope.type for envelope in handled], notify_channel, changes,
        _notice_numbers(changes)))
    outcomes, to_apply = [], []
    for envelope, event, handler in events:
        if handler is None:
            outcomes.append(IGNORED)
        elif envelope.id in fresh:
            fresh.discard(envelope.id)  # the same event twice in a batch: the first counts
            outcomes.append(APPLIED)
            to_apply.append((envelope, event, handler))
        else:
            outcomes.append(DUPLICATE)
    # One topic's events after another's, each in its order: two topics' events are in no
    # order (each topic is a log of its own), and runs of a type stay whole, each a
    # statement.
    to_apply.sort(key=lambda handled: type(handled[1]).topic)
    for event_type, run in groupby(to_apply, key=lambda handled: type(handled[1])):
        if event_type in batch_handlers:
            await batch_handlers[event_type](connection, [(envelope, event)
                                                          for envelope, event, _ in run])
        else:
            for envelope, event, handler in run:
                await handler(connection, envelope, event)
    return outcomes


def one_at_a_time(handler: BatchHandler) -> ProjectionHandler:
    """A batch handler as a handler of one event (for `apply_once`)."""
    async def apply(connection: asyncpg.Connection, envelope: Envelope,
                    event: IntegrationEvent) -> None:
        await handler(connection, [(envelope, event)])
    return apply


@dataclass
class _Batch:
    """One consumer's records, waiting for the projection's next transaction."""

    handled: list[Handled]
    next_offsets: dict[tuple[str, int], int]
    batch_handlers: dict[type[IntegrationEvent], BatchHandler]
    outcomes: asyncio.Future[list[str]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())


# How often the writer looks for tables grown since their statistics were taken.
GROWTH_CHECK_SECONDS = 1.0
_GROWN_TABLES = """
SELECT format('%I.%I', stat.schemaname, stat.relname)
FROM pg_stat_user_tables AS stat JOIN pg_class ON pg_class.oid = stat.relid
WHERE stat.schemaname = $1 AND stat.n_live_tup >= 2 * greatest(pg_class.reltuples, 50)
"""


class ProjectionWriter:
    """Writes what a projection's consumers in this process hand it, one transaction at a
    time (group commit): the batches that arrive while a transaction is under way go
    together into the next one.

    So two of the projection's transactions never run at once (nor in two processes:
    `_ONE_WRITER`), and never wait on each other for a row: the aggregates have rows every
    event touches (a tenant's day, a customer's buckets), which held concurrent
    transactions in line behind each other's commits, and deadlocked some. And the
    commit, with its round trips and its flush, is shared by whatever is ready. If the
    shared transaction fails, each batch is applied alone, so only the batch at fault
    fails (its consumer then applies it one record at a time)."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self.pool = pool
        self.schema = schema
        self._begin = _begin_writing(schema)
        self._waiting: list[_Batch] = []
        self._writing: asyncio.Task[None] | None = None
        self._analyzing: asyncio.Task[None] | None = None
        self._next_growth_check = 0.0

    async def apply(self, decoded: list[Decoded],
                    handlers: dict[type[IntegrationEvent], ProjectionHandler],
                    batch_handlers: dict[type[IntegrationEvent], BatchHandler]) -> list[str]:
        """The records' outcomes, once their effects are committed."""
        next_offsets: dict[tuple[str, int], int] = {}
        for record, _, _ in decoded:
            key = (record.topic, record.partition)
            next_offsets[key] = max(next_offsets.get(key, 0), record.offset + 1)
        batch = _Batch([(envelope, event, handlers.get(type(event)))
                        for _, envelope, event in decoded], next_offsets, batch_handlers)
        self._waiting.append(batch)
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write())
        return await batch.outcomes

    async def _write(self) -> None:
        batches: list[_Batch] = []
        try:
            while self._waiting:
                batches, self._waiting = self._waiting, []
                await self._commit_or_apart(batches)
        except BaseException:  # cancelled: nobody may wait for ever
            for batch in batches + self._waiting:
                batch.outcomes.cancel()
            self._waiting = []
            raise

    async def _commit_or_apart(self, batches: list[_Batch]) -> None:
        try:
            await self._commit(batches)
            return
        except Exception as error:  # noqa: BLE001 - handed to the batch's consumer
            if len(batches) == 1:
                _fail(batches[0], error)
                return
            log.info("%d batches applied apart instead (%r)", len(batches), error)
        for batch in batches:
            try:
                await self._commit([batch])
            except Exception as error:  # noqa: BLE001
                _fail(batch, error)

    async def _commit(self, batches: list[_Batch]) -> None:
        channel = changes_channel(self.schema)
        next_offsets: dict[tuple[str, int], int] = {}
        for batch in batches:
            for key, offset in batch.next_offsets.items():
                next_offsets[key] = max(next_offsets.get(key, 0), offset)
        async with self.pool.acquire() as connection:
            try:
                await connection.execute(self._begin)
                outcomes = await apply_all(
                    connection, [handled for batch in batches for handled in batch.handled],
                    {kind: handler for batch in batches
                     for kind, handler in batch.batch_handlers.items()}, channel, next_offsets)
                await connection.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(Exception):  # one lost or busy is the pool's to mend
                    await connection.execute("ROLLBACK")
                raise
        for batch in batches:
            if not batch.outcomes.done():
                batch.outcomes.set_result(outcomes[:len(batch.handled)])
            outcomes = outcomes[len(batch.handled):]
        self._analyze_grown_tables()

    def _analyze_grown_tables(self) -> None:
        """Now and then, in the background: ANALYZE the tables that have doubled since
        they were last analyzed (or hold 100 rows never analyzed).

        A new projection's tables have no statistics until autovacuum comes round (a
        minute or more). Meanwhile the planner takes the one tenant for a selective key,
        plans a look-up by key through an index that has the tenant first but not the
        key (open_items_by_number for an open item), and keeps that plan cached while
        the table grows: a batch's look-ups then read the tenant's every row. Tables
        that grow by doubling are analyzed a few times in their youth, then left to
        autovacuum."""
        now = asyncio.get_running_loop().time()
        if now < self._next_growth_check or (self._analyzing and not self._analyzing.done()):
            return
        self._next_growth_check = now + GROWTH_CHECK_SECONDS
        self._analyzing = asyncio.create_task(self._analyze(), name=f"analyze {self.schema}")

    async def _analyze(self) -> None:
        try:
            async with self.pool.acquire() as connection:
                for table in await connection.fetch(_GROWN_TABLES, self.schema):
                    await connection.execute(f"ANALYZE {table[0]}")
        except Exception as error:  # noqa: BLE001 - autovacuum will do it later
            log.info("could not analyze the grown tables of %s: %r", self.schema, error)


def _fail(batch: _Batch, error: Exception) -> None:
    if not batch.outcomes.done():  # else its consumer stopped waiting
        batch.outcomes.set_exception(error)


class ProjectionConsumer(InboundConsumer):
    """With `batch_size` > 1, the records a poll brought (from every partition) are
    applied in one transaction, together with what the projection's other consumers have
    ready (`ProjectionWriter`): one commit instead of one per event, which is what bounds
    the publish-to-visible lag under load. If any of them fails, they are applied one by
    one instead, so a bad one is dead-lettered alone. Events of a type in
    `batch_handlers` are applied a run at a time, in set-based statements."""

    def __init__(self, broker: KafkaBroker, settings: ServiceSettings, pool: asyncpg.Pool,
                 topic: str | tuple[str, ...],
                 handlers: dict[type[IntegrationEvent], ProjectionHandler],
                 batch_size: int = 1,
                 batch_handlers: dict[type[IntegrationEvent], BatchHandler] | None = None,
                 writer: ProjectionWriter | None = None) -> None:
        self.pool = pool
        self.schema = settings.database_schema
        self.handlers = handlers
        self.batch_handlers = {kind: handler for kind, handler in (batch_handlers or {}).items()
                               if kind in handlers}
        self.writer = writer or ProjectionWriter(pool, self.schema)
        self._visible_lag = LagByEventType(VISIBLE_LAG, self.schema)
        super().__init__(broker, settings, topic, batch_size)

    batches_span_partitions = True  # (libs/runtime/consumer.py)
    prefetch_while_busy = True

    async def apply(self, record: ConsumerRecord, envelope: Envelope,
                    event: IntegrationEvent) -> str:
        outcomes = await self.apply_batch([(record, envelope, event)])
        return outcomes[0]

    async def apply_batch(self, decoded: list[Decoded]) -> list[str]:
        outcomes = await self.writer.apply(decoded, self.handlers, self.batch_handlers)
        for record in {(record.topic, record.partition): record
                       for record, _, _ in decoded}.values():
            self.note_stored(record)
        self._visible_lag.observe(decoded, outcomes)
        return outcomes

    async def stored_next_offset(self, topic: str, partition: int) -> int:
        async with self.pool.acquire() as connection:
            stored = await connection.fetchval(
                f"SELECT next_offset FROM {self.schema}.consumer_positions "
                "WHERE topic = $1 AND partition = $2", topic, partition)
        return stored or 0

    async def after_dead_letter(self, record: ConsumerRecord) -> None:
        async with self.pool.acquire() as connection, connection.transaction():
            await enter_schema(connection, self.schema, self.schema)
            await store_position(connection, record.topic, record.partition, record.offset + 1)
        self.note_stored(record)
