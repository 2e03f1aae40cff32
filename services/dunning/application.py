"""Dunning's write side: invoices, payments and customers in; letters, fees, disputes,
promises and escalations out.

Each command loads the customer's case, lets it decide, and stores its new events in one
transaction, with the consumed Kafka position when there is one. Two commands racing on
one case (a payment arriving during a run) conflict on the case's version: the loser
runs again on the new state, so a run never sends a letter for an invoice that a
payment settled before the letter was stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal, TypeVar

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError, Tracking
from pydantic import BaseModel, ConfigDict, Field, model_validator

from libs.events import (
    ApplicationReversed,
    CaseEscalated,
    CreditApplied,
    CreditNoteIssued,
    CustomerUpserted,
    DebitNoteIssued,
    DifferenceWrittenOff,
    DisputeOpened,
    DisputeResolved,
    DunnedInvoice,
    DunningLevelRaised,
    Instalment,
    IntegrationEvent,
    InvoiceAdjusted,
    InvoiceCancelled,
    InvoiceIssued,
    InvoiceWrittenOff,
    LateFeeAssessed,
    Money,
    PaymentApplied,
    PromiseToPayBroken,
    PromiseToPayRecorded,
    ReminderSent,
    RiskScoreChanged,
)
from libs.events.invoicing import FeeAssessed
from libs.events.money import Amount, Currency
from libs.runtime.causation import Causation
from libs.runtime.eventstore import ReceivablesApplication
from libs.runtime.ids import stable_id

from .domain import (
    POLICIES,
    RISK_CLASSES,
    Action,
    DunningCase,
    DunningError,
    FeeRule,
    Refused,
    TenantConfiguration,
    TenantSettings,
)
from .letters import render_letter

T = TypeVar("T")
CONFLICT_RETRIES = 5


class UnknownCase(DunningError):
    """No invoice or master record of this customer ever reached dunning."""


# --- commands from people ------------------------------------------------------------


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SetProfile(_Command):
    """A collector's override of the profile that chooses the dunning policy. What is left
    out (or null) is left to the customer master (segment, risk class) and credit's risk
    score (risk class); an empty body clears the override."""

    segment: str | None = Field(default=None, min_length=1, max_length=64,
                                description="e.g. standard, key_account")
    risk_class: Literal["A", "B", "C", "D", "E", "unrated", "low", "medium", "high"] | None = \
        Field(default=None, description="A (best) to E; the bands low (A, B), medium (C) and "
                                        "high (D, E) are accepted too")


class OpenDispute(_Command):
    invoice_numbers: list[str] = Field(min_length=1)
    reason: Literal["price", "quantity", "damaged", "not_received", "duplicate", "other"]
    owner: str = Field(min_length=1, max_length=120, description="who works the dispute")
    notes: str = Field(default="", max_length=4000)
    opened_on: date | None = Field(default=None, description="default: today")


class ResolveDispute(_Command):
    resolution: Literal["rejected", "credit_note_requested"]
    credit_note_amount: Amount | None = Field(default=None, gt=0)
    notes: str = Field(default="", max_length=4000)
    resolved_on: date | None = Field(default=None, description="default: today")


class InstalmentPromised(_Command):
    due_on: date
    amount: Amount = Field(gt=0)


class RecordPromise(_Command):
    """A promise to pay by a date; an instalment plan is several dated amounts."""

    invoice_numbers: list[str] = Field(min_length=1)
    currency: Currency
    instalments: list[InstalmentPromised] = Field(min_length=1)
    recorded_on: date | None = Field(default=None, description="default: today")
    recorded_by: str | None = None

    @model_validator(mode="after")
    def _in_order(self) -> RecordPromise:
        dates = [instalment.due_on for instalment in self.instalments]
        if dates != sorted(set(dates)):
            raise ValueError("instalments must be in date order, one per date")
        return self


class ReferenceRate(_Command):
    from_: date = Field(alias="from", description="first day of the half-year")
    rate: Amount = Field(ge=-5, le=50, description="percent, e.g. 2.15")

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class ConfigureDunning(_Command):
    """A tenant's dunning settings; what is left out keeps its default."""

    company_name: str = Field(default=TenantSettings.company_name, min_length=1)
    beneficiary: str = Field(default=TenantSettings.beneficiary, min_length=1)
    iban: str = TenantSettings.iban
    bic: str = TenantSettings.bic
    statutory_interest: bool = True
    statutory_interest_margin: Amount = Field(default=TenantSettings.statutory_interest_margin,
                                              ge=0, le=20)
    reference_rates: list[ReferenceRate] | None = None
    recovery_indemnity: dict[str, Amount] = Field(default_factory=lambda: {"EUR": Decimal("40.00")})
    dunning_fee: dict[str, Amount] = Field(default_factory=dict)
    escalation_partner_kind: Literal["collection_agency", "factoring_company"] = "collection_agency"
    escalation_partner_name: str = Field(default=TenantSettings.escalation_partner_name, min_length=1)
    policy_by_segment: dict[str, str] = Field(default_factory=lambda: {"key_account": "key_account"})
    policy_for_high_risk: str = "high_risk"
    promise_grace_days: int = Field(default=1, ge=0, le=30)
    dispute_follow_up_days: int = Field(default=14, ge=1, le=365)

    @model_validator(mode="after")
    def _known_policies(self) -> ConfigureDunning:
        unknown = sorted({*self.policy_by_segment.values(), self.policy_for_high_risk} - set(POLICIES))
        if unknown:
            raise ValueError(f"unknown policy {', '.join(unknown)}; known: {', '.join(POLICIES)}")
        return self

    def settings(self) -> TenantSettings:
        values = self.model_dump(exclude={"reference_rates"})
        values["reference_rates"] = [{"from": rate.from_, "rate": rate.rate}
                                     for rate in self.reference_rates] \
            if self.reference_rates is not None else TenantSettings().as_dict()["reference_rates"]
        return TenantSettings.from_dict(values)


