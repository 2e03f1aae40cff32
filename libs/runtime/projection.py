"""Consuming events into a read model on asyncpg, each event applied exactly once.

In one transaction per record: the event id is recorded (a re-published or
redelivered event is recognised by its `ce_id` and skipped), the handler updates
the read model, and the consumed position is stored. The Kafka offset is
committed after that transaction.

Handlers write unqualified SQL: each transaction first points `search_path` at the
projection's schema, so the same handlers can fill a fresh schema during a rebuild.
Each transaction also holds the projection's switch lock (shared): a rebuild takes it
exclusively to swap schemas, so no transaction straddles the swap.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
from aiokafka.structs import ConsumerRecord
from faststream.kafka import KafkaBroker
from prometheus_client import Histogram

from libs.events import Envelope, IntegrationEvent

from .consumer import APPLIED, DUPLICATE, IGNORED, InboundConsumer
from .settings import ServiceSettings

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
    def __init__(self, broker: KafkaBroker, settings: ServiceSettings, pool: asyncpg.Pool,
                 topic: str, handlers: dict[type[IntegrationEvent], ProjectionHandler]) -> None:
        self.pool = pool
        self.schema = settings.database_schema
        self.handlers = handlers
        super().__init__(broker, settings, topic)

    async def apply(self, record: ConsumerRecord, envelope: Envelope,
                    event: IntegrationEvent) -> str:
        async with self.pool.acquire() as connection, connection.transaction():
            await enter_schema(connection, self.schema, self.schema)
            outcome = await apply_once(connection, self.handlers.get(type(event)), envelope,
                                       event, changes_channel(self.schema))
            await store_position(connection, record.topic, record.partition, record.offset + 1)
        if outcome == APPLIED:
            lag = (datetime.now(UTC) - envelope.time).total_seconds()
            VISIBLE_LAG.labels(self.schema, envelope.type).observe(max(lag, 0.0))
        return outcome
