"""Matching's write side: invoices open, payments arrive, the core decides, events record it.

The decision core (engine.py) reads an in-memory `Book` per tenant. That book is not
state of its own: `MatchingState` folds it from this application's stored events (the
notification log), catching up before every command, so a restart, a second replica or
a replay rebuilds exactly the same book - and, decisions being pure, exactly the same
decisions. Each command checks the aggregates it changes against the versions the book
was folded from, so a decision is never made on a stale book.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate, DomainEventProtocol
from eventsourcing.persistence import Tracking

from libs.events import (
    CustomerUpserted,
    IntegrationEvent,
    InvoiceIssued,
    Money,
    PaymentApplied,
    PaymentReceived,
    PaymentUnapplied,
)
from libs.events.erp import ErpInvoiceMarkedPaid, ExchangeRatePublished
from libs.events.invoicing import (
    AppliedExchangeRate,
    CreditNoteIssued,
    DebitNoteIssued,
    InvoiceAdjusted,
    InvoiceCancelled,
    InvoiceWrittenOff,
)
from libs.events.matching import (
    ApplicationReversed,
    CreditApplied,
    DeductionRaised,
    DifferenceWrittenOff,
    ErpPaidInvoiceCleared,
    ErpPaidInvoiceUncleared,
    UnappliedCashChanged,
)
from libs.events.payments import PaymentReturned
from libs.runtime.causation import Causation
from libs.runtime.clock import Clock, SystemClock
from libs.runtime.eventstore import AlreadyProcessed, ReceivablesApplication
from libs.runtime.ids import stable_id

from .domain import (
    CREDIT_USE,
    DEDUCTION,
    PAYMENT_APPLICATION,
    WRITE_OFF,
    CashReceipt,
    CustomerRecord,
    ErpPaidCheck,
    ExchangeRateRecord,
    OpenInvoice,
    Refused,
)
from .engine import (
    DEFAULT_POLICY,
    RULE_MANUAL,
    RULE_WORDS,
    Allocation,
    Book,
    Decision,
    IncomingPayment,
    OpenItem,
    Policy,
    decide,
)
from .erp_paid import DEFAULT_GRACE, ErpPaidView, uncleared
from .fx import pair_key
from .references import digit_key

A = TypeVar("A", bound=Aggregate)

MATCHING_ACTOR = "matching"
# An automatic application this sure teaches matching the payer's bank account.
LEARNING_SCORE = Decimal("0.95")
# How many waiting payments one arriving invoice may wake (the rest wait for a person).
MAX_RETRIES_PER_INVOICE = 50


class PaymentNotFound(LookupError):
    pass


class _Stale(Exception):
    """An aggregate changed since the book was folded: catch up and decide again."""


@dataclass
class ReceiptView:
    """What the book needs to know of a payment to decide on it again later."""

    tenant: str
    payment_id: str
    amount: Decimal
    currency: str
    value_date: date
    customer_id: str | None
    payer_name: str | None
    payer_account: str | None
    remittance_text: str | None
    references: tuple[str, ...]
    sequence: int
    unapplied: Decimal
    applications: int = 0
    returned: bool = False

    def incoming(self) -> IncomingPayment:
        return IncomingPayment(self.payment_id, self.unapplied, self.currency, self.value_date,
                               self.customer_id, self.payer_name, self.payer_account,
                               self.remittance_text, self.references)


@dataclass
class MatchingState:
    """Every tenant's book and every payment's remainder, folded from stored events."""

    books: dict[str, Book] = field(default_factory=dict)
    receipts: dict[UUID, ReceiptView] = field(default_factory=dict)
    items: dict[UUID, tuple[str, str]] = field(default_factory=dict)  # -> (tenant, item id)
    waiting_by_key: dict[tuple[str, str], dict[UUID, None]] = field(default_factory=dict)
    waiting_by_customer: dict[tuple[str, str], dict[UUID, None]] = field(default_factory=dict)
    rates: dict[UUID, tuple[str, str, str, date]] = field(default_factory=dict)  # -> tenant, pair, day
    erp_checks: dict[UUID, ErpPaidView] = field(default_factory=dict)
    # The ERP-paid checks not raised that may still have to be: a cache the scheduled
    # check trims (a cleared invoice leaves it; reopening brings it back).
    erp_watch: dict[UUID, None] = field(default_factory=dict)
    versions: dict[UUID, int] = field(default_factory=dict)
    position: int = 0

    def book(self, tenant: str) -> Book:
        book = self.books.get(tenant)
        if book is None:
            book = self.books[tenant] = Book()
        return book

    def fold(self, event: DomainEventProtocol) -> None:
        aggregate_id = event.originator_id
        if self.versions.get(aggregate_id, 0) >= event.originator_version:
            return  # folded already (our own pending event, read back from the log)
        self.versions[aggregate_id] = event.originator_version
        handler = _FOLDS.get(type(event))
        if handler is not None:
            handler(self, aggregate_id, event)

    def item_numbered(self, tenant: str, invoice_number: str) -> OpenItem | None:
        found = self.items.get(OpenInvoice.create_id(tenant, invoice_number))
        return self.book(tenant).items[found[1]] if found is not None else None

    def waiting_for(self, tenant: str, keys: Iterable[str], customer_id: str) -> list[UUID]:
        """Payments that may settle a newly opened item, in the order they arrived."""
        found: dict[UUID, None] = {}
        for key in keys:
            found.update(self.waiting_by_key.get((tenant, key), {}))
        for receipt_id in self.waiting_by_customer.get((tenant, customer_id), {}):
            if self.receipts[receipt_id].applications == 0:
                found[receipt_id] = None
        live = [receipt_id for receipt_id in found
                if self.receipts[receipt_id].unapplied > 0 and not self.receipts[receipt_id].returned]
        live.sort(key=lambda receipt_id: self.receipts[receipt_id].sequence)
        return live[:MAX_RETRIES_PER_INVOICE]


def _opened(state: MatchingState, aggregate_id: UUID, event: Any) -> None:
    state.items[aggregate_id] = (event.tenant, event.invoice_id)
    state.book(event.tenant).open_item(
        event.invoice_id, event.invoice_number, event.customer_id, event.currency, event.total,
        event.due_date, getattr(event, "kind", "invoice"), getattr(event, "discount_amount", None),
        getattr(event, "discount_date", None))


def _item_change(sign: int) -> Callable[[MatchingState, UUID, Any], None]:
    def fold(state: MatchingState, aggregate_id: UUID, event: Any) -> None:
        tenant, item_id = state.items[aggregate_id]
        book = state.book(tenant)
        book.change_open_amount(item_id, sign * event.amount)
        item = book.items[item_id]
        if sign * event.amount > 0 and item.open > 0:  # open again: the ERP's word is in doubt
            check_id = ErpPaidCheck.create_id(tenant, item.number)
            if check_id in state.erp_checks and not state.erp_checks[check_id].raised:
                state.erp_watch[check_id] = None
    return fold


def _customer(state: MatchingState, aggregate_id: UUID, event: Any) -> None:
    state.items.setdefault(aggregate_id, (event.tenant, event.customer_id))
    state.book(event.tenant).upsert_customer(event.customer_id, event.name)


def _renamed(state: MatchingState, aggregate_id: UUID, event: Any) -> None:
    tenant, customer_id = state.items[aggregate_id]
    state.book(tenant).upsert_customer(customer_id, event.name)


def _received(state: MatchingState, aggregate_id: UUID, event: Any) -> None:
    state.receipts[aggregate_id] = ReceiptView(
        event.tenant, event.payment_id, event.amount, event.currency, event.value_date,
        event.customer_id, getattr(event, "payer_name", None),
        getattr(event, "payer_account", None), event.remittance_text,
        tuple(getattr(event, "references", None) or ()), len(state.receipts) + 1, event.amount)


def _applied(state: MatchingState, aggregate_id: UUID, event: Any) -> None:
    receipt = state.receipts[aggregate_id]
    receipt.unapplied -= _cash(event)
    receipt.applications += 1
    score = getattr(event, "score", None)
    if getattr(event, "actor", None) is not None or (score is not None and score >= LEARNING_SCORE):
        state.book(receipt.tenant).learn_account(receipt.payer_account, event.customer_id)


def _left_unapplied(state: MatchingState, aggregate_id: UUID, event: Any) -> None:
    receipt = state.receipts[aggregate_id]
    for key in getattr(event, "waiting_for", None) or ():
        state.waiting_by_key.setdefault((receipt.tenant, key), {})[aggregate_id] = None
    if event.customer_id and receipt.applications == 0:
        state.waiting_by_customer.setdefault((receipt.tenant, event.customer_id), {})[
            aggregate_id] = None


def _reversed(state: MatchingState, aggregate_id: UUID, event: Any) -> None:
    receipt = state.receipts[aggregate_id]
    if event.kind == PAYMENT_APPLICATION:
        receipt.unapplied += _cash(event)


def _cash(event: Any) -> Decimal:
    """What an application took of the payment, in the payment's currency."""
    paid = getattr(event, "paid_amount", None)
    return event.amount if paid is None else paid


