"""Aggregate ids derived from business keys.

The same business fact (tenant T's order O, shipment S) always maps to the same
aggregate id, so an event that arrives twice, even re-published under a new
Kafka offset, can only ever create the aggregate once.
"""

from __future__ import annotations

import uuid
from functools import lru_cache

_NAMESPACE = uuid.UUID("0c5b1a9e-3f0d-4d2a-8a0e-6f7e2c1b9d41")


@lru_cache(maxsize=100_000)  # a hot path: every command derives the ids it loads
def stable_id(*parts: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, "/".join(parts))
