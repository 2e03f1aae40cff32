"""Realistic, noisy payment traffic for tests and benchmarks, with its ground truth.

Customers, their invoices and the payments that come in for them, the way bank
statements really look: invoice numbers with typos, without prefix or with leading
zeros, RF creditor references, one payment for several invoices, partial payments,
bank charges deducted on the way, rounding after a currency conversion, payments by a
third party (a parent company, a factor), payments with no remittance at all, and a
few that nobody could place. For every payment the generator records what the payer
meant (`Truth`): the invoices it pays and whether a person with the customer master
and the open items could have matched it.

Seeded: the same arguments give the same traffic, byte for byte. Amounts are integer
cents turned into Decimals; no float ever touches money.

    python -m services.matching.generator --invoices 2000 --payments 500   # a summary
"""

from __future__ import annotations

import argparse
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from libs.events import CustomerUpserted, InvoiceIssued, Money, PaymentReceived

from .references import rf_reference

CLEAN, RF, NOISY_REFERENCE, TYPO, COMBINED, COMBINED_UNNAMED, PARTIAL, BANK_FEE, FX_ROUNDING, \
    THIRD_PARTY, NO_REMITTANCE, OVERPAYMENT, DUPLICATE, UNKNOWN = (
        "clean", "rf-reference", "noisy-reference", "typo", "combined", "combined-unnamed",
        "partial", "bank-fee", "fx-rounding", "third-party", "no-remittance", "overpayment",
        "duplicate", "unknown-payer")

# What share of the payments is of which kind.
MIX: tuple[tuple[str, int], ...] = (
    (CLEAN, 34), (RF, 8), (NOISY_REFERENCE, 10), (TYPO, 6), (COMBINED, 8),
    (COMBINED_UNNAMED, 2), (PARTIAL, 5), (BANK_FEE, 5), (FX_ROUNDING, 4), (THIRD_PARTY, 4),
    (NO_REMITTANCE, 8), (OVERPAYMENT, 2), (DUPLICATE, 1), (UNKNOWN, 3),
)

_ADJECTIVES = """Acme Apex Atlas Aurora Baltic Blue Bright Central Coastal Crown Delta Eagle
Eastern Emerald Falcon First Global Golden Grand Green Harbor Highland Imperial Iron Lakeside
Liberty Lion Majestic Meridian Metro Modern Nordic North Northern Oak Ocean Orion Pacific
Park Phoenix Pioneer Pinnacle Premier Prime Quantum Red Regal River Royal Sapphire Silver
Solar Southern Sterling Summit Sun Swift Titan Union United Valley Vanguard Western""".split()
_NOUNS = """Bakery Beverages Brewing Builders Cargo Chemicals Coffee Construction Dairy Design
Electric Electronics Energy Engineering Fabrics Farms Foods Freight Furniture Glass Hardware
Health Hotels Imports Instruments Interiors Labs Leather Lighting Logistics Machines Marine
Media Metals Mills Mining Motors Optics Packaging Paints Paper Pharma Plastics Printing
Retail Robotics Shipping Software Sports Steel Supplies Systems Textiles Timber Tools Toys
Trading Transport Travel Wines""".split()
_PLACES = """Amsterdam Antwerp Berlin Bremen Bristol Brno Dublin Essen Geneva Ghent Graz
Hamburg Leeds Leipzig Lille Linz Lyon Madrid Milan Munich Nantes Oslo Porto Prague
Rotterdam Seville Turin Utrecht Valencia Vienna""".split()
_LEGAL_FORMS = ("GmbH", "BV", "Ltd", "SARL", "AG", "NV", "SpA", "SL", "Oy", "AB")
_CURRENCIES = (("EUR", 80), ("USD", 12), ("GBP", 8))
_FEES = tuple(Decimal(fee) for fee in ("5.00", "7.50", "10.00", "12.50", "15.00", "20.00",
                                        "25.00"))
_FACTORS = ("Eurofactor Services SA", "Global Payment Partners Ltd", "Nordic Holding AB",
            "Continental Treasury GmbH", "Atlantic Collections NV")


@dataclass(frozen=True, slots=True)
class Customer:
    customer_id: str
    name: str
    currency: str
    account: str


@dataclass(frozen=True, slots=True)
class Invoice:
    invoice_id: str
    number: str
    customer_id: str
    currency: str
    total: Decimal
    issue_date: date
    due_date: date


@dataclass(frozen=True, slots=True)
class Payment:
    payment_id: str
    amount: Decimal
    currency: str
    value_date: date
    payer_name: str | None
    payer_account: str | None
    remittance_text: str | None