# --- what a run did to one case ------------------------------------------------------


@dataclass
class CaseRunOutcome:
    customer_id: str
    letters: list[str] = field(default_factory=list)
    escalated: list[str] = field(default_factory=list)
    promises_broken: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class InvoiceReduction:
    """Anything other than cash that lowers an invoice's open amount."""

    reduction_id: str
    customer_id: str
    invoice_id: str | None
    amount: Money
    on: date

    @classmethod
    def of(cls, event: IntegrationEvent) -> InvoiceReduction:
        if isinstance(event, DifferenceWrittenOff):
            return cls(event.write_off_id, event.customer_id, event.invoice_id, event.amount,
                       event.written_off_on)
        if isinstance(event, CreditApplied):
            return cls(event.credit_use_id, event.customer_id, event.invoice_id, event.amount,
                       event.applied_on)
        if isinstance(event, CreditNoteIssued):
            # On account (no invoice) it is credit for matching to apply, not a reduction.
            return cls(event.credit_note_id, event.customer_id, event.invoice_id, event.total,
                       event.issue_date)
        if isinstance(event, InvoiceWrittenOff):
            return cls(event.write_off_id, event.customer_id, event.invoice_id, event.amount,
                       event.written_off_on)
        if isinstance(event, InvoiceCancelled):
            return cls(f"cancelled:{event.invoice_id}", event.customer_id, event.invoice_id,
                       event.amount, event.cancelled_on)
        raise TypeError(f"{type(event).__name__} does not reduce an invoice")


