"""The decision core of cash application: pure, in memory, deterministic.

`decide(book, payment)` answers one question: which open items does this cash settle,
and how sure are we? It reads a `Book` (book.py: one tenant's open items, customer
master, exchange rates and the payer accounts learned from earlier payments) and returns a `Decision` - the rule
that decided, a score, the evidence, and the amounts - without changing anything.
The event-sourced application (application.py) feeds the book from its stored events
and turns decisions into events; the benchmark calls `decide` directly.

The cascade, first rule that is sure wins:
1. references: RF creditor references (check digits verified), invoice numbers with
   their series prefix, digits without prefix or with leading zeros, and one mistyped
   character - the last two only when the amount or the payer confirms them; invoices
   named in another currency than the cash are settled in full when the cash, converted
   at the value date's rate, is what is open within the exchange tolerance (fx.py);
2. the payer identified (given on the bank line, by an account that paid this customer
   before, a customer number in the text, or a name close to one in the customer master),
   then the customer's unique open item of that amount;
3. a unique combination of the customer's open items and credits that sums to it;
4. the same within the write-off tolerance (bank charges, rounding in foreign currency).
Short payments are written off within the tolerance, raised as deductions beyond it, or
left as partial payments; overpayments leave the excess unapplied on the customer's
account. Anything ambiguous stays unapplied: a wrong match is worse than none.

Same book, same payment, same decision: no clock, no randomness, no set iteration.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from libs.events.invoicing import AppliedExchangeRate
from libs.events.money import MINOR_UNITS

from .book import Book, OpenItem
from .fx import RATE_LOOKBACK_DAYS, convert, in_words, pair_key
from .payers import normal_account
from .references import (
    CreditorReference,
    NumberCandidate,
    creditor_references,
    customer_tokens,
    digit_key,
    number_candidates,
    one_edit_variants,
    reference_key,
    series_prefix,
)

# --- rules -------------------------------------------------------------------------------

RULE_RF = "reference-rf"
RULE_REFERENCE = "reference-number"
RULE_REFERENCE_DIGITS = "reference-digits"
RULE_REFERENCE_TYPO = "reference-typo"
RULE_CUSTOMER_AMOUNT = "customer-amount"
RULE_CUSTOMER_COMBINATION = "customer-combination"
RULE_CUSTOMER_NEAR_AMOUNT = "customer-amount-within-tolerance"
RULE_OLDEST_FIRST = "customer-oldest-first"
RULE_MANUAL = "manual"
RULE_UNAPPLIED = "unapplied"

RULE_WORDS = {
    RULE_RF: "structured creditor reference",
    RULE_REFERENCE: "invoice number in the remittance",
    RULE_REFERENCE_DIGITS: "invoice digits in the remittance, confirmed",
    RULE_REFERENCE_TYPO: "invoice number with one mistyped character, confirmed",
    RULE_CUSTOMER_AMOUNT: "customer's only open item of this amount",
    RULE_CUSTOMER_COMBINATION: "customer's open items that add up to the payment",
    RULE_CUSTOMER_NEAR_AMOUNT: "customer's only open item within tolerance",
    RULE_OLDEST_FIRST: "customer's oldest open items first",
    RULE_MANUAL: "matched by a person",
    RULE_UNAPPLIED: "not matched",
}

# Identification of the payer.
BY_GIVEN, BY_ACCOUNT, BY_CUSTOMER_NUMBER, BY_NAME, BY_REFERENCE = (
    "given", "payer-account", "customer-number", "payer-name", "reference")

_PARTIAL_WORDS = ("PARTIAL", "PART PAYMENT", "INSTAL", "INSTALL", "A CONTO", "ACONTO",
                  "ACOMPTE", "TEILZAHLUNG", "ABSCHLAG", "ON ACCOUNT OF", "FIRST PAYMENT",
                  "BALANCE TO FOLLOW", "REST FOLLOWS", "REMAINDER TO FOLLOW")
_DEDUCTION_WORDS: tuple[tuple[str, str, str], ...] = (
    ("DAMAGE", "damaged-goods", "damaged goods"),
    ("BROKEN", "damaged-goods", "damaged goods"),
    ("DEFECT", "damaged-goods", "defective goods"),
    ("BESCHAEDIG", "damaged-goods", "damaged goods"),
    ("MISSING", "short-shipment", "goods missing from the delivery"),
    ("SHORT SHIP", "short-shipment", "short shipment"),
    ("NOT DELIVERED", "short-shipment", "goods not delivered"),
    ("SHORTAGE", "short-shipment", "short shipment"),
    ("PRICE", "pricing", "price difference"),
    ("PRICING", "pricing", "price difference"),
    ("PROMO", "promotion", "promotion or allowance"),
    ("ALLOWANCE", "promotion", "promotion or allowance"),
    ("REBATE", "promotion", "rebate"),
    ("DISCOUNT", "discount", "discount taken"),
    ("SKONTO", "discount", "cash discount taken"),
    ("FREIGHT", "freight", "freight charges"),
    ("SHIPPING", "freight", "shipping charges"),
    ("RETURN", "returned-goods", "goods returned"),
    ("BANK CHARGE", "bank-charges", "bank charges"),
    ("BANK FEE", "bank-charges", "bank charges"),
    ("FEES", "bank-charges", "bank charges"),
)


@dataclass(frozen=True)
class Policy:
    """How sure is sure enough, and what to do with differences. Amounts in the
    payment's currency; `write_off_limits` overrides `write_off_limit` per currency."""

    auto_apply_score: Decimal = Decimal("0.85")
    identify_score: Decimal = Decimal("0.85")
    name_margin: Decimal = Decimal("0.10")
    write_off_limit: Decimal = Decimal("10.00")
    write_off_limits: Mapping[str, Decimal] = field(default_factory=dict)
    write_off_share: Decimal = Decimal("0.02")
    # A short payment beyond the tolerance and up to this share of what was open is a
    # deduction (to be investigated); a larger one, a partial payment (to be collected).
    deduction_share: Decimal = Decimal("0.25")
    bank_charge_limit: Decimal = Decimal("35.00")
    # Cash in another currency settles a named invoice when, at the value date's rate, it is
    # within this share of what is open (the payer's bank converts at its own rate).
    fx_tolerance_share: Decimal = Decimal("0.01")
    oldest_first: bool = False
    max_combination_items: int = 30
    max_combination_size: int = 6
    combination_budget: int = 4000

    def tolerance(self, currency: str, open_amount: Decimal) -> Decimal:
        limit = self.write_off_limits.get(currency, self.write_off_limit)
        share = (abs(open_amount) * self.write_off_share)
        return _rounded(min(limit, share), currency)

    def tolerance_bound(self, currency: str) -> Decimal:
        """No tolerance in `currency` exceeds this (the limit and a rounding unit): a
        difference beyond it needs no exact tolerance worked out."""
        return self.write_off_limits.get(currency, self.write_off_limit) + \
            _QUANTA.get(currency, _HUNDREDTH)


