"""The write side: eventsourcing applications on PostgreSQL (or in memory for unit tests).

Each service has its own schema. A service's stored events are also its outbox:
the relay reads them in notification order and publishes them to Kafka.
"""

from __future__ import annotations


from datetime import date
from typing import Any, TypeVar
from uuid import UUID

import psycopg
from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    IntegrityError,
    JSONTranscoder,
    ProcessRecorder,
    Tracking,
    Transcoding,
)

from .settings import ServiceSettings, postgres_parts

App = TypeVar("App", bound=Application)


class DateAsISO(Transcoding):
    """Business dates (due dates, value dates) stored as ISO strings."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class ReceivablesApplication(Application):
    """Base for every service's write-side application."""

    def construct_recorder(self) -> ProcessRecorder:
        # A process recorder stores the consumed position (tracking) with the events.
        return self.factory.process_recorder()

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def record(self, tracking: Tracking | None, *aggregates: Aggregate | None) -> None:
        """Store the aggregates' new events and the consumed position in one transaction.

        This is the exactly-once step: if the position was already recorded, nothing
        is stored and `AlreadyProcessed` is raised.
        """
        processing = ProcessingEvent(tracking=tracking)
        processing.collect_events(*aggregates)
        try:
            self._record(processing)
        except IntegrityError:
            if tracking is not None and self.recorder.has_tracking_id(  # type: ignore[attr-defined]
                tracking.application_name, tracking.notification_id
            ):
                raise AlreadyProcessed(tracking) from None
            raise

    def get_or_none(self, aggregate_id: UUID) -> Any:
        """The aggregate, or None when no event of it was ever stored."""
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def exists(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self.repository

    def position(self, tracking_name: str) -> int | None:
        return self.recorder.max_tracking_id(tracking_name)  # type: ignore[attr-defined]


class AlreadyProcessed(Exception):
    """The consumed position was recorded before: a redelivery, safely ignored."""


def ensure_schema(settings: ServiceSettings) -> None:
    with psycopg.connect(settings.database_url, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{settings.database_schema}"')


def postgres_environment(settings: ServiceSettings) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        **postgres_parts(settings.database_url),
        "POSTGRES_SCHEMA": settings.database_schema,
        "CREATE_TABLE": "y",
        "POSTGRES_POOL_SIZE": "5",
        "POSTGRES_MAX_OVERFLOW": "5",
        "POSTGRES_LOCK_TIMEOUT": "5",
    }


def open_application(app_class: type[App], settings: ServiceSettings) -> App:
    """The service's application on its own PostgreSQL schema."""
    ensure_schema(settings)
    return app_class(env=postgres_environment(settings))


def open_in_memory(app_class: type[App]) -> App:
    """The same application on the library's in-memory recorder, for unit tests."""
    return app_class(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


class UnitOfWork:
    """The aggregates one command loaded or created, stored together in one transaction."""

    def __init__(self, application: ReceivablesApplication) -> None:
        self._application = application
        self._aggregates: dict[UUID, Aggregate | None] = {}

    def get(self, aggregate_id: UUID) -> Any:
        if aggregate_id not in self._aggregates:
            self._aggregates[aggregate_id] = self._application.get_or_none(aggregate_id)
        return self._aggregates[aggregate_id]

    def add(self, aggregate: Aggregate) -> None:
        self._aggregates[aggregate.id] = aggregate

    @property
    def aggregates(self) -> list[Aggregate]:
        return [aggregate for aggregate in self._aggregates.values() if aggregate is not None]
