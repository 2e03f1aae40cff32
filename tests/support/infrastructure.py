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
TEST_PARTITIONS = 3
ANALYST_PASSWORD = "analyst-in-tests"


@dataclass(frozen=True)
class Infrastructure:
    """One test session's own corner of the servers: its topics (a prefix), its database,
    its consumer groups. Sessions running side by side never see each other's events."""

    kafka_bootstrap_servers: str
    server_database_url: str
    session: str

    @property
    def topic_prefix(self) -> str:
        return f"{self.session}."

    @property
    def database_name(self) -> str:
        return f"receivables_{self.session}"

    @property
    def database_url(self) -> str:
        url = urlparse(self.server_database_url)
        return urlunparse(url._replace(path=f"/{self.database_name}"))

    def service_environment(self) -> dict[str, str]:
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            "DATABASE_URL": self.database_url,
            "KAFKA_TOPIC_PREFIX": self.topic_prefix,
            "KAFKA_GROUP_SUFFIX": f"-{self.session}",
            "KAFKA_TOPIC_PARTITIONS": str(TEST_PARTITIONS),
            "ANALYST_DATABASE_PASSWORD": ANALYST_PASSWORD,
        }

    @property
    def analyst_database_url(self) -> str:
        url = urlparse(self.database_url)
        netloc = f"ar_analyst:{ANALYST_PASSWORD}@{url.hostname}:{url.port}"
        return urlunparse(url._replace(netloc=netloc))


def _servers_from_stack() -> tuple[str, str]:
    subprocess.run(["bash", str(STACK), "start"], check=True, cwd=ROOT)
    exports = subprocess.run(["bash", str(STACK), "env"], check=True, cwd=ROOT,
                             capture_output=True, text=True).stdout
    values = dict(line.removeprefix("export ").split("=", 1)
                  for line in exports.splitlines() if line.startswith("export "))
    return values["KAFKA_BOOTSTRAP_SERVERS"], values["DATABASE_URL"]


def prepare() -> Infrastructure:
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    database_url = os.environ.get("DATABASE_URL")
    if not kafka or not database_url:
        kafka, database_url = _servers_from_stack()
    infrastructure = Infrastructure(kafka, database_url, session=f"test_{uuid.uuid4().hex[:8]}")
    # This process (the tests playing the ERP, reading topics) uses the same prefix.
    os.environ["KAFKA_TOPIC_PREFIX"] = infrastructure.topic_prefix
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{infrastructure.database_name}"')
    asyncio.run(create_topics(kafka, TEST_PARTITIONS))
    return infrastructure


def tear_down(infrastructure: Infrastructure) -> None:
    asyncio.run(delete_topics(infrastructure.kafka_bootstrap_servers))
    with psycopg.connect(infrastructure.server_database_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{infrastructure.database_name}" '
                           "WITH (FORCE)")
