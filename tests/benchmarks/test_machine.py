"""The benchmarks' CPU accounting (benchmarks/machine.py) against the local servers: a
figure that missed a server's work would make a target look cheaper than it is."""

from __future__ import annotations

import asyncio

import asyncpg

from benchmarks.machine import cpu_seconds, kafka_broker_pid, postgres_cpu_seconds
from tests.support.infrastructure import Infrastructure


def test_postgres_cpu_counts_the_work_of_a_connection_that_has_ended(
        infrastructure: Infrastructure) -> None:
    async def busy_connection_that_ends() -> None:
        connection = await asyncpg.connect(infrastructure.database_url)
        try:  # a second or so of one server process's CPU
            await connection.fetchval("SELECT count(*) FROM generate_series(1, 3000000) AS n "
                                      "WHERE md5(n::text) LIKE 'a%'")
        finally:
            await connection.close()

    before = postgres_cpu_seconds()
    asyncio.run(busy_connection_that_ends())
    asyncio.run(asyncio.sleep(0.2))  # the postmaster reaps the ended backend
    spent = postgres_cpu_seconds() - before

    lone_query_cpu = 0.3  # seconds: the query alone takes several times that here
    assert spent > lone_query_cpu


def test_the_kafka_broker_is_found_and_its_cpu_read(infrastructure: Infrastructure) -> None:
    broker = kafka_broker_pid()

    assert broker is not None
    assert cpu_seconds(broker) > 0
    assert cpu_seconds(2 ** 22 + 1) == 0.0  # no such process
