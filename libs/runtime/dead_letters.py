"""Dead-letter records: the original bytes, and why they could not be processed."""

from __future__ import annotations

from datetime import UTC, datetime

from aiokafka.structs import ConsumerRecord
from faststream.kafka import KafkaBroker
from prometheus_client import Counter

from libs.events.topics import dead_letter_topic

DEAD_LETTERS = Counter("ar_dead_letters_total", "Records sent to a dead-letter topic",
                       ["topic", "consumer"])


async def send_to_dead_letter_topic(broker: KafkaBroker, record: ConsumerRecord, *,
                                    reason: str, consumer: str) -> None:
    headers = {name: value.decode("utf-8", "replace") for name, value in record.headers or ()}
    headers.update({
        "dlq_reason": reason,
        "dlq_original_topic": record.topic,
        "dlq_original_partition": str(record.partition),
        "dlq_original_offset": str(record.offset),
        "dlq_consumer": consumer,
        "dlq_failed_at": datetime.now(UTC).isoformat(),
    })
    await broker.publish(record.value or b"", topic=dead_letter_topic(record.topic),
                         key=record.key, headers=headers)
    DEAD_LETTERS.labels(record.topic, consumer).inc()
