"""Fixtures every test folder may use."""

from __future__ import annotations

import pytest

from libs.sample_data import SampleInvoice, load_ibm_sample


@pytest.fixture(scope="session")
def ibm_sample() -> list[SampleInvoice]:
    """The 2,466 settled invoices of the IBM sample; missing data fails, never skips."""
    invoices = load_ibm_sample()
    assert len(invoices) == 2466
    return invoices