class DunningApplication(ReceivablesApplication):
    name = "dunning"

    # --- inbound events (thin handlers call these) ----------------------------------

    def upsert_customer(self, master: CustomerUpserted, causation: Causation,
                        tracking: Tracking | None = None) -> None:
        case = self._case_or_new(master.customer_id, causation)
        if case.contact_differs(master.name, master.language, master.email, master.country):
            case.change_contact(name=master.name, language=master.language, email=master.email,
                                country=master.country, causation=causation.as_dict())
        if case.master_profile_differs(master.segment, master.risk_class, master.collector):
            case.change_master_profile(segment=master.segment, risk_class=master.risk_class,
                                       collector=master.collector, causation=causation.as_dict())
        self.record(tracking, case)

    def score_risk(self, scored: RiskScoreChanged, causation: Causation,
                   tracking: Tracking | None = None) -> None:
        """Credit's class overrides the ERP's: the next step of every open invoice follows
        the policy of the new class (letters already sent stay as they were)."""
        case = self._case_or_new(scored.customer_id, causation)
        if case.credit_risk_class != scored.risk_class:
            case.score_risk_class(risk_class=scored.risk_class, score=scored.score,
                                  scored_on=scored.scored_on, causation=causation.as_dict())
        self.record(tracking, case)

    def open_invoice(self, issued: InvoiceIssued, causation: Causation,
                     tracking: Tracking | None = None) -> None:
        case = self._case_or_new(issued.customer_id, causation)
        if case.knows_invoice(issued.invoice_id) or issued.total.amount <= 0:
            self.record(tracking)
            return
        case.open_invoice(invoice_id=issued.invoice_id, invoice_number=issued.invoice_number,
                          currency=issued.total.currency, total=issued.total.amount,
                          issue_date=issued.issue_date, due_date=issued.due_date,
                          causation=causation.as_dict())
        self.record(tracking, case)

    def open_debit_note(self, note: DebitNoteIssued, causation: Causation,
                        tracking: Tracking | None = None) -> None:
        case = self._case_or_new(note.customer_id, causation)
        if case.knows_invoice(note.debit_note_id):
            self.record(tracking)
            return
        case.open_debit_note(debit_note_id=note.debit_note_id,
                             debit_note_number=note.debit_note_number,
                             currency=note.total.currency, total=note.total.amount,
                             issue_date=note.issue_date, due_date=note.due_date,
                             fee_kind=note.kind, causation=causation.as_dict())
        self.record(tracking, case)

    def adjust_invoice(self, adjusted: InvoiceAdjusted, causation: Causation,
                       tracking: Tracking | None = None) -> None:
        case = self._case_or_new(adjusted.customer_id, causation)
        if case.has_applied(adjusted.adjustment_id) or not case.knows_invoice(adjusted.invoice_id):
            self.record(tracking)  # not an invoice dunning chases (never opened, or zero)
            return
        case.adjust_invoice(adjustment_id=adjusted.adjustment_id, invoice_id=adjusted.invoice_id,
                            amount=adjusted.amount.amount, adjusted_on=adjusted.adjusted_on,
                            causation=causation.as_dict())
        self.record(tracking, case)

    def reverse_application(self, reversed_: ApplicationReversed, causation: Causation,
                            tracking: Tracking | None = None) -> None:
        """A payment, write-off or credit use undone: the invoice is owed again and dunning
        resumes it. A reversed deduction settled nothing dunning saw."""
        case = self._case_or_new(reversed_.customer_id, causation)
        if not case.can_reverse(reversed_.application_id):
            self.record(tracking)
            return
        case.reverse_application(application_id=reversed_.application_id,
                                 reversed_on=reversed_.reversed_on, causation=causation.as_dict())
        self.record(tracking, case)

    def apply_payment(self, applied: PaymentApplied, causation: Causation,
                      tracking: Tracking | None = None) -> None:
        case = self._case_or_new(applied.customer_id, causation)
        if case.has_applied(applied.application_id):
            self.record(tracking)
            return
        case.apply_payment(application_id=applied.application_id,
                           invoice_id=applied.invoice_id, amount=applied.amount.amount,
                           currency=applied.amount.currency, applied_on=applied.applied_on,
                           causation=causation.as_dict())
        self.record(tracking, case)

    def reduce_invoice(self, reduction: InvoiceReduction, causation: Causation,
                       tracking: Tracking | None = None) -> None:
        """A write-off, a credit note or a cancellation lowers what is owed just as cash
        does: the invoice leaves the schedule once nothing is left to chase."""
        case = self._case_or_new(reduction.customer_id, causation)
        if case.has_applied(reduction.reduction_id) or reduction.invoice_id is None:
            self.record(tracking)
            return
        case.apply_payment(application_id=reduction.reduction_id,
                           invoice_id=reduction.invoice_id, amount=reduction.amount.amount,
                           currency=reduction.amount.currency, applied_on=reduction.on,
                           causation=causation.as_dict())
        self.record(tracking, case)

    # --- commands from collectors -----------------------------------------------------

    def set_profile(self, customer_id: str, command: SetProfile, causation: Causation) -> DunningCase:
        risk_class = None if command.risk_class == "unrated" else command.risk_class

        def change() -> DunningCase:
            case = self._case_or_new(customer_id, causation)
            if (case.override_segment, case.override_risk_class) != (command.segment, risk_class):
                case.change_profile(segment=command.segment, risk_class=risk_class,
                                    causation=causation.as_dict())
            self.record(None, case)
            return case
        return self._retrying(change)

    def open_dispute(self, customer_id: str, command: OpenDispute, on: date,
                     causation: Causation) -> tuple[DunningCase, str]:
        def open_it() -> tuple[DunningCase, str]:
            case = self.case(causation.tenant, customer_id)
            dispute_id = case.open_dispute(command.invoice_numbers, command.reason, command.owner,
                                           command.notes, command.opened_on or on,
                                           causation.as_dict())
            self.record(None, case)
            return case, dispute_id
        return self._retrying(open_it)

    def resolve_dispute(self, customer_id: str, dispute_id: str, command: ResolveDispute,
                        on: date, causation: Causation) -> DunningCase:
        def resolve() -> DunningCase:
            case = self.case(causation.tenant, customer_id)
            case.resolve_dispute(dispute_id, command.resolution, command.credit_note_amount,
                                 command.notes, command.resolved_on or on, causation.as_dict())
            self.record(None, case)
            return case
        return self._retrying(resolve)

    def record_promise(self, customer_id: str, command: RecordPromise, on: date,
                       causation: Causation) -> tuple[DunningCase, str]:
        def record_it() -> tuple[DunningCase, str]:
            case = self.case(causation.tenant, customer_id)
            promise_id = case.record_promise(
                command.invoice_numbers,
                [(instalment.due_on, instalment.amount) for instalment in command.instalments],
                command.currency, command.recorded_on or on,
                command.recorded_by or causation.actor, causation.as_dict())
            self.record(None, case)
            return case, promise_id
        return self._retrying(record_it)

    def configure(self, command: ConfigureDunning, causation: Causation) -> TenantSettings:
        def configure_it() -> TenantSettings:
            settings = command.settings()
            configuration = self.get_or_none(TenantConfiguration.create_id(causation.tenant))
            if configuration is None:
                configuration = TenantConfiguration(tenant=causation.tenant,
                                                    settings=settings.as_dict(),
                                                    causation=causation.as_dict())
            elif configuration.settings != settings:
                configuration.reconfigure(settings=settings.as_dict(),
                                          causation=causation.as_dict())
            self.record(None, configuration)
            return settings
        return self._retrying(configure_it)

    def settings_of(self, tenant: str) -> TenantSettings:
        configuration = self.get_or_none(TenantConfiguration.create_id(tenant))
        return configuration.settings if configuration is not None else TenantSettings()

    def case(self, tenant: str, customer_id: str) -> DunningCase:
        case = self.get_or_none(DunningCase.create_id(tenant, customer_id))
        if case is None:
            raise UnknownCase(f"dunning knows no customer {customer_id!r}")
        return case

    # --- the run ----------------------------------------------------------------------

    def advance_case(self, tenant: str, customer_id: str, on: date,
                     causation: Causation) -> CaseRunOutcome:
        """Do what is due on `on` for one case: check its promises, issue one letter per
        level reached, hand over what reached the end. Stored in one transaction; a second
        run for the same date finds nothing left to do."""
        def advance() -> CaseRunOutcome:
            case = self.case(tenant, customer_id)
            settings = self.settings_of(tenant)
            cause = causation.as_dict()
            outcome = CaseRunOutcome(customer_id)
            outcome.promises_broken = case.check_promises(on, settings, cause)
            plan = case.plan(on, settings)
            for planned in plan.letters:
                letter_id = case.letter_id(planned.level.number, on)
                channel = "email" if planned.level.channel == "email" and case.email else "post"
                rendered = render_letter(
                    language=case.letter_language, policy=plan.policy, level=planned.level,
                    customer_name=case.name, customer_id=case.customer_id, issued_on=on,
                    invoices=planned.invoices, fees=planned.fees, settings=settings)
                case.issue_letter(
                    customer_id=case.customer_id, letter_id=letter_id,
                    level=planned.level.number, level_name=planned.level.name,
                    action=planned.level.action.value, channel=channel,
                    language=rendered.language,
                    recipient=case.email if channel == "email" else None,
                    subject=rendered.subject, body=rendered.body, issued_on=on,
                    pay_by=on + timedelta(days=planned.level.pay_within_days),
                    invoices=[{**invoice.as_dict(), "open_amount": invoice.dunnable_amount,
                               "from_level": invoice.level} for invoice in planned.invoices],
                    fees=[fee.as_dict() for fee in planned.fees], causation=cause)
                outcome.letters.append(letter_id)
            if plan.escalation:
                level = plan.escalation_level
                assert level is not None and level.action is Action.ESCALATION
                case.escalate(
                    customer_id=case.customer_id, escalation_id=case.escalation_id(on),
                    level=level.number, escalated_on=on,
                    partner_kind=settings.escalation_partner_kind,
                    partner_name=settings.escalation_partner_name,
                    invoices=[{**invoice.as_dict(), "open_amount": invoice.dunnable_amount,
                               "from_level": invoice.level} for invoice in plan.escalation],
                    causation=cause)
                outcome.escalated = [invoice.invoice_number for invoice in plan.escalation]
            self.record(None, case)
            return outcome
        return self._retrying(advance)

    def record_delivery(self, tenant: str, customer_id: str, letter_id: str, *,
                        delivered_at: str, message_id: str, server_reply: str,
                        causation: Causation) -> None:
        def record_it() -> None:
            case = self.case(tenant, customer_id)
            if case.letters[letter_id].status == "pending":
                case.record_delivery(letter_id=letter_id, delivered_at=delivered_at,
                                     message_id=message_id, server_reply=server_reply,
                                     causation=causation.as_dict())
                self.record(None, case)
        self._retrying(record_it)

    def record_delivery_failure(self, tenant: str, customer_id: str, letter_id: str, *,
                                failed_at: str, permanent: bool, reason: str,
                                refused_recipients: list[str], causation: Causation) -> None:
        def record_it() -> None:
            case = self.case(tenant, customer_id)
            if case.letters[letter_id].status == "pending":
                case.record_delivery_failure(letter_id=letter_id, failed_at=failed_at,
                                             permanent=permanent, reason=reason,
                                             refused_recipients=refused_recipients,
                                             causation=causation.as_dict())
                self.record(None, case)
        self._retrying(record_it)

    def record_bounce(self, customer_id: str, letter_id: str, recipient: str, reason: str,
                      reported_at: str, causation: Causation) -> DunningCase:
        def record_it() -> DunningCase:
            case = self.case(causation.tenant, customer_id)
            if letter_id not in case.letters:
                raise DunningError(f"customer {customer_id} has no letter {letter_id}")
            if case.letters[letter_id].channel != "email":
                raise Refused(f"letter {letter_id} went by post; only an email bounces")
            case.record_bounce(letter_id=letter_id, recipient=recipient, reason=reason,
                               reported_at=reported_at, causation=causation.as_dict())
            self.record(None, case)
            return case
        return self._retrying(record_it)

    # --- plumbing ------------------------------------------------------------------------

    def _case_or_new(self, customer_id: str, causation: Causation) -> DunningCase:
        return self.get_or_none(DunningCase.create_id(causation.tenant, customer_id)) or \
            DunningCase(tenant=causation.tenant, customer_id=customer_id,
                        causation=causation.as_dict())

    @staticmethod
    def _retrying(command: Callable[[], T]) -> T:
        for attempt in range(1, CONFLICT_RETRIES + 1):
            try:
                return command()
            except IntegrityError:
                # Another command changed the case first: decide again on its new state.
                if attempt == CONFLICT_RETRIES:
                    raise
        raise AssertionError("unreachable")


