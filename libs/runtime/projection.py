"""Consuming events into a read model on asyncpg, each event applied exactly once.

In one transaction per record: the event id is recorded (a re-published or
redelivered event is recognised by its `ce_id` and skipped), the handler updates
the read model, and the consumed position is stored. The Kafka offset is
committed after that transaction.
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


def changes_channel(schema: str) -> str:
    """The PostgreSQL NOTIFY channel on which a projection announces what it changed."""
    return f"{schema}_changes"


class ProjectionConsumer(InboundConsumer):
    def __init__(self, broker: KafkaBroker, settings: ServiceSettings, pool: asyncpg.Pool,
                 topic: str, handlers: dict[type[IntegrationEvent], ProjectionHandler]) -> None:
        self.pool = pool
        self.schema = settings.database_schema
        self.handlers = handlers
        super().__init__(broker, settings, topic)

    async def apply(self, record: ConsumerRecord, envelope: Envelope,
                    event: IntegrationEvent) -> str:
        handler = self.handlers.get(type(event))
        async with self.pool.acquire() as connection, connection.transaction():
            outcome = IGNORED
            if handler is not None:
                first_time = await connection.fetchval(
                    f"INSERT INTO {self.schema}.applied_events (event_id, event_type) "
                    "VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
                    envelope.id, envelope.type)
                if first_time:
                    await handler(connection, envelope, event)
                    # Delivered on commit, to every replica listening: live views refresh.
                    await connection.execute(
                        "SELECT pg_notify($1, $2)", changes_channel(self.schema),
                        json.dumps({"tenant": envelope.tenant, "subject": envelope.subject,
                                    "type": envelope.type, "event_id": envelope.id}))
                    outcome = APPLIED
                else:
                    outcome = DUPLICATE
            await self._store_position(connection, record)
        if outcome == APPLIED:
            lag = (datetime.now(UTC) - envelope.time).total_seconds()
            VISIBLE_LAG.labels(self.schema, envelope.type).observe(max(lag, 0.0))
        return outcome

    async def _store_position(self, connection: asyncpg.Connection,
                              record: ConsumerRecord) -> None:
        await connection.execute(
            f"INSERT INTO {self.schema}.consumer_positions VALUES ($1, $2, $3) "
            "ON CONFLICT (topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset "
            f"WHERE {self.schema}.consumer_positions.next_offset < EXCLUDED.next_offset",
            record.topic, record.partition, record.offset + 1)
