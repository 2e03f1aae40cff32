"""The outbox relay: publishes a service's stored events to Kafka, in order, once.

The event store's notification log is the outbox. The relay reads it from the
position it last published, translates each domain event into zero or more
integration events, sends them with the idempotent producer (acks=all), waits
for every acknowledgement, then stores the new position. A crash before the
position is stored re-sends the same records with the same `ce_id`; consumers
record what they have applied, so the effect stays exactly once.

Only one relay per service publishes at a time (a PostgreSQL advisory lock), so
scaling a service to several replicas never reorders its events.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import zlib
from collections.abc import Callable, Iterable


import psycopg
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Recording
from aiokafka import AIOKafkaProducer
from opentelemetry import trace
from prometheus_client import Counter, Gauge

from libs.events import IntegrationEvent, encode

from .causation import Causation
from .eventstore import ReceivablesApplication
from .settings import ServiceSettings
from .kafka import make_producer

log = logging.getLogger(__name__)
TRACER = trace.get_tracer(__name__)

Translate = Callable[[DomainEventProtocol], Iterable[IntegrationEvent]]

PUBLISHED = Counter("ar_outbox_published_total", "Integration events published", ["service"])
BACKLOG = Gauge("ar_outbox_backlog", "Stored events not yet published", ["service"])

# Stored events kept for the relay in memory at most; past that, it reads the log.
MAX_HANDED = 10_000

EVENT_ID_NAMESPACE = uuid.UUID("5b0e1f0e-7a55-4c9b-9a57-4f8b7d2b6a11")


def integration_event_id(service: str, domain_event: DomainEventProtocol, index: int) -> str:
    """The same stored event always yields the same ce_id, so re-sends are recognisable."""
    name = f"{service}/{domain_event.originator_id}/{domain_event.originator_version}/{index}"
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, name))


class OutboxRelay:
    def __init__(self, settings: ServiceSettings, application: ReceivablesApplication,
                 translate: Translate) -> None:
        self.settings = settings
        self.application = application
        self.translate = translate
        self.schema = settings.database_schema
        self.is_leader = False
        self._stored = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        # What this process stored and has not published yet, by notification id.
        self._handed: dict[int, DomainEventProtocol] = {}
        self._not_handed = False  # stored here and not kept in memory since the last look
        application.on_recorded(self._wake)

    def _wake(self, recordings: list[Recording]) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._take_over, recordings)

    def _take_over(self, recordings: list[Recording]) -> None:
        if self.is_leader and len(self._handed) < MAX_HANDED:
            for recording in recordings:
                self._handed[recording.notification.id] = recording.domain_event
        else:  # the log has them
            self._not_handed = True
        self._stored.set()

    def _handed_from(self, position: int) -> list[tuple[int, DomainEventProtocol]]:
        """The stored events that follow `position` without a gap, as this process
        stored them: no query and no decoding. Anything else (another replica's
        events, a gap) is read from the log."""
        for known in [known for known in self._handed if known <= position]:
            del self._handed[known]
        run = []
        while (position + 1) in self._handed and len(run) < self.settings.relay_batch_size:
            position += 1
            run.append((position, self._handed.pop(position)))
        return run

    async def run(self, stopping: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        while not stopping.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.settings.database_url, autocommit=True
                ) as connection:
                    # The position is stored without waiting for its fsync (~3 ms a
                    # batch here): one lost in a crash re-sends records under the same
                    # ce_id, which every consumer already recognises.
                    await connection.execute("SET synchronous_commit TO off")
                    await self._ensure_position_table(connection)
                    if not await self._become_leader(connection):
                        await _wait_for_any(stopping, seconds=1.0)
                        continue
                    producer = make_producer(self.settings)
                    await producer.start()
                    try:
                        await self._publish_until_stopped(connection, producer, stopping)
                    finally:
                        await producer.stop()
            except Exception as error:  # noqa: BLE001 - the relay must outlive outages
                # Kafka or PostgreSQL went away: start again from the stored position.
                log.warning("relay interrupted: %r; resuming from the stored position", error)
                self.is_leader = False
                await _wait_for_any(stopping, seconds=1.0)

    async def _ensure_position_table(self, connection: psycopg.AsyncConnection) -> None:
        await connection.execute(
            f'CREATE TABLE IF NOT EXISTS "{self.schema}".outbox_relay_position ('
            "relay text PRIMARY KEY, published_up_to bigint NOT NULL)"
        )

    async def _become_leader(self, connection: psycopg.AsyncConnection) -> bool:
        lock_key = zlib.crc32(f"outbox-relay/{self.schema}".encode())
        row = await (await connection.execute("SELECT pg_try_advisory_lock(%s)", (lock_key,))).fetchone()
        self.is_leader = bool(row and row[0])
        return self.is_leader

    async def _publish_until_stopped(self, connection: psycopg.AsyncConnection,
                                     producer: AIOKafkaProducer,
                                     stopping: asyncio.Event) -> None:
        position = await self._load_position(connection)
        idle = self.settings.relay_poll_interval_ms / 1000
        backlog_due = time.monotonic()
        look_in_log = True  # what was stored before this relay started
        while not stopping.is_set():
            # Right after a batch, look again at once; when idle, wait until this
            # process stores something, or poll (another replica's API may have).
            self._stored.clear()
            stored = self._handed_from(position)
            # The log is read when a poll is due, after a batch read from it (more may
            # follow), when what this process stored does not follow the position
            # (another replica stored in between) or was too much to keep: not after
            # every batch from memory, where a query would find nothing new and hold
            # up the next batch's publishing.
            if not stored and (look_in_log or self._handed or self._not_handed):
                self._not_handed = False
                stored = await self._read_log(position)
                look_in_log = bool(stored)
            if not stored:
                BACKLOG.labels(self.schema).set(0)
                look_in_log = not await _wait_for_any(stopping, self._stored, seconds=idle)
                continue
            await self._publish(producer, [domain_event for _, domain_event in stored])
            position = stored[-1][0]
            await connection.execute(
                f'INSERT INTO "{self.schema}".outbox_relay_position VALUES (%s, %s) '
                "ON CONFLICT (relay) DO UPDATE SET published_up_to = EXCLUDED.published_up_to",
                ("kafka", position),
            )
            if time.monotonic() >= backlog_due:  # a query, not worth one per batch
                backlog_due = time.monotonic() + 1.0
                latest = await asyncio.to_thread(self.application.recorder.max_notification_id)
                BACKLOG.labels(self.schema).set((latest or 0) - position)

    async def _load_position(self, connection: psycopg.AsyncConnection) -> int:
        row = await (await connection.execute(
            f'SELECT published_up_to FROM "{self.schema}".outbox_relay_position WHERE relay = %s',
            ("kafka",),
        )).fetchone()
        return int(row[0]) if row else 0

    async def _read_log(self, position: int) -> list[tuple[int, DomainEventProtocol]]:
        notifications = await asyncio.to_thread(
            self.application.recorder.select_notifications,
            position, self.settings.relay_batch_size, None, (), inclusive_of_start=False,
        )
        to_domain_event = self.application.mapper.to_domain_event
        return [(notification.id, to_domain_event(notification))
                for notification in notifications]

    async def _publish(self, producer: AIOKafkaProducer,
                       domain_events: list[DomainEventProtocol]) -> None:
        # One span for the batch; each record carries the trace context it was stored
        # with, so its consumers continue the trace that caused it.
        with TRACER.start_as_current_span("outbox publish") as span:
            pending = []
            for domain_event in domain_events:
                causation = Causation.from_dict(domain_event.causation)  # type: ignore[attr-defined]
                for index, event in enumerate(self.translate(domain_event)):
                    record = encode(
                        event,
                        event_id=integration_event_id(self.schema, domain_event, index),
                        tenant=causation.tenant,
                        source=f"receivables/{self.settings.service_name}",
                        time=domain_event.timestamp,
                        traceparent=causation.traceparent,
                    )
                    pending.append(await producer.send(record.topic, record.value,
                                                       key=record.key, headers=record.headers))
            await asyncio.gather(*pending)  # every record acknowledged by the broker
            span.set_attribute("messaging.batch.message_count", len(pending))
        PUBLISHED.labels(self.schema).inc(len(pending))


async def _wait_for_any(*events: asyncio.Event, seconds: float) -> bool:
    """Until one of the events is set (True), or the seconds have passed (False)."""
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    done, _ = await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    for wait in waits:
        wait.cancel()
    return bool(done)
