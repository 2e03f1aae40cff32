"""Credit's write side: facts from the ERP, invoicing, matching, payments and dunning
update each customer's exposure and behaviour; every change re-assesses the risk score
and the account holds; an order gets its credit decision.

Each command stores the aggregates' new events, with the consumed Kafka position when
there is one, in one transaction (`record`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError, Tracking

from libs.events import (
    CaseEscalated,
    CreditApplied,
    CreditHoldPlaced,
    CreditHoldReleased,
    CreditLimitSet,
    CreditNoteIssued,
    CustomerUpserted,
    DisputeOpened,
    ExchangeRatePublished,
    HeldBy,
    IntegrationEvent,
    ApplicationReversed,
    InvoiceAdjusted,
    InvoiceCancelled,
    InvoiceIssued,
    InvoiceWrittenOff,
    Money,
    OrderCancelled,
    OrderCreditApproved,
    OrderCreditHeld,
    OrderPlaced,
    OrderShipped,
    PaymentApplied,
    PaymentReturned,
    PromiseToPayBroken,
    RiskReason,
    RiskScoreChanged,
    TemporaryCreditLimitGranted,
)
from libs.runtime.causation import Causation
from libs.runtime.clock import Clock, SystemClock
from libs.runtime.eventstore import ReceivablesApplication, UnitOfWork

from .domain import (
    CreditAccount,
    CreditError,
    CreditGroup,
    CreditPolicy,
    GroupFacts,
    MissingRate,
    TenantCredit,
    account_hold_conditions,
    assess_risk,
    check_order,
    net_days,
    order_value,
    to_functional,
)

T = TypeVar("T")
CONFLICT_RETRIES = 5


class UnknownAccount(LookupError):
    """Credit has never heard of this customer or group."""


class CreditApplication(ReceivablesApplication):
    name = "credit"
    clock: Clock = SystemClock()
    default_policy: CreditPolicy = CreditPolicy()

    # ------------------------------------------------------------------ plumbing

    def _in_one_transaction(self, command: Callable[[UnitOfWork], T],
                            tracking: Tracking | None = None) -> T:
        for attempt in range(1, CONFLICT_RETRIES + 1):
            work = UnitOfWork(self)
            result = command(work)
            try:
                self.record(tracking, *work.aggregates)
                return result
            except IntegrityError:
                if tracking is not None or attempt == CONFLICT_RETRIES:
                    raise  # the consumer runs the whole handler again
        raise AssertionError("unreachable")

    def policy_of(self, tenant: str, work: UnitOfWork | None = None) -> CreditPolicy:
        settings = (work.get if work else self.get_or_none)(TenantCredit.create_id(tenant))
        return settings.policy if settings is not None else self.default_policy

    def _converter(self, work: UnitOfWork, tenant: str) -> Callable[[Decimal, str], Decimal]:
        settings = work.get(TenantCredit.create_id(tenant))
        rates = settings.rates if settings is not None else {}
        functional = self.policy_of(tenant, work).functional_currency
        return lambda amount, currency: to_functional(amount, currency, functional, rates)

    def _account(self, work: UnitOfWork, tenant: str, customer_id: str,
                 causation: Causation) -> CreditAccount:
        account = work.get(CreditAccount.create_id(tenant, customer_id))
        if account is None:
            account = CreditAccount(tenant=tenant, customer_id=customer_id,
                                    opened_on=self.clock.today(), causation=causation.as_dict())
            work.add(account)
        return account

    def _on_account(self, customer_id: str | None, causation: Causation,
                    tracking: Tracking | None,
                    change: Callable[[UnitOfWork, CreditAccount, dict[str, Any]], None]) -> None:
        """Apply a fact to the customer's account, then re-assess its risk and holds."""
        if customer_id is None:
            self.record(tracking)
            return

        def apply(work: UnitOfWork) -> None:
            account = self._account(work, causation.tenant, customer_id, causation)
            change(work, account, causation.as_dict())
            self._reassess(work, account, causation)

        self._in_one_transaction(apply, tracking)

    def _reassess(self, work: UnitOfWork, account: CreditAccount, causation: Causation) -> None:
        today = self.clock.today()
        policy = self.policy_of(account.tenant, work)
        cause = causation.as_dict()
        assessment = assess_risk(account.behaviour(today), today, account.external_score,
                                 policy.external_score_weight)
        if assessment.score != account.score or assessment.risk_class != account.risk_class:
            account.record_risk(
                customer_id=account.customer_id, score=assessment.score,
                risk_class=assessment.risk_class,
                previous_score=account.score, previous_class=account.risk_class,
                internal_score=assessment.internal_score,
                external_score=assessment.external_score,
                reasons=[{"factor": reason.factor, "points": reason.points,
                          "explanation": reason.explanation} for reason in assessment.reasons],
                scored_on=today, causation=cause)
        try:
            facts = account.facts(today, self._converter(work, account.tenant))
        except MissingRate:
            return  # holds wait for the rate; order checks say "rate_missing"
        conditions = account_hold_conditions(facts, policy)
        for rule, explanation in conditions.items():
            if rule not in account.holds and rule not in account.overridden:
                account.place_hold(customer_id=account.customer_id, hold_id=str(uuid.uuid4()),
                                   rule=rule, explanation=explanation, placed_on=today,
                                   causation=cause)
        for rule, hold in list(account.holds.items()):
            if rule != "manual" and rule not in conditions:
                account.release_hold(customer_id=account.customer_id, hold_id=hold["hold_id"],
                                     rule=rule, automatic=True, released_by=None,
                                     reason="the condition cleared",
                                     released_on=today, causation=cause)
        for rule in list(account.overridden):
            if rule not in conditions:
                account.lapse_override(rule=rule, causation=cause)

    # --------------------------------------------------------- facts coming in

    def upsert_customer(self, event: CustomerUpserted, causation: Causation,
                        tracking: Tracking | None = None) -> None:
        def change(work: UnitOfWork, account: CreditAccount, cause: dict[str, Any]) -> None:
            terms = event.payment_terms_days if event.payment_terms_days is not None \
                else net_days(event.payment_terms)
            if (account.name, account.payment_terms_days) != (event.name, terms):
                account.record_customer(name=event.name, payment_terms_days=terms,
                                        causation=cause)

        self._on_account(event.customer_id, causation, tracking, change)

    def record_exchange_rate(self, event: ExchangeRatePublished, causation: Causation,
                             tracking: Tracking | None = None) -> None:
        def record(work: UnitOfWork) -> None:
            settings = self._tenant(work, causation)
            settings.record_rate(pair=f"{event.from_currency}/{event.to_currency}",
                                 rate=event.rate, rate_date=event.rate_date,
                                 causation=causation.as_dict())

        self._in_one_transaction(record, tracking)

    def place_order(self, event: OrderPlaced, causation: Causation,
                    tracking: Tracking | None = None) -> None:
        """The ERP asks whether the order may ship; resubmitting the order asks again."""

        def change(work: UnitOfWork, account: CreditAccount, cause: dict[str, Any]) -> None:
            self._decide(work, account, event.order_id, order_value(event.lines),
                         event.currency, net_days(event.payment_terms), cause)

        self._on_account(event.customer_id, causation, tracking, change)

    def _decide(self, work: UnitOfWork, account: CreditAccount, order_id: str,
                amount: Decimal, currency: str, terms_days: int | None,
                cause: dict[str, Any]) -> None:
        today = self.clock.today()
        policy = self.policy_of(account.tenant, work)
        convert = self._converter(work, account.tenant)
        group = None
        try:
            functional_amount = convert(amount, currency)
            facts = account.facts(today, convert, account.exposure_without(order_id, convert))
            if account.group_id is not None:
                group = self._group_facts(work, account, order_id, convert, today)
        except MissingRate as missing:
            account.decide_order(
                customer_id=account.customer_id, order_id=order_id, approved=False,
                amount=amount, currency=currency,
                exposure=Decimal(0), limit=account.limits.effective(today), percent_used=None,
                held_by=[["rate_missing", str(missing)]], group_id=account.group_id,
                decided_on=today, released_by=None, reason=None, causation=cause)
            return
        decision = check_order(functional_amount, terms_days, facts, group, policy)
        account.decide_order(
            customer_id=account.customer_id, order_id=order_id, approved=decision.approved,
            amount=functional_amount,
            currency=policy.functional_currency, exposure=decision.exposure,
            limit=decision.limit, percent_used=decision.percent_used,
            held_by=[list(rule) for rule in decision.held_by], group_id=account.group_id,
            decided_on=today, released_by=None, reason=None, causation=cause)

    def _group_facts(self, work: UnitOfWork, account: CreditAccount, order_id: str,
                     convert: Callable[[Decimal, str], Decimal], today: date) -> GroupFacts:
        group = work.get(CreditGroup.create_id(account.tenant, account.group_id))
        exposure = account.exposure_without(order_id, convert)
        for member_id in group.members:
            if member_id != account.customer_id:
                member = work.get(CreditAccount.create_id(account.tenant, member_id))
                if member is not None:
                    exposure = exposure + member.exposure(convert)
        return GroupFacts(group.group_id, exposure, group.limits.effective(today))

    def ship_order(self, event: OrderShipped, causation: Causation,
                   tracking: Tracking | None = None) -> None:
        def change(work: UnitOfWork, account: CreditAccount, cause: dict[str, Any]) -> None:
            amount = order_value(event.lines)
            try:
                functional = self._converter(work, account.tenant)(amount, event.currency)
            except MissingRate:
                functional = None
            account.record_shipment(order_id=event.order_id, shipment_id=event.shipment_id,
                                    amount=amount, currency=event.currency,
                                    functional_amount=functional, causation=cause)

        self._on_account(event.customer_id, causation, tracking, change)

    def cancel_order(self, event: OrderCancelled, causation: Causation,
                     tracking: Tracking | None = None) -> None:
        self._on_account(event.customer_id, causation, tracking,
                         lambda work, account, cause: account.cancel_order(
                             order_id=event.order_id, causation=cause))

    def record_invoice(self, event: InvoiceIssued, causation: Causation,
                       tracking: Tracking | None = None) -> None:
        def change(work: UnitOfWork, account: CreditAccount, cause: dict[str, Any]) -> None:
            if event.invoice_id in account.invoices \
                    or event.invoice_id in account.closed_invoices:
                return  # the same invoice re-sent
            functional = self.policy_of(account.tenant, work).functional_currency
            functional_total = None
            if event.total.currency == functional:
                functional_total = event.total.amount
            elif event.functional_amount is not None \
                    and event.functional_amount.currency == functional:
                functional_total = event.functional_amount.amount
            account.record_invoice(
                invoice_id=event.invoice_id, invoice_number=event.invoice_number,
                total=event.total.amount, currency=event.total.currency,
                functional_total=functional_total, issue_date=event.issue_date,
                due_date=event.due_date, shipment_id=event.shipment_id, causation=cause)

        self._on_account(event.customer_id, causation, tracking, change)

    def _reduce(self, customer_id: str, invoice_id: str, amount: Money, on: date,
                by_payment: bool, causation: Causation, tracking: Tracking | None) -> None:
        self._on_account(customer_id, causation, tracking,
                         lambda work, account, cause: account.reduce_invoice(
                             invoice_id=invoice_id, amount=amount.amount, on=on,
                             by_payment=by_payment, causation=cause))

    def record_payment_applied(self, event: PaymentApplied, causation: Causation,
                               tracking: Tracking | None = None) -> None:
        self._reduce(event.customer_id, event.invoice_id, event.amount, event.applied_on, True,
                     causation, tracking)

    def record_invoice_cancelled(self, event: InvoiceCancelled, causation: Causation,
                                 tracking: Tracking | None = None) -> None:
        self._reduce(event.customer_id, event.invoice_id, event.amount, event.cancelled_on,
                     False, causation, tracking)

    def record_invoice_written_off(self, event: InvoiceWrittenOff, causation: Causation,
                                   tracking: Tracking | None = None) -> None:
        self._reduce(event.customer_id, event.invoice_id, event.amount, event.written_off_on,
                     False, causation, tracking)

    def record_invoice_adjusted(self, event: InvoiceAdjusted, causation: Causation,
                                tracking: Tracking | None = None) -> None:
        self._on_account(event.customer_id, causation, tracking,
                         lambda work, account, cause: account.adjust_invoice(
                             invoice_id=event.invoice_id, amount=event.amount.amount,
                             causation=cause))

    def record_application_reversed(self, event: ApplicationReversed, causation: Causation,
                                    tracking: Tracking | None = None) -> None:
        """A payment came back or a person undid a match: the invoice is open again."""

        def change(work: UnitOfWork, account: CreditAccount, cause: dict[str, Any]) -> None:
            account.reopen_invoice(invoice_id=event.invoice_id, amount=event.amount.amount,
                                   causation=cause)
            if event.reverses == "credit-use":
                try:
                    credit = self._converter(work, account.tenant)(event.amount.amount,
                                                                   event.amount.currency)
                except MissingRate:
                    return
                account.change_unapplied_credits(amount=credit, causation=cause)

        self._on_account(event.customer_id, causation, tracking, change)

    def record_credit_note(self, event: CreditNoteIssued, causation: Causation,
                           tracking: Tracking | None = None) -> None:
        def change(work: UnitOfWork, account: CreditAccount, cause: dict[str, Any]) -> None:
            if event.invoice_id is not None:
                account.reduce_invoice(invoice_id=event.invoice_id, amount=event.total.amount,
                                       on=event.issue_date, by_payment=False, causation=cause)
                return
            try:
                credit = self._converter(work, account.tenant)(event.total.amount,
                                                               event.total.currency)
            except MissingRate:
                return  # an unconverted credit is left out: exposure errs on the safe side
            account.change_unapplied_credits(amount=credit, causation=cause)

        self._on_account(event.customer_id, causation, tracking, change)

    def record_credit_applied(self, event: CreditApplied, causation: Causation,
                              tracking: Tracking | None = None) -> None:
        def change(work: UnitOfWork, account: CreditAccount, cause: dict[str, Any]) -> None:
            account.reduce_invoice(invoice_id=event.invoice_id, amount=event.amount.amount,
                                   on=event.applied_on, by_payment=False, causation=cause)
            try:
                used = self._converter(work, account.tenant)(event.amount.amount,
                                                             event.amount.currency)
            except MissingRate:
                return
            account.change_unapplied_credits(amount=-used, causation=cause)

        self._on_account(event.customer_id, causation, tracking, change)

    def _incident(self, customer_id: str | None, kind: str, invoice_ids: Iterable[str],
                  causation: Causation, tracking: Tracking | None) -> None:
        self._on_account(customer_id, causation, tracking,
                         lambda work, account, cause: account.record_incident(
                             kind=kind, invoice_ids=list(invoice_ids), causation=cause))

    def record_payment_returned(self, event: PaymentReturned, causation: Causation,
                                tracking: Tracking | None = None) -> None:
        self._incident(event.customer_id, "returned_payment", (), causation, tracking)

    def record_dispute(self, event: DisputeOpened, causation: Causation,
                       tracking: Tracking | None = None) -> None:
        self._incident(event.customer_id, "dispute",
                       [invoice.invoice_id for invoice in event.invoices], causation, tracking)

    def record_broken_promise(self, event: PromiseToPayBroken, causation: Causation,
                              tracking: Tracking | None = None) -> None:
        self._incident(event.customer_id, "broken_promise", event.invoice_ids, causation,
                       tracking)

    def record_escalation(self, event: CaseEscalated, causation: Causation,
                          tracking: Tracking | None = None) -> None:
        self._incident(event.customer_id, "escalation",
                       [invoice.invoice_id for invoice in event.invoices], causation, tracking)

    # -------------------------------------------------- what credit controllers do

    def _tenant(self, work: UnitOfWork, causation: Causation) -> TenantCredit:
        settings = work.get(TenantCredit.create_id(causation.tenant))
        if settings is None:
            settings = TenantCredit(tenant=causation.tenant,
                                    policy=self.default_policy.as_dict(),
                                    causation=causation.as_dict())
            work.add(settings)
        return settings

    def set_policy(self, policy: CreditPolicy, causation: Causation) -> CreditPolicy:
        def record(work: UnitOfWork) -> CreditPolicy:
            self._tenant(work, causation).set_policy(policy=policy.as_dict(),
                                                     set_by=causation.actor,
                                                     causation=causation.as_dict())
            return policy

        return self._in_one_transaction(record)

    def _limit_holder(self, work: UnitOfWork, causation: Causation, customer_id: str | None,
                      group_id: str | None) -> CreditAccount | CreditGroup:
        if group_id is not None:
            group = work.get(CreditGroup.create_id(causation.tenant, group_id))
            if group is None:
                group = CreditGroup(tenant=causation.tenant, group_id=group_id,
                                    causation=causation.as_dict())
                work.add(group)
            return group
        assert customer_id is not None
        return self._account(work, causation.tenant, customer_id, causation)

    def request_limit_change(self, causation: Causation, amount: Decimal, reason: str,
                             customer_id: str | None = None, group_id: str | None = None,
                             valid_from: date | None = None,
                             expires_on: date | None = None) -> str:
        """Returns the change id an approver (not the requester) approves."""
        if not causation.actor:
            raise CreditError("a limit change names who requests it")
        change_id = str(uuid.uuid4())

        def record(work: UnitOfWork) -> str:
            holder = self._limit_holder(work, causation, customer_id, group_id)
            holder.request_limit_change(change_id, amount, valid_from, expires_on,
                                        causation.actor, reason, causation.as_dict())
            return change_id

        return self._in_one_transaction(record)

    def approve_limit_change(self, causation: Causation, change_id: str,
                             customer_id: str | None = None,
                             group_id: str | None = None) -> None:
        if not causation.actor:
            raise CreditError("an approval names the approver")

        def record(work: UnitOfWork) -> None:
            key = (CreditGroup.create_id(causation.tenant, group_id) if group_id is not None
                   else CreditAccount.create_id(causation.tenant, customer_id or ""))
            holder = work.get(key)
            if holder is None:
                raise UnknownAccount(f"no customer or group {customer_id or group_id!r}")
            holder.approve_limit_change(change_id, causation.actor,
                                        self.policy_of(causation.tenant, work).functional_currency,
                                        self.clock.today(), causation.as_dict())
            for member_id in getattr(holder, "members", []):
                self._reassess(work, self._account(work, causation.tenant, member_id, causation),
                               causation)
            if isinstance(holder, CreditAccount):
                self._reassess(work, holder, causation)

        self._in_one_transaction(record)

    def add_to_group(self, causation: Causation, group_id: str, customer_id: str) -> None:
        def record(work: UnitOfWork) -> None:
            group = self._limit_holder(work, causation, None, group_id)
            account = self._account(work, causation.tenant, customer_id, causation)
            if account.group_id not in (None, group_id):
                raise CreditError(f"{customer_id} already belongs to credit group "
                                  f"{account.group_id}")
            if customer_id not in group.members:
                group.add_member(customer_id=customer_id, causation=causation.as_dict())
                account.join_group(group_id=group_id, causation=causation.as_dict())

        self._in_one_transaction(record)

    def place_manual_hold(self, causation: Causation, customer_id: str, reason: str) -> None:
        """A controller puts the account on hold; only a person releases it."""
        if not causation.actor:
            raise CreditError("a hold names who places it")

        def record(work: UnitOfWork) -> None:
            account = self._existing(work, causation.tenant, customer_id)
            if "manual" not in account.holds:
                account.place_hold(customer_id=customer_id, hold_id=str(uuid.uuid4()),
                                   rule="manual", explanation=f"{causation.actor}: {reason}",
                                   placed_on=self.clock.today(), causation=causation.as_dict())

        self._in_one_transaction(record)

    def release_hold(self, causation: Causation, customer_id: str, rule: str,
                     reason: str) -> None:
        if not causation.actor:
            raise CreditError("a release names the approver")

        def record(work: UnitOfWork) -> None:
            account = self._existing(work, causation.tenant, customer_id)
            hold = account.holds.get(rule)
            if hold is None:
                raise CreditError(f"{customer_id} has no {rule} hold in force")
            account.release_hold(customer_id=account.customer_id, hold_id=hold["hold_id"],
                                 rule=rule, automatic=False, released_by=causation.actor,
                                 reason=reason,
                                 released_on=self.clock.today(), causation=causation.as_dict())

        self._in_one_transaction(record)

    def release_order(self, causation: Causation, customer_id: str, order_id: str,
                      reason: str) -> None:
        """An approver lets a held order ship despite the rules that held it."""
        if not causation.actor:
            raise CreditError("a release names the approver")

        def record(work: UnitOfWork) -> None:
            account = self._existing(work, causation.tenant, customer_id)
            decision = account.order_decisions.get(order_id)
            if decision is None or decision["approved"]:
                raise CreditError(f"order {order_id} of {customer_id} is not held")
            today = self.clock.today()
            convert = self._converter(work, account.tenant)
            exposure = account.exposure_without(order_id, convert).total + decision["amount"]
            limit = account.limits.effective(today)
            account.decide_order(
                customer_id=account.customer_id, order_id=order_id, approved=True,
                amount=decision["amount"],
                currency=self.policy_of(causation.tenant, work).functional_currency,
                exposure=exposure, limit=limit,
                percent_used=None if not limit else round(exposure / limit * 100, 2),
                held_by=[], group_id=account.group_id, decided_on=today,
                released_by=causation.actor, reason=reason, causation=causation.as_dict())

        self._in_one_transaction(record)

    def set_external_score(self, causation: Causation, customer_id: str,
                           score: Decimal | None) -> None:
        self._on_account(customer_id, causation, None,
                         lambda work, account, cause: account.record_external_score(
                             score=score, causation=cause))

    def review(self, causation: Causation, customer_id: str) -> None:
        """Re-assess risk and holds as of today: time alone makes invoices overdue."""
        self._on_account(customer_id, causation, None, lambda work, account, cause: None)

    def _existing(self, work: UnitOfWork, tenant: str, customer_id: str) -> CreditAccount:
        account = work.get(CreditAccount.create_id(tenant, customer_id))
        if account is None:
            raise UnknownAccount(f"credit knows no customer {customer_id!r}")
        return account

    # ------------------------------------------------------------------- reading

    def account(self, tenant: str, customer_id: str) -> CreditAccount:
        account = self.get_or_none(CreditAccount.create_id(tenant, customer_id))
        if account is None:
            raise UnknownAccount(f"credit knows no customer {customer_id!r}")
        return account

    def group(self, tenant: str, group_id: str) -> CreditGroup:
        group = self.get_or_none(CreditGroup.create_id(tenant, group_id))
        if group is None:
            raise UnknownAccount(f"credit knows no group {group_id!r}")
        return group


