"""A realistic, repeatable stream of the events the aging projection reads, as the ERP,
invoicing, matching and credit would publish them: customers with their segment and
collector, invoices (some in a foreign currency), payments in full and in part,
adjustments, credit notes (on an invoice and on account, then used), cancellations,
write-offs, small differences written off, debit notes, unapplied cash, deductions and
reversals. For the rebuild test and benchmark.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

from libs.events import (
    CreditNoteIssued,
    CustomerUpserted,
    DebitNoteIssued,
    IntegrationEvent,
    InvoiceAdjusted,
    InvoiceCancelled,
    InvoiceIssued,
    InvoiceWrittenOff,
    Money,
    PaymentApplied,
    PaymentUnapplied,
)
from libs.events.credit import OrderCreditApproved
from libs.events.invoicing import AppliedExchangeRate
from libs.events.matching import (
    ApplicationReversed,
    CreditApplied,
    DeductionRaised,
    DifferenceWrittenOff,
    UnappliedCashChanged,
)

SEGMENTS = ("key-account", "retail", "public")
COLLECTORS = ("alice", "bob", "carla")
START = date(2026, 1, 5)
USD_IN_EUR = Decimal("0.9200")


def _eur(amount: Decimal) -> Money:
    return Money(amount=amount, currency="EUR")


class SampleLedger:
    """`events()` yields about `per_invoice` events for each invoice, in causal order."""

    def __init__(self, customers: int = 50, seed: int = 11, prefix: str = "") -> None:
        self.random = random.Random(seed)
        self.customers = [f"{prefix}C{number:05d}" for number in range(customers)]
        self.prefix = prefix

    def customer_events(self) -> Iterator[IntegrationEvent]:
        for index, customer in enumerate(self.customers):
            yield CustomerUpserted(customer_id=customer, name=f"Customer {customer}",
                                   currency="EUR", payment_terms_days=30,
                                   segment=SEGMENTS[index % 3], risk_class="ABCDE"[index % 5],
                                   collector=COLLECTORS[index % 3])
            if index % 4 == 0:
                yield OrderCreditApproved(order_id=f"{self.prefix}O{index}",
                                          customer_id=customer,
                                          credit_group_id=f"group-{index % 8}",
                                          order_amount=_eur(Decimal(100)),
                                          exposure=_eur(Decimal(100)), decided_on=START)

    def invoice(self, number: int) -> InvoiceIssued:
        customer = self.customers[number % len(self.customers)]
        issued = START + timedelta(days=self.random.randint(0, 200))
        net = Decimal(self.random.randint(10_000, 2_000_000)) / 100
        tax = (net * Decimal("0.21")).quantize(Decimal("0.01"))
        foreign = number % 7 == 0
        currency = "USD" if foreign else "EUR"
        total = net + tax
        return InvoiceIssued(
            invoice_id=f"{self.prefix}inv-{number}", invoice_number=f"INV-{number:08d}",
            customer_id=customer, issue_date=issued, due_date=issued + timedelta(days=30),
            net_amount=Money(amount=net, currency=currency),
            tax_amount=Money(amount=tax, currency=currency),
            total=Money(amount=total, currency=currency), functional_currency="EUR",
            functional_amount=_eur((total * USD_IN_EUR).quantize(Decimal("0.01"))
                                   if foreign else total),
            exchange_rate=AppliedExchangeRate(from_currency="USD", to_currency="EUR",
                                              rate=USD_IN_EUR, rate_date=issued)
            if foreign else None)

    def events(self, invoices: int) -> Iterator[IntegrationEvent]:
        yield from self.customer_events()
        for number in range(invoices):
            invoice = self.invoice(number)
            yield invoice
            yield from self.what_happens_to(number, invoice)

    def what_happens_to(self, number: int, invoice: InvoiceIssued) -> Iterator[IntegrationEvent]:
        total, currency = invoice.total.amount, invoice.total.currency
        refs = {"invoice_id": invoice.invoice_id, "invoice_number": invoice.invoice_number,
                "customer_id": invoice.customer_id}
        words = {"reason": "sample", "actor": "clerk:sample"}
        paid_on = invoice.issue_date + timedelta(days=self.random.randint(5, 60))
        money = lambda amount: Money(amount=amount, currency=currency)  # noqa: E731
        kind = number % 20
        if kind in (0, 1, 2, 3, 4, 5, 6, 7):  # paid in full
            yield PaymentApplied(application_id=f"{invoice.invoice_id}-a", payment_id=f"pay-{number}",
                                 amount=money(total), applied_on=paid_on, rule="reference",
                                 explanation="invoice number in the remittance", **refs)
        elif kind in (8, 9):  # paid in part
            yield PaymentApplied(application_id=f"{invoice.invoice_id}-a", payment_id=f"pay-{number}",
                                 amount=money((total / 3).quantize(Decimal("0.01"))),
                                 applied_on=paid_on, rule="reference", explanation="part", **refs)
        elif kind == 10:  # adjusted up, then paid, then the payment bounced
            yield InvoiceAdjusted(adjustment_id=f"{invoice.invoice_id}-adj",
                                  adjusted_on=invoice.issue_date + timedelta(days=2),
                                  net_amount=money(Decimal("10.00")), tax_amount=money(Decimal("2.10")),
                                  amount=money(Decimal("12.10")),
                                  new_total=money(total + Decimal("12.10")), **refs, **words)
            yield PaymentApplied(application_id=f"{invoice.invoice_id}-a", payment_id=f"pay-{number}",
                                 amount=money(total + Decimal("12.10")), applied_on=paid_on,
                                 rule="reference", explanation="full", **refs)
            yield ApplicationReversed(application_id=f"{invoice.invoice_id}-a",
                                      reverses="payment-application", payment_id=f"pay-{number}",
                                      amount=money(total + Decimal("12.10")),
                                      reversed_on=paid_on + timedelta(days=3),
                                      reason="returned by the bank", actor="matching", **refs)
        elif kind == 11:  # partly credited
            yield CreditNoteIssued(credit_note_id=f"{invoice.invoice_id}-cn",
                                   credit_note_number=f"CN-{number:08d}", scope="partial",
                                   issue_date=invoice.issue_date + timedelta(days=4),
                                   net_amount=money(Decimal("10.00")), tax_amount=money(Decimal("0.00")),
                                   total=money(Decimal("10.00")), **refs, **words)
        elif kind == 12:  # paid short, difference written off
            yield PaymentApplied(application_id=f"{invoice.invoice_id}-a", payment_id=f"pay-{number}",
                                 amount=money(total - Decimal("0.50")), applied_on=paid_on,
                                 rule="reference", explanation="short", **refs)
            yield DifferenceWrittenOff(write_off_id=f"{invoice.invoice_id}-wo",
                                       payment_id=f"pay-{number}", amount=money(Decimal("0.50")),
                                       written_off_on=paid_on, reason_code="small-difference",
                                       reason="within tolerance", explanation="50 cents", **refs)
        elif kind == 13:  # a deduction, later withdrawn
            yield DeductionRaised(deduction_id=f"{invoice.invoice_id}-ded",
                                  payment_id=f"pay-{number}", amount=money(Decimal("5.00")),
                                  raised_on=paid_on, reason_code="damaged-goods",
                                  reason="one crate broken", explanation="deducted", **refs)
            yield ApplicationReversed(application_id=f"{invoice.invoice_id}-ded",
                                      reverses="deduction", payment_id=f"pay-{number}",
                                      amount=money(Decimal("5.00")), reversed_on=paid_on,
                                      reason="agreed", actor="clerk:sample", **refs)
        elif kind == 14:  # cancelled
            yield InvoiceCancelled(cancelled_on=invoice.issue_date + timedelta(days=1),
                                   amount=money(total), **refs, **words)
        elif kind == 15:  # written off as bad debt
            yield InvoiceWrittenOff(write_off_id=f"{invoice.invoice_id}-bad",
                                    written_off_on=invoice.issue_date + timedelta(days=120),
                                    amount=money(total), **refs, **words)
        elif kind == 16:  # a fee billed, cash that matched nothing, then matched in part
            yield DebitNoteIssued(debit_note_id=f"{invoice.invoice_id}-dn",
                                  debit_note_number=f"DN-{number:08d}",
                                  customer_id=invoice.customer_id, fee_id=f"fee-{number}",
                                  kind="late_fee", issue_date=invoice.due_date + timedelta(days=8),
                                  due_date=invoice.due_date + timedelta(days=8),
                                  total=_eur(Decimal("40.00")), **words)
            yield PaymentUnapplied(payment_id=f"cash-{number}", customer_id=invoice.customer_id,
                                   amount=money(Decimal("250.00")), value_date=paid_on,
                                   reason="no invoice named")
            yield UnappliedCashChanged(payment_id=f"cash-{number}",
                                       customer_id=invoice.customer_id,
                                       unapplied=money(Decimal("100.00")), value_date=paid_on,
                                       reason="matched in part by hand")
        elif kind == 17:  # a credit note on account, used against this invoice, use undone
            note = f"{invoice.invoice_id}-oa"
            yield CreditNoteIssued(credit_note_id=note, credit_note_number=f"CNA-{number:08d}",
                                   customer_id=invoice.customer_id, scope="on_account",
                                   issue_date=invoice.issue_date,
                                   net_amount=money(Decimal("60.00")), tax_amount=money(Decimal("0.00")),
                                   total=money(Decimal("60.00")), **words)
            use = dict(payment_id=f"pay-{number}", credit_note_id=note,
                       credit_note_number=f"CNA-{number:08d}", **refs)
            yield CreditApplied(credit_use_id=f"{note}-use1", amount=money(Decimal("20.00")),
                                applied_on=paid_on, rule="deducted", **use)
            yield CreditApplied(credit_use_id=f"{note}-use2", amount=money(Decimal("15.00")),
                                applied_on=paid_on, rule="deducted", **use)
            yield ApplicationReversed(application_id=f"{note}-use2", reverses="credit-use",
                                      payment_id=f"pay-{number}", amount=money(Decimal("15.00")),
                                      reversed_on=paid_on + timedelta(days=1), reason="unmatched",
                                      actor="clerk:sample", credit_note_id=note, **refs)
        # 18, 19: still open
