"""Payments that card and online payment providers report to us by webhook.

The provider signs the raw request body with the shared secret (HMAC-SHA256) and
sends `X-Signature: sha256=<hex>`. Only a body whose signature matches is read;
anyone can reach the endpoint, so an unsigned body must change nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from libs.events.money import Amount, Currency

from .application import RecordPayment

SIGNATURE_PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The header value a provider sends for this body."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_is_valid(secret: str, body: bytes, header: str | None) -> bool:
    if not secret or not header or not header.startswith(SIGNATURE_PREFIX):
        return False
    # Constant-time comparison: timing must not reveal how much of a forgery was right.
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())


class ProviderPayment(BaseModel):
    """A settled card or online payment, as the provider reports it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    provider: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_-]+$",
                          description="who reports it, e.g. stripe, adyen, paypal")
    payment_id: str = Field(min_length=1, max_length=90,
                            description="the provider's id of the payment")
    amount: Amount = Field(gt=0)
    currency: Currency
    paid_on: date = Field(description="the day the provider settled it to us")
    customer_id: str | None = None
    payer_name: str | None = None
    description: str | None = Field(default=None, description="what the payer paid for")

    def as_command(self) -> RecordPayment:
        # The provider's id is unique per provider, and the provider re-sends a webhook
        # until we answer 2xx: the reference makes each re-send the same payment.
        return RecordPayment(
            reference=f"{self.provider}:{self.payment_id}", amount=self.amount,
            currency=self.currency, value_date=self.paid_on, customer_id=self.customer_id,
            payer_name=self.payer_name, remittance_text=self.description)
