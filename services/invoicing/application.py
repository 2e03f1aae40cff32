"""Invoicing's write side: the ERP's customers, orders and invoices in; receivable
documents out.

The application is composed of the ERP intake (intake.py) and the corrections of
people and dunning (corrections.py), on the shared issuing steps (issuing.py). Each
command stores its aggregates' new events, with the consumed Kafka position when
there is one, in a single transaction.
"""

from __future__ import annotations

from .corrections import DocumentCorrections
from .intake import ErpIntake
from .publishing import to_integration_events


class InvoicingApplication(ErpIntake, DocumentCorrections):
    name = "invoicing"


__all__ = ["InvoicingApplication", "to_integration_events"]
