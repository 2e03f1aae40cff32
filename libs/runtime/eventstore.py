"""The write side: eventsourcing applications on PostgreSQL (or in memory for unit tests).

Each service has its own schema. A service's stored events are also its outbox:
the relay reads them in notification order and publishes them to Kafka.
"""

from __future__ import annotations


import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import date
from typing import Any, TypeVar
from uuid import UUID

import psycopg
from psycopg.sql import SQL, Identifier
from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
    Repository,
)
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    JSONTranscoder,
    OperationalError,
    ProcessRecorder,
    Recording,
    StoredEvent,
    Tracking,
    Transcoding,
)
from eventsourcing.popo import POPOProcessRecorder
from eventsourcing.utils import retry
from eventsourcing.postgres import PostgresProcessRecorder

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


class ReceivablesRecorder(PostgresProcessRecorder):
    """The library's recorder, plus:

    - it stores, with the events, the positions of several sources (`also_tracking`):
      a batch drawn from several partitions of a topic is one transaction, and one
      commit (an fsync, ~3 ms here), instead of one per partition;
    - it stores them with one statement (`RECORD_FUNCTION`), one round trip that is
      also the commit. The library pipelines a statement per position, the table lock
      and the insert, then commits: some 18 waits on the socket per transaction, each
      giving up the GIL and waiting to take it back from the event loop, which made
      storing a credit decision cost more than deciding it;
    - `changed_since` reads what the aggregate cache needs of the log (which
      aggregate, which version) without the events' state."""

    # The library's steps, in its order, as one function: positions (single-row
    # tracking: a position that does not move forward is a duplicate, refused as a
    # unique violation, as the library refuses it), the table lock that keeps
    # notification ids in commit order, the notification, the events.
    RECORD_FUNCTION = """
        CREATE OR REPLACE FUNCTION {schema}.ar_record(
            source_names text[], positions bigint[], events {schema}.{event_type}[])
        RETURNS SETOF bigint LANGUAGE plpgsql AS $body$
        DECLARE
            moved integer;
        BEGIN
            SET LOCAL lock_timeout = '{lock_timeout}s';
            IF cardinality(source_names) > 0 THEN
                WITH moved_forward AS (
                    INSERT INTO {schema}.{tracking} AS kept (application_name, notification_id)
                    SELECT * FROM unnest(source_names, positions)
                    ON CONFLICT (application_name) DO UPDATE
                        SET notification_id = EXCLUDED.notification_id
                        WHERE kept.notification_id < EXCLUDED.notification_id
                    RETURNING 1)
                SELECT count(*) INTO moved FROM moved_forward;
                IF moved < cardinality(source_names) THEN
                    RAISE unique_violation USING MESSAGE = 'position already recorded';
                END IF;
            END IF;
            IF cardinality(events) > 0 THEN
                LOCK TABLE {schema}.{events_table} IN EXCLUSIVE MODE;
                NOTIFY {channel};
                RETURN QUERY
                    INSERT INTO {schema}.{events_table}
                        (originator_id, originator_version, topic, state)
                    SELECT originator_id, originator_version, topic, state FROM unnest(events)
                    RETURNING notification_id;
            END IF;
        END
        $body$"""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.datastore.single_row_tracking:
            raise ValueError("ReceivablesRecorder records positions in single-row tracking "
                             "tables (the library's default); SINGLE_ROW_TRACKING is off")
        names = {"schema": self.datastore.schema, "event_type": self.stored_event_type_name,
                 "tracking": self.tracking_table_name, "events_table": self.events_table_name,
                 "channel": self.channel_name}
        self.sql_create_statements.append(SQL(self.RECORD_FUNCTION).format(
            lock_timeout=self.datastore.lock_timeout,
            **{name: Identifier(value) for name, value in names.items()}))
        self._record_statement = SQL("SELECT * FROM {}.ar_record(%s, %s, %s)").format(
            Identifier(self.datastore.schema))

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        trackings = [tracking for tracking in (kwargs.get("tracking"),
                                               *kwargs.get("also_tracking", ()))
                     if tracking is not None]
        events = [self.construct_pg_stored_event(event.originator_id,
                                                 event.originator_version, event.topic,
                                                 event.state) for event in stored_events]
        with self.datastore.get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(self._record_statement,
                           ([tracking.application_name for tracking in trackings],
                            [tracking.notification_id for tracking in trackings], events),
                           prepare=True)
            return [row["ar_record"] for row in cursor.fetchall()]

    def changed_since(self, seen: int, limit: int = 1000) -> list[tuple[int, UUID, int]]:
        """(notification id, aggregate id, version) of the events stored after `seen`."""
        query = SQL("SELECT notification_id, originator_id, originator_version FROM {}.{} "
                    "WHERE notification_id > %s ORDER BY notification_id LIMIT %s").format(
            Identifier(self.datastore.schema), Identifier(self.events_table_name))
        with self.datastore.get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(query, (seen, limit), prepare=True)
            return [(row["notification_id"], row["originator_id"], row["originator_version"])
                    for row in cursor.fetchall()]


