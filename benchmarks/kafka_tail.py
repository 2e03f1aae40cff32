"""What the latency benchmarks share: reading topics from their end, and percentiles."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition


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
