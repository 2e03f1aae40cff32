"""Payments' aggregates and rules: cash received, returned and refunded.

Pure: no I/O. Amounts are Decimals in the payment's currency; every event carries
the causation (tenant, trace, who asked) the outbox relay publishes it under.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from libs.events.money import MINOR_UNITS
from libs.runtime.ids import stable_id


class RefundRefused(ValueError):
    """A refund the payment cannot give: more than is left of it, or in another currency."""


class Payment(Aggregate):
    """Cash received. Its id comes from the bank reference (or the caller's idempotency
    key), or from the bank statement line that reported it, so the same payment
    reported twice is recorded once."""

    TOPIC = "payments.Payment"

    class Created(Aggregate.Created):
        """Base of the creation event; named so no stored name depends on a module path."""

        TOPIC = "payments.Payment.Created"

    @staticmethod
    def create_id(tenant: str, reference: str | None, line_id: str | None = None) -> UUID:
        """A statement line's id is the same in every file that reports the line, so a
        re-sent or overlapping statement finds the payment it already created."""
        if line_id:
            return stable_id(tenant, "statement-line-payment", line_id)
        if not reference:
            raise ValueError("a payment needs a reference or the statement line reporting it")
        return stable_id(tenant, "payment", reference)

    # Fields after `causation` came with statement import; they have defaults because
    # events stored before then do not carry them.
    @event("Received", topic="payments.Payment.Received")
    def __init__(self, tenant: str, reference: str | None, customer_id: str | None,
                 amount: Decimal, currency: str, value_date: date, booking_date: date | None,
                 payer_name: str | None, payer_account: str | None,
                 remittance_text: str | None, causation: dict[str, Any],
                 end_to_end_id: str | None = None, creditor_references: tuple[str, ...] = (),
                 statement_id: str | None = None, line_id: str | None = None) -> None:
        self.tenant = tenant
        self.reference = reference
        self.customer_id = customer_id
        self.amount = amount
        self.currency = currency
        self.value_date = value_date
        self.booking_date = booking_date
        self.payer_name = payer_name
        self.payer_account = payer_account
        self.remittance_text = remittance_text
        self.end_to_end_id = end_to_end_id
        self.creditor_references = tuple(creditor_references)
        self.statement_id = statement_id
        self.line_id = line_id
        # Zero written like the amount (0.00 EUR, 0 JPY), so views and refusals read well.
        self.refunded = self.returned = Decimal(0).quantize(Decimal(amount))
        self.refund_ids: list[str] = []

    @property
    def refundable(self) -> Decimal:
        """What can still be paid back: money already returned by the bank or refunded
        is no longer here to give."""
        return self.amount - self.refunded - self.returned

    def issue_refund(self, refund_id: str, amount: Decimal, currency: str, reason: str,
                     requested_by: str, issued_on: date, causation: dict[str, Any]) -> None:
        if currency != self.currency:
            raise RefundRefused(f"the payment was received in {self.currency}, "
                                f"not {currency}")
        if amount <= 0 or amount != amount.quantize(Decimal(1).scaleb(-MINOR_UNITS[currency])):
            raise RefundRefused(f"{amount} {currency} is not an amount that can be paid")
        if not reason.strip() or not requested_by.strip():
            raise RefundRefused("a refund needs a reason and the name of who asked for it")
        if amount > self.refundable:
            raise RefundRefused(
                f"cannot refund {amount} {currency}: the payment received {self.amount} "
                f"{self.currency}, of which {self.refunded} was refunded and {self.returned} "
                f"returned, so at most {self.refundable} {self.currency} can be refunded")
        self._refund_issued(refund_id=refund_id, amount=amount, currency=currency,
                            reason=reason.strip(), requested_by=requested_by.strip(),
                            issued_on=issued_on, customer_id=self.customer_id,
                            payer_account=self.payer_account, causation=causation)

    # The payer's account and customer travel with the refund, so it is published on the
    # payment's partition and says where the money goes.
    @event("RefundIssued", topic="payments.Payment.RefundIssued")
    def _refund_issued(self, refund_id: str, amount: Decimal, currency: str, reason: str,
                       requested_by: str, issued_on: date, customer_id: str | None,
                       payer_account: str | None, causation: dict[str, Any]) -> None:
        self.refunded += amount
        self.refund_ids.append(refund_id)

    @event("ReturnLinked", topic="payments.Payment.ReturnLinked")
    def link_return(self, return_id: str, amount: Decimal, causation: dict[str, Any]) -> None:
        """The bank took (part of) this payment back; the PaymentReturn says how and why."""
        self.returned += amount


class PaymentReturn(Aggregate):
    """A return the bank booked: money that had come in went back to the payer."""

    TOPIC = "payments.PaymentReturn"

    class Created(Aggregate.Created):
        TOPIC = "payments.PaymentReturn.Created"

    @staticmethod
    def create_id(tenant: str, line_id: str) -> UUID:
        return stable_id(tenant, "payment-return", line_id)

    @event("Recorded", topic="payments.PaymentReturn.Recorded")
    def __init__(self, tenant: str, line_id: str, statement_id: str, payment_id: str | None,
                 customer_id: str | None, amount: Decimal, currency: str, returned_on: date,
                 kind: str, reason_code: str | None, reason_text: str | None,
                 payer_account: str | None, bank_reference: str | None,
                 end_to_end_id: str | None, causation: dict[str, Any]) -> None:
        self.tenant = tenant
        self.line_id = line_id
        self.payment_id = payment_id
        self.amount = amount
        self.currency = currency
        self.kind = kind


END_TO_END_ID = "end-to-end-id"
BANK_REFERENCE = "bank-reference"


class PaymentReference(Aggregate):
    """Which payment a bank reference or end-to-end id belongs to, so that a return,
    which quotes the original's reference, finds the payment it takes back."""

    TOPIC = "payments.PaymentReference"

    class Created(Aggregate.Created):
        TOPIC = "payments.PaymentReference.Created"

    @staticmethod
    def create_id(tenant: str, kind: str, value: str) -> UUID:
        return stable_id(tenant, "payment-reference", kind, value)

    @event("Indexed", topic="payments.PaymentReference.Indexed")
    def __init__(self, tenant: str, kind: str, value: str, payment_id: str,
                 causation: dict[str, Any]) -> None:
        self.payment_ids = [payment_id]

    @event("AlsoUsed", topic="payments.PaymentReference.AlsoUsed")
    def also_used_by(self, payment_id: str, causation: dict[str, Any]) -> None:
        self.payment_ids.append(payment_id)

    @property
    def payment_id(self) -> str | None:
        """The one payment with this reference; None when several share it (a batch
        reference), since linking a return to the wrong one is worse than to none."""
        return self.payment_ids[0] if len(set(self.payment_ids)) == 1 else None


