"""Settings from the environment (twelve-factor), shared by every service."""

from __future__ import annotations

from urllib.parse import unquote, urlparse

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_KAFKA = "127.0.0.1:19092"
DEFAULT_DATABASE_URL = "postgresql://ar:ar@127.0.0.1:15432/receivables"


class ServiceSettings(BaseSettings):
    """Every field can be set by the upper-case environment variable of its name."""

    model_config = SettingsConfigDict(extra="ignore")

    service_name: str = "service"
    default_tenant: str = "acme"
    kafka_bootstrap_servers: str = DEFAULT_KAFKA
    kafka_topic_partitions: int = 3
    # A consumer-group suffix lets two deployments share a cluster without sharing offsets.
    kafka_group_suffix: str = ""
    database_url: str = DEFAULT_DATABASE_URL
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    relay_enabled: bool = True
    relay_poll_interval_ms: int = 50
    relay_batch_size: int = 500
    # How often an event whose handling raised an unexpected error is retried before it
    # is dead-lettered, so a poison message never stops its partition.
    max_delivery_attempts: int = 5
    # Most records a batching consumer applies in one transaction (when they are ready).
    consumer_batch_size: int = 200
    # Seconds between Kafka offset commits; what was applied is known from the database.
    offset_commit_interval: float = 0.1
    # Aggregates kept in memory between commands (brought up to date from the store
    # before each use, copied so a refused command leaves no trace): loading a
    # long-lived account then reads its new events only, not its whole history.
    aggregate_cache_size: int = 10_000
    otel_exporter_otlp_endpoint: str | None = None
    log_level: str = "INFO"

    @property
    def consumer_group(self) -> str:
        return f"{self.service_name}{self.kafka_group_suffix}"

    @property
    def database_schema(self) -> str:
        return self.service_name


def postgres_parts(database_url: str) -> dict[str, str]:
    """Split a postgresql:// URL into the parts the eventsourcing library reads."""
    url = urlparse(database_url)
    if url.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"DATABASE_URL must be a postgresql:// URL, got {url.scheme!r}")
    return {
        "POSTGRES_HOST": url.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": unquote(url.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
        "POSTGRES_DBNAME": url.path.lstrip("/") or "postgres",
    }