class InMemoryPositionsRecorder(POPOProcessRecorder):
    """`ReceivablesRecorder`'s positions, for the in-memory store of unit tests."""

    def _assert_uniqueness(self, stored_events: list[StoredEvent], **kwargs: Any) -> None:
        super()._assert_uniqueness(stored_events, **kwargs)
        for tracking in kwargs.get("also_tracking", ()):
            self._assert_tracking_uniqueness(tracking)

    def _update_table(self, stored_events: list[StoredEvent], **kwargs: Any) -> Any:
        notification_ids = super()._update_table(stored_events, **kwargs)
        for tracking in kwargs.get("also_tracking", ()):
            self._insert_tracking(tracking)
        return notification_ids


class ChangeFedRepository(Repository):
    """An aggregate cache kept fresh from the notification log, not per aggregate.

    The library can fast-forward each cached aggregate with a query per load. Here,
    before a load, one query reads what was stored since the last look (by this
    process or any other replica) and drops those aggregates from the cache; within a
    batch that look is taken once, so a batch of a hundred orders costs one query
    instead of a hundred. What this process stores itself goes into the cache as it
    is stored.

    Aggregates found missing are remembered too (a tenant without credit settings was
    looked up by every batch) until the log or this process stores one of them. A miss
    is remembered only if nothing was stored or seen while it was being looked up.
    """

    MAX_MISSING = 100_000

    def __init__(self, *args: Any, recorder: ReceivablesRecorder, **kwargs: Any) -> None:
        super().__init__(*args, fastforward=False, **kwargs)
        self._recorder = recorder
        self._seen: int | None = None
        self._looking = threading.Lock()
        self._batch = threading.local()
        self._missing: set[Any] = set()
        self._generation = 0  # moves on whenever stored events are seen or stored here

    def get(self, aggregate_id: Any, **kwargs: Any) -> Any:
        latest = kwargs.get("version") is None
        if not getattr(self._batch, "looked", False) and latest:
            self.forget_changed()
        if latest and aggregate_id in self._missing:
            try:  # stored here a moment ago (cached as it was), not yet told
                self.cache.get(aggregate_id)
            except KeyError:
                raise AggregateNotFoundError(aggregate_id) from None
        generation = self._generation
        try:
            return super().get(aggregate_id, **kwargs)
        except AggregateNotFoundError:
            with self._looking:
                if latest and generation == self._generation \
                        and len(self._missing) < self.MAX_MISSING:
                    self._missing.add(aggregate_id)
            raise

    @contextmanager
    def looking_once(self) -> Iterator[None]:
        """Look at the changes now, and not again in this thread until the block ends."""
        self.forget_changed()
        self._batch.looked = True
        try:
            yield
        finally:
            self._batch.looked = False

    def forget_changed(self) -> None:
        if self.cache is None:
            return
        with self._looking:
            if self._seen is None:  # nothing cached yet: start from here
                self._seen = self._recorder.max_notification_id() or 0
                return
            while changes := self._recorder.changed_since(self._seen):
                self._generation += 1
                for _, aggregate_id, version in changes:
                    self._missing.discard(aggregate_id)
                    try:
                        cached = self.cache.get(aggregate_id)
                    except KeyError:
                        continue
                    if cached is None or cached.version < version:
                        self.cache.get(aggregate_id, evict=True)
                self._seen = changes[-1][0]

    def stored_here(self, recordings: list[Recording]) -> None:
        """This process stored these (and cached the aggregates as it did): when they
        follow the last look without a gap, the next look need not read them back."""
        if not recordings:
            return
        with self._looking:
            self._generation += 1
            for recording in recordings:
                self._missing.discard(recording.domain_event.originator_id)
            if self._seen is not None and recordings[0].notification.id == self._seen + 1:
                self._seen = recordings[-1].notification.id


