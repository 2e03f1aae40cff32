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
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord, TopicPartition

# How long an idle poll waits; a record that arrives meanwhile is returned at once.
IDLE_POLL_MS = 1000


class Prefetcher:
    """One consumer's records, fetched ahead of the batches that take them, at most
    `limit` held at a time (a backlog stays on the broker, not in memory)."""

    def __init__(self, consumer: AIOKafkaConsumer, limit: int) -> None:
        self.consumer = consumer
        self.limit = limit
        self._ready: deque[ConsumerRecord] = deque()
        self._arrived = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._failure: BaseException | None = None
        self._task = asyncio.create_task(self._fetch(), name="kafka prefetch")

    async def _fetch(self) -> None:
        try:
            while True:
                await self._room.wait()
                fetched = await self.consumer.getmany(
                    timeout_ms=IDLE_POLL_MS, max_records=self.limit - len(self._ready))
                for records in fetched.values():
                    self._ready.extend(records)
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
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), IDLE_POLL_MS / 1000)
        if self._failure is not None and not self._ready:
            raise self._failure
        owned = self.consumer.assignment()
        batch = []
        while self._ready and len(batch) < max_records:
            record = self._ready.popleft()
            # Fetched before a rebalance took its partition away: the new owner has it.
            if TopicPartition(record.topic, record.partition) in owned:
                batch.append(record)
        self._room.set()
        return tuple(batch)

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        """Drop what was fetched of these partitions (about to be sought back)."""
        dropped = {(partition.topic, partition.partition) for partition in partitions}
        self._ready = deque(record for record in self._ready
                            if (record.topic, record.partition) not in dropped)
        self._room.set()

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
