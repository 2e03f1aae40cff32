"""Dunning's domain: policies and their levels, late-payment fees, and the dunning case of
one customer account (its open invoices and where each stands, its disputes and promises).

Pure: no I/O, no framework beyond the eventsourcing aggregate base. Stored event names
are explicit topics, not module paths.

The timers of the process are dates in the case's state: an invoice's next level falls
due `delay_days` after its anchor (its due date before the first action, then the day
of its last letter). A pause (a dispute, a promise to pay) stops that clock; when the
pause ends the anchor moves by the paused days, so the customer gets the time that was
left, no more and no less. A broken promise is the exception: dunning resumes at once,
at the next level.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from libs.events.money import MINOR_UNITS
from libs.runtime.ids import stable_id

ZERO = Decimal(0)
LANGUAGES = ("en", "fr", "nl", "de")
DISPUTE_REASONS = ("price", "quantity", "damaged", "not_received", "duplicate", "other")
RISK_CLASSES = ("A", "B", "C", "D", "E")
"""The customer master's and credit's classes, A (best) to E."""
# What a class means to dunning. The collectors' API first spoke in bands (and older
# stored events still do), so a band is accepted wherever a class is.
RISK_BANDS = {"A": "low", "B": "low", "C": "medium", "D": "high", "E": "high",
              "low": "low", "medium": "medium", "high": "high", "unrated": "unrated"}


def risk_band(risk_class: str) -> str:
    return RISK_BANDS.get(risk_class, "unrated")


class DunningError(ValueError):
    """A command the case refuses; the message says why, in a collector's words."""


class UnknownInvoice(DunningError):
    pass


class Refused(DunningError):
    """The command is well formed but the case's state forbids it (already paid, already
    resolved): a conflict, not bad input."""


# --- policies ------------------------------------------------------------------------


class Action(StrEnum):
    REMINDER = "reminder"
    LETTER = "letter"
    FINAL_NOTICE = "final_notice"
    ESCALATION = "escalation"


class FeeRule(StrEnum):
    STATUTORY_INTEREST = "statutory_interest"
    RECOVERY_INDEMNITY = "recovery_indemnity"
    DUNNING_FEE = "dunning_fee"


@dataclass(frozen=True)
class DunningLevel:
    number: int
    name: str
    action: Action
    delay_days: int
    """Days after the due date (the first level) or after the previous level's letter."""
    fees: tuple[FeeRule, ...] = ()
    pay_within_days: int = 7
    channel: str = "email"
    """email falls back to post when the customer has no email address."""

    @property
    def template(self) -> str:
        return self.action.value


@dataclass(frozen=True)
class DunningPolicy:
    name: str
    levels: tuple[DunningLevel, ...]

    def __post_init__(self) -> None:
        if [level.number for level in self.levels] != list(range(1, len(self.levels) + 1)):
            raise ValueError(f"policy {self.name}: levels must be numbered 1..n")

    def level(self, number: int) -> DunningLevel:
        return self.levels[number - 1]

    def after(self, number: int) -> DunningLevel | None:
        """The level that follows `number` (0: none reached yet), or None at the end."""
        return self.levels[number] if number < len(self.levels) else None


_INTEREST_AND_INDEMNITY = (FeeRule.STATUTORY_INTEREST, FeeRule.RECOVERY_INDEMNITY,
                           FeeRule.DUNNING_FEE)
_INTEREST = (FeeRule.STATUTORY_INTEREST, FeeRule.DUNNING_FEE)

STANDARD = DunningPolicy("standard", (
    # The usual process: a friendly reminder the day the invoice falls due unpaid, a
    # 7-day grace period, then letters with interest and the recovery indemnity, a final
    # notice, and the hand-over.
    DunningLevel(1, "reminder", Action.REMINDER, delay_days=0, pay_within_days=7),
    DunningLevel(2, "first_letter", Action.LETTER, delay_days=7, fees=_INTEREST_AND_INDEMNITY),
    DunningLevel(3, "second_letter", Action.LETTER, delay_days=14, fees=_INTEREST),
    DunningLevel(4, "final_notice", Action.FINAL_NOTICE, delay_days=14, fees=_INTEREST,
                 pay_within_days=10),
    DunningLevel(5, "escalation", Action.ESCALATION, delay_days=14),
))

KEY_ACCOUNT = DunningPolicy("key_account", (
    # A customer worth keeping: later, fewer letters and no fees; the account manager
    # usually calls before the final notice goes out.
    DunningLevel(1, "reminder", Action.REMINDER, delay_days=3, pay_within_days=14),
    DunningLevel(2, "first_letter", Action.LETTER, delay_days=14, pay_within_days=14),
    DunningLevel(3, "final_notice", Action.FINAL_NOTICE, delay_days=21, pay_within_days=14),
    DunningLevel(4, "escalation", Action.ESCALATION, delay_days=30),
))

HIGH_RISK = DunningPolicy("high_risk", (
    DunningLevel(1, "reminder", Action.REMINDER, delay_days=0, pay_within_days=3),
    DunningLevel(2, "first_letter", Action.LETTER, delay_days=3, fees=_INTEREST_AND_INDEMNITY,
                 pay_within_days=5),
    DunningLevel(3, "final_notice", Action.FINAL_NOTICE, delay_days=7, fees=_INTEREST,
                 pay_within_days=7),
    DunningLevel(4, "escalation", Action.ESCALATION, delay_days=7),
))

POLICIES = {policy.name: policy for policy in (STANDARD, KEY_ACCOUNT, HIGH_RISK)}


# --- the tenant's settings -------------------------------------------------------------

# The ECB's main refinancing rate in force on the first day of each half-year: the
# "reference rate" of Directive 2011/7/EU, art. 2(7). A tenant keeps this table current
# (PUT /settings); a half-year missing from it uses the latest earlier entry, and the
# fee's explanation names the entry used.
ECB_REFERENCE_RATES: tuple[tuple[date, Decimal], ...] = (
    (date(2022, 1, 1), Decimal("0.00")),
    (date(2022, 7, 1), Decimal("0.00")),
    (date(2023, 1, 1), Decimal("2.50")),
    (date(2023, 7, 1), Decimal("4.00")),
    (date(2024, 1, 1), Decimal("4.50")),
    (date(2024, 7, 1), Decimal("4.25")),
    (date(2025, 1, 1), Decimal("3.15")),
    (date(2025, 7, 1), Decimal("2.15")),
)


