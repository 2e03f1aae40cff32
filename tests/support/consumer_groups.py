"""How far a service's consumer group has got: tests wait for a service to have
processed everything on a topic before they send what must come after it."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from libs.events.topics import physical_topic

from .infrastructure import Infrastructure


async def caught_up(infrastructure: Infrastructure, service: str, topic: str,
                    timeout: float = 30.0) -> None:
    """Until `service` has processed (committed) everything now on `topic`."""
    group = service + infrastructure.service_environment()["KAFKA_GROUP_SUFFIX"]
    kafka = infrastructure.kafka_bootstrap_servers
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await consumer.start()
    await admin.start()
    try:
        await consumer._client.force_metadata_update()  # noqa: SLF001 - no subscription
        name = physical_topic(topic)
        partitions = [TopicPartition(name, p) for p in consumer.partitions_for_topic(name)]
        ends = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
            if all(ends[tp] == 0 or (tp in committed and committed[tp].offset >= ends[tp])
                   for tp in partitions):
                return
            await asyncio.sleep(0.2)
        raise TimeoutError(f"{service} did not catch up on {topic} in {timeout} s")
    finally:
        await admin.close()
        await consumer.stop()
