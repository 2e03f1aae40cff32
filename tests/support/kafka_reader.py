"""Reading what is on a topic, from the start, without joining any consumer group."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from libs.events import IntegrationEvent, decode
from libs.events.topics import physical_topic


async def read_topic(bootstrap_servers: str, topic: str,
                     prefix: str | None = None) -> list[ConsumerRecord]:
    topic = physical_topic(topic) if prefix is None else prefix + topic
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False,
                                isolation_level="read_committed")
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            await consumer._client.force_metadata_update()  # noqa: SLF001 - topic just created
            partitions = [TopicPartition(topic, p)
                          for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end_offsets = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord] = []
        while [tp for tp in partitions if await consumer.position(tp) < end_offsets[tp]]:
            batches = await consumer.getmany(timeout_ms=500)
            for batch in batches.values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def events_on(bootstrap_servers: str, topic: str,
                    event_type: type[IntegrationEvent] | None = None,
                    where: Callable[[IntegrationEvent], bool] = lambda _: True,
                    prefix: str | None = None,
                    ) -> list[tuple[ConsumerRecord, IntegrationEvent]]:
    found = []
    for record in await read_topic(bootstrap_servers, topic, prefix):
        try:
            _, event = decode(record.headers, record.value)
        except ValueError:
            continue
        if (event_type is None or isinstance(event, event_type)) and where(event):
            found.append((record, event))
    return found


async def wait_for_events(bootstrap_servers: str, topic: str, event_type: type[IntegrationEvent],
                          where: Callable[[IntegrationEvent], bool], count: int = 1,
                          timeout: float = 30.0) -> list[tuple[ConsumerRecord, IntegrationEvent]]:
    deadline = time.monotonic() + timeout
    while True:
        found = await events_on(bootstrap_servers, topic, event_type, where)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.3)