def _returned(state: MatchingState, aggregate_id: UUID, event: Any) -> None:
    receipt = state.receipts[aggregate_id]
    receipt.returned = True
    receipt.unapplied = max(Decimal(0), receipt.unapplied - event.amount)


def _rate_published(state: MatchingState, aggregate_id: UUID, event: Any) -> None:
    state.rates[aggregate_id] = (event.tenant, event.from_currency, event.to_currency,
                                 event.rate_date)
    state.book(event.tenant).rates.record(event.from_currency, event.to_currency,
                                          event.rate_date, event.rate)


def _rate_corrected(state: MatchingState, aggregate_id: UUID, event: Any) -> None:
    tenant, *pair_and_day = state.rates[aggregate_id]
    state.book(tenant).rates.record(*pair_and_day, event.rate)


def _erp_paid_recorded(state: MatchingState, aggregate_id: UUID, event: Any) -> None:
    state.erp_checks[aggregate_id] = ErpPaidView(
        aggregate_id, event.tenant, event.invoice_number, event.customer_id, event.paid_on,
        event.reference, event.check_on)
    state.erp_watch[aggregate_id] = None


def _erp_paid_raised(state: MatchingState, aggregate_id: UUID, event: Any) -> None:
    view = state.erp_checks[aggregate_id]
    view.raised = True
    view.invoice_id, view.open_amount, view.currency = (event.invoice_id, event.open_amount,
                                                        event.currency)
    view.detected_on, view.reason = event.detected_on, event.reason
    state.erp_watch.pop(aggregate_id, None)


def _erp_paid_resolved(state: MatchingState, aggregate_id: UUID, event: Any) -> None:
    state.erp_checks[aggregate_id].raised = False


_FOLDS: dict[type, Callable[[MatchingState, UUID, Any], None]] = {
    OpenInvoice.Opened: _opened,
    OpenInvoice.Settled: _item_change(-1),
    OpenInvoice.Reopened: _item_change(+1),
    OpenInvoice.DifferenceWrittenOff: _item_change(-1),
    OpenInvoice.Changed: _item_change(+1),
    CustomerRecord.Registered: _customer,
    CustomerRecord.Renamed: _renamed,
    CashReceipt.Received: _received,
    CashReceipt.AppliedToInvoice: _applied,
    CashReceipt.LeftUnapplied: _left_unapplied,
    CashReceipt.Reversed: _reversed,
    CashReceipt.Returned: _returned,
    ExchangeRateRecord.Published: _rate_published,
    ExchangeRateRecord.Corrected: _rate_corrected,
    ErpPaidCheck.Recorded: _erp_paid_recorded,
    ErpPaidCheck.Raised: _erp_paid_raised,
    ErpPaidCheck.Resolved: _erp_paid_resolved,
}


