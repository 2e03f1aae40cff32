"""The contract between services: events, their envelope, topics and Money."""

from .base import EVENT_TYPES, IntegrationEvent, upcaster
from .catalogue import *  # noqa: F403
from .catalogue import __all__ as _catalogue
from .codec import InvalidEvent, KafkaRecord, decode, encode
from .envelope import Envelope
from .money import Money, UnknownCurrency

__all__ = ["EVENT_TYPES", "Envelope", "IntegrationEvent", "InvalidEvent", "KafkaRecord", "Money",
           "UnknownCurrency", "decode", "encode", "upcaster", *_catalogue]
