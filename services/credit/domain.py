"""Credit's rules and aggregates: limits, exposure, the risk score, account holds and
order credit checks.

Pure: no I/O, time comes in as `today`. Money is Decimal in the tenant's functional
currency (what a limit is set in); amounts in other currencies are converted with the
ERP's published rates before they count. Every stored event carries its causation (tenant,
trace, who asked) for the outbox relay.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from libs.runtime.ids import stable_id

D = Decimal
CENT = D("0.01")
TENTH = D("0.1")
ZERO = D(0)


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


class CreditError(ValueError):
    """A request the credit rules refuse; the message says why."""


class MissingRate(CreditError):
    """No published rate converts this currency into the functional currency."""


# --------------------------------------------------------------------------- policy

@dataclass(frozen=True)
class CreditPolicy:
    """A tenant's blocking rules. Amounts are in `functional_currency`."""

    functional_currency: str = "EUR"
    # Order credit check
    hold_over_limit: bool = True
    hold_without_limit: bool = False           # no limit set: unlimited unless this is on
    max_percent_used: Decimal | None = None    # e.g. 90: hold orders taking usage above 90 %
    overdue_days: int = 60                     # hold when more than `overdue_amount` is
    overdue_amount: Decimal = ZERO             # overdue by more than `overdue_days` days
    hold_risk_classes: tuple[str, ...] = ("E",)
    max_payment_terms_days: int | None = None  # orders on longer terms are held
    hold_when_on_hold: bool = True
    # Account holds
    account_hold_overdue_days: int = 60
    account_hold_on_escalation: bool = True
    account_hold_risk_classes: tuple[str, ...] = ("E",)
    # Risk score
    external_score_weight: Decimal = D("0.3")

    def as_dict(self) -> dict[str, Any]:
        return {name: (list(value) if isinstance(value, tuple) else value)
                for name, value in self.__dict__.items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> CreditPolicy:
        known = {name: (tuple(value) if isinstance(value, list) else value)
                 for name, value in values.items() if name in cls.__dataclass_fields__}
        return cls(**known)


# ------------------------------------------------------------------- exchange rates

Convert = Callable[[Decimal, str], Decimal]
"""(amount, currency) -> the amount in the functional currency; may raise MissingRate."""


def to_functional(amount: Decimal, currency: str, functional: str,
                  rates: dict[str, Decimal]) -> Decimal:
    """`rates["USD/EUR"]` is what one USD buys in EUR, as the ERP published it."""
    if currency == functional:
        return amount
    if f"{currency}/{functional}" in rates:
        return cents(amount * rates[f"{currency}/{functional}"])
    if f"{functional}/{currency}" in rates:
        return cents(amount / rates[f"{functional}/{currency}"])
    raise MissingRate(f"no published rate converts {currency} into {functional}")


# --------------------------------------------------------------------------- risk

RISK_CLASSES = (("A", D(20)), ("B", D(40)), ("C", D(60)), ("D", D(80)), ("E", D(101)))
RECENT_SETTLEMENTS = 12


def risk_class_of(score: Decimal) -> str:
    return next(name for name, below in RISK_CLASSES if score < below)


@dataclass(frozen=True)
class Reason:
    factor: str
    points: Decimal
    explanation: str


@dataclass(frozen=True)
class RiskAssessment:
    score: Decimal
    risk_class: str
    internal_score: Decimal
    external_score: Decimal | None
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class PaymentBehaviour:
    """What the customer did: days beyond terms of each settled invoice (oldest first),
    days overdue of each invoice still open, and the incidents."""

    settled_days_late: Sequence[int] = ()
    open_days_overdue: Sequence[int] = ()
    disputes: int = 0
    returned_payments: int = 0
    broken_promises: int = 0
    customer_since: date | None = None


def _capped(count: int, each: int, cap: int) -> Decimal:
    return D(min(count * each, cap))


def assess_risk(behaviour: PaymentBehaviour, today: date, external_score: Decimal | None = None,
                external_weight: Decimal = D("0.3")) -> RiskAssessment:
    """A score from 0 (safest) to 100 (riskiest), with the points each factor added.

    Days beyond terms weigh most: 0.75 points per day on average, at most 40. A worsening
    trend adds up to 10; disputes 5, returned payments 10, broken promises 8 each (capped);
    a new relationship adds 10, a long one takes 5 off. An external score is blended in
    at `external_weight`.
    """
    reasons = [Reason("base", D(10), "every customer starts at 10 points")]
    observed = [max(0, days) for days in behaviour.settled_days_late[-RECENT_SETTLEMENTS:]]
    observed += [max(0, days) for days in behaviour.open_days_overdue]
    if observed:
        average = D(sum(observed)) / len(observed)
        points = min(D(40), average * D("0.75")).quantize(TENTH)
        reasons.append(Reason(
            "days_beyond_terms", points,
            f"pays {average.quantize(TENTH)} days beyond terms on average "
            f"({len(observed)} invoices)"))
    settled = [max(0, days) for days in behaviour.settled_days_late]
    if len(settled) >= 4:
        recent = D(sum(settled[-3:])) / 3
        earlier = D(sum(settled[:-3])) / len(settled[:-3])
        change = recent - earlier
        points = max(D(-5), min(D(10), change / 2)).quantize(TENTH)
        if points:
            word = "later" if change > 0 else "earlier"
            reasons.append(Reason("trend", points,
                                  f"the last 3 invoices were paid {abs(change).quantize(TENTH)} "
                                  f"days {word} than before"))
    for factor, count, each, cap, what in (
            ("disputes", behaviour.disputes, 5, 15, "dispute(s) opened"),
            ("returned_payments", behaviour.returned_payments, 10, 20,
             "payment(s) returned by the bank"),
            ("broken_promises", behaviour.broken_promises, 8, 24, "promise(s) to pay broken")):
        if count:
            reasons.append(Reason(factor, _capped(count, each, cap), f"{count} {what}"))
    if behaviour.customer_since is None or (today - behaviour.customer_since).days < 180:
        reasons.append(Reason("relationship_age", D(10), "customer for less than 6 months"))
    elif (today - behaviour.customer_since).days < 365:
        reasons.append(Reason("relationship_age", D(5), "customer for less than a year"))
    elif (today - behaviour.customer_since).days >= 3 * 365:
        reasons.append(Reason("relationship_age", D(-5), "customer for 3 years or more"))
    internal = max(ZERO, min(D(100), sum((reason.points for reason in reasons), ZERO)))
    score = internal
    if external_score is not None and external_weight:
        score = (internal * (1 - external_weight) + external_score * external_weight)
        score = score.quantize(TENTH)
        reasons.append(Reason("external_score", score - internal,
                              f"external score {external_score} weighs "
                              f"{(external_weight * 100).normalize()} %"))
    return RiskAssessment(score=score, risk_class=risk_class_of(score), internal_score=internal,
                          external_score=external_score, reasons=tuple(reasons))


# ------------------------------------------------------------------ holds and checks

@dataclass(frozen=True)
class Exposure:
    """What the customer (or group) could owe, in the functional currency."""

    open_receivables: Decimal = ZERO
    open_orders: Decimal = ZERO
    shipped_not_invoiced: Decimal = ZERO
    unapplied_credits: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return cents(self.open_receivables + self.open_orders + self.shipped_not_invoiced
                     - self.unapplied_credits)

    def __add__(self, other: Exposure) -> Exposure:
        return Exposure(*(getattr(self, name) + getattr(other, name)
                          for name in self.__dataclass_fields__))


def percent_used(exposure: Decimal, limit: Decimal | None) -> Decimal | None:
    if limit is None or limit <= 0:
        return None
    return cents(exposure / limit * 100)


@dataclass(frozen=True)
class AccountFacts:
    """An account as the rules see it on one day."""

    exposure: Exposure
    limit: Decimal | None
    overdue_by_days: dict[str, tuple[int, Decimal]]  # invoice number -> (days, functional)
    risk_class: str | None
    escalated_open: tuple[str, ...]                  # escalated invoices still open
    active_holds: tuple[str, ...]                    # rules of the holds in force
    payment_terms_days: int | None = None

    def overdue_beyond(self, days: int) -> tuple[Decimal, list[str]]:
        late = [(number, amount) for number, (overdue, amount) in self.overdue_by_days.items()
                if overdue > days]
        return sum((amount for _, amount in late), ZERO), [number for number, _ in late]


@dataclass(frozen=True)
class GroupFacts:
    group_id: str
    exposure: Exposure
    limit: Decimal | None


@dataclass(frozen=True)
class CreditDecision:
    held_by: tuple[tuple[str, str], ...]
    exposure: Decimal
    limit: Decimal | None
    percent_used: Decimal | None

    @property
    def approved(self) -> bool:
        return not self.held_by


def account_hold_conditions(facts: AccountFacts, policy: CreditPolicy) -> dict[str, str]:
    """Rule -> why, for every account-hold rule that fires today."""
    conditions = {}
    amount, numbers = facts.overdue_beyond(policy.account_hold_overdue_days)
    if numbers:
        conditions["overdue"] = (f"{', '.join(sorted(numbers))} overdue more than "
                                 f"{policy.account_hold_overdue_days} days ({amount} "
                                 f"{policy.functional_currency})")
    if policy.account_hold_on_escalation and facts.escalated_open:
        conditions["escalated"] = (f"{', '.join(sorted(facts.escalated_open))} handed over "
                                   f"for collection")
    if facts.risk_class in policy.account_hold_risk_classes:
        conditions["risk_class"] = f"risk class {facts.risk_class}"
    return conditions


def check_order(order_amount: Decimal, order_terms_days: int | None, facts: AccountFacts,
                group: GroupFacts | None, policy: CreditPolicy) -> CreditDecision:
    """The blocking rules an order of `order_amount` (functional) would break."""
    currency = policy.functional_currency
    held: list[tuple[str, str]] = []
    exposure = facts.exposure.total + order_amount
    used = percent_used(exposure, facts.limit)
    if facts.limit is None:
        if policy.hold_without_limit:
            held.append(("no_limit", "the customer has no credit limit"))
    else:
        if policy.hold_over_limit and exposure > facts.limit:
            held.append(("over_limit", f"exposure {cents(exposure)} {currency} with this order "
                                       f"is over the limit {facts.limit} {currency} by "
                                       f"{cents(exposure - facts.limit)} {currency}"))
        if policy.max_percent_used is not None and used is not None \
                and used > policy.max_percent_used:
            held.append(("percent_used", f"{used} % of the limit used, above "
                                         f"{policy.max_percent_used} %"))
    if group is not None and group.limit is not None and policy.hold_over_limit:
        group_exposure = group.exposure.total + order_amount
        if group_exposure > group.limit:
            held.append(("group_over_limit",
                         f"credit group {group.group_id} exposure {cents(group_exposure)} "
                         f"{currency} with this order is over its limit {group.limit} "
                         f"{currency}"))
    amount, numbers = facts.overdue_beyond(policy.overdue_days)
    if numbers and amount > policy.overdue_amount:
        held.append(("overdue", f"{amount} {currency} overdue more than {policy.overdue_days} "
                                f"days ({', '.join(sorted(numbers))})"))
    if facts.risk_class in policy.hold_risk_classes:
        held.append(("risk_class", f"risk class {facts.risk_class} is held by policy"))
    terms = order_terms_days if order_terms_days is not None else facts.payment_terms_days
    if policy.max_payment_terms_days is not None and terms is not None \
            and terms > policy.max_payment_terms_days:
        held.append(("payment_terms", f"net {terms} is longer than the "
                                      f"{policy.max_payment_terms_days} days allowed"))
    if policy.hold_when_on_hold and facts.active_holds:
        held.append(("on_hold", f"the account is on credit hold ({', '.join(facts.active_holds)})"))
    return CreditDecision(held_by=tuple(held), exposure=cents(exposure), limit=facts.limit,
                          percent_used=used)


def order_value(lines: Iterable[Any]) -> Decimal:
    """Gross value of order lines: quantity x price, less line discount, plus tax."""
    total = ZERO
    for line in lines:
        net = cents(line.quantity * line.unit_price * (100 - line.discount_percent) / 100)
        total += net + cents(net * line.tax_rate)
    return total


def net_days(terms: str | None) -> int | None:
    """N of 'net N' terms; None for terms read otherwise."""
    if not terms:
        return None
    words = terms.lower().replace("-", " ").split()
    if "net" in words and words.index("net") + 1 < len(words) \
            and words[words.index("net") + 1].isdigit():
        return int(words[words.index("net") + 1])
    return 0 if "receipt" in words else None


# --------------------------------------------------------------------------- limits

@dataclass
class Limits:
    permanent: Decimal | None = None
    temporary: Decimal | None = None
    temporary_from: date | None = None
    temporary_until: date | None = None

    def effective(self, today: date) -> Decimal | None:
        if self.temporary is not None and self.temporary_from is not None \
                and self.temporary_until is not None \
                and self.temporary_from <= today <= self.temporary_until:
            return max(self.temporary, self.permanent or ZERO)
        return self.permanent


class LimitHolder:
    """What carries a limit: a customer or a credit group. A change is requested by one
    person and approved by another. Each aggregate declares the three events under its own
    stable names (`_limit_change_requested`, `_limit_set`, `_temporary_limit_granted`) and
    applies them with the `_apply_*` steps below."""

    limits: Limits
    pending_changes: dict[str, dict[str, Any]]
    _limit_change_requested: Callable[..., None]
    _limit_set: Callable[..., None]
    _temporary_limit_granted: Callable[..., None]

    def _init_limits(self) -> None:
        self.limits = Limits()
        self.pending_changes = {}

    @property
    def owner(self) -> dict[str, str | None]:
        raise NotImplementedError

    def request_limit_change(self, change_id: str, amount: Decimal, valid_from: date | None,
                             expires_on: date | None, requested_by: str, reason: str,
                             causation: dict[str, Any]) -> None:
        if amount < 0:
            raise CreditError(f"a credit limit cannot be negative, got {amount}")
        if (valid_from is None) != (expires_on is None):
            raise CreditError("a temporary limit needs both valid_from and expires_on")
        if expires_on is not None and valid_from is not None and expires_on < valid_from:
            raise CreditError(f"a temporary limit cannot expire ({expires_on}) before it "
                              f"starts ({valid_from})")
        self._limit_change_requested(change_id, amount, valid_from, expires_on, requested_by,
                                     reason, causation)

    def approve_limit_change(self, change_id: str, approver: str, currency: str, today: date,
                             causation: dict[str, Any]) -> None:
        change = self.pending_changes.get(change_id)
        if change is None:
            raise CreditError(f"no pending limit change {change_id!r}")
        if approver == change["requested_by"]:
            raise CreditError(f"{approver} requested this change and cannot also approve it")
        if change["valid_from"] is None:
            self._limit_set(change_id, change["amount"], self.limits.permanent, currency,
                            change["requested_by"], approver, change["reason"], today,
                            self.owner, causation)
        else:
            self._temporary_limit_granted(change_id, change["amount"], currency,
                                          change["valid_from"], change["expires_on"],
                                          change["requested_by"], approver, change["reason"],
                                          self.owner, causation)

    def _apply_requested(self, change_id: str, amount: Decimal, valid_from: date | None,
                         expires_on: date | None, requested_by: str, reason: str) -> None:
        self.pending_changes[change_id] = {
            "amount": amount, "valid_from": valid_from, "expires_on": expires_on,
            "requested_by": requested_by, "reason": reason}

    def _apply_set(self, change_id: str, amount: Decimal) -> None:
        self.pending_changes.pop(change_id, None)
        self.limits.permanent = amount

    def _apply_temporary(self, change_id: str, amount: Decimal, valid_from: date,
                         expires_on: date) -> None:
        self.pending_changes.pop(change_id, None)
        self.limits.temporary = amount
        self.limits.temporary_from = valid_from
        self.limits.temporary_until = expires_on


def _limit_events(prefix: str) -> dict[str, Any]:
    """The three limit events of one aggregate class, under its own stable topics."""

    @event("LimitChangeRequested", topic=f"{prefix}.LimitChangeRequested")
    def _limit_change_requested(self: Any, change_id: str, amount: Decimal,
                                valid_from: date | None, expires_on: date | None,
                                requested_by: str, reason: str,
                                causation: dict[str, Any]) -> None:
        self._apply_requested(change_id, amount, valid_from, expires_on, requested_by, reason)

    @event("LimitSet", topic=f"{prefix}.LimitSet")
    def _limit_set(self: Any, change_id: str, amount: Decimal, previous: Decimal | None,
                   currency: str, requested_by: str, approved_by: str, reason: str,
                   effective_on: date, owner: dict[str, str | None],
                   causation: dict[str, Any]) -> None:
        self._apply_set(change_id, amount)

    @event("TemporaryLimitGranted", topic=f"{prefix}.TemporaryLimitGranted")
    def _temporary_limit_granted(self: Any, change_id: str, amount: Decimal, currency: str,
                                 valid_from: date, expires_on: date, requested_by: str,
                                 approved_by: str, reason: str, owner: dict[str, str | None],
                                 causation: dict[str, Any]) -> None:
        self._apply_temporary(change_id, amount, valid_from, expires_on)

    return {"_limit_change_requested": _limit_change_requested, "_limit_set": _limit_set,
            "_temporary_limit_granted": _temporary_limit_granted}


class CreditGroup(LimitHolder, Aggregate):
    """Customers sharing one limit (a corporate group's subsidiaries)."""

    TOPIC = "credit.CreditGroup"

    class Created(Aggregate.Created):
        TOPIC = "credit.CreditGroup.Created"

    @staticmethod
    def create_id(tenant: str, group_id: str) -> UUID:
        return stable_id(tenant, "credit-group", group_id)

    @event("Formed", topic="credit.CreditGroup.Formed")
    def __init__(self, tenant: str, group_id: str, causation: dict[str, Any]) -> None:
        self.tenant = tenant
        self.group_id = group_id
        self.members: list[str] = []
        self._init_limits()

    @property
    def owner(self) -> dict[str, str | None]:
        return {"customer_id": None, "credit_group_id": self.group_id}

    @event("MemberAdded", topic="credit.CreditGroup.MemberAdded")
    def add_member(self, customer_id: str, causation: dict[str, Any]) -> None:
        self.members.append(customer_id)

    locals().update(_limit_events("credit.CreditGroup"))


class CreditAccount(LimitHolder, Aggregate):
    """One customer's credit: limit, exposure, behaviour, holds and order decisions."""

    TOPIC = "credit.CreditAccount"

    class Created(Aggregate.Created):
        TOPIC = "credit.CreditAccount.Created"

    @staticmethod
    def create_id(tenant: str, customer_id: str) -> UUID:
        return stable_id(tenant, "credit-account", customer_id)

    @event("Opened", topic="credit.CreditAccount.Opened")
    def __init__(self, tenant: str, customer_id: str, opened_on: date,
                 causation: dict[str, Any]) -> None:
        self.tenant = tenant
        self.customer_id = customer_id
        self.customer_since = opened_on
        self.name: str | None = None
        self.payment_terms_days: int | None = None
        self.group_id: str | None = None
        self.orders: dict[str, dict[str, Any]] = {}       # approved, not yet all shipped
        self.order_decisions: dict[str, dict[str, Any]] = {}
        self.uninvoiced: dict[str, list[Any]] = {}        # shipment id -> [amount, currency]
        # Topics are not ordered with each other: an invoice may be read before its
        # shipment, a payment before its invoice. What came early waits here.
        self.invoiced_shipments: list[str] = []
        self.early_reductions: dict[str, list[list[Any]]] = {}
        self.closed_invoices: dict[str, dict[str, Any]] = {}  # settled, kept to reopen
        self.invoices: dict[str, dict[str, Any]] = {}     # open invoices
        self.unapplied_credits = ZERO
        self.settled_days_late: list[int] = []
        self.disputes = self.returned_payments = self.broken_promises = 0
        self.escalated: list[str] = []                    # invoice ids handed over
        self.external_score: Decimal | None = None
        self.score: Decimal | None = None
        self.risk_class: str | None = None
        self.reasons: list[dict[str, Any]] = []
        self.holds: dict[str, dict[str, Any]] = {}        # rule -> hold in force
        self.overridden: list[str] = []                   # rules released by hand
        self._init_limits()

    @property
    def owner(self) -> dict[str, str | None]:
        return {"customer_id": self.customer_id, "credit_group_id": None}

    locals().update(_limit_events("credit.CreditAccount"))

    # ---- facts from the ERP and the other services

    @event("CustomerRecorded", topic="credit.CreditAccount.CustomerRecorded")
    def record_customer(self, name: str, payment_terms_days: int | None,
                        causation: dict[str, Any]) -> None:
        self.name = name
        self.payment_terms_days = payment_terms_days

    @event("JoinedGroup", topic="credit.CreditAccount.JoinedGroup")
    def join_group(self, group_id: str, causation: dict[str, Any]) -> None:
        self.group_id = group_id

    @event("OrderShipped", topic="credit.CreditAccount.OrderShipped")
    def record_shipment(self, order_id: str, shipment_id: str, amount: Decimal, currency: str,
                        functional_amount: Decimal | None, causation: dict[str, Any]) -> None:
        order = self.orders.get(order_id)
        if order is not None and functional_amount is not None:
            order["open"] = max(ZERO, order["open"] - functional_amount)
            if not order["open"]:
                del self.orders[order_id]
        if shipment_id not in self.invoiced_shipments:
            self.uninvoiced[shipment_id] = [amount, currency]

    @event("OrderCancelled", topic="credit.CreditAccount.OrderCancelled")
    def cancel_order(self, order_id: str, causation: dict[str, Any]) -> None:
        self.orders.pop(order_id, None)

    @event("InvoiceRecorded", topic="credit.CreditAccount.InvoiceRecorded")
    def record_invoice(self, invoice_id: str, invoice_number: str, total: Decimal,
                       currency: str, functional_total: Decimal | None, issue_date: date,
                       due_date: date, shipment_id: str | None,
                       causation: dict[str, Any]) -> None:
        if shipment_id is not None:
            self.uninvoiced.pop(shipment_id, None)
            self.invoiced_shipments.append(shipment_id)
        self.invoices[invoice_id] = {
            "number": invoice_number, "total": total, "open": total, "currency": currency,
            "functional_total": functional_total, "due_date": due_date}
        self.customer_since = min(self.customer_since, issue_date)
        for amount, on, by_payment in self.early_reductions.pop(invoice_id, []):
            self._reduce(invoice_id, amount, on, by_payment)

    @event("InvoiceReduced", topic="credit.CreditAccount.InvoiceReduced")
    def reduce_invoice(self, invoice_id: str, amount: Decimal, on: date, by_payment: bool,
                       causation: dict[str, Any]) -> None:
        self._reduce(invoice_id, amount, on, by_payment)

    def _reduce(self, invoice_id: str, amount: Decimal, on: date, by_payment: bool) -> None:
        invoice = self.invoices.get(invoice_id)
        if invoice_id in self.closed_invoices:
            return
        if invoice is None:
            self.early_reductions.setdefault(invoice_id, []).append([amount, on, by_payment])
            return
        invoice["open"] = max(ZERO, invoice["open"] - amount)
        if not invoice["open"]:
            if by_payment:
                self.settled_days_late.append((on - invoice["due_date"]).days)
            self.closed_invoices[invoice_id] = self.invoices.pop(invoice_id)

    @event("InvoiceReopened", topic="credit.CreditAccount.InvoiceReopened")
    def reopen_invoice(self, invoice_id: str, amount: Decimal,
                       causation: dict[str, Any]) -> None:
        """What settled the invoice was undone (a returned payment, a reversed match)."""
        invoice = self.invoices.get(invoice_id) or self.closed_invoices.pop(invoice_id, None)
        if invoice is None:
            return
        invoice["open"] = min(invoice["total"], invoice["open"] + amount)
        self.invoices[invoice_id] = invoice

    @event("InvoiceAdjusted", topic="credit.CreditAccount.InvoiceAdjusted")
    def adjust_invoice(self, invoice_id: str, amount: Decimal,
                       causation: dict[str, Any]) -> None:
        """The invoice total changed by `amount` (signed); the functional total follows."""
        invoice = self.invoices.get(invoice_id) or self.closed_invoices.pop(invoice_id, None)
        if invoice is None:
            return
        new_total = invoice["total"] + amount
        if invoice["functional_total"] is not None and invoice["total"]:
            invoice["functional_total"] = cents(invoice["functional_total"] * new_total
                                                / invoice["total"])
        invoice["total"] = new_total
        invoice["open"] = max(ZERO, invoice["open"] + amount)
        if invoice["open"] and new_total > 0:
            self.invoices[invoice_id] = invoice
        else:
            self.invoices.pop(invoice_id, None)
            self.closed_invoices[invoice_id] = invoice

    @event("CreditBalanceChanged", topic="credit.CreditAccount.CreditBalanceChanged")
    def change_unapplied_credits(self, amount: Decimal, causation: dict[str, Any]) -> None:
        self.unapplied_credits = max(ZERO, self.unapplied_credits + amount)

    @event("IncidentRecorded", topic="credit.CreditAccount.IncidentRecorded")
    def record_incident(self, kind: str, invoice_ids: list[str],
                        causation: dict[str, Any]) -> None:
        if kind == "dispute":
            self.disputes += 1
        elif kind == "returned_payment":
            self.returned_payments += 1
        elif kind == "broken_promise":
            self.broken_promises += 1
        elif kind == "escalation":
            self.escalated.extend(invoice_ids)

    @event("ExternalScoreRecorded", topic="credit.CreditAccount.ExternalScoreRecorded")
    def record_external_score(self, score: Decimal | None, causation: dict[str, Any]) -> None:
        self.external_score = score

    # ---- what credit decides

    @event("RiskScored", topic="credit.CreditAccount.RiskScored")
    def record_risk(self, customer_id: str, score: Decimal, risk_class: str,
                    previous_score: Decimal | None, previous_class: str | None,
                    internal_score: Decimal,
                    external_score: Decimal | None, reasons: list[dict[str, Any]],
                    scored_on: date, causation: dict[str, Any]) -> None:
        self.score, self.risk_class, self.reasons = score, risk_class, reasons

    @event("HoldPlaced", topic="credit.CreditAccount.HoldPlaced")
    def place_hold(self, customer_id: str, hold_id: str, rule: str, explanation: str,
                   placed_on: date, causation: dict[str, Any]) -> None:
        self.holds[rule] = {"hold_id": hold_id, "explanation": explanation,
                            "placed_on": placed_on}

    @event("HoldReleased", topic="credit.CreditAccount.HoldReleased")
    def release_hold(self, customer_id: str, hold_id: str, rule: str, automatic: bool,
                     released_by: str | None, reason: str, released_on: date,
                     causation: dict[str, Any]) -> None:
        self.holds.pop(rule, None)
        if not automatic and rule not in self.overridden:
            self.overridden.append(rule)

    @event("OverrideLapsed", topic="credit.CreditAccount.OverrideLapsed")
    def lapse_override(self, rule: str, causation: dict[str, Any]) -> None:
        # The condition an approver released by hand has cleared: if it comes back, it
        # holds the account again.
        self.overridden.remove(rule)

    @event("OrderDecided", topic="credit.CreditAccount.OrderDecided")
    def decide_order(self, customer_id: str, order_id: str, approved: bool, amount: Decimal,
                     currency: str, exposure: Decimal, limit: Decimal | None,
                     percent_used: Decimal | None,
                     held_by: list[list[str]], group_id: str | None, decided_on: date,
                     released_by: str | None, reason: str | None,
                     causation: dict[str, Any]) -> None:
        self.order_decisions[order_id] = {
            "approved": approved, "amount": amount, "held_by": held_by,
            "decided_on": decided_on}
        if approved:
            self.orders[order_id] = {"amount": amount, "open": amount}
        else:
            self.orders.pop(order_id, None)

    # ---- what the rules read

    @staticmethod
    def _open_functional(invoice: dict[str, Any], convert: Convert) -> Decimal:
        if invoice["functional_total"] is not None:
            return cents(invoice["functional_total"] * invoice["open"] / invoice["total"])
        return convert(invoice["open"], invoice["currency"])

    def exposure(self, convert: Convert) -> Exposure:
        """Raises MissingRate when an amount cannot be converted into the functional
        currency (an invoice issued without a rate, a shipment in a foreign currency)."""
        receivables = sum((self._open_functional(invoice, convert)
                           for invoice in self.invoices.values()), ZERO)
        return Exposure(open_receivables=receivables,
                        open_orders=sum((order["open"] for order in self.orders.values()), ZERO),
                        shipped_not_invoiced=sum((convert(amount, currency) for amount, currency
                                                  in self.uninvoiced.values()), ZERO),
                        unapplied_credits=self.unapplied_credits)

    def exposure_without(self, order_id: str, convert: Convert) -> Exposure:
        """A resubmitted order is checked as if it were not yet counted."""
        exposure = self.exposure(convert)
        if order_id in self.orders:
            return Exposure(exposure.open_receivables,
                            exposure.open_orders - self.orders[order_id]["open"],
                            exposure.shipped_not_invoiced, exposure.unapplied_credits)
        return exposure

    def overdue(self, today: date, convert: Convert) -> dict[str, tuple[int, Decimal]]:
        return {invoice["number"]: ((today - invoice["due_date"]).days,
                                    self._open_functional(invoice, convert))
                for invoice in self.invoices.values() if invoice["due_date"] < today}

    def behaviour(self, today: date) -> PaymentBehaviour:
        return PaymentBehaviour(
            settled_days_late=tuple(self.settled_days_late),
            open_days_overdue=tuple((today - invoice["due_date"]).days
                                    for invoice in self.invoices.values()
                                    if invoice["due_date"] < today),
            disputes=self.disputes, returned_payments=self.returned_payments,
            broken_promises=self.broken_promises, customer_since=self.customer_since)

    def facts(self, today: date, convert: Convert,
              exposure: Exposure | None = None) -> AccountFacts:
        return AccountFacts(
            exposure=exposure if exposure is not None else self.exposure(convert),
            limit=self.limits.effective(today),
            overdue_by_days=self.overdue(today, convert),
            risk_class=self.risk_class,
            escalated_open=tuple(sorted(self.invoices[invoice_id]["number"]
                                        for invoice_id in self.escalated
                                        if invoice_id in self.invoices)),
            active_holds=tuple(sorted(self.holds)),
            payment_terms_days=self.payment_terms_days)


class TenantCredit(Aggregate):
    """A tenant's credit policy and the exchange rates the ERP published."""

    TOPIC = "credit.TenantCredit"

    class Created(Aggregate.Created):
        TOPIC = "credit.TenantCredit.Created"

    @staticmethod
    def create_id(tenant: str) -> UUID:
        return stable_id(tenant, "credit-tenant")

    @event("Started", topic="credit.TenantCredit.Started")
    def __init__(self, tenant: str, policy: dict[str, Any], causation: dict[str, Any]) -> None:
        self.tenant = tenant
        self.policy_values = policy
        self.rates: dict[str, Decimal] = {}
        self.rate_dates: dict[str, date] = {}

    @property
    def policy(self) -> CreditPolicy:
        return CreditPolicy.from_dict(self.policy_values)

    @event("PolicySet", topic="credit.TenantCredit.PolicySet")
    def set_policy(self, policy: dict[str, Any], set_by: str | None,
                   causation: dict[str, Any]) -> None:
        self.policy_values = policy

    @event("RateRecorded", topic="credit.TenantCredit.RateRecorded")
    def record_rate(self, pair: str, rate: Decimal, rate_date: date,
                    causation: dict[str, Any]) -> None:
        if pair not in self.rate_dates or rate_date >= self.rate_dates[pair]:
            self.rates[pair] = rate
            self.rate_dates[pair] = rate_date