class _Work:
    """One command's unit of work: the aggregates it loaded or created, version-checked."""

    def __init__(self, app: MatchingApplication, state: MatchingState, causation: Causation) -> None:
        self.app = app
        self.state = state
        self.causation = causation
        self.cause = causation.as_dict()
        self.tenant = causation.tenant
        self.touched: dict[UUID, Aggregate] = {}

    def get(self, aggregate_id: UUID) -> Any:
        aggregate = self.touched.get(aggregate_id)
        if aggregate is None:
            aggregate = self.app.repository.get(aggregate_id)
            if self.state.versions.get(aggregate_id) != aggregate.version:
                raise _Stale(aggregate_id)
            self.touched[aggregate_id] = aggregate
        return aggregate

    def add(self, aggregate: A) -> A:
        self.touched[aggregate.id] = aggregate
        self.fold()
        return aggregate

    def fold(self) -> None:
        for aggregate in self.touched.values():
            for pending in aggregate.pending_events:
                self.state.fold(pending)

    def record(self, tracking: Tracking | None) -> None:
        self.app._resolve_cleared_erp_checks(self)  # noqa: SLF001 - the same transaction
        self.app.record(tracking, *self.touched.values())


class MatchingApplication(ReceivablesApplication):
    name = "matching"

    def __init__(self, env: dict[str, str] | None = None, policy: Policy | None = None,
                 clock: Clock | None = None, erp_paid_grace: timedelta = DEFAULT_GRACE) -> None:
        super().__init__(env=env)
        self.policy = policy or DEFAULT_POLICY
        self.clock: Clock = clock or SystemClock()
        self.erp_paid_grace = erp_paid_grace
        self._lock = threading.RLock()
        self._state: MatchingState | None = None

    # the book ----------------------------------------------------------------------------

    def state(self) -> MatchingState:
        """The book, caught up with every stored event (ours and other replicas')."""
        with self._lock:
            if self._state is None:
                self._state = MatchingState()
            state = self._state
            while True:
                notifications = self.recorder.select_notifications(
                    state.position, 1000, None, (), inclusive_of_start=False)
                if not notifications:
                    return state
                for notification in notifications:
                    state.fold(self.mapper.to_domain_event(notification))
                    state.position = notification.id

    def _command(self, tracking: Tracking | None, action: Callable[[MatchingState], Any]) -> Any:
        with self._lock:
            if tracking is not None and self.recorder.has_tracking_id(  # type: ignore[attr-defined]
                    tracking.application_name, tracking.notification_id):
                raise AlreadyProcessed(tracking)
            for _ in range(3):
                state = self.state()
                try:
                    return action(state)
                except _Stale:
                    self._state = None  # our own pending events were folded: start over
                except BaseException:
                    self._state = None
                    raise
            raise RuntimeError("the matching state kept changing underneath this command")

    # inbound facts --------------------------------------------------------------------------

    def upsert_customer(self, customer: CustomerUpserted, causation: Causation,
                        tracking: Tracking | None = None) -> None:
        def action(state: MatchingState) -> None:
            work = _Work(self, state, causation)
            record_id = CustomerRecord.create_id(causation.tenant, customer.customer_id)
            if record_id in state.versions:
                record = work.get(record_id)
                if record.name != customer.name:
                    record.rename(name=customer.name, causation=work.cause)
            else:
                work.add(CustomerRecord(tenant=causation.tenant, customer_id=customer.customer_id,
                                        name=customer.name, causation=work.cause))
            work.record(tracking)
        self._command(tracking, action)

    def record_exchange_rate(self, published: ExchangeRatePublished, causation: Causation,
                             tracking: Tracking | None = None) -> None:
        """A rate of the ERP's; payments that waited for a rate of this pair are decided
        again."""
        def action(state: MatchingState) -> None:
            work = _Work(self, state, causation)
            rate_id = ExchangeRateRecord.create_id(
                causation.tenant, published.from_currency, published.to_currency,
                published.rate_date)
            if rate_id not in state.versions:
                work.add(ExchangeRateRecord(
                    tenant=causation.tenant, from_currency=published.from_currency,
                    to_currency=published.to_currency, rate_date=published.rate_date,
                    rate=published.rate, causation=work.cause))
            else:
                record = work.get(rate_id)
                if record.rate == published.rate:
                    work.record(tracking)
                    return
                record.correct(rate=published.rate, causation=work.cause)
                work.fold()
            self._wake_waiting(work, [pair_key(published.from_currency,
                                               published.to_currency)], customer_id="")
            work.record(tracking)
        self._command(tracking, action)

    def open_invoice(self, issued: InvoiceIssued, causation: Causation,
                     tracking: Tracking | None = None) -> None:
        def action(state: MatchingState) -> None:
            work = _Work(self, state, causation)
            item_id = OpenInvoice.create_id(causation.tenant, issued.invoice_number)
            if item_id in state.versions:
                work.record(tracking)
                return
            discount = getattr(issued, "discount_amount", None)
            work.add(OpenInvoice(
                tenant=causation.tenant, invoice_number=issued.invoice_number,
                invoice_id=issued.invoice_id, customer_id=issued.customer_id,
                currency=issued.total.currency, total=issued.total.amount,
                due_date=issued.due_date, causation=work.cause,
                discount_amount=discount.amount if discount is not None else None,
                discount_date=getattr(issued, "discount_date", None)))
            self._wake_waiting(work, [digit_key(issued.invoice_number)], issued.customer_id)
            check = state.erp_checks.get(ErpPaidCheck.create_id(causation.tenant,
                                                                issued.invoice_number))
            if check is not None:  # the ERP said it was paid before we saw it
                self._check_erp_paid(work, check, self.clock.today(), unknown_too=False)
            work.record(tracking)
        self._command(tracking, action)

    def open_debit_note(self, note: DebitNoteIssued, causation: Causation,
                        tracking: Tracking | None = None) -> None:
        """A debit note (a fee billed) is owed like an invoice, and paid like one."""
        def action(state: MatchingState) -> None:
            work = _Work(self, state, causation)
            item_id = OpenInvoice.create_id(causation.tenant, note.debit_note_number)
            if item_id not in state.versions:
                work.add(OpenInvoice(
                    tenant=causation.tenant, invoice_number=note.debit_note_number,
                    invoice_id=note.debit_note_id, customer_id=note.customer_id,
                    currency=note.total.currency, total=note.total.amount,
                    due_date=note.due_date, causation=work.cause))
                self._wake_waiting(work, [digit_key(note.debit_note_number)], note.customer_id)
            work.record(tracking)
        self._command(tracking, action)

    def credit_customer(self, note: CreditNoteIssued, causation: Causation,
                        tracking: Tracking | None = None) -> None:
        """A credit note on account is an open credit a payer may deduct; one that names
        an invoice lowers what is open on it."""
        invoice_id = (OpenInvoice.create_id(causation.tenant, note.invoice_number)
                      if note.invoice_number else None)

        def action(state: MatchingState) -> None:
            work = _Work(self, state, causation)
            if invoice_id is not None and invoice_id in state.versions:
                self._change(work, invoice_id, note.credit_note_id, -note.total.amount,
                             f"credit note {note.credit_note_number}: {note.reason}")
            elif OpenInvoice.create_id(causation.tenant, note.credit_note_number) not in state.versions:
                work.add(OpenInvoice(
                    tenant=causation.tenant, invoice_number=note.credit_note_number,
                    invoice_id=note.credit_note_id, customer_id=note.customer_id,
                    currency=note.total.currency, total=-note.total.amount,
                    due_date=note.issue_date, causation=work.cause, kind="credit"))
            work.record(tracking)
        self._command(tracking, action)

    def change_invoice(self, change: InvoiceAdjusted | InvoiceCancelled | InvoiceWrittenOff,
                       causation: Causation, tracking: Tracking | None = None) -> None:
        """Invoicing changed what is owed on an invoice after issue."""
        if isinstance(change, InvoiceAdjusted):
            change_id, amount, cause = change.adjustment_id, change.amount.amount, "adjusted"
        elif isinstance(change, InvoiceCancelled):
            change_id, amount, cause = f"cancel:{change.invoice_id}", -change.amount.amount, "cancelled"
        else:
            change_id, amount, cause = change.write_off_id, -change.amount.amount, "written off"
        invoice_id = OpenInvoice.create_id(causation.tenant, change.invoice_number)

        def action(state: MatchingState) -> None:
            work = _Work(self, state, causation)
            if invoice_id in state.versions:
                self._change(work, invoice_id, change_id, amount, f"{cause}: {change.reason}")
            work.record(tracking)
        self._command(tracking, action)

    def _change(self, work: _Work, invoice_id: UUID, change_id: str, amount: Decimal,
                cause: str) -> None:
        item = work.get(invoice_id)
        if change_id not in item.changes:
            item.change(change_id=change_id, amount=amount, cause=cause, causation=work.cause)
            work.fold()

    def apply_payment(self, payment: PaymentReceived, causation: Causation,
                      tracking: Tracking | None = None) -> None:
        def action(state: MatchingState) -> None:
            work = _Work(self, state, causation)
            if CashReceipt.create_id(causation.tenant, payment.payment_id) in state.versions:
                work.record(tracking)
                return
            receipt = work.add(CashReceipt(
                tenant=causation.tenant, payment_id=payment.payment_id,
                customer_id=payment.customer_id, amount=payment.amount.amount,
                currency=payment.amount.currency, value_date=payment.value_date,
                remittance_text=payment.remittance_text, causation=work.cause,
                payer_name=payment.payer_name, payer_account=payment.payer_account,
                references=list(getattr(payment, "creditor_references", ()) or ())))
            decision = decide(state.book(causation.tenant), state.receipts[receipt.id].incoming(),
                              self.policy)
            self._carry_out(work, receipt, decision, kind="automatic", later=False)
            work.record(tracking)
        self._command(tracking, action)

    def return_payment(self, returned: PaymentReturned, causation: Causation,
                       tracking: Tracking | None = None) -> None:
        """The bank took the money back: every application is reversed, the invoices
        are open again, and nothing of the payment stays as unapplied cash."""
        def action(state: MatchingState) -> None:
            work = _Work(self, state, causation)
            receipt_id = (CashReceipt.create_id(causation.tenant, returned.payment_id)
                          if returned.payment_id else None)
            if receipt_id is None or receipt_id not in state.versions:
                work.record(tracking)
                return
            receipt = work.get(receipt_id)
            if receipt.returned:
                work.record(tracking)
                return
            why = (f"payment returned by the bank ({returned.kind}"
                   f"{', ' + returned.reason_code if returned.reason_code else ''}"
                   f"{': ' + returned.reason_text if returned.reason_text else ''})")
            reversed_numbers = []
            for effect_id, effect in list(receipt.active_effects().items()):
                self._reverse(work, receipt, effect_id, effect, why, MATCHING_ACTOR,
                              returned.returned_on, changes_unapplied=False)
                if effect["kind"] == PAYMENT_APPLICATION:
                    reversed_numbers.append(effect["invoice_number"])
            summary = (f"The bank returned {returned.amount.amount} {returned.amount.currency} "
                       f"on {returned.returned_on} ({returned.kind}). "
                       + (f"Reopened {', '.join(reversed_numbers)}." if reversed_numbers
                          else "It had settled nothing."))
            receipt.record_decision(kind="returned", rule="payment-returned", score=Decimal("1.00"),
                                    customer_id=receipt.customer_id, identified_by=None,
                                    summary=summary, evidence=[why], actor=MATCHING_ACTOR,
                                    reason=why, decided_on=returned.returned_on,
                                    causation=work.cause)
            receipt.mark_returned(payment_id=receipt.payment_id, return_id=returned.return_id, amount=returned.amount.amount,
                                  currency=returned.amount.currency,
                                  returned_on=returned.returned_on, reason=why,
                                  causation=work.cause,
                                  unapplied_after=max(Decimal(0),
                                                      receipt.unapplied - returned.amount.amount),
                                  account_customer_id=self._account_of(receipt, receipt.customer_id))
            work.fold()
            work.record(tracking)
        self._command(tracking, action)

    # the ERP's word that an invoice is paid ------------------------------------------

    def record_erp_paid(self, marked: ErpInvoiceMarkedPaid, causation: Causation,
                        tracking: Tracking | None = None) -> None:
        """Note the ERP's paid date; an invoice known to be open past the grace is an
        exception at once, the rest is checked on the schedule (`check_erp_paid`). The
        first word of the ERP counts: the same invoice marked again changes nothing."""
        def action(state: MatchingState) -> None:
            work = _Work(self, state, causation)
            check_id = ErpPaidCheck.create_id(causation.tenant, marked.invoice_number)
            if check_id not in state.versions:
                work.add(ErpPaidCheck(
                    tenant=causation.tenant, invoice_number=marked.invoice_number,
                    customer_id=marked.customer_id, paid_on=marked.paid_on,
                    reference=marked.reference, check_on=marked.paid_on + self.erp_paid_grace,
                    causation=work.cause))
                self._check_erp_paid(work, state.erp_checks[check_id], self.clock.today(),
                                     unknown_too=False)
            work.record(tracking)
        self._command(tracking, action)

    def check_erp_paid(self, today: date | None = None) -> int:
        """Raise every ERP-paid invoice whose grace has passed by `today` (default: the
        clock's) and that no payment clears; how many were raised."""
        on = today or self.clock.today()

        def action(state: MatchingState) -> int:
            by_tenant: dict[str, list[ErpPaidView]] = {}
            for check_id in list(state.erp_watch):
                view = state.erp_checks[check_id]
                if view.check_on <= on:
                    by_tenant.setdefault(view.tenant, []).append(view)
            raised = 0
            for tenant, views in by_tenant.items():
                work = _Work(self, state, Causation(tenant=tenant, actor=MATCHING_ACTOR))
                raised += sum(self._check_erp_paid(work, view, on, unknown_too=True)
                              for view in views)
                work.record(None)
            return raised
        return self._command(None, action)

    def _check_erp_paid(self, work: _Work, view: ErpPaidView, today: date,
                        unknown_too: bool) -> bool:
        item = work.state.item_numbered(view.tenant, view.invoice_number)
        found = uncleared(view, item, today, unknown_too)
        if found is None:
            if item is not None and item.open <= 0 and today >= view.check_on:
                work.state.erp_watch.pop(view.check_id, None)  # cleared: nothing to watch
            return False
        check = work.get(view.check_id)
        check.raise_uncleared(
            invoice_number=view.invoice_number, customer_id=view.customer_id,
            paid_on=view.paid_on, reference=view.reference, invoice_id=found.invoice_id,
            open_amount=found.open_amount, currency=found.currency, detected_on=today,
            reason=found.reason, causation=work.cause)
        work.fold()
        return True

    def _resolve_cleared_erp_checks(self, work: _Work) -> None:
        """An exception whose invoice this command cleared is resolved with it."""
        items = [aggregate for aggregate in work.touched.values()
                 if isinstance(aggregate, OpenInvoice) and aggregate.open_amount <= 0]
        if not items or not work.state.erp_checks:
            return
        resolved = False
        for item in items:
            view = work.state.erp_checks.get(ErpPaidCheck.create_id(work.tenant,
                                                                    item.invoice_number))
            if view is None or not view.raised:
                continue
            resolved = True
            payments = [aggregate.payment_id for aggregate in work.touched.values()
                        if isinstance(aggregate, CashReceipt)]
            reason = (f"nothing is open on {item.invoice_number} any more"
                      + (f" (payment {', '.join(payments)})" if payments else ""))
            work.get(view.check_id).resolve(
                invoice_number=view.invoice_number, customer_id=view.customer_id,
                paid_on=view.paid_on, invoice_id=item.invoice_id,
                cleared_on=self.clock.today(), reason=reason, causation=work.cause)
        if resolved:
            work.fold()

    # what a person does ---------------------------------------------------------------

    def match_manually(self, tenant: str, payment_id: str,
                       allocations: list[tuple[str, Decimal | None]], actor: str, reason: str,
                       on: date, unmatch_first: bool = False) -> None:
        """A person applies the payment to the invoices they name (amount None: as much as
        is open and unapplied). With `unmatch_first`, what was applied before is reversed
        in the same transaction: a re-match."""
        causation = Causation(tenant=tenant, actor=actor)

        def action(state: MatchingState) -> None:
            work = _Work(self, state, causation)
            receipt = self._receipt(work, payment_id)
            if unmatch_first:
                for effect_id, effect in list(receipt.active_effects().items()):
                    self._reverse(work, receipt, effect_id, effect, reason, actor, on,
                                  changes_unapplied=True)
            book = state.book(tenant)
            left = receipt.unapplied
            chosen: list[Allocation] = []
            for number, amount in allocations:
                item = book.item_by_number(number)
                if item is None or item.kind != "invoice":
                    raise Refused(f"there is no invoice {number!r}")
                if item.currency != receipt.currency:
                    raise Refused(f"{item.number} is in {item.currency}; the payment is in "
                                  f"{receipt.currency}")
                amount = min(left, item.open) if amount is None else amount
                if amount <= 0:
                    raise Refused(f"nothing to apply to {item.number}: it has {item.open} open "
                                  f"and the payment {left} unapplied")
                if amount > item.open:
                    raise Refused(f"{item.number} has {item.open} {item.currency} open; "
                                  f"{amount} cannot be applied to it")
                if amount > left:
                    raise Refused(f"payment {payment_id} has {left} {receipt.currency} "
                                  f"unapplied; {amount} cannot be applied")
                left -= amount
                chosen.append(Allocation(
                    item.item_id, item.number, item.customer_id, amount, item.open, RULE_MANUAL,
                    Decimal("1.00"), (f"{actor}: {reason}",),
                    f"Applied {amount} {item.currency} to {item.number} by hand: {actor} "
                    f"decided so ({reason})."))
            if not chosen:
                raise Refused("name at least one invoice to apply the payment to")
            summary = " ".join(allocation.explanation for allocation in chosen)
            decision = Decision(
                payment_id=payment_id, currency=receipt.currency, rule=RULE_MANUAL,
                score=Decimal("1.00"), customer_id=chosen[0].customer_id,
                identified_by="manual", allocations=tuple(chosen), unapplied=left,
                evidence=(f"{actor}: {reason}",), summary=summary)
            self._carry_out(work, receipt, decision, kind="rematch" if unmatch_first else "manual",
                            later=True, actor=actor, reason=reason, on=on)
            work.record(None)
        self._command(None, action)

    def unmatch(self, tenant: str, payment_id: str, application_id: str | None, actor: str,
                reason: str, on: date) -> None:
        """A person undoes an application (or all of the payment's): the invoices are open
        again and the cash is unapplied on the account, for a person to place."""
        causation = Causation(tenant=tenant, actor=actor)

        def action(state: MatchingState) -> None:
            work = _Work(self, state, causation)
            receipt = self._receipt(work, payment_id)
            effects = receipt.active_effects()
            if application_id is not None:
                if application_id not in effects:
                    raise Refused(f"payment {payment_id} has no active application "
                                  f"{application_id}")
                number = effects[application_id]["invoice_number"]
                # what came with the application on the same invoice goes with it
                effects = {effect_id: effect for effect_id, effect in effects.items()
                           if effect_id == application_id
                           or (effect["invoice_number"] == number
                               and effect["kind"] in (WRITE_OFF, DEDUCTION, CREDIT_USE))}
            if not effects:
                raise Refused(f"payment {payment_id} has nothing applied to unmatch")
            numbers = []
            for effect_id, effect in effects.items():
                self._reverse(work, receipt, effect_id, effect, reason, actor, on,
                              changes_unapplied=True)
                numbers.append(effect["invoice_number"])
            receipt.record_decision(
                kind="unmatch", rule=RULE_MANUAL, score=Decimal("1.00"),
                customer_id=receipt.customer_id, identified_by=None,
                summary=(f"{actor} unmatched the payment from "
                         f"{', '.join(dict.fromkeys(numbers))}: {reason}. The invoices are open "
                         f"again; {receipt.unapplied} {receipt.currency} is unapplied."),
                evidence=[reason], actor=actor, reason=reason, decided_on=on,
                causation=work.cause)
            work.fold()
            work.record(None)
        self._command(None, action)

    def _receipt(self, work: _Work, payment_id: str) -> CashReceipt:
        receipt_id = CashReceipt.create_id(work.tenant, payment_id)
        if receipt_id not in work.state.versions:
            raise PaymentNotFound(f"no payment {payment_id!r}")
        receipt = work.get(receipt_id)
        if receipt.returned:
            raise Refused(f"payment {payment_id} was returned by the bank")
        return receipt

    # carrying out decisions -----------------------------------------------------------------

    def _wake_waiting(self, work: _Work, keys: list[str], customer_id: str) -> None:
        """Payments that arrived before this item, naming it or from its customer (or
        before the exchange rate they needed), are decided again now."""
        for receipt_id in work.state.waiting_for(work.tenant, keys, customer_id):
            view = work.state.receipts[receipt_id]
            if view.unapplied <= 0:
                continue
            decision = decide(work.state.book(work.tenant), view.incoming(), self.policy)
            if decision.matched:
                self._carry_out(work, work.get(receipt_id), decision, kind="automatic",
                                later=True)

    def _carry_out(self, work: _Work, receipt: CashReceipt, decision: Decision, kind: str,
                   later: bool, actor: str | None = None, reason: str | None = None,
                   on: date | None = None) -> None:
        """The decision as events: on the payment, and on every item it settles."""
        tenant, cause = work.tenant, work.cause
        on = on or receipt.value_date
        receipt.record_decision(kind=kind, rule=decision.rule, score=decision.score,
                                customer_id=decision.customer_id,
                                identified_by=decision.identified_by, summary=decision.summary,
                                evidence=list(decision.evidence), actor=actor, reason=reason,
                                decided_on=on, causation=cause)
        serial = len(receipt.effects)

        def effect_id(what: str, item_id: str) -> str:
            nonlocal serial
            serial += 1
            return str(stable_id(tenant, what, receipt.payment_id, item_id, str(serial)))

        for allocation in decision.allocations:
            item = work.get(OpenInvoice.create_id(tenant, allocation.number))
            item.check_can_settle(allocation.amount)
            receipt.check_can_apply(allocation.cash)
            application_id = effect_id("application", allocation.item_id)
            rate = allocation.exchange_rate
            receipt.apply_to(
                application_id=application_id, payment_id=receipt.payment_id,
                invoice_id=item.invoice_id, invoice_number=item.invoice_number,
                customer_id=item.customer_id, amount=allocation.amount,
                currency=item.currency, applied_on=receipt.value_date, rule=allocation.rule,
                explanation=allocation.explanation, causation=cause, score=allocation.score,
                evidence=list(allocation.evidence), actor=actor, reason=reason,
                unapplied_after=receipt.unapplied - allocation.cash,
                changes_unapplied=later, account_customer_id=self._account_of(receipt, item),
                **({} if rate is None else {"paid_amount": allocation.paid_amount,
                                            "paid_currency": receipt.currency,
                                            "exchange_rate": rate.model_dump()}))
            item.settle(application_id=application_id, amount=allocation.amount, causation=cause)
        for use in decision.credit_uses:
            credit = work.get(OpenInvoice.create_id(tenant, use.credit_number))
            invoice = work.get(OpenInvoice.create_id(tenant, use.number))
            use_id = effect_id("credit-use", use.credit_item_id)
            receipt.use_credit(payment_id=receipt.payment_id, credit_use_id=use_id, credit_invoice_id=credit.invoice_id,
                               credit_number=credit.invoice_number,
                               invoice_id=invoice.invoice_id,
                               invoice_number=invoice.invoice_number,
                               customer_id=invoice.customer_id, amount=use.amount,
                               currency=receipt.currency, used_on=receipt.value_date,
                               rule=decision.rule, causation=cause)
            credit.settle(application_id=use_id, amount=-use.amount, causation=cause)
            invoice.settle(application_id=use_id, amount=use.amount, causation=cause)
        for adjustment in decision.adjustments:
            item = work.get(OpenInvoice.create_id(tenant, adjustment.number))
            explanation = (f"{receipt.payment_id} paid {adjustment.number} "
                           f"{adjustment.amount} {receipt.currency} short: {adjustment.reason}.")
            if adjustment.kind == "write-off":
                write_off_id = effect_id("write-off", adjustment.item_id)
                receipt.write_off_difference(
                    payment_id=receipt.payment_id, write_off_id=write_off_id, invoice_id=item.invoice_id,
                    invoice_number=item.invoice_number, customer_id=item.customer_id,
                    amount=adjustment.amount, currency=receipt.currency,
                    written_off_on=receipt.value_date, reason_code=adjustment.reason_code,
                    reason=adjustment.reason, explanation=explanation + " Written off.",
                    causation=cause)
                item.write_off(write_off_id=write_off_id, amount=adjustment.amount,
                               causation=cause)
            else:
                receipt.raise_deduction(
                    payment_id=receipt.payment_id, deduction_id=effect_id("deduction", adjustment.item_id),
                    invoice_id=item.invoice_id, invoice_number=item.invoice_number,
                    customer_id=item.customer_id, amount=adjustment.amount,
                    currency=receipt.currency, raised_on=receipt.value_date,
                    reason_code=adjustment.reason_code, reason=adjustment.reason,
                    explanation=explanation + " Raised as a deduction for a collector.",
                    causation=cause)
        if decision.unapplied > 0 and not later and not receipt.reported_unapplied:
            receipt.leave_unapplied(
                payment_id=receipt.payment_id, customer_id=decision.customer_id,
                amount=decision.unapplied, currency=receipt.currency,
                value_date=receipt.value_date, reason=decision.reason, causation=cause,
                waiting_for=list(decision.waiting_for))
        work.fold()

    @staticmethod
    def _account_of(receipt: CashReceipt, item_or_customer: Any) -> str | None:
        """Whose account the payment's unapplied cash sits on: where it was first reported
        (so every change to it travels on the same partition), else the customer paid."""
        if receipt.reported_unapplied or receipt.account_customer_id is not None:
            return receipt.account_customer_id
        return getattr(item_or_customer, "customer_id", item_or_customer)

    def _reverse(self, work: _Work, receipt: CashReceipt, effect_id: str,
                 effect: dict[str, Any], reason: str, actor: str, on: date,
                 changes_unapplied: bool) -> None:
        kind, amount = effect["kind"], effect["amount"]
        paid = effect.get("paid_amount")  # cash in another currency than the invoice
        cash = amount if paid is None else paid  # in the payment's currency
        if kind in (PAYMENT_APPLICATION, WRITE_OFF, CREDIT_USE):
            item = work.get(OpenInvoice.create_id(work.tenant, effect["invoice_number"]))
            item.reopen(application_id=effect_id, amount=amount, reason=reason,
                        causation=work.cause)
        if kind == CREDIT_USE:
            credit = work.get(OpenInvoice.create_id(work.tenant, effect["credit_number"]))
            credit.reopen(application_id=effect_id, amount=-amount, reason=reason,
                          causation=work.cause)
        receipt.reverse(payment_id=receipt.payment_id, effect_id=effect_id, kind=kind, invoice_id=effect["invoice_id"],
                        invoice_number=effect["invoice_number"],
                        customer_id=effect["customer_id"], amount=amount,
                        currency=effect.get("currency") or receipt.currency, reversed_on=on,
                        reason=reason, actor=actor, causation=work.cause,
                        unapplied_after=receipt.unapplied + (
                            cash if kind == PAYMENT_APPLICATION else 0),
                        changes_unapplied=changes_unapplied and kind == PAYMENT_APPLICATION,
                        account_customer_id=self._account_of(receipt, effect["customer_id"]),
                        credit_invoice_id=effect.get("credit_invoice_id"),
                        **({} if paid is None else {"paid_amount": paid,
                                                    "paid_currency": receipt.currency}))
        work.fold()

    # reading ---------------------------------------------------------------------------------

    def erp_paid_uncleared(self, tenant: str) -> list[dict[str, str | None]]:
        """The open exceptions: invoices the ERP says are paid that no payment clears,
        oldest ERP paid date first."""
        with self._lock:
            state = self.state()
            views = [view for view in state.erp_checks.values()
                     if view.raised and view.tenant == tenant]
            views.sort(key=lambda view: (view.paid_on, view.invoice_number))
            return [view.as_exception(state.item_numbered(tenant, view.invoice_number))
                    for view in views]

    def explanation(self, tenant: str, payment_id: str) -> dict[str, Any] | None:
        """Everything decided about a payment, in a collector's words."""
        receipt = self.get_or_none(CashReceipt.create_id(tenant, payment_id))
        if receipt is None:
            return None
        return explain(receipt)