@dataclass(frozen=True, slots=True)
class Truth:
    """What the payer meant, and whether a person could have seen it."""

    payment_id: str
    kind: str
    invoices: tuple[str, ...]   # the invoice numbers it pays
    matchable: bool


@dataclass
class Traffic:
    customers: list[Customer] = field(default_factory=list)
    invoices: list[Invoice] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    truths: dict[str, Truth] = field(default_factory=dict)

    def customer_events(self) -> Iterator[CustomerUpserted]:
        for customer in self.customers:
            yield CustomerUpserted(customer_id=customer.customer_id, name=customer.name,
                                   currency=customer.currency, payment_terms_days=30)

    def invoice_events(self) -> Iterator[InvoiceIssued]:
        for invoice in self.invoices:
            yield invoice_issued(invoice)

    def payment_events(self) -> Iterator[PaymentReceived]:
        for payment in self.payments:
            yield PaymentReceived(
                payment_id=payment.payment_id, amount=Money.of(payment.amount, payment.currency),
                value_date=payment.value_date, payer_name=payment.payer_name,
                payer_account=payment.payer_account, remittance_text=payment.remittance_text,
                bank_reference=f"STMT-{payment.payment_id}")


def invoice_issued(invoice: Invoice) -> InvoiceIssued:
    money = Money.of(invoice.total, invoice.currency)
    return InvoiceIssued(
        invoice_id=invoice.invoice_id, invoice_number=invoice.number,
        customer_id=invoice.customer_id, issue_date=invoice.issue_date,
        due_date=invoice.due_date, payment_terms_days=30, net_amount=money,
        tax_amount=Money.zero(invoice.currency), total=money)


