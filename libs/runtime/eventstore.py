"""The write side: eventsourcing applications on PostgreSQL (or in memory for unit tests).

Each service has its own schema. A service's stored events are also its outbox:
the relay reads them in notification order and publishes them to Kafka.
"""

from __future__ import annotations


import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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

    def on_recorded(self, callback: Callable[[], None]) -> None:
        """Call `callback` (from the recording thread) after each stored transaction:
        the relay publishes at once instead of at its next poll."""
        self.__dict__.setdefault("_recorded_callbacks", []).append(callback)

    def _record(self, processing_event: ProcessingEvent) -> Any:
        recordings = super()._record(processing_event)
        for callback in self.__dict__.get("_recorded_callbacks", ()):
            callback()
        return recordings

    @property
    def _open_batch(self) -> ProcessingEvent | None:
        return getattr(self._batches, "current", None)

    @property
    def _batches(self) -> threading.local:
        # Per thread: only the consumer's worker thread sees its batch, never an API call.
        if "_batch_holder" not in self.__dict__:
            self.__dict__["_batch_holder"] = threading.local()
        return self.__dict__["_batch_holder"]

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Store everything the commands in this block record in one transaction at its end.

        Inside the block, `record` only collects, and `get_or_none` returns an aggregate
        collected earlier in the block, so each command sees the ones before it. The last
        tracking recorded is the batch's position. If the block raises, nothing is stored
        (and the aggregate cache is untouched: it holds only what was stored).
        """
        if self._open_batch is not None:
            raise RuntimeError("batches do not nest")
        batch = ProcessingEvent(tracking=None)
        self._batches.current = batch
        try:
            yield
        finally:
            self._batches.current = None
        if batch.events or batch.tracking is not None:
            self._record(batch)

    def record(self, tracking: Tracking | None, *aggregates: Aggregate | None) -> None:
        """Store the aggregates' new events and the consumed position in one transaction.

        This is the exactly-once step: if the position was already recorded, nothing
        is stored and `AlreadyProcessed` is raised. Inside `batch()`, only collected.
        """
        batch = self._open_batch
        if batch is not None:
            batch.collect_events(*aggregates)
            if tracking is not None:
                batch.tracking = tracking
            return
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
        batch = self._open_batch
        if batch is not None and aggregate_id in batch.aggregates:
            return batch.aggregates[aggregate_id]
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def exists(self, aggregate_id: UUID) -> bool:
        batch = self._open_batch
        if batch is not None and aggregate_id in batch.aggregates:
            return True
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
        "AGGREGATE_CACHE_MAXSIZE": str(settings.aggregate_cache_size),
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
