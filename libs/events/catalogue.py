"""The event catalogue: every integration event, one module per bounded context.

Business dates (shipped_on, issue_date, due_date, value_date) are dates, kept
apart from the moment an event was recorded, which travels in `ce_time`.
Importing this module registers every event type.
"""

from .erp import CustomerUpserted, OrderLine, OrderShipped
from .invoicing import InvoiceIssued, InvoiceLine
from .matching import PaymentApplied, PaymentUnapplied
from .payments import PaymentReceived, PaymentReturned, RefundIssued

__all__ = ["CustomerUpserted", "InvoiceIssued", "InvoiceLine", "OrderLine", "OrderShipped",
           "PaymentApplied", "PaymentReceived", "PaymentReturned", "PaymentUnapplied", "RefundIssued"]