class _Generator:
    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.traffic = Traffic()
        self.unpaid_by_customer: dict[str, list[Invoice]] = {}
        self.paid: list[Invoice] = []
        self.paid_in_full: list[Invoice] = []  # by a payment that names it, exactly
        self.start = date(2024, 1, 1)

    # master data ---------------------------------------------------------------------

    def customers(self, count: int) -> None:
        names: set[str] = set()
        while len(self.traffic.customers) < count:
            name = (f"{self.random.choice(_ADJECTIVES)} {self.random.choice(_NOUNS)} "
                    f"{self.random.choice(_PLACES)} {self.random.choice(_LEGAL_FORMS)}")
            if name in names:
                continue
            names.add(name)
            number = 10000 + len(self.traffic.customers)
            currency = self._weighted(_CURRENCIES)
            account = f"DE{self.random.randint(10, 99)}{self.random.randint(10**17, 10**18 - 1)}"
            self.traffic.customers.append(Customer(f"C{number}", name, currency, account))

    def invoices(self, count: int) -> None:
        customers = self.traffic.customers
        for index in range(count):
            # A few big customers and a long tail, like real ledgers.
            customer = customers[min(int(self.random.paretovariate(1.2)) - 1, len(customers) - 1)
                                 if self.random.random() < 0.3 else
                                 self.random.randrange(len(customers))]
            magnitude = self.random.choice((1_000, 10_000, 10_000, 100_000, 100_000, 1_000_000))
            cents = self.random.randint(magnitude, magnitude * 10)
            issue = self.start + timedelta(days=self.random.randrange(120))
            invoice = Invoice(f"inv-{index + 1}", f"INV-{index + 1:06d}", customer.customer_id,
                              customer.currency, Decimal(cents) / 100, issue,
                              issue + timedelta(days=30))
            self.traffic.invoices.append(invoice)
            self.unpaid_by_customer.setdefault(customer.customer_id, []).append(invoice)

    # payments -----------------------------------------------------------------------------

    def payments(self, count: int) -> None:
        customers = {customer.customer_id: customer for customer in self.traffic.customers}
        self.with_unpaid = [customer_id for customer_id, unpaid in self.unpaid_by_customer.items()
                            if unpaid]
        for index in range(count):
            payment_id = f"pay-{index + 1:07d}"
            kind = self._weighted(MIX)
            value_date = self.start + timedelta(days=120 + index * 60 // max(count, 1))
            made = self._payment(kind, payment_id, value_date, customers)
            if made is None:
                made = self._payment(UNKNOWN, payment_id, value_date, customers)
            payment, truth = made  # type: ignore[misc]
            self.traffic.payments.append(payment)
            self.traffic.truths[payment_id] = truth

    def _take(self, count: int = 1) -> list[Invoice] | None:
        """Unpaid invoices of one customer (the invoices a payer pays together)."""
        for _ in range(20):
            if not self.with_unpaid:
                return None
            position = self.random.randrange(len(self.with_unpaid))
            customer_id = self.with_unpaid[position]
            unpaid = self.unpaid_by_customer[customer_id]
            if len(unpaid) < count:
                continue
            chosen = []
            for _ in range(count):
                chosen.append(unpaid.pop(self.random.randrange(len(unpaid))))
            if not unpaid:
                self.with_unpaid[position] = self.with_unpaid[-1]
                self.with_unpaid.pop()
            self.paid.extend(chosen)
            return chosen
        return None

    def _payment(self, kind: str, payment_id: str, value_date: date,
                 customers: dict[str, Customer]) -> tuple[Payment, Truth] | None:
        rng = self.random
        count = rng.choice((2, 2, 3, 4)) if kind in (COMBINED, COMBINED_UNNAMED) else 1
        if kind == UNKNOWN:
            amount = Decimal(rng.randint(1_000, 500_000)) / 100
            payment = Payment(payment_id, amount, "EUR", value_date,
                              rng.choice(("J. SMITH", "PRIVATE TRANSFER", None)),
                              f"GB{rng.randint(10, 99)}{rng.randint(10**15, 10**16)}",
                              rng.choice((None, "payment", "see letter")))
            return payment, Truth(payment_id, kind, (), False)
        if kind == DUPLICATE:
            if not self.paid_in_full:
                return None
            invoice = self.paid_in_full[rng.randrange(len(self.paid_in_full))]
            customer = customers[invoice.customer_id]
            payment = Payment(payment_id, invoice.total, invoice.currency, value_date,
                              customer.name, customer.account, f"Invoice {invoice.number}")
            return payment, Truth(payment_id, kind, (), False)  # refund it, do not apply it
        invoices = self._take(count)
        if invoices is None:
            return None
        customer = customers[invoices[0].customer_id]
        currency = invoices[0].currency
        total = sum((invoice.total for invoice in invoices), Decimal(0))
        numbers = tuple(invoice.number for invoice in invoices)
        payer_name: str | None = self._payer_name(customer.name)
        account: str | None = customer.account
        text: str | None = self._reference_text(invoices[0].number)
        amount = total
        matchable = True
        if kind == RF:
            text = rng.choice(("", "Ref ", "Payment ")) + rf_reference(numbers[0])
        elif kind == NOISY_REFERENCE:
            text = self._noisy_reference(invoices[0].number)
        elif kind == TYPO:
            text = self._typo_reference(invoices[0].number)
        elif kind == COMBINED:
            separator = rng.choice((", ", " / ", " + ", " and ", " "))
            text = rng.choice(("Invoices ", "Rechnungen ", "", "Pmt ")) + separator.join(
                self._plain_number(number) for number in numbers)
        elif kind == COMBINED_UNNAMED:
            text = None
        elif kind == PARTIAL:
            share = Decimal(rng.randint(20, 70)) / 100
            amount = (total * share).quantize(Decimal("0.01"))
            text = f"{rng.choice(('Partial payment', 'Teilzahlung', 'Instalment 1 of 2', ''))} " \
                   f"{self._plain_number(numbers[0])}".strip()
        elif kind == BANK_FEE:
            amount = total - rng.choice(_FEES)
            if amount <= 0:
                return None
        elif kind == FX_ROUNDING:
            cents = max(1, min(int(total * 100) // 200, rng.randint(1, 400)))
            amount = total + Decimal(cents * rng.choice((-1, 1))) / 100
            if rng.random() < 0.5:
                text = None  # converted by the payer's bank, remittance lost
        elif kind == THIRD_PARTY:
            payer_name = rng.choice(_FACTORS)
            account = f"FR{rng.randint(10, 99)}{rng.randint(10**20, 10**21)}"
            if rng.random() < 0.2:
                text = None
                matchable = False  # a stranger paying a stranger's amount
        elif kind == NO_REMITTANCE:
            text = None
            if rng.random() < 0.1:
                payer_name = None
                account = None
                matchable = False
        elif kind == OVERPAYMENT:
            amount = total + Decimal(rng.randint(100, 10_000)) / 100
        payment = Payment(payment_id, amount, currency, value_date, payer_name, account, text)
        if kind == CLEAN:
            self.paid_in_full.extend(invoices)
        return payment, Truth(payment_id, kind, numbers, matchable)

    # how payers write -------------------------------------------------------------------

    def _payer_name(self, name: str) -> str:
        rng = self.random
        roll = rng.random()
        if roll < 0.35:
            return name.upper()
        if roll < 0.55:
            return name.rsplit(" ", 1)[0]  # legal form left out
        if roll < 0.65:
            return name.replace("GmbH", "G.m.b.H.").replace("BV", "B.V.").replace("Ltd", "Limited")
        if roll < 0.72:
            words = name.split()
            word = rng.randrange(len(words) - 1)
            letters = list(words[word])
            if len(letters) > 3:
                spot = rng.randrange(1, len(letters) - 1)
                letters[spot], letters[spot + 1] = letters[spot + 1], letters[spot]
            words[word] = "".join(letters)
            return " ".join(words)
        return name

    def _plain_number(self, number: str) -> str:
        return self.random.choice((number, number.replace("-", ""), number.lower(),
                                   number.replace("-", " ")))

    def _reference_text(self, number: str) -> str:
        rng = self.random
        template = rng.choice(("{n}", "Invoice {n}", "Rechnung {n}", "Facture {n} merci",
                               "INV {n} thank you", "Payment {n}", "{n} / order 4711",
                               "RE {n} vom 12.03.2024"))
        return template.format(n=self._plain_number(number))

    def _noisy_reference(self, number: str) -> str:
        rng = self.random
        digits = number.split("-")[1]
        stripped = digits.lstrip("0") or "0"
        return rng.choice((f"Rechnung Nr. {stripped}", f"{digits}", f"Invoice {stripped}",
                           f"INV {digits[:3]} {digits[3:]}", f"inv-{stripped}",
                           f"Ref {digits} thanks", f"invoice no {int(digits):08d}"))

    def _typo_reference(self, number: str) -> str:
        rng = self.random
        digits = list(number.split("-")[1])
        spot = rng.randrange(len(digits))
        how = rng.random()
        if how < 0.6:
            digits[spot] = rng.choice([d for d in "0123456789" if d != digits[spot]])
        elif spot < len(digits) - 1 and digits[spot] != digits[spot + 1]:
            digits[spot], digits[spot + 1] = digits[spot + 1], digits[spot]
        else:
            digits[spot] = rng.choice([d for d in "0123456789" if d != digits[spot]])
        return rng.choice(("INV-{d}", "Invoice INV{d}", "{d}")).format(d="".join(digits))

    def _weighted(self, choices: tuple[tuple[str, int], ...]) -> str:
        total = sum(weight for _, weight in choices)
        roll = self.random.randrange(total)
        for choice, weight in choices:
            if roll < weight:
                return choice
            roll -= weight
        return choices[-1][0]


def generate(invoices: int = 2_000, payments: int = 500, customers: int | None = None,
             seed: int = 2024) -> Traffic:
    """Customers, invoices, then payments for some of them (never more than are unpaid)."""
    generator = _Generator(seed)
    generator.customers(customers or max(10, invoices // 10))
    generator.invoices(invoices)
    generator.payments(payments)
    return generator.traffic


@dataclass
class Scorecard:
    """How decisions compare with what the payers meant."""

    payments: int = 0
    matchable: int = 0
    matched_automatically: int = 0       # of the matchable: exactly the invoices meant
    applications: int = 0
    wrong_applications: int = 0          # applied to an invoice the payer did not mean
    left_for_a_person: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    missed_by_kind: Counter[str] = field(default_factory=Counter)
    wrong_by_kind: Counter[str] = field(default_factory=Counter)

    def add(self, truth: Truth, applied_numbers: list[str]) -> None:
        self.payments += 1
        self.by_kind[truth.kind] += 1
        self.applications += len(applied_numbers)
        wrong = [number for number in applied_numbers if number not in truth.invoices]
        self.wrong_applications += len(wrong)
        if wrong:
            self.wrong_by_kind[truth.kind] += 1
        if not applied_numbers:
            self.left_for_a_person += 1
        if truth.matchable:
            self.matchable += 1
            if set(applied_numbers) == set(truth.invoices):
                self.matched_automatically += 1
            else:
                self.missed_by_kind[truth.kind] += 1

    @property
    def automatic_share(self) -> float:
        return self.matched_automatically / self.matchable if self.matchable else 0.0

    @property
    def wrong_per_thousand(self) -> float:
        return 1000 * self.wrong_applications / self.applications if self.applications else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=2_000)
    parser.add_argument("--payments", type=int, default=500)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--show", type=int, default=10, help="print this many payments")
    args = parser.parse_args()
    traffic = generate(args.invoices, args.payments, seed=args.seed)
    kinds = Counter(truth.kind for truth in traffic.truths.values())
    print(f"{len(traffic.customers)} customers, {len(traffic.invoices)} invoices, "
          f"{len(traffic.payments)} payments")
    for kind, count in kinds.most_common():
        print(f"  {kind:18} {count}")
    for payment in traffic.payments[:args.show]:
        truth = traffic.truths[payment.payment_id]
        print(f"{payment.payment_id} {payment.amount:>12} {payment.currency} "
              f"{payment.payer_name!r:40} {payment.remittance_text!r:40} -> {truth.kind} "
              f"{', '.join(truth.invoices)}")


if __name__ == "__main__":
    main()