def _paid_in_other_currency(effect: dict[str, Any], currency: str) -> dict[str, Any]:
    rate = effect.get("exchange_rate")
    if rate is None:
        return {}
    return {"paid": {"amount": str(effect["paid_amount"]), "currency": currency},
            "exchange_rate": {**rate, "rate": str(rate["rate"]),
                              "rate_date": rate["rate_date"].isoformat()}}


def explain(receipt: CashReceipt) -> dict[str, Any]:
    effects = receipt.effects
    applications = [
        {"application_id": effect_id, "invoice_number": effect["invoice_number"],
         "invoice_id": effect["invoice_id"], "customer_id": effect["customer_id"],
         "amount": str(effect["amount"]),
         "currency": effect.get("currency") or receipt.currency,
         **_paid_in_other_currency(effect, receipt.currency),
         "rule": effect["rule"],
         "rule_in_words": RULE_WORDS.get(effect["rule"], effect["rule"]),
         "score": None if effect["score"] is None else str(effect["score"]),
         "explanation": effect["explanation"], "actor": effect["actor"],
         "reason": effect["reason"], "active": effect["active"]}
        for effect_id, effect in effects.items() if effect["kind"] == PAYMENT_APPLICATION]
    adjustments = [
        {"id": effect_id, "kind": effect["kind"], "invoice_number": effect["invoice_number"],
         "amount": str(effect["amount"]), "reason_code": effect.get("reason_code"),
         "reason": effect.get("reason"), "active": effect["active"]}
        for effect_id, effect in effects.items() if effect["kind"] != PAYMENT_APPLICATION]
    active = [application for application in applications if application["active"]]
    if receipt.returned:
        status = "returned"
    elif not active:
        status = "unapplied"
    elif receipt.unapplied > 0:
        status = "partly applied"
    else:
        status = "applied"
    decisions = [
        {**decision, "score": str(decision["score"]),
         "rule_in_words": RULE_WORDS.get(decision["rule"], decision["rule"]),
         "decided_on": decision["decided_on"].isoformat()}
        for decision in receipt.decisions]
    return {
        "payment_id": receipt.payment_id,
        "amount": str(receipt.amount),
        "currency": receipt.currency,
        "value_date": receipt.value_date.isoformat(),
        "payer_name": receipt.payer_name,
        "payer_account": receipt.payer_account,
        "remittance_text": receipt.remittance_text,
        "status": status,
        "unapplied": str(receipt.unapplied),
        "applications": applications,
        "adjustments": adjustments,
        "decisions": decisions,
        "explanation": " ".join(f"{decision['decided_on']}: {decision['summary']}"
                                for decision in decisions),
    }


