"""What the latency benchmarks share: a light publisher sending on a fixed schedule, a
reader of topics from their end, Kafka's own hop as a baseline, and percentiles.

A latency benchmark shares the machine's two cores with what it measures, so its own
Kafka clients are librdkafka's (confluent-kafka), whose fetching and producing run in C
threads: reading a record back and publishing one cost it a few microseconds each,
where aiokafka's Python protocol code cost a few hundred at a thousand records a second.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial

from confluent_kafka import Consumer, KafkaError, Message, Producer
from confluent_kafka import TopicPartition as ConfluentPartition

from libs.events import KafkaRecord
from libs.events.envelope import ce_time
from libs.events.topics import physical_topic
from libs.runtime.kafka import create_topics, delete_topics

BASELINE_TOPIC = "bench.kafka-alone"  # read by no service
# Called in the reader's thread with each record read and the perf_counter() of its arrival
OnRecord = Callable[[Message, float], None]
# Called with a record's event id and its delivery report (error or None, message)
OnDelivery = Callable[[str, KafkaError | None, Message], None]


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def record_id(record: KafkaRecord) -> str:
    return dict(record.headers)["ce_id"].decode()


def header(message: Message, name: str) -> bytes | None:
    return next((value for key, value in message.headers() or () if key == name), None)


class ReadBack:
    """Reads every record published to `topics` from now on, in a thread of its own until
    `stop()`. By default it notes when each arrives, by event id: `seen[ce_id]` is the
    `time.perf_counter()` of its arrival here; `on_record` does something else instead."""

    def __init__(self, bootstrap_servers: str, topics: Iterable[str],
                 on_record: OnRecord | None = None) -> None:
        self.seen: dict[str, float] = {}
        self._on_record = on_record or self._note_arrival
        self._consumer = Consumer({"bootstrap.servers": bootstrap_servers,
                                   "socket.nagle.disable": True,  # see LightPublisher
                                   "group.id": "benchmark-read-back",  # never joined
                                   "enable.auto.commit": False,
                                   "isolation.level": "read_committed"})
        partitions = []
        for topic in topics:
            metadata = self._consumer.list_topics(topic, timeout=10).topics[topic]
            for partition in sorted(metadata.partitions):
                _low, high = self._consumer.get_watermark_offsets(
                    ConfluentPartition(topic, partition), timeout=10)
                partitions.append(ConfluentPartition(topic, partition, high))
        self._consumer.assign(partitions)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._read, name="read-back", daemon=True)
        self._thread.start()

    def _note_arrival(self, message: Message, now: float) -> None:
        event_id = header(message, "ce_id")
        if event_id is not None:
            self.seen.setdefault(event_id.decode(), now)

    def _read(self) -> None:
        while not self._stopped.is_set():
            # (consume() waits for all of num_messages or its timeout: poll() for the
            # first, then what else has arrived)
            first = self._consumer.poll(0.1)
            if first is None:
                continue
            now = time.perf_counter()
            for message in [first, *self._consumer.consume(num_messages=1000, timeout=0)]:
                if message.error() is None:
                    self._on_record(message, now)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()
        self._consumer.close()


class LightPublisher:
    """Hands records to the broker as the platform's publisher does
    (libs/runtime/publisher.py: idempotent, acknowledged by every replica, lingering
    2 ms so that records sent together go in one request), without waiting for each."""

    def __init__(self, bootstrap_servers: str) -> None:
        # librdkafka leaves Nagle's algorithm on: a small request then waited for the
        # broker's delayed acknowledgement of the one before, ~40 ms.
        self._producer = Producer({"bootstrap.servers": bootstrap_servers, "linger.ms": 2,
                                   "acks": "all", "enable.idempotence": True,
                                   "socket.nagle.disable": True})

    def send(self, record: KafkaRecord, headers: list[tuple[str, bytes]] | None = None,
             on_delivery: Callable[[KafkaError | None, Message], None] | None = None) -> None:
        self._producer.produce(record.topic, record.value, record.key,
                               headers=record.headers if headers is None else headers,
                               on_delivery=on_delivery)
        self._producer.poll(0)  # delivery reports, so that their queue does not grow

    def flush(self, timeout: float = 30.0) -> None:
        if self._producer.flush(timeout):
            raise TimeoutError(f"records not delivered after {timeout} s")


def _now_as_ce_time() -> bytes:
    return ce_time(datetime.now(UTC)).encode()


class Sender:
    """Publishes planned records on a fixed schedule (open loop), each stamped (ce_time)
    with the time it is sent; `sent_at[ce_id]` is when it was due."""

    def __init__(self, publisher: LightPublisher, topic: str | None = None,
                 on_delivery: OnDelivery | None = None) -> None:
        self.publisher, self.topic = publisher, topic  # topic: instead of the records' own
        self.on_delivery = on_delivery
        self.sent_at: dict[str, float] = {}
        self.behind = 0.0  # seconds: how late the last of `on_schedule`'s went out

    def send(self, records: list[KafkaRecord], scheduled: float) -> list[str]:
        ids = []
        sent_on = _now_as_ce_time()
        for record in records:
            event_id = record_id(record)
            self.sent_at[event_id] = scheduled
            ids.append(event_id)
            self.publisher.send(
                replace(record, topic=self.topic or record.topic),
                [(name, sent_on if name == "ce_time" else value)
                 for name, value in record.headers],
                partial(self.on_delivery, event_id) if self.on_delivery else None)
        return ids

    async def on_schedule(self, planned: list[list[KafkaRecord]], rate: int,
                          events: int) -> list[str]:
        """`events` of the planned records (a list of them counts as that many), `rate`
        a second, whatever the reader does; returns the ids sent."""
        sent: list[str] = []
        started = time.perf_counter()
        for records in planned:
            if len(sent) >= events:
                break
            delay = started + len(sent) / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent += self.send(records, started + len(sent) / rate)
        self.publisher.flush()
        self.behind = time.perf_counter() - started - len(sent) / rate
        return sent


async def kafka_alone(kafka: str, warm_up: list[list[KafkaRecord]],
                      planned: list[list[KafkaRecord]], rate: int, events: int) -> list[float]:
    """The latency benchmarks' baseline: the same records at the same rate through Kafka
    alone, published to a topic no service reads and read back here as they arrive
    (ms from each one's scheduled send). Run apart from the measured run, not beside it:
    its reader's fetches cost the broker about a quarter of a millisecond a record, which
    would load the very machine the run measures."""
    await create_topics(kafka, 2, topics=(BASELINE_TOPIC,))
    topic = physical_topic(BASELINE_TOPIC)
    read_back = ReadBack(kafka, [topic])
    try:
        sender = Sender(LightPublisher(kafka), topic)
        await sender.on_schedule(warm_up, rate, sum(map(len, warm_up)))
        measured = await sender.on_schedule(planned, rate, events)
        deadline = time.monotonic() + 30
        while not all(i in read_back.seen for i in measured) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    finally:
        read_back.stop()
        await delete_topics(kafka, topics=(BASELINE_TOPIC,))
    return [(read_back.seen[i] - sender.sent_at[i]) * 1000 for i in measured
            if i in read_back.seen]
