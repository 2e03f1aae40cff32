"""Fixtures for the cross-service tests: real Kafka, real PostgreSQL, real processes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest

from tests.support.infrastructure import Infrastructure, prepare, tear_down
from tests.support.processes import ServiceProcess, free_port

T = TypeVar("T")

SERVICES = ("invoicing", "payments", "matching", "aging")


SUITES_ON_SERVERS = ("e2e", "reliability", "benchmarks")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(f"/tests/{suite}/" in str(item.path) for suite in SUITES_ON_SERVERS):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[Infrastructure]:
    infrastructure = prepare()
    yield infrastructure
    tear_down(infrastructure)


@pytest.fixture(scope="session")
def platform(infrastructure: Infrastructure) -> Iterator[dict[str, ServiceProcess]]:
    """The four services of the walking skeleton, each its own process."""
    services = {name: ServiceProcess(name, free_port(), infrastructure) for name in SERVICES}
    try:
        for service in services.values():
            service.launch()
        for service in services.values():
            service.wait_until_ready(timeout=60)
        yield services
    finally:
        for service in services.values():
            service.stop()


async def eventually(probe: Callable[[], Awaitable[T]], until: Callable[[T], bool],
                     timeout: float = 30.0, interval: float = 0.2) -> T:
    """Poll until the condition holds; return the last value either way."""
    deadline = time.monotonic() + timeout
    value = await probe()
    while not until(value) and time.monotonic() < deadline:
        await asyncio.sleep(interval)
        value = await probe()
    return value
