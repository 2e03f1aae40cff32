"""Consuming an inbound topic with exactly-once effects.

Every consumer decodes the record itself (a malformed body is ours to refuse) and
applies it. What "apply" means differs: an event-sourced service stores its new
events with the consumed position in one transaction (`TrackedConsumer`); a
projection updates its tables and records the event id in one transaction
(`libs.runtime.projection`). Either way a redelivery finds its position or id
already recorded and changes nothing.

So the database, not Kafka, is the record of what was applied, and the Kafka offset
is only where a restarted consumer resumes reading. It is committed after the effect
is durable, never past an unapplied record, but at most every `commit_interval`
rather than per record: a broker round trip per record (~7 ms here) was most of the
cost of a decision. A crash between two commits redelivers a fraction of a second
of records, which the stored positions and ids turn into no-ops.

Invalid events go to the topic's dead-letter twin with the reason. An event whose
handling keeps failing for an unexpected reason is retried a few times and then
dead-lettered too: a poison message never stops its partition.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord, TopicPartition
from eventsourcing.persistence import IntegrityError, Tracking
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy
from opentelemetry import propagate, trace
from prometheus_client import Counter, Histogram

from libs.events import Envelope, IntegrationEvent, InvalidEvent, decode
from libs.events.topics import physical_topic

from .causation import Causation
from .dead_letters import send_to_dead_letter_topic
from .eventstore import AlreadyProcessed, ReceivablesApplication
from .prefetch import Prefetcher
from .settings import ServiceSettings
from .telemetry import current_traceparent

log = logging.getLogger(__name__)
TRACER = trace.get_tracer(__name__)

CONSUMED = Counter("ar_events_consumed_total", "Inbound events by outcome",
                   ["consumer", "topic", "event_type", "outcome"])
# From an event's publication to its effect: ms where a service keeps up, minutes where
# it catches up after an outage.
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60)
APPLIED_LAG = Histogram(
    "ar_event_applied_lag_seconds",
    "From an event's publication (ce_time) to its effect stored by the service consuming it",
    ["consumer", "event_type"], buckets=LAG_BUCKETS)

APPLIED, DUPLICATE, IGNORED = "applied", "duplicate", "ignored"


Decoded = tuple[ConsumerRecord, Envelope, IntegrationEvent]


class LagByEventType:
    """One of the lag histograms, for one consumer, by event type: each type's child
    looked up once (`labels` takes a lock)."""

    def __init__(self, histogram: Histogram, consumer: str) -> None:
        self._histogram, self._consumer = histogram, consumer
        self._children: dict[str, Histogram] = {}

    def observe(self, decoded: Iterable[Decoded], outcomes: Iterable[str]) -> None:
        """The lag, now, of each record whose outcome is APPLIED."""
        now = datetime.now(UTC)
        for (_, envelope, _), outcome in zip(decoded, outcomes, strict=True):
            if outcome == APPLIED:
                child = self._children.get(envelope.type)
                if child is None:
                    child = self._children[envelope.type] = self._histogram.labels(
                        self._consumer, envelope.type)
                child.observe(max((now - envelope.time).total_seconds(), 0.0))


class Rejected(Exception):
    """A well-formed event the domain refuses; dead-lettered with this message as reason."""


async def raw_bytes(message: StreamMessage) -> bytes:
    """Hand the handler the record's bytes: decoding (and refusing) them is ours to do,
    so a malformed body reaches the dead-letter topic instead of failing in the framework."""
    return message.body


class OffsetCommitter:
    """Commits the offsets after the applied records, at most once per interval.

    Offsets only move forward from records whose effect is already durable, so a
    late or lost commit costs a redelivery, never a record.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._applied: dict[TopicPartition, int] = {}
        self._pending: asyncio.Task[None] | None = None

    def applied(self, consumer: AIOKafkaConsumer, record: ConsumerRecord) -> None:
        self._applied[TopicPartition(record.topic, record.partition)] = record.offset + 1
        if self._pending is None or self._pending.done():
            self._pending = asyncio.create_task(self._commit_after_interval(consumer))

    async def _commit_after_interval(self, consumer: AIOKafkaConsumer) -> None:
        # Until nothing is left: records applied while a commit was under way, and a
        # commit that failed (usually a rebalance), must not wait for a next record
        # that may never come, or the group would look behind for good.
        while self._applied:
            await asyncio.sleep(self.interval)
            offsets, self._applied = self._applied, {}
            try:
                await consumer.commit(offsets)
            except KafkaError as error:
                owned = consumer.assignment()
                for partition, offset in offsets.items():
                    if partition in owned:  # a newer offset, if any, wins
                        self._applied.setdefault(partition, offset)
                log.info("offset commit failed (%r); trying again", error)