# --- what the relay publishes -------------------------------------------------------------


def _conversion(event: Any) -> dict[str, Any]:
    """For cash in another currency: what it took of the payment, and at which rate."""
    rate = getattr(event, "exchange_rate", None)
    if rate is None:
        return {}
    return {"paid": Money.of(event.paid_amount, event.paid_currency),
            "exchange_rate": AppliedExchangeRate(**rate)}


def _cash_currency(event: Any) -> str:
    """The payment's currency, where an event's amount is in the invoice's."""
    return getattr(event, "paid_currency", None) or event.currency


def to_integration_events(domain_event: DomainEventProtocol) -> Iterable[IntegrationEvent]:
    event: Any = domain_event
    if isinstance(event, CashReceipt.AppliedToInvoice):
        yield PaymentApplied(
            application_id=event.application_id, payment_id=event.payment_id,
            invoice_id=event.invoice_id, invoice_number=event.invoice_number,
            customer_id=event.customer_id, amount=Money.of(event.amount, event.currency),
            applied_on=event.applied_on, rule=event.rule, explanation=event.explanation,
            score=getattr(event, "score", None), evidence=tuple(getattr(event, "evidence", None) or ()),
            actor=getattr(event, "actor", None), reason=getattr(event, "reason", None),
            **_conversion(event))
        if getattr(event, "changes_unapplied", False):
            yield UnappliedCashChanged(
                payment_id=event.payment_id, customer_id=event.account_customer_id,
                unapplied=Money.of(event.unapplied_after, _cash_currency(event)),
                value_date=event.applied_on,
                reason=f"{event.amount} {event.currency} applied to {event.invoice_number}")
    elif isinstance(event, CashReceipt.LeftUnapplied):
        yield PaymentUnapplied(
            payment_id=event.payment_id, customer_id=event.customer_id,
            amount=Money.of(event.amount, event.currency), value_date=event.value_date,
            reason=event.reason)
    elif isinstance(event, CashReceipt.WroteOffDifference):
        yield DifferenceWrittenOff(
            write_off_id=event.write_off_id, payment_id=event.payment_id,
            invoice_id=event.invoice_id, invoice_number=event.invoice_number,
            customer_id=event.customer_id, amount=Money.of(event.amount, event.currency),
            written_off_on=event.written_off_on, reason_code=event.reason_code,
            reason=event.reason, explanation=event.explanation)
    elif isinstance(event, CashReceipt.RaisedDeduction):
        yield DeductionRaised(
            deduction_id=event.deduction_id, payment_id=event.payment_id,
            invoice_id=event.invoice_id, invoice_number=event.invoice_number,
            customer_id=event.customer_id, amount=Money.of(event.amount, event.currency),
            raised_on=event.raised_on, reason_code=event.reason_code, reason=event.reason,
            explanation=event.explanation)
    elif isinstance(event, CashReceipt.UsedCredit):
        yield CreditApplied(
            credit_use_id=event.credit_use_id, payment_id=event.payment_id,
            credit_note_id=event.credit_invoice_id, credit_note_number=event.credit_number,
            invoice_id=event.invoice_id, invoice_number=event.invoice_number,
            customer_id=event.customer_id, amount=Money.of(event.amount, event.currency),
            applied_on=event.used_on, rule=event.rule)
    elif isinstance(event, CashReceipt.Reversed):
        yield ApplicationReversed(
            application_id=event.effect_id, reverses=event.kind, payment_id=event.payment_id,
            invoice_id=event.invoice_id, invoice_number=event.invoice_number,
            customer_id=event.customer_id, amount=Money.of(event.amount, event.currency),
            reversed_on=event.reversed_on, reason=event.reason,
            actor=event.actor or MATCHING_ACTOR,
            credit_note_id=getattr(event, "credit_invoice_id", None))
        if event.changes_unapplied:
            yield UnappliedCashChanged(
                payment_id=event.payment_id, customer_id=event.account_customer_id,
                unapplied=Money.of(event.unapplied_after, _cash_currency(event)),
                value_date=event.reversed_on, reason=f"unmatched from {event.invoice_number}: "
                                                     f"{event.reason}")
    elif isinstance(event, ErpPaidCheck.Raised):
        yield ErpPaidInvoiceUncleared(
            invoice_number=event.invoice_number, invoice_id=event.invoice_id,
            customer_id=event.customer_id, erp_paid_on=event.paid_on,
            erp_reference=event.reference,
            open_amount=(None if event.open_amount is None else
                         Money.of(event.open_amount, event.currency)),
            detected_on=event.detected_on, reason=event.reason)
    elif isinstance(event, ErpPaidCheck.Resolved):
        yield ErpPaidInvoiceCleared(
            invoice_number=event.invoice_number, invoice_id=event.invoice_id,
            customer_id=event.customer_id, erp_paid_on=event.paid_on,
            cleared_on=event.cleared_on, reason=event.reason)
    elif isinstance(event, CashReceipt.Returned):
        yield UnappliedCashChanged(
            payment_id=event.payment_id, customer_id=event.account_customer_id,
            unapplied=Money.of(event.unapplied_after or 0, event.currency),
            value_date=event.returned_on, reason=event.reason)
