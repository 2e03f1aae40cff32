from __future__ import annotations

import pytest

from services.invoicing.application import InvoicingApplication

from .builders import Offsets, invoicing_app


@pytest.fixture
def invoicing() -> InvoicingApplication:
    return invoicing_app()


@pytest.fixture
def at() -> Offsets:
    return Offsets()