class InboundConsumer(ABC):
    """A subscriber to one topic, or to several at once (one fetch brings what each
    has ready). With `batch_size` > 1 it takes what the broker has ready, up to that
    many records, and `apply_together` may apply them at once."""

    def __init__(self, broker: KafkaBroker, settings: ServiceSettings,
                 topic: str | tuple[str, ...], batch_size: int = 1) -> None:
        self.broker = broker
        self.settings = settings
        topics = (topic,) if isinstance(topic, str) else topic
        self.topic = ", ".join(topics)  # for the logs
        self._failures: dict[tuple[str, int, int], int] = {}  # attempts by record
        self._next_offsets: dict[tuple[str, int], int] = {}
        self._offsets = OffsetCommitter(settings.offset_commit_interval)
        self.batch_size = batch_size
        self._prefetcher: Prefetcher | None = None
        subscription = dict(
            group_id=settings.consumer_group,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            # Offsets are ours to commit (see OffsetCommitter), and on an unexpected
            # error ours to rewind, so the same record comes again.
            ack_policy=AckPolicy.MANUAL,
            decoder=raw_bytes,
        )
        if batch_size > 1:
            subscriber = broker.subscriber(*map(physical_topic, topics), batch=True,
                                           max_records=batch_size, **subscription)
            # FastStream keeps the group membership; the batches are ours (see
            # `_poll_and_apply`), and its pipeline never sees them.
            subscriber.get_msg = self._poll_and_apply
            subscriber(self._applied_by_the_poll)
        else:
            broker.subscriber(*map(physical_topic, topics), **subscription)(self.on_message)

    @abstractmethod
    async def apply(self, record: ConsumerRecord, envelope: Envelope,
                    event: IntegrationEvent) -> str:
        """Make the event's effect durable, exactly once; return the outcome."""

    async def after_dead_letter(self, record: ConsumerRecord) -> None:
        """Hook: note that the record was dealt with."""

    async def stored_next_offset(self, topic: str, partition: int) -> int:
        """Hook: the partition's next offset to apply, as the database records it."""
        return 0

    async def next_offset(self, topic: str, partition: int) -> int:
        """The stored next offset, read once, then kept by `note_stored`: never ahead of
        the database (only what was stored moves it), so at worst a record is offered
        again and refused there."""
        key = (topic, partition)
        if key not in self._next_offsets:
            self._next_offsets[key] = await self.stored_next_offset(topic, partition)
        return self._next_offsets[key]

    def note_stored(self, record: ConsumerRecord) -> None:
        key = (record.topic, record.partition)
        self._next_offsets[key] = max(self._next_offsets.get(key, 0), record.offset + 1)

    async def already_dealt_with(self, record: ConsumerRecord) -> bool:
        """A redelivery after a rebalance or restart (offsets are committed only now and
        then) is recognised by the stored position before anything is done."""
        return record.offset < await self.next_offset(record.topic, record.partition)

    async def on_message(self, body: bytes, message: KafkaMessage) -> None:
        record = message.raw_message
        try:
            await self._deal_with(record)
        except Exception:
            # Not even dead-lettered (the broker is away?): this record comes again next.
            await message.nack()
            raise
        self._offsets.applied(message.consumer, record)

    # Whether `apply_batch` takes records of several partitions (one transaction for
    # the whole batch) or one partition's at a time.
    batches_span_partitions = False
    # Whether, while a batch is applied, the broker gathers the next records for a few
    # milliseconds and they are decoded as they arrive (see `Prefetcher`). It pays where
    # the loop waits on the database for longer than that (a projection's commit); where
    # a batch is decided in a thread beside the loop, decoding beside it competes for the
    # GIL, and gathering only delays the next decision (2-5 ms at p50 in credit).
    prefetch_while_busy = False

    async def _poll_and_apply(self, consumer: AIOKafkaConsumer) -> tuple[()]:
        """The batch subscriber's poll: takes what arrived (see `Prefetcher`), up to a
        batch, applies it, and hands FastStream nothing.

        FastStream's own batch poll sleeps as long as it waited after an empty poll, so
        only a short poll kept a record that came meanwhile from waiting (six idle
        credit subscribers polling every 10 ms kept a tenth of a core busy), and its
        per-message pipeline (parser, middlewares, argument injection) took 2 ms of CPU
        per batch, 5 ms of a credit decision's wall time. Its batch span was also a new
        trace, which cut the ERP's trace at the consumer; `apply_batch` continues each
        record's own trace instead (see `record_span`)."""
        if self._prefetcher is None or self._prefetcher.consumer is not consumer \
                or not self._prefetcher.running:
            if self._prefetcher is not None:  # the subscriber restarted, or it failed
                await self._prefetcher.stop()
            self._prefetcher = Prefetcher(
                consumer, limit=2 * self.batch_size, gather=self.prefetch_while_busy,
                prepare=_decoded_or_none if self.prefetch_while_busy else None)
        batch = await self._prefetcher.take(self.batch_size)
        if batch:
            try:
                await self.on_batch(consumer, batch)
            except Exception:  # the batch was sought back and comes again
                log.exception("batch of %d records from %s failed", len(batch), self.topic)
        return ()

    async def _applied_by_the_poll(self, body: list[bytes]) -> None:
        raise RuntimeError("batches are applied by InboundConsumer._poll_and_apply")

    async def on_batch(self, consumer: AIOKafkaConsumer,
                       batch: tuple[ConsumerRecord, ...]) -> None:
        partitions: dict[tuple[str, int], list[ConsumerRecord]] = {}
        for record in batch:
            partitions.setdefault((record.topic, record.partition), []).append(record)
        # Partitions are independent (each customer's events are on one), so their
        # transactions may run side by side; a conflict on a shared aggregate is refused
        # by the store and that partition's records are applied one by one.
        groups = [list(batch)] if self.batches_span_partitions else list(partitions.values())
        topics = {topic for topic, _ in partitions}
        topic = topics.pop() if len(topics) == 1 else None  # else a batch of several
        with TRACER.start_as_current_span(
                f"{topic} process" if topic else "process", kind=trace.SpanKind.CONSUMER,
                attributes={**_kafka_attributes(topic),
                            "messaging.consumer.group.name": self.settings.consumer_group,
                            "messaging.batch.message_count": len(batch)}):
            outcomes = await asyncio.gather(*(self.apply_together(records)
                                              for records in groups),
                                            return_exceptions=True)
        failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        if failures:
            # Every partition of the batch comes again; what was stored is skipped then.
            rewound = {TopicPartition(topic, partition): records[0].offset
                       for (topic, partition), records in partitions.items()}
            if self._prefetcher is not None:
                self._prefetcher.forget(rewound)
            owned = consumer.assignment()
            for partition, offset in rewound.items():
                if partition in owned:  # else its new owner reads it from the commit
                    consumer.seek(partition, offset)
            raise failures[0]
        for records in partitions.values():
            self._offsets.applied(consumer, records[-1])

    async def apply_together(self, records: list[ConsumerRecord]) -> None:
        """Records in their partitions' order: in one transaction (`apply_batch`); if
        any of them is refused or fails, none of their effects is kept and they are
        applied one by one instead, so a bad record is dead-lettered alone."""
        if len(records) > 1:
            try:
                decoded = [self._decoded(record) for record in records]
                outcomes = await self.apply_batch(decoded)
            except Exception as error:  # noqa: BLE001 - the one-by-one path decides
                log.info("%d records of %s applied one by one instead (%r)",
                         len(records), records[0].topic, error)
            else:
                for (record, envelope, _), outcome in zip(decoded, outcomes, strict=True):
                    CONSUMED.labels(self.settings.consumer_group, record.topic,
                                    envelope.type, outcome).inc()
                return
        for record in records:
            with record_span(record):
                await self._deal_with(record)

    def _decoded(self, record: ConsumerRecord) -> Decoded:
        """The record decoded, as it was on arrival if it was (`_decoded_or_none`)."""
        ahead = self._prefetcher.prepared(record) if self._prefetcher is not None else None
        return ahead or (record, *decode(record.headers, record.value))

    async def apply_batch(self, decoded: list[Decoded]) -> list[str]:
        """Make the records' effects durable in one transaction; return their outcomes.
        Needed only by consumers subscribed with `batch_size` > 1."""
        raise NotImplementedError(f"{type(self).__name__} applies records one at a time")

    async def _deal_with(self, record: ConsumerRecord) -> None:
        """Apply the record, or dead-letter it; raise only if it must come again."""
        if await self.already_dealt_with(record):
            CONSUMED.labels(self.settings.consumer_group, record.topic, "-", DUPLICATE).inc()
            return
        try:
            envelope, event = decode(record.headers, record.value)
            outcome = await self.apply(record, envelope, event)
            self._failures.pop((record.topic, record.partition, record.offset), None)
            CONSUMED.labels(self.settings.consumer_group, record.topic, envelope.type,
                            outcome).inc()
        except (InvalidEvent, Rejected) as error:
            await self._dead_letter(record, getattr(error, "reason", str(error)))
        except Exception as error:  # noqa: BLE001 - retried, then dead-lettered
            key = (record.topic, record.partition, record.offset)
            self._failures[key] = attempts = self._failures.get(key, 0) + 1
            if attempts < self.settings.max_delivery_attempts:
                log.warning("attempt %d failed for %s#%d@%d: %r; will retry", attempts,
                            record.topic, record.partition, record.offset, error)
                await asyncio.sleep(0.1 * attempts)
                raise
            await self._dead_letter(record, f"failed {attempts} times: {error!r}")

    async def _dead_letter(self, record: ConsumerRecord, reason: str) -> None:
        log.warning("dead-lettering %s#%d@%d: %s", record.topic, record.partition,
                    record.offset, reason)
        await send_to_dead_letter_topic(self.broker, record, reason=reason,
                                        consumer=self.settings.consumer_group)
        self._failures.pop((record.topic, record.partition, record.offset), None)
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
                 application: ReceivablesApplication, topic: str | tuple[str, ...],
                 handlers: dict[type[IntegrationEvent], Handler],
                 batch_size: int = 1) -> None:
        """`batch_size` > 1 stores up to that many records' effects in one transaction;
        only for handlers that read state through the application (not through a
        read model of its own, which would not see the batch's earlier records)."""
        self.application = application
        self.handlers = handlers
        self._applied_lag = LagByEventType(APPLIED_LAG, settings.consumer_group)
        super().__init__(broker, settings, topic, batch_size)

    async def stored_next_offset(self, topic: str, partition: int) -> int:
        position = await asyncio.to_thread(self.application.position,
                                           tracking_name(topic, partition))
        return 0 if position is None else position + 1

    # One transaction, one commit, for what a poll brought from all partitions: the
    # commit (an fsync) per partition was a third of a credit decision's latency.
    batches_span_partitions = True

    async def apply_batch(self, decoded: list[Decoded]) -> list[str]:
        last_of_partition = {(record.topic, record.partition): record
                             for record, _, _ in decoded}
        next_offsets = {partition: await self.next_offset(*partition)
                        for partition in last_of_partition}
        outcomes = await asyncio.to_thread(self._handle_in_one_batch, decoded, next_offsets)
        for record in last_of_partition.values():
            self.note_stored(record)
        self._applied_lag.observe(decoded, outcomes)
        return outcomes

    def _handle_in_one_batch(self, decoded: list[Decoded],
                             next_offsets: dict[tuple[str, int], int]) -> list[str]:
        outcomes = []
        with self.application.batch():
            for record, envelope, event in decoded:
                if record.offset < next_offsets[(record.topic, record.partition)]:
                    outcomes.append(DUPLICATE)
                    continue
                tracking = Tracking(tracking_name(record.topic, record.partition),
                                    record.offset)
                handler = self.handlers.get(type(event))
                if handler is None:
                    self.application.record(tracking)
                    outcomes.append(IGNORED)
                else:
                    with record_span(record):
                        handler(envelope, event, tracking)
                    outcomes.append(APPLIED)
        return outcomes

    async def apply(self, record: ConsumerRecord, envelope: Envelope,
                    event: IntegrationEvent) -> str:
        tracking = Tracking(tracking_name(record.topic, record.partition), record.offset)
        handler = self.handlers.get(type(event))
        try:
            if handler is None:
                # Another service's event on a shared topic: note the position, move on.
                await asyncio.to_thread(self.application.record, tracking)
                outcome = IGNORED
            else:
                await asyncio.to_thread(self._handle_with_retries, handler, envelope, event,
                                        tracking)
                outcome = APPLIED
        except AlreadyProcessed:
            outcome = DUPLICATE
        self.note_stored(record)
        self._applied_lag.observe([(record, envelope, event)], [outcome])
        return outcome

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
        self.note_stored(record)