@dataclass(frozen=True)
class TenantSettings:
    """What a tenant (a legal entity) decides about its dunning. Amounts per currency."""

    company_name: str = "Receivables Platform Demo BV"
    beneficiary: str = "Receivables Platform Demo BV"
    iban: str = "NL91ABNA0417164300"
    bic: str = "ABNANL2A"
    statutory_interest: bool = True
    statutory_interest_margin: Decimal = Decimal("8.00")
    """Percentage points above the ECB reference rate (8 in the Directive; some member
    states chose more)."""
    reference_rates: tuple[tuple[date, Decimal], ...] = ECB_REFERENCE_RATES
    recovery_indemnity: tuple[tuple[str, Decimal], ...] = (("EUR", Decimal("40.00")),)
    """The fixed compensation for recovery costs, once per invoice (art. 6: EUR 40)."""
    dunning_fee: tuple[tuple[str, Decimal], ...] = ()
    """A flat fee per invoice per letter at levels that charge it; none by default."""
    escalation_partner_kind: str = "collection_agency"
    escalation_partner_name: str = "Incasso Partners BV"
    policy_by_segment: tuple[tuple[str, str], ...] = (("key_account", "key_account"),)
    policy_for_high_risk: str = "high_risk"
    promise_grace_days: int = 1
    """Days after an instalment's date before it counts as broken: bank and matching lag."""
    dispute_follow_up_days: int = 14

    def amount_for(self, table: tuple[tuple[str, Decimal], ...], currency: str) -> Decimal | None:
        return dict(table).get(currency)

    def as_dict(self) -> dict[str, Any]:
        return {
            "company_name": self.company_name, "beneficiary": self.beneficiary,
            "iban": self.iban, "bic": self.bic,
            "statutory_interest": self.statutory_interest,
            "statutory_interest_margin": self.statutory_interest_margin,
            "reference_rates": [{"from": start, "rate": rate}
                                for start, rate in self.reference_rates],
            "recovery_indemnity": dict(self.recovery_indemnity),
            "dunning_fee": dict(self.dunning_fee),
            "escalation_partner_kind": self.escalation_partner_kind,
            "escalation_partner_name": self.escalation_partner_name,
            "policy_by_segment": dict(self.policy_by_segment),
            "policy_for_high_risk": self.policy_for_high_risk,
            "promise_grace_days": self.promise_grace_days,
            "dispute_follow_up_days": self.dispute_follow_up_days,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TenantSettings:
        values = dict(values)
        values["statutory_interest_margin"] = Decimal(str(values["statutory_interest_margin"]))
        values["reference_rates"] = tuple(sorted(
            (_as_date(entry["from"]), Decimal(str(entry["rate"])))
            for entry in values["reference_rates"]))
        for name in ("recovery_indemnity", "dunning_fee"):
            values[name] = tuple(sorted((currency, Decimal(str(amount)))
                                        for currency, amount in values[name].items()))
        values["policy_by_segment"] = tuple(sorted(values["policy_by_segment"].items()))
        return cls(**values)


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def segment_key(segment: str) -> str:
    """ERPs write 'Key Account', 'key-account' or 'key_account' for the same segment."""
    return "_".join(segment.replace("-", " ").lower().split())


def choose_policy(segment: str, risk_class: str, settings: TenantSettings) -> DunningPolicy:
    """High risk (class D or E) goes fastest; otherwise the customer's segment decides;
    else standard."""
    if risk_band(risk_class) == "high" and settings.policy_for_high_risk in POLICIES:
        return POLICIES[settings.policy_for_high_risk]
    by_segment = {segment_key(name): policy for name, policy in settings.policy_by_segment}
    return POLICIES.get(by_segment.get(segment_key(segment), STANDARD.name), STANDARD)


ACTION_ORDER = tuple(Action)


def standing_in(policy: DunningPolicy, reached: str | None, reached_action: str | None,
                level: int) -> int:
    """The level number, in `policy`, of an invoice that last reached the level named
    `reached` (perhaps under another policy: the customer's class or segment changed).

    The same name means the same step. A step the policy does not have counts as the
    policy's last step of no later stage: a second letter under the standard policy
    stands at the high-risk policy's first letter, whose next step is its final notice.
    Letters already sent are never re-sent or taken back; only the next step changes.
    """
    if reached is None or reached_action is None:
        return level
    for step in policy.levels:
        if step.name == reached:
            return step.number
    stage = ACTION_ORDER.index(Action(reached_action))
    return max((step.number for step in policy.levels
                if ACTION_ORDER.index(step.action) <= stage), default=0)


# --- money ---------------------------------------------------------------------------


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Half-up to the currency's minor unit: the commercial rounding courts and the
    statutory-interest calculators of the member states use (not banker's rounding)."""
    quantum = Decimal(1).scaleb(-MINOR_UNITS[currency])
    return amount.quantize(quantum, rounding=ROUND_HALF_UP)


# --- statutory interest (Directive 2011/7/EU) ------------------------------------------

DAY_COUNT_BASIS = 365  # actual/365 fixed: each day is 1/365 of the annual rate, leap year or not


def half_year_start(day: date) -> date:
    return date(day.year, 1 if day.month <= 6 else 7, 1)


def next_half_year(day: date) -> date:
    start = half_year_start(day)
    return date(start.year, 7, 1) if start.month == 1 else date(start.year + 1, 1, 1)


class MissingReferenceRate(DunningError):
    pass


def reference_rate(day: date, table: Sequence[tuple[date, Decimal]]) -> tuple[date, Decimal]:
    """The reference rate for the half-year of `day`: the table's latest entry on or before
    that half-year's first day. Returns (entry date, rate in percent)."""
    start = half_year_start(day)
    known = [(entry, rate) for entry, rate in table if entry <= start]
    if not known:
        raise MissingReferenceRate(f"no ECB reference rate known for the half-year from {start}")
    return max(known)


@dataclass(frozen=True)
class InterestPeriod:
    first_day: date
    last_day: date
    balance: Decimal
    reference_rate: Decimal
    reference_rate_from: date
    annual_rate: Decimal  # percent: reference rate + margin

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def interest(self) -> Decimal:
        return self.balance * self.annual_rate * self.days / (100 * DAY_COUNT_BASIS)


def interest_periods(principal: Decimal, payments: Iterable[tuple[date, Decimal]],
                     due_date: date, through: date, table: Sequence[tuple[date, Decimal]],
                     margin: Decimal) -> list[InterestPeriod]:
    """The days from the day after `due_date` through `through`, cut where the balance or
    the rate changes. A payment with value date d stops interest on its amount from d on."""
    payments = sorted(payments)
    periods: list[InterestPeriod] = []
    day = due_date + timedelta(days=1)
    while day <= through:
        balance = principal - sum((amount for paid_on, amount in payments if paid_on <= day), ZERO)
        next_change = min([next_half_year(day), through + timedelta(days=1),
                           *(paid_on for paid_on, _ in payments if paid_on > day)])
        last_day = next_change - timedelta(days=1)
        if balance > 0:
            rate_from, rate = reference_rate(day, table)
            periods.append(InterestPeriod(day, last_day, balance, rate, rate_from, rate + margin))
        day = next_change
    return periods


def statutory_interest(principal: Decimal, payments: Iterable[tuple[date, Decimal]],
                       due_date: date, through: date, table: Sequence[tuple[date, Decimal]],
                       margin: Decimal, currency: str) -> Decimal:
    """Simple interest on the unpaid balance, summed exactly and rounded once."""
    periods = interest_periods(principal, payments, due_date, through, table, margin)
    return round_money(sum((period.interest for period in periods), ZERO), currency)


@dataclass(frozen=True)
class Fee:
    kind: FeeRule
    invoice_id: str
    invoice_number: str
    amount: Decimal
    currency: str
    explanation: str
    interest_from: date | None = None
    interest_to: date | None = None
    annual_rate: Decimal | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "invoice_id": self.invoice_id,
                "invoice_number": self.invoice_number, "amount": self.amount,
                "currency": self.currency, "explanation": self.explanation,
                "interest_from": self.interest_from, "interest_to": self.interest_to,
                "annual_rate": self.annual_rate}


def _format_amount(amount: Decimal, currency: str) -> str:
    return f"{amount:,.{MINOR_UNITS[currency]}f} {currency}"


def assess_fees(invoice: InvoiceState, level: DunningLevel, on: date,
                settings: TenantSettings) -> list[Fee]:
    """The fees a letter at `level` charges on `invoice` on `on`.

    Interest is assessed up to date: the interest due from the day after the due date
    through `on`, rounded, less what earlier letters already charged, so the charges add
    up to exactly the rounded total whatever the number of letters. The recovery
    indemnity is charged once per invoice.

    A debit note (a fee billed earlier) is chased without fees: interest on interest and
    a second indemnity for the same late invoice would charge the customer twice.
    """
    fees: list[Fee] = []
    if invoice.kind == DEBIT_NOTE:
        return fees
    currency = invoice.currency
    if FeeRule.STATUTORY_INTEREST in level.fees and settings.statutory_interest:
        principal = invoice.total - invoice.expected_credit
        periods = interest_periods(principal, invoice.payment_dates, invoice.due_date, on,
                                   settings.reference_rates, settings.statutory_interest_margin)
        total = round_money(sum((period.interest for period in periods), ZERO), currency)
        new = total - invoice.interest_charged
        if new > 0:
            first_day = max(invoice.due_date, invoice.interest_charged_through or invoice.due_date) \
                + timedelta(days=1)
            charged = [period for period in periods if period.last_day >= first_day]
            rates = {period.annual_rate for period in charged}
            fees.append(Fee(
                FeeRule.STATUTORY_INTEREST, invoice.invoice_id, invoice.invoice_number, new,
                currency, _interest_explanation(charged, first_day, currency,
                                                settings.statutory_interest_margin),
                interest_from=first_day, interest_to=on,
                annual_rate=rates.pop() if len(rates) == 1 else None))
    if FeeRule.RECOVERY_INDEMNITY in level.fees and not invoice.indemnity_charged:
        indemnity = settings.amount_for(settings.recovery_indemnity, currency)
        if indemnity:
            fees.append(Fee(FeeRule.RECOVERY_INDEMNITY, invoice.invoice_id,
                            invoice.invoice_number, indemnity, currency,
                            f"Fixed compensation for recovery costs of "
                            f"{_format_amount(indemnity, currency)} (Directive 2011/7/EU, "
                            f"art. 6), once per invoice."))
    if FeeRule.DUNNING_FEE in level.fees:
        dunning_fee = settings.amount_for(settings.dunning_fee, currency)
        if dunning_fee:
            fees.append(Fee(FeeRule.DUNNING_FEE, invoice.invoice_id, invoice.invoice_number,
                            dunning_fee, currency,
                            f"Dunning fee of {_format_amount(dunning_fee, currency)} for the "
                            f"{level.name.replace('_', ' ')}."))
    return fees


def _interest_explanation(periods: list[InterestPeriod], first_day: date, currency: str,
                          margin: Decimal) -> str:
    parts = []
    for period in periods:
        start = max(period.first_day, first_day)
        days = (period.last_day - start).days + 1
        parts.append(f"{days} day{'s' if days != 1 else ''} from {start} to {period.last_day} "
                     f"on {_format_amount(period.balance, currency)} at {period.annual_rate}% "
                     f"(ECB reference rate {period.reference_rate}% of {period.reference_rate_from}"
                     f" + {margin} points)")
    return ("Statutory interest for late payment (Directive 2011/7/EU), actual/365: "
            + "; ".join(parts) + ".")


# --- the state of one invoice --------------------------------------------------------


INVOICE, DEBIT_NOTE = "invoice", "debit_note"


@dataclass
class InvoiceState:
    """An open item dunning chases: an invoice, or a debit note billing a fee."""

    invoice_id: str
    invoice_number: str
    currency: str
    total: Decimal
    issue_date: date
    due_date: date
    open_amount: Decimal
    payment_dates: list[tuple[date, Decimal]] = field(default_factory=list)
    kind: str = INVOICE
    level: int = 0
    """The number of the last level reached, in the policy of that day."""
    reached: str | None = None
    reached_action: str | None = None
    anchor: date | None = None
    due_override: date | None = None
    disputes: list[str] = field(default_factory=list)
    promise_id: str | None = None
    paused_since: date | None = None
    expected_credit: Decimal = ZERO
    escalated_on: date | None = None
    settled_on: date | None = None
    interest_charged: Decimal = ZERO
    interest_charged_through: date | None = None
    indemnity_charged: bool = False
    fees_charged: Decimal = ZERO

    def __post_init__(self) -> None:
        if self.anchor is None:
            self.anchor = self.due_date

    @property
    def dunnable_amount(self) -> Decimal:
        """What dunning chases: the open amount less a credit note already requested."""
        return self.open_amount - self.expected_credit

    @property
    def is_settled(self) -> bool:
        return self.settled_on is not None

    @property
    def is_paused(self) -> bool:
        return bool(self.disputes) or self.promise_id is not None

    @property
    def is_on_schedule(self) -> bool:
        """Chased by letters: open, not paused, not handed over."""
        return (self.dunnable_amount > 0 and not self.is_settled and self.escalated_on is None
                and not self.is_paused)

    def standing_in(self, policy: DunningPolicy) -> int:
        return standing_in(policy, self.reached, self.reached_action, self.level)

    def next_level_due_on(self, policy: DunningPolicy) -> tuple[DunningLevel, date] | None:
        following = policy.after(self.standing_in(policy))
        if following is None:
            return None
        assert self.anchor is not None
        return following, self.due_override or self.anchor + timedelta(days=following.delay_days)

    def days_past_due(self, today: date) -> int:
        return max(0, (today - self.due_date).days)

    def pause(self, on: date) -> None:
        if self.paused_since is None:
            self.paused_since = on

    def resume_if_free(self, on: date) -> None:
        """The clock stood still while paused: move the anchor by the paused days that
        counted (a pause before the clock started costs nothing)."""
        if self.is_paused or self.paused_since is None:
            return
        assert self.anchor is not None
        counted = (on - max(self.paused_since, self.anchor)).days
        if counted > 0:
            self.anchor += timedelta(days=counted)
        self.paused_since = None

    def settle_or_reopen(self, on: date) -> None:
        """Settled when nothing is left; owed again after it was settled (a reversed
        payment, an adjustment up): dunning takes it up at the level it had reached, the
        next step counted from `on`, not from a letter sent before it was settled."""
        if self.open_amount <= 0:
            if self.settled_on is None:
                self.settled_on = on
        elif self.settled_on is not None:
            self.settled_on = None
            assert self.anchor is not None
            self.anchor = max(self.anchor, on)
            self.due_override = None

    def as_dict(self) -> dict[str, Any]:
        return {"invoice_id": self.invoice_id, "invoice_number": self.invoice_number,
                "currency": self.currency, "open_amount": self.open_amount,
                "due_date": self.due_date}


# --- disputes and promises --------------------------------------------------------------


@dataclass
class DisputeState:
    dispute_id: str
    invoice_ids: list[str]
    reason: str
    owner: str
    notes: str
    opened_on: date
    status: str = "open"
    resolution: str | None = None
    credit_note_amount: Decimal | None = None
    resolution_notes: str = ""
    resolved_on: date | None = None


@dataclass
class PromiseState:
    promise_id: str
    invoice_ids: list[str]
    currency: str
    instalments: list[dict[str, Any]]  # {"due_on": date, "amount": Decimal, "status": ...}
    recorded_on: date
    recorded_by: str | None
    status: str = "active"  # active, kept, broken
    received: Decimal = ZERO
    closed_on: date | None = None

    def promised_through(self, due_on: date) -> Decimal:
        return sum((instalment["amount"] for instalment in self.instalments
                    if instalment["due_on"] <= due_on), ZERO)

    def next_check(self, grace_days: int) -> tuple[dict[str, Any], date] | None:
        """The first instalment not yet found kept, and the first day it can be found broken."""
        for instalment in self.instalments:
            if instalment["status"] == "pending":
                return instalment, instalment["due_on"] + timedelta(days=grace_days + 1)
        return None


# --- letters as the case remembers them --------------------------------------------------


@dataclass
class LetterState:
    letter_id: str
    level: int
    level_name: str
    channel: str
    recipient: str | None
    issued_on: date
    status: str  # pending, delivered, failed, bounced, to_print
    attempts: int = 0


@dataclass(frozen=True)
class PlannedLetter:
    level: DunningLevel
    invoices: tuple[InvoiceState, ...]
    fees: tuple[Fee, ...]


@dataclass(frozen=True)
class CasePlan:
    """What a run on one date does to one case, decided before anything is rendered."""

    policy: DunningPolicy
    letters: tuple[PlannedLetter, ...] = ()
    escalation: tuple[InvoiceState, ...] = ()
    escalation_level: DunningLevel | None = None

    @property
    def is_empty(self) -> bool:
        return not self.letters and not self.escalation


def _copy(invoice: InvoiceState) -> InvoiceState:
    return replace(invoice, payment_dates=list(invoice.payment_dates),
                   disputes=list(invoice.disputes))


# --- the dunning case of one customer account ---------------------------------------------


class DunningCase(Aggregate):
    """One customer account as dunning sees it: who to write to and in which language,
    its open invoices and their levels, its disputes, promises, letters and hand-overs.

    One aggregate per customer because dunning acts per customer: a letter lists all the
    invoices that reach its level that day, and a letter, the levels it raises and the
    fees it charges are stored in one event. Kafka keeps one customer's events in order
    on one partition; the event store's optimistic locking serialises the rest.
    """

    TOPIC = "dunning.DunningCase"

    class Created(Aggregate.Created):
        TOPIC = "dunning.DunningCase.Created"

    @staticmethod
    def create_id(tenant: str, customer_id: str) -> UUID:
        return stable_id(tenant, "dunning-case", customer_id)

    @event("Opened", topic="dunning.DunningCase.Opened")
    def __init__(self, tenant: str, customer_id: str, causation: dict[str, Any]) -> None:
        self.tenant = tenant
        self.customer_id = customer_id
        self.name = customer_id
        self.language = "en"
        self.email: str | None = None
        self.country: str | None = None
        self.has_master_data = False
        # The profile that chooses the policy, from three sources (see `segment`).
        self.master_segment: str | None = None
        self.master_risk_class: str | None = None
        self.collector: str | None = None
        self.credit_risk_class: str | None = None
        self.override_segment: str | None = None
        self.override_risk_class: str | None = None
        self.invoices: dict[str, InvoiceState] = {}
        self.early_payments: dict[str, list[dict[str, Any]]] = {}
        self.application_ids: list[str] = []
        self.applications: dict[str, tuple[str, Decimal, date]] = {}
        self.letters: dict[str, LetterState] = {}
        self.disputes: dict[str, DisputeState] = {}
        self.promises: dict[str, PromiseState] = {}
        self.escalations: list[dict[str, Any]] = []
        self.broken_promises = 0

    # --- the customer ---------------------------------------------------------------

    def contact_differs(self, name: str, language: str, email: str | None,
                        country: str | None) -> bool:
        return not self.has_master_data or (name, language, email, country) != (
            self.name, self.language, self.email, self.country)

    @event("ContactChanged", topic="dunning.DunningCase.ContactChanged")
    def change_contact(self, name: str, language: str, email: str | None, country: str | None,
                       causation: dict[str, Any]) -> None:
        self.has_master_data = True
        self.name, self.language, self.email, self.country = name, language, email, country

    @event("ProfileChanged", topic="dunning.DunningCase.ProfileChanged")
    def change_profile(self, segment: str | None, risk_class: str | None,
                       causation: dict[str, Any]) -> None:
        """A collector's override; None leaves the customer master and credit to decide.
        (Before overrides could be partial, "unrated" meant the collector did not say.)"""
        self.override_segment = segment
        self.override_risk_class = None if risk_class == "unrated" else risk_class

    def master_profile_differs(self, segment: str | None, risk_class: str | None,
                               collector: str | None) -> bool:
        return (segment, risk_class, collector) != (
            self.master_segment, self.master_risk_class, self.collector)

    @event("MasterProfileChanged", topic="dunning.DunningCase.MasterProfileChanged")
    def change_master_profile(self, segment: str | None, risk_class: str | None,
                              collector: str | None, causation: dict[str, Any]) -> None:
        """The ERP's segment, risk class and collector, as its latest upsert says."""
        self.master_segment, self.master_risk_class = segment, risk_class
        self.collector = collector

    @event("RiskClassScored", topic="dunning.DunningCase.RiskClassScored")
    def score_risk_class(self, risk_class: str, score: Decimal, scored_on: date,
                         causation: dict[str, Any]) -> None:
        self.credit_risk_class = risk_class

    @property
    def segment(self) -> str:
        """The most specific source that says: a collector's override, then the ERP."""
        return self.override_segment or self.master_segment or "standard"

    @property
    def risk_class(self) -> str:
        """A collector's override, then credit's score (it follows payment behaviour day
        by day), then the ERP's own class, else unrated."""
        return (self.override_risk_class or self.credit_risk_class or self.master_risk_class
                or "unrated")

    def profile_sources(self) -> dict[str, str]:
        segment = ("collector" if self.override_segment else
                   "customer_master" if self.master_segment else "default")
        risk = ("collector" if self.override_risk_class else
                "credit" if self.credit_risk_class else
                "customer_master" if self.master_risk_class else "default")
        return {"segment": segment, "risk_class": risk}

    @property
    def letter_language(self) -> str:
        return self.language if self.language in LANGUAGES else "en"

    # --- invoices and payments ---------------------------------------------------------

    def knows_invoice(self, invoice_id: str) -> bool:
        return invoice_id in self.invoices

    @event("InvoiceOpened", topic="dunning.DunningCase.InvoiceOpened")
    def open_invoice(self, invoice_id: str, invoice_number: str, currency: str, total: Decimal,
                     issue_date: date, due_date: date, causation: dict[str, Any]) -> None:
        invoice = InvoiceState(invoice_id=invoice_id, invoice_number=invoice_number,
                               currency=currency, total=total, issue_date=issue_date,
                               due_date=due_date, open_amount=total)
        self.invoices[invoice_id] = invoice
        # Payments that overtook their invoice (they travel on another topic) apply now.
        for payment in self.early_payments.pop(invoice_id, []):
            self._settle(invoice, payment["amount"], payment["applied_on"])

    @event("DebitNoteOpened", topic="dunning.DunningCase.DebitNoteOpened")
    def open_debit_note(self, debit_note_id: str, debit_note_number: str, currency: str,
                        total: Decimal, issue_date: date, due_date: date, fee_kind: str,
                        causation: dict[str, Any]) -> None:
        """A fee billed is a receivable of its own: chased like an invoice once overdue."""
        note = InvoiceState(invoice_id=debit_note_id, invoice_number=debit_note_number,
                            currency=currency, total=total, issue_date=issue_date,
                            due_date=due_date, open_amount=total, kind=DEBIT_NOTE)
        self.invoices[debit_note_id] = note
        for payment in self.early_payments.pop(debit_note_id, []):
            self._settle(note, payment["amount"], payment["applied_on"])

    def has_applied(self, application_id: str) -> bool:
        return application_id in self.application_ids

    @event("InvoiceAdjusted", topic="dunning.DunningCase.InvoiceAdjusted")
    def adjust_invoice(self, adjustment_id: str, invoice_id: str, amount: Decimal,
                       adjusted_on: date, causation: dict[str, Any]) -> None:
        """The invoice was corrected: the next letter shows the new amount; corrected to
        nothing, it is no longer chased. The correction changes the principal itself
        (the invoice was wrong from the start), so interest follows the new amount."""
        self.application_ids.append(adjustment_id)
        invoice = self.invoices[invoice_id]
        invoice.total += amount
        invoice.open_amount += amount
        invoice.settle_or_reopen(adjusted_on)

    def reversal_id(self, application_id: str) -> str:
        return f"reversed:{application_id}"

    def can_reverse(self, application_id: str) -> bool:
        return (application_id in self.applications
                and self.reversal_id(application_id) not in self.application_ids)

    @event("ApplicationReversed", topic="dunning.DunningCase.ApplicationReversed")
    def reverse_application(self, application_id: str, reversed_on: date,
                            causation: dict[str, Any]) -> None:
        """What a payment (or a write-off, or a credit) settled is owed again: the payment
        came back or was unmatched. Interest runs as if it had never been paid."""
        self.application_ids.append(self.reversal_id(application_id))
        invoice_id, amount, applied_on = self.applications[application_id]
        invoice = self.invoices.get(invoice_id)
        if invoice is None:  # reversed before its invoice arrived
            early = self.early_payments.get(invoice_id, [])
            early.remove({"amount": amount, "applied_on": applied_on})
            return
        invoice.open_amount += amount
        invoice.payment_dates.remove((applied_on, amount))
        for promise in self.promises.values():
            if promise.status == "active" and invoice_id in promise.invoice_ids:
                promise.received -= amount
        invoice.settle_or_reopen(reversed_on)

    def apply_payment(self, application_id: str, invoice_id: str, amount: Decimal,
                      currency: str, applied_on: date, causation: dict[str, Any]) -> None:
        self._payment_applied(application_id=application_id, invoice_id=invoice_id,
                              amount=amount, currency=currency, applied_on=applied_on,
                              causation=causation)
        for promise in self.promises.values():
            if promise.status == "active" and all(
                    self.invoices[invoice_id].is_settled for invoice_id in promise.invoice_ids):
                self._promise_kept(promise_id=promise.promise_id, kept_on=applied_on,
                                   causation=causation)

    @event("PaymentApplied", topic="dunning.DunningCase.PaymentApplied")
    def _payment_applied(self, application_id: str, invoice_id: str, amount: Decimal,
                         currency: str, applied_on: date, causation: dict[str, Any]) -> None:
        self.application_ids.append(application_id)
        self.applications[application_id] = (invoice_id, amount, applied_on)
        invoice = self.invoices.get(invoice_id)
        if invoice is None:
            self.early_payments.setdefault(invoice_id, []).append(
                {"amount": amount, "applied_on": applied_on})
            return
        self._settle(invoice, amount, applied_on)
        for promise in self.promises.values():
            if promise.status == "active" and invoice_id in promise.invoice_ids:
                promise.received += amount

    @staticmethod
    def _settle(invoice: InvoiceState, amount: Decimal, applied_on: date) -> None:
        invoice.open_amount -= amount
        invoice.payment_dates.append((applied_on, amount))
        invoice.settle_or_reopen(applied_on)

    def invoice_by_number(self, invoice_number: str) -> InvoiceState:
        for invoice in self.invoices.values():
            if invoice.invoice_number.upper() == invoice_number.strip().upper():
                return invoice
        raise UnknownInvoice(f"customer {self.customer_id} has no invoice {invoice_number!r}")

    # --- the run: promises checked, letters planned, letters issued, cases escalated ----

    def promises_to_check(self, on: date, settings: TenantSettings) -> list[tuple[PromiseState, dict[str, Any]]]:
        due = []
        for promise in self.promises.values():
            if promise.status != "active":
                continue
            check = promise.next_check(settings.promise_grace_days)
            if check is not None and check[1] <= on:
                due.append((promise, check[0]))
        return due

    def check_promises(self, on: date, settings: TenantSettings,
                       causation: dict[str, Any]) -> list[str]:
        """Each instalment whose date (plus grace) has passed is kept or broken; returns
        the ids of the promises broken."""
        broken = []
        while checks := self.promises_to_check(on, settings):
            for promise, instalment in checks:
                promised = promise.promised_through(instalment["due_on"])
                if promise.received >= promised:
                    self._instalment_kept(promise_id=promise.promise_id,
                                          due_on=instalment["due_on"], kept_on=on,
                                          causation=causation)
                else:
                    self._promise_broken(customer_id=self.customer_id,
                                         promise_id=promise.promise_id,
                                         invoice_ids=list(promise.invoice_ids),
                                         instalment_due_on=instalment["due_on"],
                                         promised=promised, received=promise.received,
                                         currency=promise.currency, broken_on=on,
                                         causation=causation)
                    broken.append(promise.promise_id)
        return broken

    def plan(self, on: date, settings: TenantSettings) -> CasePlan:
        """Which invoices reach which level on `on`, grouped per level (one letter each),
        with the fees each letter charges. Decides nothing yet: `issue_letter` does."""
        policy = choose_policy(self.segment, self.risk_class, settings)
        by_level: dict[int, list[InvoiceState]] = {}
        for invoice in self.invoices.values():
            if not invoice.is_on_schedule:
                continue
            following = invoice.next_level_due_on(policy)
            if following is not None and following[1] <= on:
                by_level.setdefault(following[0].number, []).append(_copy(invoice))
        letters, escalation, escalation_level = [], (), None
        for number, invoices in sorted(by_level.items()):
            invoices.sort(key=lambda invoice: (invoice.due_date, invoice.invoice_number))
            level = policy.level(number)
            if level.action is Action.ESCALATION:
                escalation, escalation_level = tuple(invoices), level
                continue
            fees = tuple(fee for invoice in invoices for fee in assess_fees(invoice, level, on, settings))
            letters.append(PlannedLetter(level, tuple(invoices), fees))
        return CasePlan(policy, tuple(letters), escalation, escalation_level)

    def letter_id(self, level: int, on: date) -> str:
        """One letter per customer, level and day: a retried run finds it already issued."""
        return str(stable_id(self.tenant, "dunning-letter", self.customer_id, str(level),
                             on.isoformat()))

    @event("LetterIssued", topic="dunning.DunningCase.LetterIssued")
    def issue_letter(self, customer_id: str, letter_id: str, level: int, level_name: str,
                     action: str,
                     channel: str, language: str, recipient: str | None, subject: str,
                     body: str, issued_on: date, pay_by: date, invoices: list[dict[str, Any]],
                     fees: list[dict[str, Any]], causation: dict[str, Any]) -> None:
        """The letter exactly as sent, the levels it raises and the fees it charges."""
        for listed in invoices:
            invoice = self.invoices[listed["invoice_id"]]
            invoice.level, invoice.reached, invoice.reached_action = level, level_name, action
            invoice.anchor = issued_on
            invoice.due_override = None
        for fee in fees:
            invoice = self.invoices[fee["invoice_id"]]
            invoice.fees_charged += fee["amount"]
            if fee["kind"] == FeeRule.STATUTORY_INTEREST:
                invoice.interest_charged += fee["amount"]
                invoice.interest_charged_through = fee["interest_to"]
            elif fee["kind"] == FeeRule.RECOVERY_INDEMNITY:
                invoice.indemnity_charged = True
        self.letters[letter_id] = LetterState(
            letter_id, level, level_name, channel, recipient, issued_on,
            status="pending" if channel == "email" else "to_print")

    def escalation_id(self, on: date) -> str:
        return str(stable_id(self.tenant, "dunning-escalation", self.customer_id, on.isoformat()))

    @event("Escalated", topic="dunning.DunningCase.Escalated")
    def escalate(self, customer_id: str, escalation_id: str, level: int, escalated_on: date,
                 partner_kind: str,
                 partner_name: str, invoices: list[dict[str, Any]],
                 causation: dict[str, Any]) -> None:
        for listed in invoices:
            invoice = self.invoices[listed["invoice_id"]]
            invoice.level, invoice.reached = level, "escalation"
            invoice.reached_action = Action.ESCALATION.value
            invoice.escalated_on = escalated_on
        self.escalations.append({"escalation_id": escalation_id, "escalated_on": escalated_on,
                                 "partner_kind": partner_kind, "partner_name": partner_name,
                                 "invoice_ids": [listed["invoice_id"] for listed in invoices]})

    # --- deliveries ------------------------------------------------------------------

    def pending_letters(self) -> list[LetterState]:
        return [letter for letter in self.letters.values() if letter.status == "pending"]

    @event("LetterDelivered", topic="dunning.DunningCase.LetterDelivered")
    def record_delivery(self, letter_id: str, delivered_at: str, message_id: str,
                        server_reply: str, causation: dict[str, Any]) -> None:
        letter = self.letters[letter_id]
        letter.status = "delivered"
        letter.attempts += 1

    @event("LetterDeliveryFailed", topic="dunning.DunningCase.LetterDeliveryFailed")
    def record_delivery_failure(self, letter_id: str, failed_at: str, permanent: bool,
                                reason: str, refused_recipients: list[str],
                                causation: dict[str, Any]) -> None:
        letter = self.letters[letter_id]
        letter.attempts += 1
        if permanent:
            letter.status = "failed"

    @event("LetterBounced", topic="dunning.DunningCase.LetterBounced")
    def record_bounce(self, letter_id: str, recipient: str, reason: str, reported_at: str,
                      causation: dict[str, Any]) -> None:
        self.letters[letter_id].status = "bounced"

    # --- disputes --------------------------------------------------------------------

    def next_dispute_id(self) -> str:
        return f"DSP-{len(self.disputes) + 1:04d}"

    def open_dispute(self, invoice_numbers: Sequence[str], reason: str, owner: str, notes: str,
                     opened_on: date, causation: dict[str, Any]) -> str:
        if reason not in DISPUTE_REASONS:
            raise DunningError(f"reason must be one of {', '.join(DISPUTE_REASONS)}")
        invoices = self._open_invoices(invoice_numbers, "dispute")
        dispute_id = self.next_dispute_id()
        self._dispute_opened(customer_id=self.customer_id, dispute_id=dispute_id,
                             invoices=[invoice.as_dict() for invoice in invoices],
                             reason=reason, owner=owner, notes=notes, opened_on=opened_on,
                             causation=causation)
        return dispute_id

    def _open_invoices(self, invoice_numbers: Sequence[str], what: str) -> list[InvoiceState]:
        if not invoice_numbers:
            raise DunningError(f"a {what} names at least one invoice")
        invoices = [self.invoice_by_number(number) for number in dict.fromkeys(invoice_numbers)]
        settled = [invoice.invoice_number for invoice in invoices if invoice.is_settled]
        if settled:
            raise Refused(f"invoice {', '.join(settled)} is already paid")
        return invoices

    @event("DisputeOpened", topic="dunning.DunningCase.DisputeOpened")
    def _dispute_opened(self, customer_id: str, dispute_id: str, invoices: list[dict[str, Any]],
                        reason: str, owner: str, notes: str, opened_on: date,
                        causation: dict[str, Any]) -> None:
        invoice_ids = [listed["invoice_id"] for listed in invoices]
        self.disputes[dispute_id] = DisputeState(dispute_id, list(invoice_ids), reason, owner,
                                                 notes, opened_on)
        for invoice_id in invoice_ids:
            invoice = self.invoices[invoice_id]
            invoice.disputes.append(dispute_id)
            invoice.pause(opened_on)

    def dispute(self, dispute_id: str) -> DisputeState:
        try:
            return self.disputes[dispute_id]
        except KeyError:
            raise DunningError(f"customer {self.customer_id} has no dispute {dispute_id!r}") from None

    def resolve_dispute(self, dispute_id: str, resolution: str,
                        credit_note_amount: Decimal | None, notes: str, resolved_on: date,
                        causation: dict[str, Any]) -> None:
        dispute = self.dispute(dispute_id)
        if dispute.status != "open":
            raise Refused(f"dispute {dispute_id} was already resolved on {dispute.resolved_on}")
        if resolution not in ("rejected", "credit_note_requested"):
            raise DunningError("resolution must be rejected or credit_note_requested")
        if resolution == "credit_note_requested":
            if credit_note_amount is None or credit_note_amount <= 0:
                raise DunningError("a credit note request needs a positive credit_note_amount")
            currencies = {self.invoices[invoice_id].currency for invoice_id in dispute.invoice_ids}
            if len(currencies) > 1:
                raise DunningError("the disputed invoices are in several currencies: request "
                                   "one credit note per currency")
            disputed = sum((self.invoices[invoice_id].dunnable_amount
                            for invoice_id in dispute.invoice_ids), ZERO)
            if credit_note_amount > disputed:
                raise DunningError(f"a credit note of {credit_note_amount} exceeds the "
                                   f"{disputed} open on the disputed invoices")
        elif credit_note_amount is not None:
            raise DunningError("a rejected dispute requests no credit note")
        self._dispute_resolved(customer_id=self.customer_id, dispute_id=dispute_id,
                               invoice_ids=list(dispute.invoice_ids), resolution=resolution,
                               currency=self.invoices[dispute.invoice_ids[0]].currency,
                               credit_note_amount=credit_note_amount, notes=notes,
                               resolved_on=resolved_on, causation=causation)

    @event("DisputeResolved", topic="dunning.DunningCase.DisputeResolved")
    def _dispute_resolved(self, customer_id: str, dispute_id: str, invoice_ids: list[str],
                          resolution: str, currency: str, credit_note_amount: Decimal | None,
                          notes: str, resolved_on: date, causation: dict[str, Any]) -> None:
        dispute = self.disputes[dispute_id]
        dispute.status = "resolved"
        dispute.resolution = resolution
        dispute.credit_note_amount = credit_note_amount
        dispute.resolution_notes = notes
        dispute.resolved_on = resolved_on
        remaining_credit = credit_note_amount or ZERO
        for invoice_id in dispute.invoice_ids:
            invoice = self.invoices[invoice_id]
            # The requested credit is expected on the disputed invoices in order; dunning
            # goes on for what it will leave open.
            credit = min(remaining_credit, max(invoice.dunnable_amount, ZERO))
            invoice.expected_credit += credit
            remaining_credit -= credit
            invoice.disputes.remove(dispute_id)
            invoice.resume_if_free(resolved_on)

    # --- promises to pay -------------------------------------------------------------

    def next_promise_id(self) -> str:
        return f"PTP-{len(self.promises) + 1:04d}"

    def record_promise(self, invoice_numbers: Sequence[str],
                       instalments: Sequence[tuple[date, Decimal]], currency: str,
                       recorded_on: date, recorded_by: str | None,
                       causation: dict[str, Any]) -> str:
        invoices = self._open_invoices(invoice_numbers, "promise")
        if not instalments:
            raise DunningError("a promise has at least one instalment")
        dates = [due_on for due_on, _ in instalments]
        if dates != sorted(set(dates)):
            raise DunningError("instalments must be in date order, one per date")
        if dates[0] < recorded_on:
            raise DunningError(f"an instalment on {dates[0]} is before the promise ({recorded_on})")
        if any(amount <= 0 for _, amount in instalments):
            raise DunningError("every instalment is a positive amount")
        currencies = {invoice.currency for invoice in invoices}
        if currencies != {currency}:
            raise DunningError(f"the promised invoices are in {', '.join(sorted(currencies))}, "
                               f"the promise in {currency}")
        busy = [invoice.invoice_number for invoice in invoices if invoice.promise_id is not None]
        if busy:
            raise Refused(f"invoice {', '.join(busy)} is already under a promise to pay")
        promise_id = self.next_promise_id()
        self._promise_recorded(
            customer_id=self.customer_id, promise_id=promise_id, invoice_ids=[invoice.invoice_id for invoice in invoices],
            instalments=[{"due_on": due_on, "amount": amount} for due_on, amount in instalments],
            currency=currency, recorded_on=recorded_on, recorded_by=recorded_by,
            causation=causation)
        return promise_id

    @event("PromiseRecorded", topic="dunning.DunningCase.PromiseRecorded")
    def _promise_recorded(self, customer_id: str, promise_id: str, invoice_ids: list[str],
                          instalments: list[dict[str, Any]], currency: str, recorded_on: date,
                          recorded_by: str | None, causation: dict[str, Any]) -> None:
        self.promises[promise_id] = PromiseState(
            promise_id, list(invoice_ids), currency,
            [{**instalment, "status": "pending"} for instalment in instalments],
            recorded_on, recorded_by)
        for invoice_id in invoice_ids:
            invoice = self.invoices[invoice_id]
            invoice.promise_id = promise_id
            invoice.pause(recorded_on)

    @event("InstalmentKept", topic="dunning.DunningCase.InstalmentKept")
    def _instalment_kept(self, promise_id: str, due_on: date, kept_on: date,
                         causation: dict[str, Any]) -> None:
        promise = self.promises[promise_id]
        for instalment in promise.instalments:
            if instalment["due_on"] == due_on:
                instalment["status"] = "kept"
        if all(instalment["status"] == "kept" for instalment in promise.instalments):
            self._close_promise(promise, "kept", kept_on)

    @event("PromiseKept", topic="dunning.DunningCase.PromiseKept")
    def _promise_kept(self, promise_id: str, kept_on: date, causation: dict[str, Any]) -> None:
        self._close_promise(self.promises[promise_id], "kept", kept_on)

    @event("PromiseBroken", topic="dunning.DunningCase.PromiseBroken")
    def _promise_broken(self, customer_id: str, promise_id: str, invoice_ids: list[str],
                        instalment_due_on: date, promised: Decimal,
                        received: Decimal, currency: str, broken_on: date,
                        causation: dict[str, Any]) -> None:
        promise = self.promises[promise_id]
        for instalment in promise.instalments:
            if instalment["due_on"] == instalment_due_on:
                instalment["status"] = "broken"
        self.broken_promises += 1
        self._close_promise(promise, "broken", broken_on)

    def _close_promise(self, promise: PromiseState, status: str, on: date) -> None:
        promise.status = status
        promise.closed_on = on
        for invoice_id in promise.invoice_ids:
            invoice = self.invoices[invoice_id]
            invoice.promise_id = None
            if status == "broken":
                # A broken promise loses the time the promise bought: the next level is due now.
                invoice.paused_since = None if not invoice.is_paused else invoice.paused_since
                invoice.due_override = on
            else:
                invoice.resume_if_free(on)

    # --- what the collector sees -----------------------------------------------------

    def snapshot(self, settings: TenantSettings) -> CaseSnapshot:
        policy = choose_policy(self.segment, self.risk_class, settings)
        invoices = []
        for invoice in self.invoices.values():
            if invoice.is_settled or invoice.dunnable_amount <= 0:
                continue
            following = invoice.next_level_due_on(policy) if invoice.is_on_schedule else None
            invoices.append(InvoiceSnapshot(
                invoice_id=invoice.invoice_id, invoice_number=invoice.invoice_number,
                currency=invoice.currency, open_amount=invoice.dunnable_amount,
                due_date=invoice.due_date, level=invoice.level, level_name=invoice.reached,
                status=("escalated" if invoice.escalated_on else "disputed" if invoice.disputes
                        else "promised" if invoice.promise_id else "on_schedule"),
                next_level=following[0].name if following else None,
                next_level_action=following[0].action.value if following else None,
                next_level_due_on=following[1] if following else None,
                fees_charged=invoice.fees_charged))
        promise_checks = []
        for promise in self.promises.values():
            check = promise.next_check(settings.promise_grace_days) if promise.status == "active" else None
            if check is not None:
                promise_checks.append((promise.promise_id, check[0]["due_on"], check[1],
                                       check[0]["amount"], promise.currency))
        open_disputes = [(dispute.dispute_id, dispute.owner, dispute.opened_on +
                          timedelta(days=settings.dispute_follow_up_days))
                         for dispute in self.disputes.values() if dispute.status == "open"]
        failed_letters = [(letter.letter_id, letter.level_name, letter.issued_on, letter.status)
                          for letter in self.letters.values()
                          if letter.status in ("failed", "bounced")]
        return CaseSnapshot(
            customer_id=self.customer_id, name=self.name, language=self.letter_language,
            email=self.email, segment=self.segment, risk_class=self.risk_class,
            policy=policy.name, broken_promises=self.broken_promises,
            invoices=tuple(invoices), promise_checks=tuple(promise_checks),
            open_disputes=tuple(open_disputes), failed_letters=tuple(failed_letters),
            collector=self.collector)


# --- the worklist ----------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceSnapshot:
    invoice_id: str
    invoice_number: str
    currency: str
    open_amount: Decimal
    due_date: date
    level: int
    level_name: str | None
    status: str
    next_level: str | None
    next_level_action: str | None
    next_level_due_on: date | None
    fees_charged: Decimal


@dataclass(frozen=True)
class CaseSnapshot:
    """A case as its worklist line and its timer need it; stored by the read model."""

    customer_id: str
    name: str
    language: str
    email: str | None
    segment: str
    risk_class: str
    policy: str
    broken_promises: int
    invoices: tuple[InvoiceSnapshot, ...]
    promise_checks: tuple[tuple[str, date, date, Decimal, str], ...]
    open_disputes: tuple[tuple[str, str, date], ...]
    failed_letters: tuple[tuple[str, str, date, str], ...]
    collector: str | None = None

    @property
    def next_run_on(self) -> date | None:
        """The case's timer: the first day a run has something to do for it."""
        dates = [invoice.next_level_due_on for invoice in self.invoices
                 if invoice.next_level_due_on is not None]
        dates += [check_on for _, _, check_on, _, _ in self.promise_checks]
        return min(dates, default=None)

    def next_action(self) -> NextAction | None:
        actions = []
        for invoice in self.invoices:
            if invoice.next_level_due_on is not None:
                verb = ("escalate" if invoice.next_level_action == Action.ESCALATION
                        else f"send the {invoice.next_level.replace('_', ' ')}")
                actions.append(NextAction(
                    f"send_{invoice.next_level}" if invoice.next_level_action != Action.ESCALATION
                    else "escalate", f"{verb} for {invoice.invoice_number}",
                    invoice.next_level_due_on))
        for promise_id, due_on, check_on, amount, currency in self.promise_checks:
            actions.append(NextAction("check_promise", f"check that the instalment of "
                                      f"{_format_amount(amount, currency)} due {due_on} "
                                      f"({promise_id}) was paid", check_on))
        for dispute_id, owner, follow_up_on in self.open_disputes:
            actions.append(NextAction("resolve_dispute", f"resolve dispute {dispute_id} "
                                      f"(owner {owner})", follow_up_on))
        for letter_id, level_name, issued_on, status in self.failed_letters:
            actions.append(NextAction("fix_contact", f"the {level_name.replace('_', ' ')} of "
                                      f"{issued_on} {status}: correct the customer's email or "
                                      f"send it by post", issued_on))
        return min(actions, key=lambda action: action.due_on, default=None)

    def overdue(self, today: date) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        for invoice in self.invoices:
            if invoice.due_date < today:
                totals[invoice.currency] = totals.get(invoice.currency, ZERO) + invoice.open_amount
        return totals

    def oldest_days_past_due(self, today: date) -> int:
        return max((max(0, (today - invoice.due_date).days) for invoice in self.invoices),
                   default=0)

    def needs_a_collector(self, today: date) -> bool:
        return bool(self.overdue(today) or self.open_disputes or self.promise_checks
                    or self.failed_letters)


@dataclass(frozen=True)
class NextAction:
    code: str
    description: str
    due_on: date


@dataclass(frozen=True)
class Priority:
    score: Decimal
    amount_points: Decimal
    age_points: Decimal
    risk_points: Decimal
    broken_promise_points: Decimal


RISK_POINTS = {"unrated": Decimal(5), "low": Decimal(0), "medium": Decimal(10),
               "high": Decimal(20)}


def collection_priority(amount_overdue: Decimal, oldest_days_past_due: int, risk_class: str,
                        broken_promises: int) -> Priority:
    """Where a collector's time pays most, in points (higher first):

    - amount: 10 points per tenfold of the overdue amount above 100 (1,000 -> 10.41,
      10,000 -> 20.04), at most 40; amounts in different currencies are not converted
      (the platform has no rates yet), the largest one counts;
    - age: one point per 3 days past due of the oldest invoice, at most 30;
    - risk: unrated 5, low (A, B) 0, medium (C) 10, high (D, E) 20;
    - broken promises: 15 each, at most 30.
    """
    amount_points = Decimal(0)
    if amount_overdue > 0:
        amount_points = min(Decimal(40), (10 * (1 + amount_overdue / 100).log10()).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP))
    age_points = min(Decimal(30), (Decimal(oldest_days_past_due) / 3).quantize(Decimal("0.01")))
    risk_points = RISK_POINTS[risk_band(risk_class)]
    broken_promise_points = Decimal(min(30, 15 * broken_promises))
    return Priority(amount_points + age_points + risk_points + broken_promise_points,
                    amount_points, age_points, risk_points, broken_promise_points)


# --- the tenant's configuration ---------------------------------------------------------


class TenantConfiguration(Aggregate):
    """A tenant's dunning settings, changed by an administrator and kept with its history."""

    TOPIC = "dunning.TenantConfiguration"

    class Created(Aggregate.Created):
        TOPIC = "dunning.TenantConfiguration.Created"

    @staticmethod
    def create_id(tenant: str) -> UUID:
        return stable_id(tenant, "dunning-settings")

    @event("Configured", topic="dunning.TenantConfiguration.Configured")
    def __init__(self, tenant: str, settings: dict[str, Any], causation: dict[str, Any]) -> None:
        self.tenant = tenant
        self.settings = TenantSettings.from_dict(settings)

    @event("Reconfigured", topic="dunning.TenantConfiguration.Reconfigured")
    def reconfigure(self, settings: dict[str, Any], causation: dict[str, Any]) -> None:
        self.settings = TenantSettings.from_dict(settings)