class ReceivablesApplication(Application):
    """Base for every service's write-side application."""

    def construct_repository(self) -> Repository:
        repository = super().construct_repository()
        if repository.cache is None:
            return repository  # the in-memory store of unit tests
        return ChangeFedRepository(
            event_store=self.events, snapshot_store=self.snapshots,
            cache_maxsize=int(self.env.get(self.AGGREGATE_CACHE_MAXSIZE)),
            recorder=self.recorder)

    def construct_recorder(self) -> ProcessRecorder:
        # A process recorder stores the consumed positions (tracking) with the events.
        recorder = self.factory.process_recorder()
        if isinstance(recorder, POPOProcessRecorder):
            return InMemoryPositionsRecorder()
        return recorder

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def on_recorded(self, callback: Callable[[list[Recording]], None]) -> None:
        """Call `callback` with what was stored (from the recording thread) after each
        stored transaction: the relay publishes at once, from memory."""
        self.__dict__.setdefault("_recorded_callbacks", []).append(callback)

    def _record(self, processing_event: ProcessingEvent) -> Any:
        recordings = super()._record(processing_event)
        if isinstance(self.repository, ChangeFedRepository):
            self.repository.stored_here(recordings)
        for callback in self.__dict__.get("_recorded_callbacks", ()):
            callback(recordings)
        return recordings

    @property
    def _open_batch(self) -> _Batch | None:
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

        Inside the block, `record` only collects, and `get_or_none` returns the same
        aggregate object for the whole block (loaded once), so each command sees the
        ones before it. The last tracking recorded for each source (a topic's
        partition) is the batch's position in it. If the block raises, nothing is stored (and the aggregate cache is untouched: it holds
        only what was stored).
        """
        if self._open_batch is not None:
            raise RuntimeError("batches do not nest")
        batch = _Batch()
        self._batches.current = batch
        looking = (self.repository.looking_once()
                   if isinstance(self.repository, ChangeFedRepository) else nullcontext())
        try:
            with looking:
                yield
        finally:
            self._batches.current = None
        trackings = list(batch.trackings.values())
        if trackings:
            batch.processing.tracking = trackings[0]
            batch.processing.saved_kwargs["also_tracking"] = trackings[1:]
        if batch.processing.events or trackings:
            self._record(batch.processing)  # caches what it stored
        self._return_unchanged(batch)

    def record(self, tracking: Tracking | None, *aggregates: Aggregate | None) -> None:
        """Store the aggregates' new events and the consumed position in one transaction.

        This is the exactly-once step: if the position was already recorded, nothing
        is stored and `AlreadyProcessed` is raised. Inside `batch()`, only collected.
        """
        batch = self._open_batch
        if batch is not None:
            _collect(batch.processing, aggregates)
            if tracking is not None:
                batch.trackings[tracking.application_name] = tracking
            return
        processing = ProcessingEvent(tracking=tracking)
        _collect(processing, aggregates)
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
        if batch is None:
            return self._load(aggregate_id)
        if aggregate_id in batch.processing.aggregates:
            return batch.processing.aggregates[aggregate_id]
        if aggregate_id not in batch.loaded:
            batch.loaded[aggregate_id] = self._load(aggregate_id)
        return batch.loaded[aggregate_id]

    def _load(self, aggregate_id: UUID) -> Any:
        if self._open_batch is not None and self.repository.cache is not None:
            return self._check_out(aggregate_id)
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def _check_out(self, aggregate_id: UUID) -> Any:
        """The cached aggregate itself, not a copy (a deep copy cost as much as the
        decision), taken out of the cache while the batch may change it: other threads
        load the stored state meanwhile, and if the batch fails, nobody sees its
        changes. `batch()` returns it, stored or unchanged, when the batch is stored."""
        cache = self.repository.cache
        try:
            aggregate = self.repository.get(aggregate_id, deepcopy_from_cache=False)
        except AggregateNotFoundError:
            return None
        try:
            cache.get(aggregate_id, evict=True)
        except KeyError:
            pass
        return aggregate

    def _return_unchanged(self, batch: _Batch) -> None:
        cache = self.repository.cache
        if cache is None:
            return
        for aggregate_id, aggregate in batch.loaded.items():
            if aggregate is not None and aggregate_id not in batch.processing.aggregates \
                    and not aggregate.pending_events:
                cache.put(aggregate_id, aggregate)

    def exists(self, aggregate_id: UUID) -> bool:
        if self._open_batch is not None:
            return self.get_or_none(aggregate_id) is not None
        return aggregate_id in self.repository

    def position(self, tracking_name: str) -> int | None:
        return self.recorder.max_tracking_id(tracking_name)  # type: ignore[attr-defined]


def _collect(processing: ProcessingEvent, aggregates: tuple[Aggregate | None, ...]) -> None:
    """`processing.collect_events(*aggregates)`, without the library's runtime protocol
    checks, which cost as much as a credit decision."""
    for aggregate in aggregates:
        if isinstance(aggregate, Aggregate):
            processing.events.extend(aggregate.collect_events())
            processing.aggregates[aggregate.id] = aggregate
        elif aggregate is not None:
            processing.collect_events(aggregate)


class _Batch:
    """What the commands of one `batch()` block stored (not yet written) and read."""

    def __init__(self) -> None:
        self.processing = ProcessingEvent(tracking=None)
        self.trackings: dict[str, Tracking] = {}  # the latest per source
        # Read once per batch, missing ones too: a tenant without credit settings is
        # looked up by every order otherwise.
        self.loaded: dict[UUID, Aggregate | None] = {}


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
        "PROCESS_RECORDER_TOPIC": f"{ReceivablesRecorder.__module__}:{ReceivablesRecorder.__name__}",
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