# --- what dunning tells the world -----------------------------------------------------

_FEE_KIND_FOR_BILLING = {FeeRule.STATUTORY_INTEREST: "interest",
                         FeeRule.RECOVERY_INDEMNITY: "late_fee",
                         FeeRule.DUNNING_FEE: "reminder_fee"}


def _dunned(listed: dict) -> DunnedInvoice:
    return DunnedInvoice(invoice_id=listed["invoice_id"], invoice_number=listed["invoice_number"],
                         due_date=listed["due_date"],
                         open_amount=Money.of(listed["open_amount"], listed["currency"]))


def fee_id(letter_id: str, index: int) -> str:
    return str(stable_id("dunning-fee", letter_id, str(index)))


def to_integration_events(domain_event: DomainEventProtocol) -> Iterable[IntegrationEvent]:
    """Letters, levels, fees, disputes, promises and escalations are published; contact
    details, payments as dunning saw them and deliveries stay inside."""
    if isinstance(domain_event, DunningCase.LetterIssued):
        fees_per_currency: dict[str, Decimal] = {}
        for fee in domain_event.fees:
            fees_per_currency[fee["currency"]] = fees_per_currency.get(fee["currency"], Decimal(0)) + fee["amount"]
        yield ReminderSent(
            letter_id=domain_event.letter_id, customer_id=domain_event.customer_id,
            level=domain_event.level, level_name=domain_event.level_name,
            channel=domain_event.channel, language=domain_event.language,
            sent_on=domain_event.issued_on, pay_by=domain_event.pay_by,
            invoices=tuple(_dunned(listed) for listed in domain_event.invoices),
            fees=tuple(Money.of(amount, currency)
                       for currency, amount in sorted(fees_per_currency.items())))
        for listed in domain_event.invoices:
            yield DunningLevelRaised(
                invoice_id=listed["invoice_id"], invoice_number=listed["invoice_number"],
                customer_id=domain_event.customer_id, from_level=listed["from_level"],
                to_level=domain_event.level, level_name=domain_event.level_name,
                raised_on=domain_event.issued_on, letter_id=domain_event.letter_id)
        for index, fee in enumerate(domain_event.fees):
            yield LateFeeAssessed(
                fee_id=fee_id(domain_event.letter_id, index), invoice_id=fee["invoice_id"],
                invoice_number=fee["invoice_number"], customer_id=domain_event.customer_id,
                kind=fee["kind"], amount=Money.of(fee["amount"], fee["currency"]),
                assessed_on=domain_event.issued_on, interest_from=fee["interest_from"],
                interest_to=fee["interest_to"], annual_rate=fee["annual_rate"],
                letter_id=domain_event.letter_id, explanation=fee["explanation"])
            # Invoicing bills a fee with a debit note when it reads FeeAssessed (its own
            # contract, on this topic): the same fee, under the same id, in its words.
            yield FeeAssessed(
                fee_id=fee_id(domain_event.letter_id, index), customer_id=domain_event.customer_id,
                kind=_FEE_KIND_FOR_BILLING[FeeRule(fee["kind"])], invoice_id=fee["invoice_id"],
                invoice_number=fee["invoice_number"],
                amount=Money.of(fee["amount"], fee["currency"]),
                assessed_on=domain_event.issued_on, due_date=domain_event.pay_by,
                reason=fee["explanation"], actor="dunning")
    elif isinstance(domain_event, DunningCase.Escalated):
        totals: dict[str, Decimal] = {}
        for listed in domain_event.invoices:
            totals[listed["currency"]] = totals.get(listed["currency"], Decimal(0)) + listed["open_amount"]
            yield DunningLevelRaised(
                invoice_id=listed["invoice_id"], invoice_number=listed["invoice_number"],
                customer_id=domain_event.customer_id, from_level=listed["from_level"],
                to_level=domain_event.level, level_name="escalation",
                raised_on=domain_event.escalated_on)
        yield CaseEscalated(
            escalation_id=domain_event.escalation_id, customer_id=domain_event.customer_id,
            invoices=tuple(_dunned(listed) for listed in domain_event.invoices),
            partner_kind=domain_event.partner_kind, partner_name=domain_event.partner_name,
            escalated_on=domain_event.escalated_on,
            total_open=tuple(Money.of(amount, currency) for currency, amount in sorted(totals.items())))
    elif isinstance(domain_event, DunningCase.DisputeOpened):
        yield DisputeOpened(
            dispute_id=domain_event.dispute_id, customer_id=domain_event.customer_id,
            invoices=tuple(_dunned(listed) for listed in domain_event.invoices),
            reason=domain_event.reason, owner=domain_event.owner, notes=domain_event.notes,
            opened_on=domain_event.opened_on)
    elif isinstance(domain_event, DunningCase.DisputeResolved):
        yield DisputeResolved(
            dispute_id=domain_event.dispute_id, customer_id=domain_event.customer_id,
            invoice_ids=tuple(domain_event.invoice_ids), resolution=domain_event.resolution,
            credit_note_amount=Money.of(domain_event.credit_note_amount, domain_event.currency)
            if domain_event.credit_note_amount is not None else None,
            notes=domain_event.notes, resolved_on=domain_event.resolved_on)
    elif isinstance(domain_event, DunningCase.PromiseRecorded):
        yield PromiseToPayRecorded(
            promise_id=domain_event.promise_id, customer_id=domain_event.customer_id,
            invoice_ids=tuple(domain_event.invoice_ids),
            instalments=tuple(Instalment(due_on=instalment["due_on"],
                                         amount=Money.of(instalment["amount"], domain_event.currency))
                              for instalment in domain_event.instalments),
            recorded_on=domain_event.recorded_on, recorded_by=domain_event.recorded_by)
    elif isinstance(domain_event, DunningCase.PromiseBroken):
        yield PromiseToPayBroken(
            promise_id=domain_event.promise_id, customer_id=domain_event.customer_id,
            invoice_ids=tuple(domain_event.invoice_ids),
            instalment_due_on=domain_event.instalment_due_on,
            promised=Money.of(domain_event.promised, domain_event.currency),
            received=Money.of(domain_event.received, domain_event.currency),
            broken_on=domain_event.broken_on)


__all__ = ["CaseRunOutcome", "ConfigureDunning", "DunningApplication", "OpenDispute",
           "RISK_CLASSES", "RecordPromise", "ResolveDispute", "SetProfile", "UnknownCase",
           "to_integration_events"]