DEFAULT_POLICY = Policy()


_QUANTA = {currency: Decimal(1).scaleb(-units) for currency, units in MINOR_UNITS.items()}
_HUNDREDTH = Decimal("0.01")


def _rounded(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(_QUANTA.get(currency, _HUNDREDTH), ROUND_HALF_EVEN)


def _score(value: Decimal) -> Decimal:
    return value.quantize(_HUNDREDTH, ROUND_HALF_EVEN)


# --- payments and decisions -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IncomingPayment:
    """The facts of a bank line that matching weighs; `amount` is what is left to place."""

    payment_id: str
    amount: Decimal
    currency: str
    value_date: date
    customer_id: str | None = None
    payer_name: str | None = None
    payer_account: str | None = None
    remittance_text: str | None = None
    references: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Allocation:
    item_id: str
    number: str
    customer_id: str
    amount: Decimal
    open_before: Decimal
    rule: str
    score: Decimal
    evidence: tuple[str, ...]
    explanation: str
    # Cash in another currency than the item: `amount` settles the item in its currency,
    # `paid_amount` is the cash it took (the payment's currency), converted at `exchange_rate`.
    paid_amount: Decimal | None = None
    exchange_rate: AppliedExchangeRate | None = None

    @property
    def cash(self) -> Decimal:
        """What the allocation takes of the payment, in the payment's currency."""
        return self.amount if self.paid_amount is None else self.paid_amount


@dataclass(frozen=True, slots=True)
class CreditUse:
    """A credit (on-account credit note) consumed against an invoice the payment settles."""

    credit_item_id: str
    credit_number: str
    item_id: str
    number: str
    customer_id: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Adjustment:
    """What a short payment leaves on an item: written off, or raised as a deduction."""

    kind: str  # "write-off" | "deduction"
    item_id: str
    number: str
    customer_id: str
    amount: Decimal
    reason_code: str
    reason: str


@dataclass(frozen=True)
class Decision:
    payment_id: str
    currency: str
    rule: str
    score: Decimal
    customer_id: str | None
    identified_by: str | None
    allocations: tuple[Allocation, ...] = ()
    credit_uses: tuple[CreditUse, ...] = ()
    adjustments: tuple[Adjustment, ...] = ()
    unapplied: Decimal = Decimal(0)
    reason: str = ""
    evidence: tuple[str, ...] = ()
    waiting_for: tuple[str, ...] = ()
    summary: str = ""

    @property
    def matched(self) -> bool:
        return bool(self.allocations)

    @property
    def applied(self) -> Decimal:
        return sum((allocation.amount for allocation in self.allocations), Decimal(0))


@dataclass(frozen=True, slots=True)
class Identification:
    customer_id: str | None
    method: str | None
    score: Decimal
    evidence: tuple[str, ...]


@dataclass(slots=True)
class _Named:
    item: OpenItem
    rule: str
    score: Decimal
    evidence: str


def decide(book: Book, payment: IncomingPayment, policy: Policy = DEFAULT_POLICY) -> Decision:
    """The decision for the payment's unplaced amount. Pure: the book is only read."""
    return _Decider(book, payment, policy).run()


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount:,} {currency}"


