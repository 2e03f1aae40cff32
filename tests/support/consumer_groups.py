"""How far a service's consumer group has got: tests wait for a service to have
processed everything on a topic before they send what must come after it."""

from __future__ import annotations

import asyncio
import time

from libs.runtime.kafka import records_behind

from .infrastructure import Infrastructure


async def caught_up(infrastructure: Infrastructure, service: str, topic: str,
                    timeout: float = 30.0) -> None:
    """Until `service` has processed (committed) everything now on `topic`."""
    group = service + infrastructure.service_environment()["KAFKA_GROUP_SUFFIX"]
    deadline = time.monotonic() + timeout
    while await records_behind(infrastructure.kafka_bootstrap_servers, group, topic):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{service} did not catch up on {topic} in {timeout} s")
        await asyncio.sleep(0.2)
