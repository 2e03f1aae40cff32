"""The base of every integration event and the registry of their stable type names.

The type name travels in the `ce_type` header and never depends on the Python
module path, so moving or renaming a class does not break stored history.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

EVENT_TYPES: dict[str, type[IntegrationEvent]] = {}

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
# (event type, version it reads) -> function returning the body at version + 1
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class IntegrationEvent(BaseModel):
    """A fact one service publishes for others. Frozen; unknown fields are refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    topic: ClassVar[str]
    current_version: ClassVar[int] = 1

    version: int

    def __init_subclass__(cls, *, event_type: str = "", topic: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not event_type:
            return
        if event_type in EVENT_TYPES:
            raise TypeError(f"event type {event_type!r} is registered twice")
        cls.event_type = event_type
        cls.topic = topic
        EVENT_TYPES[event_type] = cls

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        version_field = cls.model_fields.get("version")
        if version_field is not None and version_field.default is not None:
            cls.current_version = version_field.default

    @property
    def partition_key(self) -> str:
        """The customer account id: all of one customer's events share a partition."""
        return self.customer_id  # type: ignore[attr-defined]


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register a function that lifts a stored body from one version to the next."""

    def register(function: Upcaster) -> Upcaster:
        UPCASTERS[(event_type, from_version)] = function
        return function

    return register


def upcast(event_type: str, body: dict[str, Any]) -> dict[str, Any]:
    event_class = EVENT_TYPES[event_type]
    version = int(body.get("version", 1))
    while version < event_class.current_version:
        lift = UPCASTERS.get((event_type, version))
        if lift is None:
            raise LookupError(f"no upcaster for {event_type} v{version}")
        body = lift(body)
        version = int(body["version"])
    return body
