"""Payments' write side: record a payment once, whoever reports it and however often."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date


from eventsourcing.domain import DomainEventProtocol
from pydantic import BaseModel, ConfigDict, Field

from libs.events import IntegrationEvent, Money, PaymentReceived
from libs.events.money import Amount, Currency
from libs.runtime.causation import Causation
from libs.runtime.eventstore import ReceivablesApplication

from .domain import Payment


class RecordPayment(BaseModel):
    """A command: record this payment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reference: str = Field(min_length=1, max_length=140,
                           description="the bank's reference, or your idempotency key")
    amount: Amount = Field(gt=0)
    currency: Currency
    value_date: date
    booking_date: date | None = None
    customer_id: str | None = None
    payer_name: str | None = None
    payer_account: str | None = None
    remittance_text: str | None = None


class ConflictingPayment(ValueError):
    """The reference was already used for a different payment."""


class PaymentsApplication(ReceivablesApplication):
    name = "payments"

    def record_payment(self, command: RecordPayment, causation: Causation) -> tuple[Payment, bool]:
        """Returns the payment and whether it is new."""
        payment_id = Payment.create_id(causation.tenant, command.reference)
        existing = self.get_or_none(payment_id)
        if existing is not None:
            if (existing.amount, existing.currency, existing.value_date) != (
                    command.amount, command.currency, command.value_date):
                raise ConflictingPayment(
                    f"reference {command.reference!r} was already recorded for "
                    f"{existing.amount} {existing.currency} on {existing.value_date}")
            return existing, False
        payment = Payment(tenant=causation.tenant, causation=causation.as_dict(),
                          **command.model_dump())
        self.record(None, payment)
        return payment, True


def to_integration_events(domain_event: DomainEventProtocol) -> Iterable[IntegrationEvent]:
    if isinstance(domain_event, Payment.Received):
        yield PaymentReceived(
            payment_id=str(domain_event.originator_id),
            customer_id=domain_event.customer_id,
            amount=Money.of(domain_event.amount, domain_event.currency),
            value_date=domain_event.value_date,
            booking_date=domain_event.booking_date,
            payer_name=domain_event.payer_name,
            payer_account=domain_event.payer_account,
            remittance_text=domain_event.remittance_text,
            bank_reference=domain_event.reference,
        )


def payment_view(payment: Payment) -> dict[str, object]:
    return {
        "payment_id": str(payment.id),
        "reference": payment.reference,
        "amount": str(payment.amount),
        "currency": payment.currency,
        "value_date": payment.value_date.isoformat(),
        "customer_id": payment.customer_id,
        "payer_name": payment.payer_name,
        "remittance_text": payment.remittance_text,
    }