def _decoded_or_none(record: ConsumerRecord) -> Decoded | None:
    """A batch's record decoded as it arrives; None if it does not decode (the batch
    decodes it again, fails, and its records go one by one, this one to the dead
    letters)."""
    try:
        return (record, *decode(record.headers, record.value))
    except Exception:  # noqa: BLE001 - decided again, as it always was, by the batch
        return None


def record_span(record: ConsumerRecord) -> AbstractContextManager[trace.Span]:
    """A span for applying one record of a batch, in the trace the record carries (as
    FastStream's span for a single message is), so what the handler stores continues
    the trace that caused it."""
    return TRACER.start_as_current_span(
        f"{record.topic} process", context=propagate.extract(dict(_text_headers(record))),
        kind=trace.SpanKind.CONSUMER,
        attributes={**_kafka_attributes(record.topic),
                    "messaging.destination.partition.id": str(record.partition),
                    "messaging.kafka.offset": record.offset})


def _kafka_attributes(topic: str | None) -> dict[str, str]:
    """OpenTelemetry's messaging attributes for reading `topic` (None: several)."""
    if topic is None:
        return {"messaging.system": "kafka"}
    return {"messaging.system": "kafka", "messaging.destination.name": topic}


def _text_headers(record: ConsumerRecord) -> list[tuple[str, str]]:
    return [(name, value.decode(errors="replace")) for name, value in record.headers
            if name in ("traceparent", "tracestate")]


def causation_of(envelope: Envelope) -> Causation:
    """The inbound event as the cause of what a handler stores, in the current trace."""
    return Causation(tenant=envelope.tenant, causation_id=envelope.id,
                     traceparent=current_traceparent() or envelope.traceparent)
