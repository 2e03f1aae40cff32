"""Matching's write side: invoices open, payments arrive, applications are decided."""

from __future__ import annotations

from collections.abc import Iterable

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Tracking

from libs.events import IntegrationEvent, InvoiceIssued, Money, PaymentApplied, PaymentReceived, PaymentUnapplied
from libs.runtime.causation import Causation
from libs.runtime.eventstore import ReceivablesApplication
from libs.runtime.ids import stable_id

from .domain import REMITTANCE_INVOICE_NUMBER, CashReceipt, OpenInvoice, allocate, invoice_number_candidates


class MatchingApplication(ReceivablesApplication):
    name = "matching"

    def open_invoice(self, issued: InvoiceIssued, causation: Causation,
                     tracking: Tracking | None = None) -> None:
        invoice_id = OpenInvoice.create_id(causation.tenant, issued.invoice_number)
        if self.exists(invoice_id):
            self.record(tracking)
            return
        invoice = OpenInvoice(tenant=causation.tenant, invoice_number=issued.invoice_number,
                              invoice_id=issued.invoice_id, customer_id=issued.customer_id,
                              currency=issued.total.currency, total=issued.total.amount,
                              due_date=issued.due_date, causation=causation.as_dict())
        self.record(tracking, invoice)

    def apply_payment(self, payment: PaymentReceived, causation: Causation,
                      tracking: Tracking | None = None) -> None:
        cause = causation.as_dict()
        if self.exists(CashReceipt.create_id(causation.tenant, payment.payment_id)):
            self.record(tracking)
            return
        receipt = CashReceipt(tenant=causation.tenant, payment_id=payment.payment_id,
                              customer_id=payment.customer_id, amount=payment.amount.amount,
                              currency=payment.amount.currency, value_date=payment.value_date,
                              remittance_text=payment.remittance_text, causation=cause)
        named = [invoice for number in invoice_number_candidates(payment.remittance_text)
                 if (invoice := self.get_or_none(OpenInvoice.create_id(causation.tenant, number)))
                 # A known payer paying another customer's invoice needs a person's eye.
                 and payment.customer_id in (None, invoice.customer_id)]
        applications = allocate(receipt.amount, receipt.currency, named)
        for application in applications:
            invoice = application.invoice
            application_id = str(stable_id(causation.tenant, "application", payment.payment_id,
                                           invoice.invoice_id))
            receipt.apply_to(
                application_id=application_id, payment_id=payment.payment_id,
                invoice_id=invoice.invoice_id,
                invoice_number=invoice.invoice_number, customer_id=invoice.customer_id,
                amount=application.amount, currency=receipt.currency,
                applied_on=receipt.value_date, rule=REMITTANCE_INVOICE_NUMBER,
                explanation=(f"The remittance text names invoice {invoice.invoice_number}, "
                             f"which had {invoice.open_amount} {invoice.currency} open."),
                causation=cause)
            invoice.settle(application_id=application_id, amount=application.amount,
                           causation=cause)
        if receipt.unapplied > 0:
            reason = ("part of the payment exceeds the named invoices" if applications
                      else "the remittance names no open invoice")
            receipt.leave_unapplied(payment_id=payment.payment_id, customer_id=receipt.customer_id, amount=receipt.unapplied,
                                    currency=receipt.currency, value_date=receipt.value_date,
                                    reason=reason, causation=cause)
        self.record(tracking, receipt, *(application.invoice for application in applications))


def to_integration_events(domain_event: DomainEventProtocol) -> Iterable[IntegrationEvent]:
    if isinstance(domain_event, CashReceipt.AppliedToInvoice):
        yield PaymentApplied(
            application_id=domain_event.application_id,
            payment_id=domain_event.payment_id,
            invoice_id=domain_event.invoice_id,
            invoice_number=domain_event.invoice_number,
            customer_id=domain_event.customer_id,
            amount=Money.of(domain_event.amount, domain_event.currency),
            applied_on=domain_event.applied_on,
            rule=domain_event.rule,
            explanation=domain_event.explanation,
        )
    elif isinstance(domain_event, CashReceipt.LeftUnapplied):
        yield PaymentUnapplied(
            payment_id=domain_event.payment_id,
            customer_id=domain_event.customer_id,
            amount=Money.of(domain_event.amount, domain_event.currency),
            value_date=domain_event.value_date,
            reason=domain_event.reason,
        )
