"""What the latency benchmarks share: reading topics from their end, a light publisher,
and percentiles.

A latency benchmark shares the machine's two cores with what it measures, so its own
Kafka clients are librdkafka's (confluent-kafka), whose fetching and producing run in C
threads: reading a record back and publishing one cost it a few microseconds each,
where aiokafka's Python protocol code cost a few hundred at a thousand records a second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from confluent_kafka import Consumer, Producer
from confluent_kafka import TopicPartition as ConfluentPartition

from libs.events import KafkaRecord


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def read_from_end(consumer: AIOKafkaConsumer, topics: list[str]) -> None:
    """Assign every partition of `topics` (created moments ago) to `consumer`, positioned
    after what they hold: the benchmark sees only what is published from now on."""
    await consumer._client.force_metadata_update()  # noqa: SLF001 - topics just created
    partitions = [TopicPartition(topic, partition) for topic in topics
                  for partition in consumer.partitions_for_topic(topic) or ()]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)


class ReadBack:
    """When each record published to `topics` from now on is read back, by its event id
    (the `ce_id` header): `seen[ce_id]` is the `time.perf_counter()` of its arrival here.
    Reads in a thread of its own until `stop()`."""

    def __init__(self, bootstrap_servers: str, topics: Iterable[str]) -> None:
        self.seen: dict[str, float] = {}
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
                    for name, value in message.headers() or ():
                        if name == "ce_id":
                            self.seen.setdefault(value.decode(), now)

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

    def send(self, record: KafkaRecord, headers: list[tuple[str, bytes]] | None = None) -> None:
        self._producer.produce(record.topic, record.value, record.key,
                               headers=record.headers if headers is None else headers)
        self._producer.poll(0)  # delivery reports, so that their queue does not grow

    def flush(self, timeout: float = 30.0) -> None:
        if self._producer.flush(timeout):
            raise TimeoutError(f"records not delivered after {timeout} s")
