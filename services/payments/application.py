"""Payments' write side: record a payment once, whoever reports it and however often;
import bank statements whole or not at all; record returns and refunds."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date
from typing import TypeVar
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError
from pydantic import BaseModel, ConfigDict, Field

from libs.events import IntegrationEvent, Money, PaymentReceived, PaymentReturned, RefundIssued
from libs.events.money import Amount, Currency
from libs.runtime.causation import Causation
from libs.runtime.clock import Clock, SystemClock
from libs.runtime.eventstore import ReceivablesApplication, UnitOfWork

from .domain import (
    BANK_REFERENCE,
    END_TO_END_ID,
    Payment,
    PaymentReference,
    PaymentReturn,
    return_reason,
)
from .statement_import import (
    ImportSummary,
    LineKind,
    StatementImported,
    business_date,
    check_importable,
    line_kind,
)
from .statements import PRESETS, CsvMapping, Statement, StatementLine, parse_statement

T = TypeVar("T")

# Two commands racing on one aggregate: the loser's transaction is refused whole and
# simply runs again on the new state.
CONFLICT_RETRIES = 5


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
    end_to_end_id: str | None = Field(default=None, max_length=140)
    creditor_references: tuple[str, ...] = ()


class ConflictingPayment(ValueError):
    """The reference was already used for a different payment."""


class UnknownPayment(LookupError):
    """No payment of this tenant has that id."""


def csv_mapping_named(preset: str | None) -> CsvMapping | None:
    """The CSV column mapping of a preset name, as the CLI, the API and the inbox take it."""
    if preset is None:
        return None
    if preset not in PRESETS:
        raise ValueError(f"unknown CSV mapping {preset!r}; use one of {sorted(PRESETS)}")
    return PRESETS[preset]


class PaymentsApplication(ReceivablesApplication):
    name = "payments"
    clock: Clock = SystemClock()

    def record_payment(self, command: RecordPayment, causation: Causation) -> tuple[Payment, bool]:
        """Returns the payment and whether it is new."""

        def record(work: UnitOfWork) -> tuple[Payment, bool]:
            existing = work.get(Payment.create_id(causation.tenant, command.reference))
            if isinstance(existing, Payment):
                if (existing.amount, existing.currency, existing.value_date) != (
                        command.amount, command.currency, command.value_date):
                    raise ConflictingPayment(
                        f"reference {command.reference!r} was already recorded for "
                        f"{existing.amount} {existing.currency} on {existing.value_date}")
                return existing, False
            payment = Payment(tenant=causation.tenant, causation=causation.as_dict(),
                              **command.model_dump())
            self._receive(work, payment, causation)
            return payment, True

        return self._in_one_transaction(record)

    def import_statement(self, data: bytes, format: str | None, csv_mapping: CsvMapping | None,
                         causation: Causation) -> ImportSummary:
        """Record every payment and return of a bank statement file, once.

        Raises `StatementRejected` naming the place in the file when it cannot be read,
        its balances do not add up, or a line cannot be recorded; nothing is stored then.
        """
        statements = parse_statement(data, format, csv_mapping)
        for statement in statements:
            check_importable(statement)
        return self._in_one_transaction(lambda work: ImportSummary.of(
            [self._book(work, statement, causation) for statement in statements]))

    def issue_refund(self, payment_id: str, amount: Money, reason: str, actor: str,
                     causation: Causation, refund_id: str | None = None) -> tuple[str, Payment]:
        """Pay back part or all of a payment. A `refund_id` already issued on the payment
        is not issued again, so a client may safely retry. Raises `RefundRefused` for
        more than the payment has left, `UnknownPayment` for a payment not of this tenant."""
        refund_id = refund_id or str(uuid.uuid4())
        causation = replace(causation, actor=actor)

        def refund(work: UnitOfWork) -> Payment:
            payment = self._payment(work, payment_id, causation.tenant)
            if refund_id not in payment.refund_ids:
                payment.issue_refund(refund_id, amount.amount, amount.currency, reason, actor,
                                     self.clock.today(), causation.as_dict())
            return payment

        return refund_id, self._in_one_transaction(refund)

    def payment(self, payment_id: str, tenant: str) -> Payment:
        return self._payment(UnitOfWork(self), payment_id, tenant)

    # --- inside one transaction ---------------------------------------------------------

    def _in_one_transaction(self, command: Callable[[UnitOfWork], T]) -> T:
        for attempt in range(1, CONFLICT_RETRIES + 1):
            work = UnitOfWork(self)
            result = command(work)
            try:
                self.record(None, *work.aggregates)
                return result
            except IntegrityError:
                if attempt == CONFLICT_RETRIES:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _payment(work: UnitOfWork, payment_id: str, tenant: str) -> Payment:
        try:
            payment = work.get(UUID(payment_id))
        except ValueError:
            payment = None
        if not isinstance(payment, Payment) or payment.tenant != tenant:
            raise UnknownPayment(f"no payment {payment_id}")
        return payment

    def _book(self, work: UnitOfWork, statement: Statement,
              causation: Causation) -> StatementImported:
        counts: Counter[str] = Counter()
        for line in statement.lines:
            kind = line_kind(line)
            if kind is LineKind.PAYMENT:
                counts["new" if self._receive_line(work, statement, line, causation)
                       else "duplicates"] += 1
            elif kind is LineKind.RETURN:
                counts["returns" if self._record_return(work, statement, line, causation)
                       else "duplicates"] += 1
            else:
                counts["ignored"] += 1
        return StatementImported(
            statement_id=statement.statement_id, account=statement.account,
            currency=statement.currency, format=statement.format, lines=len(statement.lines),
            new=counts["new"], duplicates=counts["duplicates"], returns=counts["returns"],
            ignored=counts["ignored"])

    def _receive_line(self, work: UnitOfWork, statement: Statement, line: StatementLine,
                      causation: Causation) -> bool:
        payment_id = Payment.create_id(causation.tenant, None, line.line_id)
        if work.get(payment_id) is not None:
            return False
        value_date = business_date(line)
        assert value_date is not None  # check_importable refused the file otherwise
        self._receive(work, Payment(
            tenant=causation.tenant, reference=line.bank_reference,
            customer_id=None, amount=line.amount, currency=line.currency,
            value_date=value_date, booking_date=line.booking_date, payer_name=line.payer_name,
            payer_account=line.payer_account, remittance_text=line.remittance_unstructured,
            causation=causation.as_dict(), end_to_end_id=line.end_to_end_id,
            creditor_references=line.creditor_references,
            statement_id=statement.statement_id, line_id=line.line_id), causation)
        return True

    @staticmethod
    def _receive(work: UnitOfWork, payment: Payment, causation: Causation) -> None:
        """Store the payment, findable by the references a later return quotes."""
        work.add(payment)
        for kind, value in ((END_TO_END_ID, payment.end_to_end_id),
                            (BANK_REFERENCE, payment.reference)):
            if not value:
                continue
            reference = work.get(PaymentReference.create_id(payment.tenant, kind, value))
            if reference is None:
                work.add(PaymentReference(tenant=payment.tenant, kind=kind, value=value,
                                          payment_id=str(payment.id),
                                          causation=causation.as_dict()))
            elif isinstance(reference, PaymentReference) and reference.payment_id not in (
                    None, str(payment.id)):
                # Once shared the reference names no single payment; one event says so.
                reference.also_used_by(payment_id=str(payment.id), causation=causation.as_dict())

    def _record_return(self, work: UnitOfWork, statement: Statement, line: StatementLine,
                       causation: Causation) -> bool:
        return_id = PaymentReturn.create_id(causation.tenant, line.line_id)
        if work.get(return_id) is not None:
            return False
        original = self._original_of(work, causation.tenant, line)
        reason = return_reason(line.return_reason,
                               line.additional_info or line.remittance_unstructured)
        returned_on = line.booking_date or line.value_date
        assert returned_on is not None  # check_importable refused the file otherwise
        work.add(PaymentReturn(
            tenant=causation.tenant, line_id=line.line_id, statement_id=statement.statement_id,
            payment_id=str(original.id) if original else None,
            customer_id=original.customer_id if original else None,
            amount=line.amount, currency=line.currency, returned_on=returned_on,
            kind=reason.kind, reason_code=reason.code, reason_text=reason.text,
            payer_account=original.payer_account if original else line.payer_account,
            bank_reference=line.bank_reference, end_to_end_id=line.end_to_end_id,
            causation=causation.as_dict()))
        if original is not None:
            original.link_return(return_id=str(return_id), amount=line.amount,
                                 causation=causation.as_dict())
        return True

    @staticmethod
    def _original_of(work: UnitOfWork, tenant: str, line: StatementLine) -> Payment | None:
        """The payment a return takes back: the one with its end-to-end id, else with its
        bank reference, in the same currency."""
        for kind, value in ((END_TO_END_ID, line.end_to_end_id),
                            (BANK_REFERENCE, line.bank_reference)):
            if not value:
                continue
            reference = work.get(PaymentReference.create_id(tenant, kind, value))
            if not isinstance(reference, PaymentReference) or reference.payment_id is None:
                continue
            payment = work.get(UUID(reference.payment_id))
            if isinstance(payment, Payment) and payment.currency == line.currency:
                return payment
        return None


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
            # Payments recorded before statement import carry neither.
            end_to_end_id=getattr(domain_event, "end_to_end_id", None),
            creditor_references=tuple(getattr(domain_event, "creditor_references", ())),
        )
    elif isinstance(domain_event, PaymentReturn.Recorded):
        yield PaymentReturned(
            return_id=str(domain_event.originator_id),
            payment_id=domain_event.payment_id,
            customer_id=domain_event.customer_id,
            amount=Money.of(domain_event.amount, domain_event.currency),
            returned_on=domain_event.returned_on,
            kind=domain_event.kind,
            reason_code=domain_event.reason_code,
            reason_text=domain_event.reason_text,
            payer_account=domain_event.payer_account,
            bank_reference=domain_event.bank_reference,
            end_to_end_id=domain_event.end_to_end_id,
        )
    elif isinstance(domain_event, Payment.RefundIssued):
        yield RefundIssued(
            refund_id=domain_event.refund_id,
            payment_id=str(domain_event.originator_id),
            customer_id=domain_event.customer_id,
            amount=Money.of(domain_event.amount, domain_event.currency),
            issued_on=domain_event.issued_on,
            reason=domain_event.reason,
            requested_by=domain_event.requested_by,
            payer_account=domain_event.payer_account,
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
        "refunded": str(payment.refunded),
        "returned": str(payment.returned),
        "refundable": str(payment.refundable),
    }
