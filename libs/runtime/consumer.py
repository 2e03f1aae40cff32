"""Consuming an inbound topic with exactly-once effects.

Every consumer decodes the record itself (a malformed body is ours to refuse),
applies it, and lets FastStream commit the Kafka offset only after the effect is
durable. What "apply" means differs: an event-sourced service stores its new
events with the consumed position in one transaction (`TrackedConsumer`); a
projection updates its tables and records the event id in one transaction
(`libs.runtime.projection`). Either way a redelivery finds its position or id
already recorded and changes nothing.

Invalid events go to the topic's dead-letter twin with the reason. An event whose
handling keeps failing for an unexpected reason is retried a few times and then
dead-lettered too: a poison message never stops its partition.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable

from aiokafka.structs import ConsumerRecord
from eventsourcing.persistence import IntegrityError, Tracking
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy
from prometheus_client import Counter

from libs.events import Envelope, IntegrationEvent, InvalidEvent, decode
from libs.events.topics import physical_topic

from .causation import Causation
from .dead_letters import send_to_dead_letter_topic
from .eventstore import AlreadyProcessed, ReceivablesApplication
from .settings import ServiceSettings
from .telemetry import current_traceparent

log = logging.getLogger(__name__)

CONSUMED = Counter("ar_events_consumed_total", "Inbound events by outcome",
                   ["consumer", "topic", "event_type", "outcome"])

APPLIED, DUPLICATE, IGNORED = "applied", "duplicate", "ignored"


class Rejected(Exception):
    """A well-formed event the domain refuses; dead-lettered with this message as reason."""


async def raw_bytes(message: StreamMessage) -> bytes:
    """Hand the handler the record's bytes: decoding (and refusing) them is ours to do,
    so a malformed body reaches the dead-letter topic instead of failing in the framework."""
    return message.body


class InboundConsumer(ABC):
    def __init__(self, broker: KafkaBroker, settings: ServiceSettings, topic: str) -> None:
        self.broker = broker
        self.settings = settings
        self.topic = topic
        self._failures: dict[tuple[int, int], int] = {}
        broker.subscriber(
            physical_topic(topic),
            group_id=settings.consumer_group,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            # Commit the offset only after the effect is stored; on an unexpected error
            # seek back so the same record comes again (never commit past it).
            ack_policy=AckPolicy.NACK_ON_ERROR,
            decoder=raw_bytes,
        )(self.on_message)

    @abstractmethod
    async def apply(self, record: ConsumerRecord, envelope: Envelope,
                    event: IntegrationEvent) -> str:
        """Make the event's effect durable, exactly once; return the outcome."""

    async def after_dead_letter(self, record: ConsumerRecord) -> None:
        """Hook: note that the record was dealt with."""

    async def on_message(self, body: bytes, message: KafkaMessage) -> None:
        record = message.raw_message
        try:
            envelope, event = decode(record.headers, record.value)
            outcome = await self.apply(record, envelope, event)
            CONSUMED.labels(self.settings.consumer_group, record.topic, envelope.type,
                            outcome).inc()
        except (InvalidEvent, Rejected) as error:
            await self._dead_letter(record, getattr(error, "reason", str(error)))
        except Exception as error:  # noqa: BLE001 - retried, then dead-lettered
            key = (record.partition, record.offset)
            self._failures[key] = attempts = self._failures.get(key, 0) + 1
            if attempts < self.settings.max_delivery_attempts:
                log.warning("attempt %d failed for %s#%d@%d: %r; will retry", attempts,
                            record.topic, record.partition, record.offset, error)
                await asyncio.sleep(0.1 * attempts)
                raise  # nack: the consumer seeks back to this record
            await self._dead_letter(record, f"failed {attempts} times: {error!r}")

    async def _dead_letter(self, record: ConsumerRecord, reason: str) -> None:
        log.warning("dead-lettering %s#%d@%d: %s", record.topic, record.partition,
                    record.offset, reason)
        await send_to_dead_letter_topic(self.broker, record, reason=reason,
                                        consumer=self.settings.consumer_group)
        self._failures.pop((record.partition, record.offset), None)
        await self.after_dead_letter(record)
        CONSUMED.labels(self.settings.consumer_group, record.topic, "-", "dead_lettered").inc()


Handler = Callable[[Envelope, IntegrationEvent, Tracking], None]

# Two commands racing on one aggregate: the loser's transaction is refused whole and
# simply runs again on the new state.
CONFLICT_RETRIES = 5


def tracking_name(topic: str, partition: int) -> str:
    return f"{topic}#{partition}"


class TrackedConsumer(InboundConsumer):
    """Feeds an event-sourced application; its events and the position share a transaction."""

    def __init__(self, broker: KafkaBroker, settings: ServiceSettings,
                 application: ReceivablesApplication, topic: str,
                 handlers: dict[type[IntegrationEvent], Handler]) -> None:
        self.application = application
        self.handlers = handlers
        super().__init__(broker, settings, topic)

    async def apply(self, record: ConsumerRecord, envelope: Envelope,
                    event: IntegrationEvent) -> str:
        tracking = Tracking(tracking_name(record.topic, record.partition), record.offset)
        handler = self.handlers.get(type(event))
        try:
            if handler is None:
                # Another service's event on a shared topic: note the position, move on.
                await asyncio.to_thread(self.application.record, tracking)
                return IGNORED
            await asyncio.to_thread(self._handle_with_retries, handler, envelope, event,
                                    tracking)
        except AlreadyProcessed:
            return DUPLICATE
        return APPLIED

    @staticmethod
    def _handle_with_retries(handler: Handler, envelope: Envelope, event: IntegrationEvent,
                             tracking: Tracking) -> None:
        for attempt in range(1, CONFLICT_RETRIES + 1):
            try:
                handler(envelope, event, tracking)
                return
            except AlreadyProcessed:
                raise
            except IntegrityError:
                if attempt == CONFLICT_RETRIES:
                    raise
                log.info("concurrent change on %s#%d; running the command again",
                         tracking.application_name, tracking.notification_id)

    async def after_dead_letter(self, record: ConsumerRecord) -> None:
        tracking = Tracking(tracking_name(record.topic, record.partition), record.offset)
        try:
            await asyncio.to_thread(self.application.record, tracking)
        except AlreadyProcessed:
            pass


def causation_of(envelope: Envelope) -> Causation:
    """The inbound event as the cause of what a handler stores, in the current trace."""
    return Causation(tenant=envelope.tenant, causation_id=envelope.id,
                     traceparent=current_traceparent() or envelope.traceparent)
