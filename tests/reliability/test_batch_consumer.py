"""A batching consumer on the real broker: what arrives while a batch is applied is taken
in the very next batch (from every topic it reads), gathered by the broker in few
fetches, and a batch that fails comes again without a record lost or applied twice (the
records fetched ahead of it are dropped and fetched again)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest
from aiokafka.structs import ConsumerRecord

from libs.events import CustomerUpserted, Envelope, IntegrationEvent
from libs.events.topics import dead_letter_topic, physical_topic
from libs.runtime.consumer import APPLIED, DUPLICATE, Decoded, InboundConsumer
from libs.runtime import prefetch
from libs.runtime.kafka import create_topics, delete_topics, make_broker
from libs.runtime.publisher import EventPublisher
from libs.runtime.settings import ServiceSettings
from tests.conftest import eventually

pytestmark = pytest.mark.integration


class RecordingConsumer(InboundConsumer):
    """Notes every batch and every record it applies; remembers what it applied the way
    a real consumer's database would (`note_stored`), so a redelivery is a no-op."""

    batches_span_partitions = True

    def __init__(self, *args, fail_once_at: str | None = None,  # noqa: ANN002
                 hold_first_batch: float = 0.0, hold_every_batch: float = 0.0,
                 **kwargs) -> None:  # noqa: ANN003
        super().__init__(*args, **kwargs)
        self.batches: list[list[str]] = []
        self.applied: list[tuple[int, int]] = []  # (partition, offset), in order
        self.topics_applied: set[str] = set()
        self.first_batch_started = asyncio.Event()
        self._fail_once_at = fail_once_at
        self._hold = hold_first_batch
        self._hold_every = hold_every_batch

    async def _before(self, customer_ids: list[str]) -> None:
        self.batches.append(customer_ids)
        if len(self.batches) == 1:
            self.first_batch_started.set()
            await asyncio.sleep(self._hold)
        await asyncio.sleep(self._hold_every)
        if self._fail_once_at in customer_ids:
            self._fail_once_at = None
            raise RuntimeError("the database went away for a moment")

    async def apply_batch(self, decoded: list[Decoded]) -> list[str]:
        await self._before([event.customer_id for _, _, event in decoded])
        return [self._keep(record) for record, _, _ in decoded]

    async def apply(self, record: ConsumerRecord, envelope: Envelope,
                    event: IntegrationEvent) -> str:
        await self._before([event.customer_id])
        return self._keep(record)

    def _keep(self, record: ConsumerRecord) -> str:
        if record.offset < self._next_offsets.get((record.topic, record.partition), 0):
            return DUPLICATE
        self.applied.append((record.partition, record.offset))
        self.topics_applied.add(record.topic)
        self.note_stored(record)
        return APPLIED


class GatheringConsumer(RecordingConsumer):
    """As a projection's consumer: the broker gathers records while a batch is applied."""

    prefetch_while_busy = True


@pytest.fixture
async def topic(infrastructure):  # noqa: ANN001, ANN201
    name = f"test.batches.{uuid.uuid4().hex[:8]}"
    await create_topics(infrastructure.kafka_bootstrap_servers, 2, topics=(name,))
    yield name
    await delete_topics(infrastructure.kafka_bootstrap_servers, topics=(name,))