# --- what a return is, in a collector's words -------------------------------------------

NSF, CHARGEBACK, RETURNED = "nsf", "chargeback", "returned"

# ISO 20022 ExternalReturnReason1Code and NACHA return codes seen on statements; the
# kind decides what a collector does next (ask for new funds, dispute, or fix details).
_REASONS: dict[str, tuple[str, str]] = {
    "AC01": (RETURNED, "incorrect account number"),
    "AC04": (RETURNED, "account closed"),
    "AC06": (RETURNED, "account blocked"),
    "AG01": (RETURNED, "transaction forbidden on this account"),
    "AM04": (NSF, "insufficient funds"),
    "AM05": (RETURNED, "duplicate payment"),
    "MD01": (CHARGEBACK, "no valid mandate"),
    "MD06": (CHARGEBACK, "refund requested by the payer"),
    "MD07": (RETURNED, "payer deceased"),
    "MS02": (RETURNED, "refused by the payer"),
    "MS03": (RETURNED, "reason not specified"),
    "SL01": (RETURNED, "specific service offered by the payer's bank"),
    "NSF": (NSF, "insufficient funds"),
    "R01": (NSF, "insufficient funds"),
    "R02": (RETURNED, "account closed"),
    "R03": (RETURNED, "no account / unable to locate account"),
    "R04": (RETURNED, "invalid account number"),
    "R05": (CHARGEBACK, "unauthorised debit to a consumer account"),
    "R07": (CHARGEBACK, "authorisation revoked by the payer"),
    "R08": (RETURNED, "payment stopped"),
    "R09": (NSF, "uncollected funds"),
    "R10": (CHARGEBACK, "payer says the debit was not authorised"),
    "R29": (CHARGEBACK, "corporate payer says the debit was not authorised"),
}


@dataclass(frozen=True)
class ReturnReason:
    kind: str
    code: str | None
    text: str | None


def return_reason(code: str | None, bank_text: str | None) -> ReturnReason:
    """The kind and words of a return from the bank's reason code; the bank's own text
    when the code is not one we know."""
    known = _REASONS.get((code or "").strip().upper())
    if known is None:
        return ReturnReason(RETURNED, code, bank_text)
    kind, text = known
    return ReturnReason(kind, code, text)
