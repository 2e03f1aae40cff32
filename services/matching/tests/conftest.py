from __future__ import annotations

import pytest

from libs.runtime.eventstore import open_in_memory
from services.matching.application import MatchingApplication

from .given import Feed


@pytest.fixture
def matching() -> MatchingApplication:
    return open_in_memory(MatchingApplication)


@pytest.fixture
def given(matching: MatchingApplication) -> Feed:
    return Feed(matching)