class FailingOnceEach(RecordingConsumer):
    """Applies records one at a time; the first attempt at each of `flaky` fails."""

    def __init__(self, *args, flaky: set[str], **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self._flaky = set(flaky)

    async def apply(self, record: ConsumerRecord, envelope: Envelope,
                    event: IntegrationEvent) -> str:
        if event.customer_id in self._flaky:
            self._flaky.discard(event.customer_id)
            raise RuntimeError("the database went away for a moment")
        return await super().apply(record, envelope, event)


@pytest.fixture
async def two_topics(infrastructure):  # noqa: ANN001, ANN201
    names = tuple(f"test.batches.{uuid.uuid4().hex[:8]}" for _ in range(2))
    with_dead_letters = names + tuple(dead_letter_topic(name) for name in names)
    await create_topics(infrastructure.kafka_bootstrap_servers, 2, topics=with_dead_letters)
    yield names
    await delete_topics(infrastructure.kafka_bootstrap_servers, topics=with_dead_letters)


async def consuming(infrastructure, topic: str | tuple[str, ...],  # noqa: ANN001
                    kind: type[RecordingConsumer] = RecordingConsumer, batch_size: int = 50,
                    **behaviour) -> tuple:  # noqa: ANN003
    settings = ServiceSettings(service_name=f"batches_{uuid.uuid4().hex[:8]}",
                               kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers,
                               database_url=infrastructure.database_url,
                               max_delivery_attempts=2)
    broker = make_broker(settings)
    consumer = kind(broker, settings, topic, batch_size=batch_size, **behaviour)
    await broker.start()
    return broker, consumer


async def publish(erp: EventPublisher, topic: str, customer_ids: list[str]) -> None:
    for customer_id in customer_ids:
        record = erp.record(CustomerUpserted(customer_id=customer_id, name=customer_id,
                                             currency="EUR", payment_terms_days=30), "batches")
        await erp.send_raw(physical_topic(topic), record.key, record.value, record.headers)


async def test_records_that_arrive_during_a_batch_are_all_in_the_next_batch(
        infrastructure, topic) -> None:
    broker, consumer = await consuming(infrastructure, topic, hold_first_batch=0.5)
    try:
        async with EventPublisher(infrastructure.kafka_bootstrap_servers) as erp:
            await publish(erp, topic, ["FIRST"])
            await asyncio.wait_for(consumer.first_batch_started.wait(), timeout=60)
            arriving = [f"C-{index}" for index in range(20)]
            await publish(erp, topic, arriving)
        await eventually(lambda: asyncio.sleep(0, len(consumer.applied)),
                         until=lambda applied: applied >= 21)
        assert consumer.batches[0] == ["FIRST"]
        # Not split over two batches: they were fetched while the first one was applied.
        assert sorted(consumer.batches[1]) == sorted(arriving)
    finally:
        await broker.stop()


async def test_a_failed_batch_comes_again_with_nothing_lost_or_applied_twice(
        infrastructure, topic) -> None:
    broker, consumer = await consuming(infrastructure, topic, fail_once_at="C-30")
    try:
        async with EventPublisher(infrastructure.kafka_bootstrap_servers) as erp:
            await publish(erp, topic, [f"C-{index}" for index in range(60)])
        await eventually(lambda: asyncio.sleep(0, len(consumer.applied)),
                         until=lambda applied: applied >= 60)
        await asyncio.sleep(1)  # anything applied twice would show by now
    finally:
        await broker.stop()
    assert max(Counter(consumer.applied).values()) == 1
    assert len(consumer.applied) == 60
    for partition in (0, 1):
        offsets = [offset for applied_in, offset in consumer.applied if applied_in == partition]
        assert offsets == list(range(len(offsets)))
    assert sum("C-30" in batch for batch in consumer.batches) >= 2  # it did come again


async def test_one_consumer_of_two_topics_takes_both_topics_records_in_one_batch(
        infrastructure, two_topics) -> None:
    broker, consumer = await consuming(infrastructure, two_topics, hold_first_batch=0.5)
    first, second = two_topics
    try:
        async with EventPublisher(infrastructure.kafka_bootstrap_servers) as erp:
            await publish(erp, first, ["FIRST"])
            await asyncio.wait_for(consumer.first_batch_started.wait(), timeout=60)
            await publish(erp, first, [f"A-{index}" for index in range(5)])
            await publish(erp, second, [f"B-{index}" for index in range(5)])
        await eventually(lambda: asyncio.sleep(0, len(consumer.applied)),
                         until=lambda applied: applied >= 11)
        assert sorted(consumer.batches[1]) == sorted(
            [f"A-{index}" for index in range(5)] + [f"B-{index}" for index in range(5)])
        assert consumer.topics_applied == {physical_topic(first), physical_topic(second)}
    finally:
        await broker.stop()


async def test_the_broker_gathers_records_while_a_batch_is_applied_not_while_idle(
        infrastructure, topic, monkeypatch) -> None:
    """Records arriving one by one while batches are applied come several to a fetch
    (the broker gathers them for up to GATHER_MS); once idle, the consumer waits in long
    polls instead of asking every GATHER_MS."""
    monkeypatch.setattr(prefetch, "GATHER_MS", 50)  # plain to see on a busy machine
    broker, consumer = await consuming(infrastructure, topic, kind=GatheringConsumer,
                                       hold_every_batch=0.1)
    fetches: list[float] = []
    try:
        async with EventPublisher(infrastructure.kafka_bootstrap_servers) as erp:
            await publish(erp, topic, ["FIRST"])
            await asyncio.wait_for(consumer.first_batch_started.wait(), timeout=60)
            client = consumer._prefetcher.consumer._client  # noqa: SLF001 - counting fetches
            send = client.send

            async def counted_send(node_id, request, **options):  # noqa: ANN001, ANN003, ANN202
                if type(request).__name__.startswith("FetchRequest"):
                    fetches.append(asyncio.get_running_loop().time())
                return await send(node_id, request, **options)

            client.send = counted_send
            arriving = [f"C-{index}" for index in range(60)]
            for customer_id in arriving:  # one at a time, a few milliseconds apart
                await publish(erp, topic, [customer_id])
        await eventually(lambda: asyncio.sleep(0, len(consumer.applied)),
                         until=lambda applied: applied >= 61)
        busy = len(fetches)
        await asyncio.sleep(2)
        idle = len(fetches) - busy
    finally:
        await broker.stop()
    assert busy <= len(arriving) / 3, f"{busy} fetches for {len(arriving)} records"
    # An idle poll lasts the consumer's fetch_max_wait_ms (0.5 s): a few in 2 s, where
    # fetches that gathered for 50 ms would have been forty.
    assert idle <= 8, f"{idle} fetches in 2 s idle"


async def test_a_failed_attempt_counts_against_its_own_record_only(
        infrastructure, two_topics) -> None:
    """Two topics' records at the same partition and offset, each failing once: each is
    retried and applied; neither is taken for the other's second failure (at most two
    attempts here) and dead-lettered."""
    broker, consumer = await consuming(infrastructure, two_topics, FailingOnceEach,
                                       batch_size=1, flaky={"SAME-KEY"})
    first, second = two_topics
    try:
        async with EventPublisher(infrastructure.kafka_bootstrap_servers) as erp:
            await publish(erp, first, ["SAME-KEY"])  # its key: the same partition in both
            await eventually(lambda: asyncio.sleep(0, len(consumer.applied)),
                             until=lambda applied: applied >= 1)
            consumer._flaky.add("SAME-KEY")  # noqa: SLF001 - the second fails once too
            await publish(erp, second, ["SAME-KEY"])
        await eventually(lambda: asyncio.sleep(0, len(consumer.applied)),
                         until=lambda applied: applied >= 2)
    finally:
        await broker.stop()
    assert consumer.topics_applied == {physical_topic(first), physical_topic(second)}
    assert sorted(consumer.applied) == [(consumer.applied[0][0], 0)] * 2
