"""The event contract's tests read topics by their contract names: a topic prefix that
a session's other tests set (tests/support/infrastructure.py) must not leak in."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def no_topic_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_TOPIC_PREFIX", raising=False)
