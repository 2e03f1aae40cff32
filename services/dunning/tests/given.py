"""The business facts the dunning tests start from, and a post office that keeps what it is
handed (the real SMTP path is exercised end to end in tests/e2e/test_dunning.py)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from eventsourcing.persistence import Tracking

from libs.events import (
    ApplicationReversed,
    CustomerUpserted,
    DebitNoteIssued,
    IntegrationEvent,
    InvoiceAdjusted,
    InvoiceIssued,
    Money,
    PaymentApplied,
    RiskScoreChanged,
)
from libs.events.credit import RiskReason
from libs.runtime.causation import Causation
from libs.runtime.eventstore import open_in_memory
from services.dunning.application import DunningApplication, to_integration_events
from services.dunning.mailer import DeliveryOutcome, OutgoingEmail, message_id
from services.dunning.projections import DunningViews, InMemoryViews
from services.dunning.runs import DunningRunner

DUE = date(2026, 2, 1)
TENANT = "acme"
ERP = Causation(tenant=TENANT, causation_id="evt-erp")
COLLECTOR = Causation(tenant=TENANT, actor="collector:anna")
D = Decimal


class PostOffice:
    """Accepts every email unless told a recipient is refused or the server is down."""

    def __init__(self) -> None:
        self.sent: list[OutgoingEmail] = []
        self.refused: set[str] = set()
        self.down = False

    def send(self, email: OutgoingEmail) -> DeliveryOutcome:
        at = "2026-01-01T09:00:00+00:00"
        if self.down:
            return DeliveryOutcome(False, at, message_id(email.letter_id),
                                   reason="mail server unreachable: ConnectionRefusedError()")
        if email.recipient in self.refused:
            return DeliveryOutcome(False, at, message_id(email.letter_id), permanent=True,
                                   reason="550 5.1.1 mailbox unavailable",
                                   refused_recipients=(email.recipient,))
        self.sent.append(email)
        return DeliveryOutcome(True, at, message_id(email.letter_id),
                               server_reply=f"250 OK queued as {len(self.sent)}")


class Dunning:
    """The dunning application on the in-memory store, its read model and its runs."""

    def __init__(self) -> None:
        self.app = open_in_memory(DunningApplication)
        self.views = DunningViews(self.app, InMemoryViews())
        self.post_office = PostOffice()
        self.runner = DunningRunner(self.app, self.views, self.post_office)
        self._offsets: dict[str, int] = {}

    def _next(self, topic: str) -> Tracking:
        offset = self._offsets[topic] = self._offsets.get(topic, -1) + 1
        return Tracking(f"{topic}#0", offset)

    def customer(self, customer_id: str = "C-1", language: str = "en",
                 email: str | None = "ap@customer.example", name: str = "Brasserie du Port",
                 segment: str | None = None, risk_class: str | None = None,
                 collector: str | None = None) -> None:
        self.app.upsert_customer(CustomerUpserted(
            customer_id=customer_id, name=name, currency="EUR", payment_terms_days=30,
            language=language, email=email, segment=segment, risk_class=risk_class,
            collector=collector), ERP, self._next("erp.customers"))

    def risk_score(self, risk_class: str, score: str, on: date,
                   customer_id: str = "C-1") -> None:
        """Credit scored the customer again (ar.credit)."""
        self.app.score_risk(RiskScoreChanged(
            customer_id=customer_id, score=score, risk_class=risk_class, internal_score=score,
            reasons=(RiskReason(factor="days_beyond_terms", points=score,
                                explanation="pays well beyond terms"),),
            scored_on=on), ERP, self._next("ar.credit"))

    def adjustment(self, number: str, amount: str, on: date, customer_id: str = "C-1",
                   new_total: str = "0.00") -> None:
        """Invoicing corrected the invoice's total by `amount` (signed, tax included)."""
        change = Money.of(amount, "EUR")
        self.app.adjust_invoice(InvoiceAdjusted(
            adjustment_id=f"adj-{number}-{amount}-{on}", invoice_id=f"id-{number}",
            invoice_number=number, customer_id=customer_id, adjusted_on=on,
            net_amount=change, tax_amount=Money.of("0.00", "EUR"), amount=change,
            new_total=Money.of(new_total, "EUR"), reason="agreed price", actor="clerk:bob"),
            ERP, self._next("ar.invoicing"))

    def reversal(self, application_id: str, number: str, amount: str, on: date,
                 customer_id: str = "C-1") -> None:
        """Matching undid an application: the payment came back from the bank."""
        self.app.reverse_application(ApplicationReversed(
            application_id=application_id, reverses="payment-application",
            payment_id=f"pay-{number}", invoice_id=f"id-{number}", invoice_number=number,
            customer_id=customer_id, amount=Money.of(amount, "EUR"), reversed_on=on,
            reason="returned: insufficient funds", actor="matching"),
            ERP, self._next("ar.matching"))

    def debit_note(self, number: str, total: str, issued: date, due: date,
                   customer_id: str = "C-1", for_invoice: str = "INV-000001") -> None:
        """Invoicing billed one of dunning's fees."""
        self.app.open_debit_note(DebitNoteIssued(
            debit_note_id=f"id-{number}", debit_note_number=number, customer_id=customer_id,
            fee_id=f"fee-{number}", kind="late_fee", invoice_id=f"id-{for_invoice}",
            invoice_number=for_invoice, issue_date=issued, due_date=due,
            total=Money.of(total, "EUR"), reason="recovery indemnity", actor="dunning"),
            ERP, self._next("ar.invoicing"))

    def invoice(self, number: str = "INV-000001", total: str = "1210.00",
                due: date = date(2026, 2, 1), customer_id: str = "C-1",
                currency: str = "EUR") -> InvoiceIssued:
        issued = invoice_issued(number, total, due, customer_id, currency)
        self.app.open_invoice(issued, ERP, self._next("ar.invoicing"))
        return issued

    def payment(self, number: str = "INV-000001", amount: str = "1210.00",
                on: date = date(2026, 2, 10), customer_id: str = "C-1",
                application_id: str | None = None, currency: str = "EUR") -> None:
        self.app.apply_payment(PaymentApplied(
            application_id=application_id or f"app-{number}-{amount}-{on}",
            payment_id=f"pay-{number}-{on}", invoice_id=f"id-{number}", invoice_number=number,
            customer_id=customer_id, amount=Money.of(amount, currency), applied_on=on,
            rule="remittance-invoice-number", explanation="named in the remittance"),
            ERP, self._next("ar.matching"))

    def run(self, on: date):  # noqa: ANN201
        return self.runner.run_due_actions(TENANT, on, "test")

    def letters(self, customer_id: str | None = None) -> list[dict]:
        self.views.catch_up()
        return self.views.store.letters(TENANT, customer_id, None, 1000)

    def published(self, *types: type[IntegrationEvent]) -> list[IntegrationEvent]:
        events = [integration
                  for notification in self.app.recorder.select_notifications(None, 10_000)
                  for integration in to_integration_events(self.app.mapper.to_domain_event(notification))]
        return [event for event in events if not types or isinstance(event, types)]


