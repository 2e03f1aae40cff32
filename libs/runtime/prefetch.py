"""Keeping a Kafka fetch in flight while a batch is applied.

aiokafka fetches a broker's partitions again only once the records it holds for them
have been taken. A subscriber that polls, applies, then polls again therefore leaves
whatever reaches the broker while it applies on the broker: the next poll returns only
what the fetcher already held, and the records behind them wait a whole batch more (a
credit decision waited two batches, ~60 ms at 200 orders/s). A fixed short poll after
each batch brought most of them in, at the price of waiting that long every time.

`Prefetcher` takes the records off the fetcher as they arrive, into a bounded queue of
its own, so the next fetch is always under way: when a batch is done, what arrived
meanwhile is already here, and an idle subscriber waits on one long poll instead of
waking every few milliseconds.

If asked (`gather`), it also paces the fetches while its subscriber applies a batch:
the broker answers a fetch once it holds records, so under steady load every record
came in a fetch of its own. Each cost aiokafka 0.2-0.4 ms of CPU (its protocol code is
Python), and the broker about as much: at a thousand records a second, most of a core
between them. So while a batch is being applied, a fetch asks the broker to gather for
up to `GATHER_MS`; records that arrive meanwhile would wait for the batch anyway. An
idle subscriber's fetch still returns on the first record.

It may also `prepare` each record as it arrives (its subscriber decodes it): the work
is then done while the subscriber waits on its database, not between two batches.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord, TopicPartition

# How long an idle poll waits; a record that arrives meanwhile is returned at once.
IDLE_POLL_MS = 1000
# While a batch is applied: how long the broker may gather records for the next fetch
# (about a batch's time at a thousand events a second), and enough bytes that it does.
GATHER_MS = 3
GATHER_BYTES = 1 << 20


class Prefetcher:
    """One consumer's records, fetched ahead of the batches that take them, at most
    `limit` held at a time (a backlog stays on the broker, not in memory)."""

    def __init__(self, consumer: AIOKafkaConsumer, limit: int, gather: bool = False,
                 prepare: Callable[[ConsumerRecord], Any] | None = None) -> None:
        self.consumer = consumer
        self.limit = limit
        self._gather_while_busy = gather
        self._prepare = prepare
        # Each record held, with what `prepare` made of it (None if nothing).
        self._ready: deque[tuple[ConsumerRecord, Any]] = deque()
        self._taken: dict[tuple[str, int, int], Any] = {}  # of the last batch taken
        self._arrived = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._failure: BaseException | None = None
        fetcher = consumer._fetcher  # noqa: SLF001 - see `_gather`
        self._idle_fetch = (fetcher._fetch_min_bytes, fetcher._fetch_max_wait_ms)  # noqa: SLF001
        self._task = asyncio.create_task(self._fetch(), name="kafka prefetch")

    async def _fetch(self) -> None:
        try:
            while True:
                await self._room.wait()
                fetched = await self.consumer.getmany(
                    timeout_ms=IDLE_POLL_MS, max_records=self.limit - len(self._ready))
                prepare = self._prepare
                for records in fetched.values():
                    self._ready.extend((record, prepare(record) if prepare else None)
                                       for record in records)
                if self._ready:
                    self._arrived.set()
                if len(self._ready) >= self.limit:
                    self._room.clear()
        except Exception as error:  # noqa: BLE001 - handed to the subscriber's loop
            self._failure = error
            self._arrived.set()

    @property
    def running(self) -> bool:
        return not self._task.done()

    async def take(self, max_records: int) -> tuple[ConsumerRecord, ...]:
        """What has arrived, up to `max_records`, in each partition's order; waits for
        the first record up to an idle poll's time, then returns even if empty."""
        if not self._ready and self._failure is None:
            self._gather(busy=False)
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), IDLE_POLL_MS / 1000)
        if self._failure is not None and not self._ready:
            raise self._failure
        owned = self.consumer.assignment()
        batch, self._taken = [], {}
        while self._ready and len(batch) < max_records:
            record, prepared = self._ready.popleft()
            # Fetched before a rebalance took its partition away: the new owner has it.
            if TopicPartition(record.topic, record.partition) in owned:
                batch.append(record)
                self._taken[record.topic, record.partition, record.offset] = prepared
        self._room.set()
        self._gather(busy=bool(batch))
        return tuple(batch)

    def _gather(self, busy: bool) -> None:
        """The fetches from now on: gathering while a batch is applied, else returning
        on the first record. aiokafka reads both settings each time it builds a fetch
        request, and has no public way to change them (aiokafka is pinned)."""
        fetcher = self.consumer._fetcher  # noqa: SLF001
        fetcher._fetch_min_bytes, fetcher._fetch_max_wait_ms = (  # noqa: SLF001
            (GATHER_BYTES, GATHER_MS) if busy and self._gather_while_busy else self._idle_fetch)

    def prepared(self, record: ConsumerRecord) -> Any:
        """What `prepare` made of a record of the batch `take` returned last (None if
        nothing)."""
        return self._taken.get((record.topic, record.partition, record.offset))

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        """Drop what was fetched of these partitions (about to be sought back)."""
        dropped = {(partition.topic, partition.partition) for partition in partitions}
        self._ready = deque(held for held in self._ready
                            if (held[0].topic, held[0].partition) not in dropped)
        self._room.set()

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
