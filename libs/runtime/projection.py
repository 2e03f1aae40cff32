"""Consuming events into a read model on asyncpg, each event applied exactly once.

In one transaction per record, or per batch of one partition's ready records: the
event id is recorded (a re-published or redelivered event is recognised by its
`ce_id` and skipped), the handler updates the read model, and the consumed position
is stored. The Kafka offset is committed after that transaction.

Handlers write unqualified SQL: each transaction first points `search_path` at the
projection's schema, so the same handlers can fill a fresh schema during a rebuild.
Each transaction also holds the projection's switch lock (shared): a rebuild takes it
exclusively to swap schemas, so no transaction straddles the swap.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
from aiokafka.structs import ConsumerRecord
from faststream.kafka import KafkaBroker
from prometheus_client import Histogram

from libs.events import Envelope, IntegrationEvent

from .consumer import APPLIED, DUPLICATE, IGNORED, Decoded, InboundConsumer
from .settings import ServiceSettings

log = logging.getLogger(__name__)

ProjectionHandler = Callable[[asyncpg.Connection, Envelope, IntegrationEvent], Awaitable[None]]

VISIBLE_LAG = Histogram(
    "ar_projection_visible_lag_seconds",
    "From an event's publication (ce_time) to its visibility in the read model",
    ["projection", "event_type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60),
)

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


def changes_channel(schema: str) -> str:
    """The PostgreSQL NOTIFY channel on which a projection announces what it changed."""
    return f"{schema}_changes"


async def enter_schema(connection: asyncpg.Connection, schema: str, projection: str) -> None:
    """In a transaction: write into `schema`, holding `projection`'s switch lock (shared)."""
    await connection.execute(_ENTER, schema, projection)


async def store_position(connection: asyncpg.Connection, topic: str, partition: int,
                         next_offset: int) -> None:
    await connection.execute(
        "INSERT INTO consumer_positions AS known VALUES ($1, $2, $3) "
        "ON CONFLICT (topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset "
        "WHERE known.next_offset < EXCLUDED.next_offset",
        topic, partition, next_offset)


async def apply_once(connection: asyncpg.Connection, handler: ProjectionHandler | None,
                     envelope: Envelope, event: IntegrationEvent,
                     notify_channel: str | None) -> str:
    """Inside the caller's transaction (after `enter_schema`): the handler's effect unless
    the event id was applied before."""
    if handler is None:
        return IGNORED
    first_time = await connection.fetchval(
        "INSERT INTO applied_events (event_id, event_type) "
        "VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
        envelope.id, envelope.type)
    if not first_time:
        return DUPLICATE
    await handler(connection, envelope, event)
    if notify_channel:
        # Delivered on commit, to every replica listening: live views refresh.
        await connection.execute(
            "SELECT pg_notify($1, $2)", notify_channel,
            json.dumps({"tenant": envelope.tenant, "subject": envelope.subject,
                        "type": envelope.type, "event_id": envelope.id}))
    return APPLIED


class ProjectionConsumer(InboundConsumer):
    """With `batch_size` > 1, the records the broker has ready for a partition are
    applied in one transaction (one commit instead of one per event, which is what
    bounds the publish-to-visible lag under load); if any of them fails, they are
    applied one by one instead, so a bad one is dead-lettered alone."""

    def __init__(self, broker: KafkaBroker, settings: ServiceSettings, pool: asyncpg.Pool,
                 topic: str, handlers: dict[type[IntegrationEvent], ProjectionHandler],
                 batch_size: int = 1) -> None:
        self.pool = pool
        self.schema = settings.database_schema
        self.handlers = handlers
        super().__init__(broker, settings, topic, batch_size)

    async def apply(self, record: ConsumerRecord, envelope: Envelope,
                    event: IntegrationEvent) -> str:
        outcomes = await self.apply_batch([(record, envelope, event)])
        return outcomes[0]

    async def apply_batch(self, decoded: list[Decoded]) -> list[str]:
        channel = changes_channel(self.schema)
        async with self.pool.acquire() as connection, connection.transaction():
            await enter_schema(connection, self.schema, self.schema)
            outcomes = [await apply_once(connection, self.handlers.get(type(event)),
                                         envelope, event, channel)
                        for _, envelope, event in decoded]
            last = decoded[-1][0]
            await store_position(connection, last.topic, last.partition, last.offset + 1)
        self.note_stored(last)
        now = datetime.now(UTC)
        for (_, envelope, _), outcome in zip(decoded, outcomes, strict=True):
            if outcome == APPLIED:
                VISIBLE_LAG.labels(self.schema, envelope.type).observe(
                    max((now - envelope.time).total_seconds(), 0.0))
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