# ------------------------------------------------------------------ publishing

def to_integration_events(domain_event: DomainEventProtocol) -> Iterable[IntegrationEvent]:
    """What credit tells the world; facts it recorded from others stay inside."""
    details = vars(domain_event)
    name = type(domain_event).__name__
    if name == "LimitSet":
        currency = details["currency"]
        yield CreditLimitSet(
            **details["owner"], change_id=details["change_id"],
            limit=Money.of(details["amount"], currency),
            previous_limit=(None if details["previous"] is None
                            else Money.of(details["previous"], currency)),
            requested_by=details["requested_by"], approved_by=details["approved_by"],
            reason=details["reason"], effective_on=details["effective_on"])
    elif name == "TemporaryLimitGranted":
        yield TemporaryCreditLimitGranted(
            **details["owner"], change_id=details["change_id"],
            limit=Money.of(details["amount"], details["currency"]),
            valid_from=details["valid_from"], expires_on=details["expires_on"],
            requested_by=details["requested_by"], approved_by=details["approved_by"],
            reason=details["reason"])
    elif isinstance(domain_event, CreditAccount.RiskScored):
        yield RiskScoreChanged(
            customer_id=_customer(domain_event), score=details["score"],
            risk_class=details["risk_class"], previous_score=details["previous_score"],
            previous_class=details["previous_class"],
            internal_score=details["internal_score"], external_score=details["external_score"],
            reasons=tuple(RiskReason(**reason) for reason in details["reasons"]),
            scored_on=details["scored_on"])
    elif isinstance(domain_event, CreditAccount.HoldPlaced):
        yield CreditHoldPlaced(hold_id=details["hold_id"], customer_id=_customer(domain_event),
                               rule=details["rule"], explanation=details["explanation"],
                               placed_on=details["placed_on"])
    elif isinstance(domain_event, CreditAccount.HoldReleased):
        yield CreditHoldReleased(hold_id=details["hold_id"], customer_id=_customer(domain_event),
                                 rule=details["rule"], automatic=details["automatic"],
                                 released_by=details["released_by"], reason=details["reason"],
                                 released_on=details["released_on"])
    elif isinstance(domain_event, CreditAccount.OrderDecided):
        currency = details["currency"]
        limit = details["limit"]
        common = dict(
            order_id=details["order_id"], customer_id=_customer(domain_event),
            credit_group_id=details["group_id"],
            order_amount=Money.of(details["amount"], currency),
            exposure=Money.of(details["exposure"], currency),
            limit=None if limit is None else Money.of(limit, currency),
            percent_used=details["percent_used"], decided_on=details["decided_on"])
        if details["approved"]:
            yield OrderCreditApproved(**common, released_by=details["released_by"],
                                      reason=details["reason"])
        else:
            yield OrderCreditHeld(**common, held_by=tuple(
                HeldBy(rule=rule, explanation=explanation)
                for rule, explanation in details["held_by"]))


def _customer(domain_event: DomainEventProtocol) -> str:
    return vars(domain_event)["customer_id"]
