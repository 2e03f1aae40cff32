"""CloudEvents 1.0 attributes carried in Kafka headers (binary content mode).

The body is the event model as JSON; the headers say what it is, where it came
from, whose ledger it belongs to (`tenant`) and which trace it continues.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"


class MissingHeader(ValueError):
    pass


def ce_time(moment: datetime) -> str:
    """`moment` as the ce_time header carries it: ISO 8601 in UTC, with a Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    type: str = Field(min_length=1)
    source: str = Field(min_length=1)
    time: datetime
    subject: str = Field(min_length=1, description="the customer account id (partition key)")
    tenant: str = Field(min_length=1, description="the legal entity whose ledger this is")
    traceparent: str | None = None
    tracestate: str | None = None

    def to_headers(self) -> list[tuple[str, bytes]]:
        headers = {
            "ce_specversion": SPEC_VERSION,
            "ce_id": self.id,
            "ce_type": self.type,
            "ce_source": self.source,
            "ce_time": ce_time(self.time),
            "ce_subject": self.subject,
            "content-type": CONTENT_TYPE,
            "tenant": self.tenant,
        }
        if self.traceparent:
            headers["traceparent"] = self.traceparent
        if self.tracestate:
            headers["tracestate"] = self.tracestate
        return [(name, value.encode()) for name, value in headers.items()]

    @classmethod
    def from_headers(cls, headers: Iterable[tuple[str, bytes]]) -> Envelope:
        # Kafka allows a header without a value; such a header carries nothing we read.
        values = {name: value.decode("utf-8", "replace") for name, value in headers
                  if value is not None}
        required = ("ce_id", "ce_type", "ce_source", "ce_time", "ce_subject", "tenant")
        missing = [name for name in required if not values.get(name)]
        if missing:
            raise MissingHeader(f"missing header(s): {', '.join(missing)}")
        try:
            return cls(
                id=values["ce_id"],
                type=values["ce_type"],
                source=values["ce_source"],
                time=values["ce_time"],
                subject=values["ce_subject"],
                tenant=values["tenant"],
                traceparent=values.get("traceparent"),
                tracestate=values.get("tracestate"),
            )
        except ValidationError as error:
            raise MissingHeader(f"bad header: {error.errors()[0]['msg']}") from None
