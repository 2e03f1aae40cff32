"""Publishing events straight to Kafka, as an ERP or another external producer does.

Services never use this for their own events (they go through the outbox relay);
it serves ERP adapters, demo data and tests that play the ERP's part.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from libs.events import IntegrationEvent, KafkaRecord, encode


class EventPublisher:
    def __init__(self, bootstrap_servers: str, source: str = "erp") -> None:
        self.source = source
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers,
                                         enable_idempotence=True, acks="all", linger_ms=2)

    async def __aenter__(self) -> EventPublisher:
        await self.producer.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.producer.stop()

    def record(self, event: IntegrationEvent, tenant: str, event_id: str | None = None,
               traceparent: str | None = None) -> KafkaRecord:
        return encode(event, event_id=event_id or str(uuid.uuid4()), tenant=tenant,
                      source=self.source, time=datetime.now(UTC), traceparent=traceparent)

    async def publish(self, event: IntegrationEvent, tenant: str, event_id: str | None = None,
                      traceparent: str | None = None) -> KafkaRecord:
        record = self.record(event, tenant, event_id, traceparent)
        await self.send(record)
        return record

    async def send(self, record: KafkaRecord) -> None:
        await self.producer.send_and_wait(record.topic, record.value, key=record.key,
                                          headers=record.headers)

    async def send_raw(self, topic: str, key: bytes, value: bytes,
                       headers: list[tuple[str, bytes]]) -> None:
        """Bytes as they are: for showing what happens to malformed input."""
        await self.producer.send_and_wait(topic, value, key=key, headers=headers)
