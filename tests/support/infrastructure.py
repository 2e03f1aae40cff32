"""The real servers the integration tests run against, and a clean slate for each session.

Kafka and PostgreSQL come from the environment (KAFKA_BOOTSTRAP_SERVERS,
DATABASE_URL) or, when those are unset, from deploy/local/stack.sh, which starts
them on this machine. Each test session gets its own database and fresh topics.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg

from libs.runtime.kafka import create_topics, delete_topics

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "deploy" / "local" / "stack.sh"
TEST_DATABASE = "receivables_test"
TEST_PARTITIONS = 3


@dataclass(frozen=True)
class Infrastructure:
    kafka_bootstrap_servers: str
    database_url: str
    group_suffix: str

    def service_environment(self) -> dict[str, str]:
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            "DATABASE_URL": self.database_url,
            "KAFKA_GROUP_SUFFIX": self.group_suffix,
            "KAFKA_TOPIC_PARTITIONS": str(TEST_PARTITIONS),
        }


def _servers_from_stack() -> tuple[str, str]:
    subprocess.run(["bash", str(STACK), "start"], check=True, cwd=ROOT)
    exports = subprocess.run(["bash", str(STACK), "env"], check=True, cwd=ROOT,
                             capture_output=True, text=True).stdout
    values = dict(line.removeprefix("export ").split("=", 1)
                  for line in exports.splitlines() if line.startswith("export "))
    return values["KAFKA_BOOTSTRAP_SERVERS"], values["DATABASE_URL"]


def _fresh_database(database_url: str) -> str:
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (TEST_DATABASE,))
        connection.execute(f'DROP DATABASE IF EXISTS "{TEST_DATABASE}"')
        connection.execute(f'CREATE DATABASE "{TEST_DATABASE}"')
    url = urlparse(database_url)
    return urlunparse(url._replace(path=f"/{TEST_DATABASE}"))


async def _fresh_topics(bootstrap_servers: str) -> None:
    await delete_topics(bootstrap_servers)
    await create_topics(bootstrap_servers, TEST_PARTITIONS)


def prepare() -> Infrastructure:
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    database_url = os.environ.get("DATABASE_URL")
    if not kafka or not database_url:
        kafka, database_url = _servers_from_stack()
    asyncio.run(_fresh_topics(kafka))
    return Infrastructure(
        kafka_bootstrap_servers=kafka,
        database_url=_fresh_database(database_url),
        # New consumer groups: no offset from an earlier session can skip a record.
        group_suffix=f"-test-{uuid.uuid4().hex[:8]}",
    )
