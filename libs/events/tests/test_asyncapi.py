"""The AsyncAPI document ERP integrators read is the one the code would generate."""

from libs.events import EVENT_TYPES
from libs.events.asyncapi import DOCUMENT, generate, render


def test_the_committed_asyncapi_document_is_up_to_date() -> None:
    assert DOCUMENT.read_text() == render(), (
        "libs/events/asyncapi.json is out of date: run `python -m libs.events.asyncapi`")


def test_every_event_is_documented_on_the_topic_it_travels_on() -> None:
    document = generate()
    for event_type, event_class in EVENT_TYPES.items():
        channel = document["channels"][event_class.topic]
        assert event_type in channel["messages"], f"{event_type} missing on {event_class.topic}"
        assert document["components"]["messages"][event_type]["payload"]["properties"]
    assert "erp.orders.dlq" in document["channels"]
