"""Credit, given what the ERP, invoicing, matching and dunning said, when an order comes in
or a controller acts, then what credit published. In memory; the same code runs on
PostgreSQL and Kafka in tests/e2e/test_credit.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from eventsourcing.persistence import Tracking

from libs.events import (
    ApplicationReversed,
    InvoiceAdjusted,
    CaseEscalated,
    CreditHoldPlaced,
    CreditHoldReleased,
    CreditLimitSet,
    CustomerUpserted,
    DunnedInvoice,
    IntegrationEvent,
    InvoiceIssued,
    Money,
    OrderCreditApproved,
    OrderCreditHeld,
    OrderLine,
    OrderPlaced,
    PaymentApplied,
    RiskScoreChanged,
    TemporaryCreditLimitGranted,
)
from libs.runtime.causation import Causation
from libs.runtime.clock import FixedClock
from libs.runtime.eventstore import AlreadyProcessed, open_in_memory
from services.credit.application import CreditApplication, to_integration_events
from services.credit.domain import CreditError
from services.credit.projections import CreditViews

D = Decimal
TENANT = "acme"
ERP = Causation(tenant=TENANT, causation_id="evt-erp")
SALES = Causation(tenant=TENANT, actor="sales:bob")
CONTROLLER = Causation(tenant=TENANT, actor="credit:carla")
TODAY = date(2026, 11, 20)


class Credit:
    """The credit application on the in-memory store, and what it has published so far."""

    def __init__(self) -> None:
        self.app = open_in_memory(CreditApplication)
        self.app.clock = FixedClock(datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
        self.views = CreditViews(self.app)
        self._seen = 0
        self._offset = 0

    def tracking(self) -> Tracking:
        self._offset += 1
        return Tracking("erp.orders#0", self._offset)

    def published(self) -> list[IntegrationEvent]:
        return [event for notification in self.app.recorder.select_notifications(0, 100000)
                for event in to_integration_events(self.app.mapper.to_domain_event(notification))]

    def new_events(self) -> list[IntegrationEvent]:
        events = self.published()
        new, self._seen = events[self._seen:], len(events)
        return new

    def set_limit(self, amount: str, customer_id: str | None = "C-1",
                  group_id: str | None = None) -> None:
        change = self.app.request_limit_change(SALES, D(amount), "annual review",
                                               customer_id=None if group_id else customer_id,
                                               group_id=group_id)
        self.app.approve_limit_change(CONTROLLER, change,
                                      customer_id=None if group_id else customer_id,
                                      group_id=group_id)

    def invoice(self, number: str, total: str, due_date: date = TODAY + timedelta(days=20),
                customer_id: str = "C-1") -> InvoiceIssued:
        issued = InvoiceIssued(
            invoice_id=f"id-{number}", invoice_number=number, customer_id=customer_id,
            issue_date=min(due_date - timedelta(days=30), TODAY), due_date=due_date,
            net_amount=Money.of(total, "EUR"), tax_amount=Money.of("0.00", "EUR"),
            total=Money.of(total, "EUR"))
        self.app.record_invoice(issued, ERP, self.tracking())
        return issued

    def order(self, order_id: str, amount: str, customer_id: str = "C-1") -> None:
        self.app.place_order(OrderPlaced(
            order_id=order_id, customer_id=customer_id, ordered_on=TODAY, currency="EUR",
            lines=(OrderLine(line_no=1, sku="KEG", quantity="1", unit_price=amount),)),
            ERP, self.tracking())

    def pay(self, invoice: InvoiceIssued, amount: str, on: date = TODAY) -> None:
        self.app.record_payment_applied(PaymentApplied(
            application_id=f"app-{invoice.invoice_number}-{amount}", payment_id="pay-1",
            invoice_id=invoice.invoice_id, invoice_number=invoice.invoice_number,
            customer_id=invoice.customer_id, amount=Money.of(amount, "EUR"), applied_on=on,
            rule="invoice-number", explanation="named it"), ERP, self.tracking())


@pytest.fixture
def credit() -> Credit:
    return Credit()


def decisions(events: list[IntegrationEvent]) -> list[IntegrationEvent]:
    return [event for event in events if isinstance(event, (OrderCreditApproved,
                                                            OrderCreditHeld))]


def test_an_order_over_the_limit_is_held_and_approved_when_resubmitted_after_a_payment(credit):
    credit.set_limit("10000.00")
    [limit_set] = [e for e in credit.new_events() if isinstance(e, CreditLimitSet)]
    assert (limit_set.limit, limit_set.requested_by, limit_set.approved_by) == (
        Money.of("10000.00", "EUR"), "sales:bob", "credit:carla")
    invoice = credit.invoice("INV-1", "9000.00")

    credit.order("SO-1", "1500.00")
    [held] = decisions(credit.new_events())
    assert isinstance(held, OrderCreditHeld)
    assert [rule.rule for rule in held.held_by] == ["over_limit"]
    assert held.exposure == Money.of("10500.00", "EUR")
    assert held.percent_used == D("105.00")
    assert credit.views.held_orders_of(TENANT)[0]["order_id"] == "SO-1"

    credit.pay(invoice, "5000.00")
    credit.order("SO-1", "1500.00")
    [approved] = decisions(credit.new_events())
    assert isinstance(approved, OrderCreditApproved)
    assert approved.exposure == Money.of("5500.00", "EUR")
    assert credit.views.held_orders_of(TENANT) == []
    # the approved order now counts: a second one the same size still fits, a third does not
    credit.order("SO-2", "4000.00")
    credit.order("SO-3", "1000.00")
    assert [type(e).__name__ for e in decisions(credit.new_events())] == [
        "OrderCreditApproved", "OrderCreditHeld"]


def test_a_limit_change_needs_an_approver_other_than_the_requester(credit):
    change = credit.app.request_limit_change(SALES, D("5000"), "new customer",
                                             customer_id="C-1")
    with pytest.raises(CreditError, match="cannot also approve"):
        credit.app.approve_limit_change(SALES, change, customer_id="C-1")
    assert not [e for e in credit.new_events() if isinstance(e, CreditLimitSet)]


def test_a_temporary_limit_lets_an_order_through_until_it_expires(credit):
    credit.set_limit("1000.00")
    change = credit.app.request_limit_change(
        SALES, D("5000.00"), "seasonal peak", customer_id="C-1", valid_from=TODAY,
        expires_on=TODAY + timedelta(days=10))
    credit.app.approve_limit_change(CONTROLLER, change, customer_id="C-1")
    [granted] = [e for e in credit.new_events() if isinstance(e, TemporaryCreditLimitGranted)]
    assert granted.expires_on == TODAY + timedelta(days=10)
    credit.order("SO-1", "3000.00")
    credit.app.clock.advance(days=11)
    credit.order("SO-2", "10.00")
    assert [type(e).__name__ for e in decisions(credit.new_events())] == [
        "OrderCreditApproved", "OrderCreditHeld"]


def test_two_customers_of_a_credit_group_share_its_limit(credit):
    credit.set_limit("10000.00", group_id="G-1")
    for customer_id in ("C-1", "C-2"):
        credit.app.add_to_group(CONTROLLER, "G-1", customer_id)
    invoice = credit.invoice("INV-1", "6000.00", customer_id="C-1")

    credit.order("SO-9", "5000.00", customer_id="C-2")
    [held] = decisions(credit.new_events())
    assert isinstance(held, OrderCreditHeld) and held.credit_group_id == "G-1"
    assert [rule.rule for rule in held.held_by] == ["group_over_limit"]

    credit.pay(invoice, "6000.00")
    credit.order("SO-9", "5000.00", customer_id="C-2")
    [approved] = decisions(credit.new_events())
    assert isinstance(approved, OrderCreditApproved)


def test_an_invoice_60_days_overdue_holds_the_account_until_it_is_paid(credit):
    invoice = credit.invoice("INV-OLD", "700.00", due_date=TODAY - timedelta(days=61))
    [hold] = [e for e in credit.new_events() if isinstance(e, CreditHoldPlaced)]
    assert (hold.rule, hold.explanation) == (
        "overdue", "INV-OLD overdue more than 60 days (700.00 EUR)")
    assert credit.views.held_accounts_of(TENANT)[0]["customer_id"] == "C-1"

    credit.order("SO-1", "10.00")
    [held] = decisions(credit.new_events())
    assert [rule.rule for rule in held.held_by] == ["overdue", "on_hold"]

    credit.pay(invoice, "700.00")
    [released] = [e for e in credit.new_events() if isinstance(e, CreditHoldReleased)]
    assert (released.hold_id, released.automatic, released.reason) == (
        hold.hold_id, True, "the condition cleared")
    assert credit.views.held_accounts_of(TENANT) == []


def test_an_approver_releases_a_hold_by_hand_and_it_stays_released_while_the_cause_lasts(
        credit):
    credit.app.record_escalation(CaseEscalated(
        escalation_id="esc-1", customer_id="C-1", partner_kind="collection_agency",
        partner_name="Incasso BV", escalated_on=TODAY, total_open=(Money.of("5", "EUR"),),
        invoices=(DunnedInvoice(invoice_id="id-INV-1", invoice_number="INV-1",
                                due_date=TODAY, open_amount=Money.of("5", "EUR")),)),
        ERP, credit.tracking())
    assert not [e for e in credit.new_events() if isinstance(e, CreditHoldPlaced)]
    credit.invoice("INV-2", "50.00")
    credit.app.record_escalation(CaseEscalated(
        escalation_id="esc-2", customer_id="C-1", partner_kind="collection_agency",
        partner_name="Incasso BV", escalated_on=TODAY, total_open=(Money.of("50", "EUR"),),
        invoices=(DunnedInvoice(invoice_id="id-INV-2", invoice_number="INV-2",
                                due_date=TODAY, open_amount=Money.of("50", "EUR")),)),
        ERP, credit.tracking())
    [hold] = [e for e in credit.new_events() if isinstance(e, CreditHoldPlaced)]
    assert hold.rule == "escalated"

    with pytest.raises(CreditError, match="no overdue hold"):
        credit.app.release_hold(CONTROLLER, "C-1", "overdue", "paid")
    credit.app.release_hold(CONTROLLER, "C-1", "escalated", "agency confirmed a payment plan")
    [released] = [e for e in credit.new_events() if isinstance(e, CreditHoldReleased)]
    assert (released.automatic, released.released_by) == (False, "credit:carla")
    credit.app.review(ERP, "C-1")
    assert not [e for e in credit.new_events() if isinstance(e, CreditHoldPlaced)]


def test_a_customer_paying_40_days_late_scores_worse_and_the_score_says_why(credit):
    for customer_id, days_late in (("PROMPT", 0), ("LATE", 40)):
        credit.app.upsert_customer(CustomerUpserted(
            customer_id=customer_id, name=customer_id, currency="EUR", payment_terms_days=30),
            ERP, credit.tracking())
        for n in range(4):
            due = TODAY - timedelta(days=100 - n * 10)
            invoice = credit.invoice(f"INV-{customer_id}-{n}", "100.00", due_date=due,
                                     customer_id=customer_id)
            credit.pay(invoice, "100.00", on=due + timedelta(days=days_late))
    scores = {event.customer_id: event for event in credit.new_events()
              if isinstance(event, RiskScoreChanged)}
    assert scores["LATE"].score > scores["PROMPT"].score
    reasons = {reason.factor: reason for reason in scores["LATE"].reasons}
    assert reasons["days_beyond_terms"].explanation == (
        "pays 40.0 days beyond terms on average (4 invoices)")
    assert credit.app.account(TENANT, "LATE").reasons[1]["factor"] == "days_beyond_terms"


def test_a_redelivered_order_decides_nothing_twice(credit):
    event = OrderPlaced(order_id="SO-1", customer_id="C-1", ordered_on=TODAY, currency="EUR",
                        lines=(OrderLine(line_no=1, sku="X", quantity="1", unit_price="1"),))
    tracking = Tracking("erp.orders#0", 999)
    credit.app.place_order(event, ERP, tracking)
    with pytest.raises(AlreadyProcessed):
        credit.app.place_order(event, ERP, tracking)
    assert len(decisions(credit.new_events())) == 1


def test_an_approver_lets_a_held_order_ship(credit):
    credit.set_limit("100.00")
    credit.order("SO-1", "500.00")
    credit.app.release_order(CONTROLLER, "C-1", "SO-1", "prepaid by wire")
    held, approved = decisions(credit.new_events())
    assert isinstance(held, OrderCreditHeld)
    assert isinstance(approved, OrderCreditApproved)
    assert (approved.released_by, approved.reason) == ("credit:carla", "prepaid by wire")


def test_a_payment_read_before_its_invoice_still_settles_it(credit):
    """Credit reads ar.matching and ar.invoicing side by side: no order between them."""
    credit.set_limit("1000.00")
    invoice = InvoiceIssued(
        invoice_id="id-INV-9", invoice_number="INV-9", customer_id="C-1", issue_date=TODAY,
        due_date=TODAY + timedelta(days=30), net_amount=Money.of("800.00", "EUR"),
        tax_amount=Money.of("0.00", "EUR"), total=Money.of("800.00", "EUR"))
    credit.pay(invoice, "800.00")
    credit.app.record_invoice(invoice, ERP, credit.tracking())
    credit.app.record_invoice(invoice, ERP, credit.tracking())  # re-sent under a new offset
    credit.order("SO-1", "900.00")
    [approved] = decisions(credit.new_events())
    assert isinstance(approved, OrderCreditApproved)
    assert approved.exposure == Money.of("900.00", "EUR")


def test_a_returned_payment_reopens_the_invoice_and_an_adjustment_changes_its_amount(credit):
    credit.set_limit("1000.00")
    invoice = credit.invoice("INV-1", "600.00")
    credit.pay(invoice, "600.00")
    credit.app.record_application_reversed(ApplicationReversed(
        application_id="app-INV-1-600.00", reverses="payment-application", payment_id="pay-1",
        invoice_id=invoice.invoice_id, invoice_number="INV-1", customer_id="C-1",
        amount=Money.of("600.00", "EUR"), reversed_on=TODAY, reason="payment returned: NSF",
        actor="matching"), ERP, credit.tracking())
    credit.app.record_invoice_adjusted(InvoiceAdjusted(
        adjustment_id="adj-1", invoice_id=invoice.invoice_id, invoice_number="INV-1",
        customer_id="C-1", adjusted_on=TODAY, net_amount=Money.of("-100.00", "EUR"),
        tax_amount=Money.of("0.00", "EUR"), amount=Money.of("-100.00", "EUR"),
        new_total=Money.of("500.00", "EUR"), reason="price agreed", actor="sales:bob"),
        ERP, credit.tracking())
    credit.order("SO-1", "600.00")
    [held] = decisions(credit.new_events())
    assert isinstance(held, OrderCreditHeld)
    assert held.exposure == Money.of("1100.00", "EUR")  # 500.00 open again + 600.00 ordered
