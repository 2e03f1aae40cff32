"""The AsyncAPI 3.0 document of the platform's topics and events, generated from the models.

ERP integrators read `libs/events/asyncapi.json`: every channel (topic), the messages
it carries, their payload schemas and the CloudEvents headers. `python -m
libs.events.asyncapi` rewrites it; a test fails when it is out of date.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from .base import EVENT_TYPES
from .catalogue import __all__ as _registered  # noqa: F401 - importing registers every event
from .topics import DOMAIN_TOPICS, dead_letter_topic

DOCUMENT = Path(__file__).parent / "asyncapi.json"

_HEADERS = {
    "type": "object",
    "required": ["ce_specversion", "ce_id", "ce_type", "ce_source", "ce_time", "ce_subject",
                 "tenant"],
    "properties": {
        "ce_specversion": {"const": "1.0"},
        "ce_id": {"type": "string", "description": "unique event id; re-sends keep it"},
        "ce_type": {"type": "string", "description": "the event type name, e.g. InvoiceIssued"},
        "ce_source": {"type": "string", "description": "the publishing system or service"},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": {"type": "string",
                       "description": "the customer account id; also the message key"},
        "tenant": {"type": "string", "description": "the legal entity whose ledger it is"},
        "traceparent": {"type": "string", "description": "W3C trace context"},
        "content-type": {"const": "application/json"},
    },
}


def generate() -> dict[str, Any]:
    messages_by_topic: dict[str, list[str]] = defaultdict(list)
    messages: dict[str, Any] = {}
    for event_type, event_class in sorted(EVENT_TYPES.items()):
        messages_by_topic[event_class.topic].append(event_type)
        schema = event_class.model_json_schema(mode="serialization")
        messages[event_type] = {
            "name": event_type,
            "title": event_type,
            "summary": (event_class.__doc__ or "").strip().split("\n")[0],
            "contentType": "application/json",
            "headers": _HEADERS,
            "payload": schema,
        }
    channels: dict[str, Any] = {}
    for topic in DOMAIN_TOPICS:
        channels[topic] = {
            "address": topic,
            "description": "keyed by customer account id: one customer's events stay in order",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}
                         for name in messages_by_topic.get(topic, [])},
        }
        channels[dead_letter_topic(topic)] = {
            "address": dead_letter_topic(topic),
            "description": (f"records of {topic} that could not be processed: the original "
                            "bytes and headers, plus dlq_reason, dlq_original_topic, "
                            "dlq_original_partition, dlq_original_offset, dlq_consumer"),
            "messages": {},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Receivables platform events",
            "version": "1",
            "description": ("Order-to-cash events between an ERP and the receivables services. "
                            "Money is a decimal string with an ISO 4217 currency; business dates "
                            "are ISO dates. Topic names may carry a deployment prefix "
                            "(KAFKA_TOPIC_PREFIX)."),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "components": {"messages": messages},
    }


def render() -> str:
    return json.dumps(generate(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    DOCUMENT.write_text(render())
    print(f"wrote {DOCUMENT}")