def invoice_issued(number: str = "INV-000001", total: str = "1210.00",
                   due: date = date(2026, 2, 1), customer_id: str = "C-1",
                   currency: str = "EUR") -> InvoiceIssued:
    net = (D(total) / D("1.21")).quantize(D("0.01"))
    return InvoiceIssued(
        invoice_id=f"id-{number}", invoice_number=number, customer_id=customer_id,
        issue_date=date(due.year, 1, 2) if due.month > 1 else due, due_date=due,
        payment_terms_days=30, net_amount=Money.of(net, currency),
        tax_amount=Money.of(D(total) - net, currency), total=Money.of(total, currency))


def day(offset: int) -> date:
    """Days after the due date of the invoices the tests issue by default."""
    return DUE + timedelta(days=offset)


def levels(dunning: Dunning, customer_id: str = "C-1") -> list[tuple[str, str, list[str]]]:
    """(date, level, invoice numbers) of each letter the customer was sent."""
    return [(str(letter["issued_on"]), letter["level_name"],
             [listed["invoice_number"] for listed in letter["invoices"]])
            for letter in dunning.letters(customer_id)]


def case_invoice(dunning: Dunning, number: str, customer_id: str = "C-1"):  # noqa: ANN201
    return dunning.app.case(TENANT, customer_id).invoice_by_number(number)