class _Decider:
    def __init__(self, book: Book, payment: IncomingPayment, policy: Policy) -> None:
        self.book = book
        self.payment = payment
        self.policy = policy
        self.currency = payment.currency
        self.text = (payment.remittance_text or "").upper()
        self.tolerance_bound = policy.tolerance_bound(payment.currency)
        self.notes: list[str] = []
        self.waiting: list[str] = []
        self.waiting_written: list[str] = []
        self._identification: Identification | None = None

    # the cascade ------------------------------------------------------------------------

    def run(self) -> Decision:
        named, references_seen = self._named_items()
        if named:
            decision = self._settle_named(named)
            if decision is not None:
                return decision
        elif references_seen and self._blocking_reference_problem():
            return self._unapplied("the remittance names " + "; ".join(self.notes))
        identification = self.identification()
        if identification.customer_id is not None:
            decision = self._by_customer(identification)
            if decision is not None:
                return decision
            waiting = (f"; the remittance names {', '.join(self.waiting_written)}, not an open "
                       f"item yet: the payment is applied when it arrives"
                       if self.waiting else "")
            problem = ("; ".join(self.notes) if self.notes else
                       f"no open item or combination of open items matches "
                       f"{_money(self.payment.amount, self.currency)}")
            return self._unapplied(
                f"the payer is {self.book.customer_name(identification.customer_id)}, but "
                f"{problem}{waiting}")
        if self.waiting:
            return self._unapplied(
                f"the remittance names {', '.join(self.waiting_written)}, which is not an "
                f"open item yet; the payment is applied when it arrives")
        if self.payment.remittance_text:
            return self._unapplied("neither the remittance text nor the payer identify an "
                                   "open item")
        return self._unapplied("no remittance text, and the payer could not be identified")

    def _blocking_reference_problem(self) -> bool:
        return any("already settled" in note or "another customer" in note
                   or "currency" in note for note in self.notes)

    # 1. references --------------------------------------------------------------------

    def _named_items(self) -> tuple[list[_Named], bool]:
        """The open items the payer named, in the order named, with how sure each is."""
        named: dict[str, _Named] = {}
        maybe: list[tuple[NumberCandidate, list[OpenItem], str]] = []
        rf_refs: list[CreditorReference] = (creditor_references(self.text) if "RF" in self.text
                                            else [])
        candidates: list[NumberCandidate] = []
        for structured in self.payment.references:
            upper = structured.upper()
            found = creditor_references(upper)
            if found:
                rf_refs.extend(found)
            else:
                candidates.extend(number_candidates(upper, structured=True, min_digits=1))
        candidates.extend(number_candidates(self.text))
        seen_any = bool(rf_refs or candidates)

        for reference in rf_refs:
            items = self.book.by_reference(reference_key(reference.body))
            if reference.valid and len(items) == 1:
                self._name(named, items[0], RULE_RF, Decimal("0.99"),
                           f"the creditor reference {_rf_display(reference)} (check digits "
                           f"correct) belongs to {items[0].number}")
                continue
            prefix = series_prefix(reference.body)
            candidate = NumberCandidate(reference.written, prefix, digit_key(reference.body),
                                        "invoice", structured=True)
            if reference.valid and not items:
                self.waiting.append(candidate.digits)
                self.waiting_written.append(_rf_display(reference))
            candidates.append(candidate)

        for candidate in candidates:
            if candidate.qualifier == "other":
                continue  # an order, customer or account number
            exact = self.book.by_reference(candidate.reference_key) if candidate.prefix else []
            if len(exact) == 1:
                self._name(named, exact[0], RULE_REFERENCE, Decimal("0.99"),
                           f"the remittance names {exact[0].number} ('{candidate.written}')")
                continue
            if candidate.structured and len(self.book.by_digits(candidate.digits)) == 1:
                item = self.book.by_digits(candidate.digits)[0]
                self._name(named, item, RULE_REFERENCE, Decimal("0.98"),
                           f"the payer's structured reference '{candidate.written}' is "
                           f"{item.number}")
                continue
            items = [item for item in self.book.by_digits(candidate.digits)
                     if not candidate.prefix or _prefix_compatible(candidate.prefix, item)]
            if items:
                maybe.append((candidate, items, RULE_REFERENCE_DIGITS))
                if len(candidate.digits) < 4 or candidate.joined or any(
                        self._fits(item, self.payment.amount) for item in items):
                    continue
            if len(candidate.digits) >= 4 and not candidate.joined:
                variants = [item for item in self.book.by_any_digits(
                                one_edit_variants(candidate.digits))
                            if not candidate.prefix or _prefix_compatible(candidate.prefix, item)]
                if variants:
                    maybe.append((candidate, variants, RULE_REFERENCE_TYPO))
            if not candidate.joined and (candidate.prefix or candidate.structured or (
                    candidate.qualifier == "invoice" and len(candidate.digits) >= 4)):
                self.waiting.append(candidate.digits)
                self.waiting_written.append(f"'{candidate.written}'")

        if maybe:
            self._confirm(named, maybe)
        return list(named.values()), seen_any

    def _name(self, named: dict[str, _Named], item: OpenItem, rule: str, score: Decimal,
              evidence: str) -> None:
        if item.item_id in named:
            return
        given = self.payment.customer_id
        if given is not None and item.customer_id != given:
            self.notes.append(f"{item.number}, which belongs to another customer "
                              f"({item.customer_id}), not to {given}")
            return
        named[item.item_id] = _Named(item, rule, score, evidence)

    def _fits(self, item: OpenItem, amount: Decimal) -> bool:
        if item.currency != self.currency or item.open <= 0:
            return False
        difference = abs(item.open - amount)
        return difference <= self.tolerance_bound and \
            difference <= self.policy.tolerance(self.currency, item.open)

    def _confirm(self, named: dict[str, _Named],
                 maybe: list[tuple[NumberCandidate, list[OpenItem], str]]) -> None:
        """Digits without our prefix, or one character off, name an item only when the
        amount or the payer confirms it - otherwise an order number or a typo could
        settle somebody else's invoice."""
        amount = self.payment.amount
        sure_customers = {entry.item.customer_id for entry in named.values()}
        unresolved: list[tuple[NumberCandidate, list[OpenItem], str]] = []
        for candidate, items, rule in maybe:
            items = [item for item in items if item.item_id not in named]
            if not items:
                continue
            by_amount = [item for item in items if self._fits(item, amount)]
            if len(by_amount) == 1:
                item = by_amount[0]
                closeness = ("exactly what was open on it" if item.open == amount else
                             f"within the tolerance of the {_money(item.open, self.currency)} "
                             f"open on it")
                self._name(named, item, rule, _rule_score(rule),
                           _confirmed_words(candidate, item, rule,
                                            f"the amount {_money(amount, self.currency)} is "
                                            f"{closeness}"))
                continue
            payer = self._payer_for_confirmation(sure_customers)
            by_payer = [item for item in items if payer is not None
                        and item.customer_id == payer[0] and item.open != 0]
            if len(by_payer) == 1:
                item = by_payer[0]
                self._name(named, item, rule, _score(_rule_score(rule) * min(payer[1], Decimal(1))),
                           _confirmed_words(candidate, item, rule,
                                            f"it is an open item of the payer, {payer[2]}"))
                continue
            unresolved.append((candidate, items, rule))
        # Several numbers without prefix ("123, 124, 125") that together make the amount.
        singles = [(candidate, items[0], rule) for candidate, items, rule in unresolved
                   if len(items) == 1 and rule == RULE_REFERENCE_DIGITS
                   and items[0].currency == self.currency and items[0].open > 0]
        if len(singles) >= 2:
            total = sum((entry.item.open for entry in named.values()
                         if entry.item.currency == self.currency), Decimal(0))
            total += sum((item.open for _, item, _ in singles), Decimal(0))
            if abs(total - amount) <= self.policy.tolerance(self.currency, total):
                for candidate, item, rule in singles:
                    self._name(named, item, rule, Decimal("0.95"),
                               _confirmed_words(candidate, item, rule,
                                                "together with the other numbers named it "
                                                "makes up the amount paid"))

    def _payer_for_confirmation(self, sure_customers: set[str]) -> tuple[str, Decimal, str] | None:
        if len(sure_customers) == 1:
            customer_id = next(iter(sure_customers))
            return customer_id, Decimal("0.99"), self.book.customer_name(customer_id)
        identification = self.identification()
        if identification.customer_id is None:
            return None
        return (identification.customer_id, identification.score,
                f"{self.book.customer_name(identification.customer_id)} "
                f"({_identified_words(identification.method)})")

    def _settle_named(self, named: list[_Named]) -> Decision | None:
        usable: list[_Named] = []
        for entry in named:
            item = entry.item
            if item.currency != self.currency:
                self.notes.append(f"{item.number}, which is in {item.currency}, not in "
                                  f"{self.currency}")
            elif item.open == 0 or (item.kind == "invoice" and item.open < 0):
                self.notes.append(f"{item.number}, which is already settled")
            else:
                usable.append(entry)
        if not usable and len(named) == 1 and named[0].rule == RULE_REFERENCE:
            corrected = self._one_keystroke_away(named[0])
            if corrected is not named[0]:
                usable = [corrected]
        foreign = [entry for entry in named if entry.item.currency != self.currency
                   and entry.item.kind == "invoice" and entry.item.open > 0]
        if not usable and foreign:
            return self._settle_in_other_currency(foreign)
        if not any(entry.item.open > 0 for entry in usable):
            if self.notes:
                return self._unapplied("the remittance names " + "; ".join(self.notes))
            return None
        amount = self.payment.amount
        if len(usable) == 1 and usable[0].rule == RULE_REFERENCE and \
                not self._fits(usable[0].item, amount):
            usable = [self._one_keystroke_away(usable[0])]
        total = sum((entry.item.open for entry in usable), Decimal(0))
        if amount < total and len(usable) > 1:
            # The payer named several items but paid for some: exactly which ones?
            subset = self._named_subset_paying(usable, amount)
            if subset is not None and len(subset) < len(usable):
                left_out = [entry.item.number for entry in usable if entry not in subset]
                self.notes.append(f"{', '.join(left_out)} named but not paid for")
                usable = subset
        score = min(entry.score for entry in usable)
        rule = usable[0].rule if len({entry.rule for entry in usable}) == 1 else \
            min((entry.rule for entry in usable), key=_rule_rank)
        why = {entry.item.item_id: entry.evidence for entry in usable}
        return self._settle([entry.item for entry in usable], rule, score, why,
                            identified=(usable[0].item.customer_id, BY_REFERENCE))

    def _settle_in_other_currency(self, named: list[_Named]) -> Decision:
        """Invoices named by the payer in another currency than the cash: converted at
        the value date's rate, they are settled in full when the cash is worth what is
        open within the exchange tolerance; anything else is for a person."""
        paid_in, owed_in = self.currency, named[0].item.currency
        numbers = ", ".join(entry.item.number for entry in named)
        if any(entry.item.currency != owed_in for entry in named):
            return self._unapplied(f"the remittance names {numbers}, in several currencies "
                                   f"other than the payment's {paid_in}")
        amount, value_date = self.payment.amount, self.payment.value_date
        rate = self.book.rates.rate_on(paid_in, owed_in, value_date)
        if rate is None:
            self.waiting.append(pair_key(paid_in, owed_in))
            return self._unapplied(
                f"the remittance names {numbers} in {owed_in}, but no {paid_in}/{owed_in} "
                f"exchange rate is known for {value_date} or the {RATE_LOOKBACK_DAYS} days "
                f"before: the payment is applied when one is published")
        worth = convert(rate, amount, paid_in)
        total = sum((entry.item.open for entry in named), Decimal(0))
        tolerance = max(self.policy.tolerance(owed_in, total),
                        _rounded(total * self.policy.fx_tolerance_share, owed_in))
        difference = worth - total
        conversion = f"{_money(amount, paid_in)} is {_money(worth, owed_in)} at {in_words(rate)}"
        if abs(difference) > tolerance:
            return self._unapplied(
                f"{conversion}, but {numbers} {'has' if len(named) == 1 else 'have'} "
                f"{_money(total, owed_in)} open: more apart than the "
                f"{_money(tolerance, owed_in)} an exchange difference may be",
                suggestion=numbers)
        score = _score(min(entry.score for entry in named) * Decimal("0.97"))
        rule = min((entry.rule for entry in named), key=_rule_rank)
        exchange = ("exactly what is open" if difference == 0 else
                    f"{_money(abs(difference), owed_in)} {'more' if difference > 0 else 'less'} "
                    f"than what is open, an exchange difference within the tolerance of "
                    f"{_money(tolerance, owed_in)}")
        allocations = []
        left = amount
        for index, entry in enumerate(named):
            item = entry.item
            # The cash is shared in proportion to what is open; the last takes the rounding.
            paid = left if index == len(named) - 1 else \
                _rounded(amount * item.open / total, paid_in)
            left -= paid
            sentence = (f"Applied {_money(paid, paid_in)} to {item.number} of "
                        f"{self.book.customer_name(item.customer_id)}, settling the "
                        f"{_money(item.open, owed_in)} open on it: {entry.evidence}; {conversion}, "
                        f"{exchange} (rule: {RULE_WORDS[rule]}, confidence {int(score * 100)}%).")
            allocations.append(Allocation(
                item.item_id, item.number, item.customer_id, item.open, item.open, rule, score,
                (entry.evidence, f"exchange rate {in_words(rate)}", *self.notes), sentence,
                paid, rate))
        return Decision(
            payment_id=self.payment.payment_id, currency=paid_in, rule=rule, score=score,
            customer_id=named[0].item.customer_id, identified_by=BY_REFERENCE,
            allocations=tuple(allocations),
            evidence=tuple(dict.fromkeys([*(entry.evidence for entry in named),
                                          f"exchange rate {in_words(rate)}", *self.notes])),
            summary=" ".join(allocation.explanation for allocation in allocations))

    def _one_keystroke_away(self, entry: _Named) -> _Named:
        """A payer who types INV-000124 but pays exactly what INV-000123 owes meant 123:
        the amount outweighs a number that is one keystroke from another open item."""
        named = entry.item
        amount = self.payment.amount
        prefix = series_prefix(named.number)
        digits = digit_key(named.number)
        fitting = [item for item in self.book.open_of_amount(self.currency, amount)
                   if item is not named and series_prefix(item.number) == prefix
                   and _one_edit_apart(digits, digit_key(item.number))]
        if len(fitting) != 1:
            return entry
        item = fitting[0]
        self.notes.append(f"{named.number} has {_money(named.open, self.currency)} open")
        return _Named(item, RULE_REFERENCE_TYPO, Decimal("0.92"),
                      f"the remittance names {named.number}, but pays exactly the "
                      f"{_money(amount, self.currency)} open on {item.number}, one character "
                      f"away: a typo")

    def _named_subset_paying(self, usable: list[_Named], amount: Decimal) -> list[_Named] | None:
        if len(usable) > 12:
            return None
        quantum = 10 ** MINOR_UNITS.get(self.currency, 2)
        values = [int(entry.item.open * quantum) for entry in usable]
        target = int(amount * quantum)
        found, complete = find_combinations(values, target, target, 1, len(values), 5000, 2)
        if complete and len(found) == 1:
            return [usable[index] for index in found[0]]
        return None

    # 2-4. the payer, then amounts --------------------------------------------------------

    def identification(self) -> Identification:
        if self._identification is None:
            self._identification = self._identify()
        return self._identification

    def _identify(self) -> Identification:
        payment, book, policy = self.payment, self.book, self.policy
        if payment.customer_id:
            return Identification(payment.customer_id, BY_GIVEN, Decimal("1.00"),
                                  (f"the bank line names the customer "
                                   f"{book.customer_name(payment.customer_id)}",))
        found: list[Identification] = []
        notes: list[str] = []
        account_customers = book.customers_of_account(payment.payer_account)
        if len(account_customers) == 1:
            found.append(Identification(
                account_customers[0], BY_ACCOUNT, Decimal("0.97"),
                (f"the account {normal_account(payment.payer_account)} paid "
                 f"{book.customer_name(account_customers[0])}'s invoices before",)))
        elif len(account_customers) > 1:
            notes.append(f"the account {normal_account(payment.payer_account)} has paid for "
                         f"{len(account_customers)} customers (a third-party payer)")
        if self.text:
            joined, after_word = customer_tokens(self.text)
            numbered: dict[str, None] = {}
            for key in joined:
                customer_id = book.customer_numbered(key)
                if customer_id is not None:
                    numbered[customer_id] = None
            for key in after_word:
                for customer_id in book.customers_numbered(key):
                    numbered[customer_id] = None
            if len(numbered) == 1:
                customer_id = next(iter(numbered))
                found.append(Identification(
                    customer_id, BY_CUSTOMER_NUMBER, Decimal("0.97"),
                    (f"the remittance text gives the customer number {customer_id}",)))
        if payment.payer_name and len(book.names):
            match = book.names.best(payment.payer_name)
            if match is not None and match.score >= policy.identify_score and \
                    match.score - match.runner_up >= policy.name_margin:
                found.append(Identification(
                    match.customer_id, BY_NAME, min(match.score, Decimal("0.97")),
                    (f"the payer name '{payment.payer_name}' is close to the customer "
                     f"{match.customer_name} ({match.customer_id}): similarity "
                     f"{match.score}",)))
            elif match is not None and match.score >= policy.identify_score:
                close = [customer_id for customer_id, score in match.close
                         if score >= policy.identify_score
                         and match.score - score < policy.name_margin]
                # A person would look at the amounts: whose open item is it?
                owing = [customer_id for customer_id in close
                         if book.has_open_of_amount(customer_id, self.currency, payment.amount)]
                if len(owing) == 1:
                    score = dict(match.close)[owing[0]]
                    found.append(Identification(
                        owing[0], BY_NAME, min(score, Decimal("0.95")),
                        (f"the payer name '{payment.payer_name}' is close to "
                         f"{len(close)} customers, and only "
                         f"{book.customer_name(owing[0])} has an open item of "
                         f"{_money(payment.amount, self.currency)}",)))
                else:
                    notes.append(f"the payer name '{payment.payer_name}' is as close to "
                                 f"{match.customer_name} as to another customer")
        if not found:
            return Identification(None, None, Decimal(0), tuple(notes))
        found.sort(key=lambda candidate: -candidate.score)
        best = found[0]
        others = {candidate.customer_id for candidate in found} - {best.customer_id}
        if others:
            return Identification(None, None, Decimal(0), (
                f"the payer details disagree: {'; '.join(c.evidence[0] for c in found)}",))
        if best.score < policy.identify_score:
            return Identification(None, None, Decimal(0), best.evidence)
        evidence = tuple(candidate.evidence[0] for candidate in found)
        return Identification(best.customer_id, best.method,
                              max(candidate.score for candidate in found), evidence)

    def _by_customer(self, identification: Identification) -> Decision | None:
        customer_id = identification.customer_id
        assert customer_id is not None
        amount = self.payment.amount
        items = self.book.open_items_of(customer_id, self.currency)
        if not any(item.open > 0 for item in items):
            return None
        tolerance = self.policy.tolerance(self.currency, amount)
        exact = [item for item in items if item.open == amount]
        near = [item for item in items
                if item.open > 0 and item.open != amount and abs(item.open - amount) <= tolerance]
        credits = [item for item in items if item.open < 0]
        invoices = [item for item in items if item.open > 0]
        pool = credits[:self.policy.max_combination_items // 3]
        pool += invoices[:self.policy.max_combination_items - len(pool)]
        quantum = 10 ** MINOR_UNITS.get(self.currency, 2)
        values = [int(item.open * quantum) for item in pool]
        target = int(amount * quantum)
        band = int(tolerance * quantum)
        combinations, complete = find_combinations(
            values, target - band, target + band, 2, self.policy.max_combination_size,
            self.policy.combination_budget, 4)
        exact_sets = [combo for combo in combinations
                      if sum(values[index] for index in combo) == target]
        near_sets = [combo for combo in combinations if combo not in exact_sets]
        base = identification.score
        payer_words = (f"the payer is {self.book.customer_name(customer_id)} "
                       f"({_identified_words(identification.method)})")
        identified = (customer_id, identification.method or BY_GIVEN)
        if len(exact) + len(exact_sets) == 1 and (complete or exact):
            if exact:
                item = exact[0]
                why = (f"{payer_words}; {item.number} is its only open item of "
                       f"{_money(amount, self.currency)}")
                return self._settle([item], RULE_CUSTOMER_AMOUNT, _score(base * Decimal("0.98")),
                                    {item.item_id: why}, identified)
            chosen = [pool[index] for index in exact_sets[0]]
            chosen.sort(key=lambda item: (item.open < 0, item.due_date, item.sequence))
            numbers = " + ".join(f"{item.number} ({item.open})" for item in chosen)
            why = (f"{payer_words}; {numbers} add up to the payment, and no other "
                   f"combination of its open items does")
            return self._settle(chosen, RULE_CUSTOMER_COMBINATION, _score(base * Decimal("0.96")),
                                {item.item_id: why for item in chosen}, identified)
        if len(exact) + len(exact_sets) > 1:
            options = [item.number for item in exact] + [
                " + ".join(pool[index].number for index in combo) for combo in exact_sets]
            self.notes.append(f"several open items match {_money(amount, self.currency)}: "
                              f"{'; '.join(options[:4])}")
            return None
        if len(near) + len(near_sets) == 1 and complete:
            chosen = [near[0]] if near else sorted(
                (pool[index] for index in near_sets[0]),
                key=lambda item: (item.open < 0, item.due_date, item.sequence))
            total = sum((item.open for item in chosen), Decimal(0))
            numbers = " + ".join(item.number for item in chosen)
            why = (f"{payer_words}; {numbers} ({_money(total, self.currency)}) is within the "
                   f"tolerance of {_money(tolerance, self.currency)} of the payment, and "
                   f"nothing else of its open items is")
            return self._settle(chosen, RULE_CUSTOMER_NEAR_AMOUNT,
                                _score(base * Decimal("0.93")),
                                {item.item_id: why for item in chosen}, identified)
        if len(near) + len(near_sets) > 1:
            self.notes.append("several open items are within the tolerance of the amount")
            return None
        if self.policy.oldest_first:
            why = f"{payer_words}; by policy the payment settles its oldest open items first"
            chosen = []
            left = amount
            for item in invoices:
                if left <= 0:
                    break
                chosen.append(item)
                left -= item.open
            return self._settle(chosen, RULE_OLDEST_FIRST, _score(base * Decimal("0.90")),
                                {item.item_id: why for item in chosen}, identified,
                                partial_by_policy=True)
        if not complete:
            self.notes.append("the customer has too many open items to be sure no other "
                              "combination matches")
        return None

    # settling -----------------------------------------------------------------------------

    def _settle(self, items: list[OpenItem], rule: str, score: Decimal, why: dict[str, str],
                identified: tuple[str, str], partial_by_policy: bool = False) -> Decision:
        """Cash and credits over the items in order: full, short or over."""
        if score < self.policy.auto_apply_score:
            suggestion = ", ".join(item.number for item in items)
            return self._unapplied(
                f"the best candidate ({suggestion}, {RULE_WORDS[rule]}) scores {score}, "
                f"below the {self.policy.auto_apply_score} needed to apply it without a "
                f"person", customer_id=identified[0], identified_by=identified[1],
                suggestion=suggestion)
        amount = self.payment.amount
        invoices = [item for item in items if item.open > 0]
        credits = [[item, -item.open] for item in items if item.open < 0]
        cash = amount
        allocations: list[Allocation] = []
        credit_uses: list[CreditUse] = []
        unpaid: list[tuple[OpenItem, Decimal]] = []
        for item in invoices:
            need = item.open
            for credit in credits:
                if need <= 0:
                    break
                if credit[1] > 0:
                    used = min(credit[1], need)
                    credit[1] -= used
                    need -= used
                    credit_uses.append(CreditUse(credit[0].item_id, credit[0].number,
                                                 item.item_id, item.number, item.customer_id,
                                                 used))
            pay = min(need, cash)
            if pay > 0:
                cash -= pay
                sentence = (f"Applied {_money(pay, self.currency)} to {item.number} of "
                            f"{self.book.customer_name(item.customer_id)}, which had "
                            f"{_money(item.open, self.currency)} open: {why[item.item_id]} "
                            f"(rule: {RULE_WORDS[rule]}, confidence {int(score * 100)}%).")
                allocations.append(Allocation(item.item_id, item.number, item.customer_id, pay,
                                              item.open, rule, score,
                                              (why[item.item_id], *self.notes), sentence))
            if need - pay > 0:
                unpaid.append((item, need - pay))
        shortfall = sum((left for _, left in unpaid), Decimal(0))
        adjustments: list[Adjustment] = []
        treatment_words = ""
        if shortfall > 0:
            open_total = sum((item.open for item in invoices), Decimal(0))
            kind, code, reason = self._short_payment(shortfall, open_total, unpaid,
                                                     partial_by_policy)
            if kind == "partial":
                treatment_words = (f" It is {_money(shortfall, self.currency)} short: "
                                   f"{reason}, so the rest stays open.")
            else:
                for item, left in unpaid:
                    adjustments.append(Adjustment(kind, item.item_id, item.number,
                                                  item.customer_id, left, code, reason))
                verb = "written off" if kind == "write-off" else "raised as a deduction"
                treatment_words = (f" It is {_money(shortfall, self.currency)} short "
                                   f"({reason}); the difference is {verb}.")
        excess = cash
        excess_words = ""
        if excess > 0:
            excess_words = (f" It is {_money(excess, self.currency)} more than what was "
                            f"open; the excess stays as unapplied cash on the customer's "
                            f"account.")
        explained = allocations
        summary = (explained[0].explanation if len(explained) == 1 else
                   _summary(explained, why, rule, score, self.book, self.currency))
        summary += treatment_words + excess_words
        if credit_uses:
            summary += " Credits used: " + ", ".join(
                f"{use.credit_number} {_money(use.amount, self.currency)} against {use.number}"
                for use in credit_uses) + "."
        customer_id = identified[0]
        return Decision(
            payment_id=self.payment.payment_id, currency=self.currency, rule=rule, score=score,
            customer_id=customer_id, identified_by=identified[1],
            allocations=tuple(explained), credit_uses=tuple(credit_uses),
            adjustments=tuple(adjustments), unapplied=excess,
            reason=("overpayment: the excess stays on the customer's account" if excess > 0
                    else ""),
            evidence=tuple(dict.fromkeys([*why.values(), *self.notes])),
            waiting_for=tuple(dict.fromkeys(self.waiting)) if excess > 0 else (),
            summary=summary.strip())

    def _short_payment(self, shortfall: Decimal, open_total: Decimal,
                       unpaid: list[tuple[OpenItem, Decimal]],
                       partial_by_policy: bool) -> tuple[str, str, str]:
        """Write-off, deduction or partial payment - and the reason, in words."""
        if partial_by_policy:
            return "partial", "partial-payment", "paid oldest first by policy"
        if len(unpaid) == 1:
            item = unpaid[0][0]
            if item.discount_amount is not None and shortfall == item.discount_amount and \
                    item.discount_date is not None and self.payment.value_date <= item.discount_date:
                return ("write-off", "early-payment-discount",
                        f"the early-payment discount, paid by {item.discount_date}")
        if any(word in self.text for word in _PARTIAL_WORDS):
            return "partial", "partial-payment", "the payer says it is a partial payment"
        looks_like_fee = shortfall <= self.policy.bank_charge_limit and \
            shortfall % Decimal("0.50") == 0
        if shortfall <= self.policy.tolerance(self.currency, open_total):
            if looks_like_fee:
                return ("write-off", "bank-charges",
                        "within tolerance; a round amount like bank charges deducted on the way")
            return "write-off", "small-difference", "within the write-off tolerance"
        for word, code, words in _DEDUCTION_WORDS:
            if word in self.text:
                return "deduction", code, f"the payer wrote '{word.lower()}': {words}"
        if shortfall <= open_total * self.policy.deduction_share:
            if looks_like_fee:
                return "deduction", "bank-charges", "a round amount, probably bank charges"
            return "deduction", "unexplained-short-payment", "short payment with no reason given"
        return "partial", "partial-payment", "too large to be a deduction: a partial payment"

    def _unapplied(self, reason: str, customer_id: str | None = None,
                   identified_by: str | None = None, suggestion: str | None = None) -> Decision:
        identification = self._identification
        if customer_id is None and identification is not None and \
                identification.customer_id is not None:
            customer_id, identified_by = identification.customer_id, identification.method
        if customer_id is None and self.payment.customer_id:
            customer_id, identified_by = self.payment.customer_id, BY_GIVEN
        evidence = list(self.notes)
        if identification is not None:
            evidence.extend(identification.evidence)
        where = (f"on the account of {self.book.customer_name(customer_id)}" if customer_id
                 else "as unidentified cash")
        summary = (f"Not applied: {reason}. {_money(self.payment.amount, self.currency)} "
                   f"stays {where} for a person to place.")
        if suggestion:
            summary += f" Suggested: {suggestion}."
        return Decision(
            payment_id=self.payment.payment_id, currency=self.currency, rule=RULE_UNAPPLIED,
            score=Decimal("0.00"), customer_id=customer_id, identified_by=identified_by,
            unapplied=self.payment.amount, reason=reason,
            evidence=tuple(dict.fromkeys(evidence)),
            waiting_for=tuple(dict.fromkeys(self.waiting)), summary=summary)


def _summary(allocations: list[Allocation], why: dict[str, str], rule: str, score: Decimal,
             book: Book, currency: str) -> str:
    """One sentence per reason: 'Applied A to X and B to Y of Customer: why (rule, confidence).'"""
    by_reason: dict[str, list[Allocation]] = {}
    for allocation in allocations:
        by_reason.setdefault(why[allocation.item_id], []).append(allocation)
    sentences = []
    for reason, group in by_reason.items():
        parts = [f"{_money(allocation.amount, currency)} to {allocation.number}"
                 + ("" if allocation.amount == allocation.open_before else
                    f" (of {_money(allocation.open_before, currency)} open)")
                 for allocation in group]
        customers = ", ".join(dict.fromkeys(book.customer_name(a.customer_id) for a in group))
        sentences.append(f"Applied {' and '.join(parts)} of {customers}: {reason} "
                         f"(rule: {RULE_WORDS[rule]}, confidence {int(score * 100)}%).")
    return " ".join(sentences)


def _one_edit_apart(left: str, right: str) -> bool:
    """One digit replaced, two neighbours swapped, one dropped or one added."""
    if left == right:
        return False
    if len(left) == len(right):
        differences = [index for index in range(len(left)) if left[index] != right[index]]
        if len(differences) == 1:
            return True
        return len(differences) == 2 and differences[1] == differences[0] + 1 and \
            left[differences[0]] == right[differences[1]] and \
            left[differences[1]] == right[differences[0]]
    if abs(len(left) - len(right)) != 1:
        return False
    shorter, longer = (left, right) if len(left) < len(right) else (right, left)
    for index in range(len(longer)):
        if longer[:index] + longer[index + 1:] == shorter:
            return True
    return False


def _prefix_compatible(prefix: str, item: OpenItem) -> bool:
    """A payer's prefix fits an item when it is the item's series or a word for it."""
    item_prefix = series_prefix(item.number)
    return not item_prefix or prefix == item_prefix or prefix.startswith(item_prefix[:2])


def _rule_score(rule: str) -> Decimal:
    return {RULE_REFERENCE_DIGITS: Decimal("0.96"), RULE_REFERENCE_TYPO: Decimal("0.92")}.get(
        rule, Decimal("0.99"))


def _rule_rank(rule: str) -> int:
    order = [RULE_RF, RULE_REFERENCE, RULE_REFERENCE_DIGITS, RULE_REFERENCE_TYPO]
    return -order.index(rule) if rule in order else 0


def _rf_display(reference: CreditorReference) -> str:
    compact = "RF" + "".join(reference.written.replace(" ", "").replace("-", "")[2:4]) + reference.body
    return " ".join(compact[index:index + 4] for index in range(0, len(compact), 4))


def _confirmed_words(candidate: NumberCandidate, item: OpenItem, rule: str,
                     confirmation: str) -> str:
    if rule == RULE_REFERENCE_TYPO:
        return (f"the remittance mentions '{candidate.written}', which is no open item; one "
                f"character different it is {item.number}, and {confirmation}")
    return (f"the remittance mentions '{candidate.written}', which is {item.number} without "
            f"its prefix or leading zeros, and {confirmation}")


def _identified_words(method: str | None) -> str:
    return {
        BY_GIVEN: "named on the bank line",
        BY_ACCOUNT: "by the bank account it paid from before",
        BY_CUSTOMER_NUMBER: "by the customer number in the text",
        BY_NAME: "by the payer name",
        BY_REFERENCE: "by the invoice it names",
    }.get(method or "", "identified")


# --- combinations ------------------------------------------------------------------------------


def find_combinations(values: list[int], low: int, high: int, min_size: int, max_size: int,
                      budget: int, limit: int) -> tuple[list[tuple[int, ...]], bool]:
    """Index sets (ascending) of `values` whose sum lies in [low, high], with at least
    `min_size` and at most `max_size` members. Values are integers (minor units); credits
    are negative. Stops after `limit` finds or `budget` steps; `complete` says whether
    the search saw everything (only then is a single find a unique one)."""
    count = len(values)
    order = sorted(range(count), key=lambda index: (-abs(values[index]), index))
    ordered = [values[index] for index in order]
    positive_after = [0] * (count + 1)
    negative_after = [0] * (count + 1)
    for position in range(count - 1, -1, -1):
        value = ordered[position]
        positive_after[position] = positive_after[position + 1] + (value if value > 0 else 0)
        negative_after[position] = negative_after[position + 1] + (value if value < 0 else 0)
    found: list[tuple[int, ...]] = []
    chosen: list[int] = []
    state = {"steps": 0, "complete": True}

    def search(start: int, total: int) -> bool:
        for position in range(start, count):
            if total + positive_after[position] < low or total + negative_after[position] > high:
                return False  # nothing from here on can reach the band
            state["steps"] += 1
            if state["steps"] > budget:
                state["complete"] = False
                return True
            new_total = total + ordered[position]
            chosen.append(position)
            if len(chosen) >= min_size and low <= new_total <= high:
                found.append(tuple(sorted(order[member] for member in chosen)))
                if len(found) >= limit:
                    state["complete"] = False
                    return True
            if len(chosen) < max_size and \
                    new_total + negative_after[position + 1] <= high and \
                    new_total + positive_after[position + 1] >= low:
                if search(position + 1, new_total):
                    return True
            chosen.pop()
        return False

    search(0, 0)
    return found, bool(state["complete"])


def outstanding(items: Iterable[OpenItem]) -> Decimal:
    return sum((item.open for item in items), Decimal(0))


def book_decision(book: Book, decision: Decision, payer_account: str | None,
                  learn_above: Decimal = Decimal("0.95")) -> None:
    """What the application's events do to the book, for callers without an event store
    (the benchmark, the generator's tests): settle, use credits, write off, learn."""
    for allocation in decision.allocations:
        book.change_open_amount(allocation.item_id, -allocation.amount)
        if allocation.score >= learn_above:
            book.learn_account(payer_account, allocation.customer_id)
    for use in decision.credit_uses:
        book.change_open_amount(use.credit_item_id, use.amount)
        book.change_open_amount(use.item_id, -use.amount)
    for adjustment in decision.adjustments:
        if adjustment.kind == "write-off":
            book.change_open_amount(adjustment.item_id, -adjustment.amount)
