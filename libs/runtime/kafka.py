"""The FastStream Kafka broker every service uses, and explicit topic creation."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import REGISTRY

from libs.events.topics import ALL_TOPICS, physical_topic

from .settings import ServiceSettings

log = logging.getLogger(__name__)


# Idempotent producer with acks=all: a retried send never writes a record twice, and an
# acknowledged record is on every in-sync replica.
PRODUCER_SETTINGS = {"enable_idempotence": True, "acks": "all", "linger_ms": 1}


def make_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    """A bare producer, for the outbox relay: FastStream's per-message middlewares
    (a span and metrics per record) cost as much CPU as deciding the event did."""
    return AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers,
                            client_id=f"{settings.service_name}-relay",
                            # The relay hands a batch over at once and waits for its
                            # acknowledgement: lingering only delays it.
                            **{**PRODUCER_SETTINGS, "linger_ms": 0})


def make_broker(settings: ServiceSettings) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=settings.service_name,
        **PRODUCER_SETTINGS,
        middlewares=[
            KafkaTelemetryMiddleware(),
            KafkaPrometheusMiddleware(registry=REGISTRY, app_name=settings.service_name),
        ],
        logger=logging.getLogger(f"{settings.service_name}.kafka"),
        log_level=logging.DEBUG,  # one line per message is for debugging, not for production logs
    )


async def create_topics(bootstrap_servers: str, partitions: int,
                        topics: tuple[str, ...] = ALL_TOPICS, prefix: str | None = None) -> list[str]:
    """Create the missing topics; auto-creation is off on the broker."""
    topics = tuple((physical_topic(topic) if prefix is None else prefix + topic)
                   for topic in topics)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [topic for topic in topics if topic not in existing]
        if missing:
            try:
                await admin.create_topics(
                    [NewTopic(topic, num_partitions=partitions, replication_factor=1)
                     for topic in missing]
                )
            except TopicAlreadyExistsError:
                pass  # another process created them first
        return missing
    finally:
        await admin.close()


async def delete_topics(bootstrap_servers: str, topics: tuple[str, ...] = ALL_TOPICS,
                        prefix: str | None = None) -> None:
    topics = tuple((physical_topic(topic) if prefix is None else prefix + topic)
                   for topic in topics)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [topic for topic in topics if topic in existing]
        if doomed:
            await admin.delete_topics(doomed)
            for _ in range(100):  # deletion is asynchronous on the broker
                if not set(doomed) & set(await admin.list_topics()):
                    break
                await asyncio.sleep(0.1)
    finally:
        await admin.close()


if __name__ == "__main__":
    settings = ServiceSettings()
    created = asyncio.run(create_topics(settings.kafka_bootstrap_servers,
                                        settings.kafka_topic_partitions))
    print(f"topics: created {len(created)}, {len(ALL_TOPICS) - len(created)} already there "
          f"({settings.kafka_topic_partitions} partitions each)")


async def records_behind(bootstrap_servers: str, group: str, topic: str) -> int:
    """How many records now on `topic` the consumer group has not yet processed."""
    name = physical_topic(topic)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        if not consumer.partitions_for_topic(name):
            await consumer._client.force_metadata_update()  # noqa: SLF001 - no subscription
        partitions = [TopicPartition(name, p) for p in sorted(consumer.partitions_for_topic(name) or ())]
        if not partitions:
            raise LookupError(f"topic {name} does not exist; create the topics first")
        ends = await consumer.end_offsets(partitions)
        committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
        return sum(max(ends[tp] - (committed[tp].offset if tp in committed
                                   and committed[tp].offset >= 0 else 0), 0)
                   for tp in partitions)
    finally:
        await consumer.stop()
        await admin.close()
