"""Balance changes as they happen, as server-sent events.

The projection NOTIFYs on commit (a JSON array of the changes its transaction made);
each stream LISTENs on its own connection and, for every change to a customer it
follows, sends that customer's fresh balance.
Works across replicas: the notification comes from the database, not the process.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import asyncpg
from fastapi import Request

from libs.runtime.projection import changes_channel

from . import queries
from .projections import SCHEMA

KEEPALIVE_SECONDS = 15.0


async def balance_changes(request: Request, pool: asyncpg.Pool, database_url: str,
                          tenant: str, customer_id: str | None,
                          view: Callable[[], queries.AgingView]) -> AsyncIterator[str]:
    changed: asyncio.Queue[str] = asyncio.Queue(maxsize=10_000)

    def on_notify(_connection: object, _pid: int, _channel: str, payload: str) -> None:
        # One notice per commit (a batch of changes): a customer changed several times in
        # it gets one fresh balance.
        subjects = dict.fromkeys(change["subject"] for change in json.loads(payload)
                                 if change["tenant"] == tenant
                                 and customer_id in (None, change["subject"]))
        for subject in subjects:
            changed.put_nowait(subject)

    listener = await asyncpg.connect(database_url)
    await listener.add_listener(changes_channel(SCHEMA), on_notify)
    try:
        yield ": following balance changes\n\n"
        while not await request.is_disconnected():
            try:
                subject = await asyncio.wait_for(changed.get(), timeout=KEEPALIVE_SECONDS)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            balance = await queries.customer_balance(pool, tenant, subject, view())
            yield f"event: balance\ndata: {json.dumps(balance)}\n\n"
    finally:
        await listener.close()
