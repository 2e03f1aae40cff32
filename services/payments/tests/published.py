"""What the outbox relay would publish from an in-memory payments application."""

from __future__ import annotations

from typing import TypeVar

from libs.events import IntegrationEvent
from services.payments.application import PaymentsApplication, to_integration_events

E = TypeVar("E", bound=IntegrationEvent)


def published(app: PaymentsApplication, event_type: type[E] = IntegrationEvent) -> list[E]:  # type: ignore[assignment]
    """Every integration event of the stored events, in the order the relay sends them."""
    return [event for notification in app.recorder.select_notifications(None, 10_000)
            for event in to_integration_events(app.mapper.to_domain_event(notification))
            if isinstance(event, event_type)]
