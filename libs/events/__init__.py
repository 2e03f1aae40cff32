"""The contract between services: events, their envelope, topics and Money."""

from .base import EVENT_TYPES, IntegrationEvent, upcaster
from .catalogue import (
    CustomerUpserted,
    InvoiceIssued,
    InvoiceLine,
    OrderLine,
    OrderShipped,
    PaymentApplied,
    PaymentReceived,
    PaymentReturned,
    PaymentUnapplied,
    RefundIssued,
)
from .codec import InvalidEvent, KafkaRecord, decode, encode
from .envelope import Envelope
from .money import Money, UnknownCurrency

__all__ = [
    "EVENT_TYPES", "CustomerUpserted", "Envelope", "IntegrationEvent", "InvalidEvent",
    "InvoiceIssued", "InvoiceLine", "KafkaRecord", "Money", "OrderLine", "OrderShipped",
    "PaymentApplied", "PaymentReceived", "PaymentReturned", "PaymentUnapplied", "RefundIssued",
    "UnknownCurrency", "decode", "encode", "upcaster",
]
