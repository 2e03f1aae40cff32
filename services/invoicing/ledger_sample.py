"""A realistic ledger to backfill, grown deterministically from the IBM sample:
`python -m services.invoicing.ledger_sample --invoices 10000 --out ledger.csv`.

The IBM accounts-receivable sample (../shared/data/ar_ibm.csv) has 2,466 invoices of
100 customers, net 30, each settled on a known date. To reach the size asked for, the
sample is repeated, each copy a quarter earlier than the one before; the first copy
keeps the sample's own invoice numbers, later copies shift them by a fixed step
(mod 10^10). Not a prefix: payers drop prefixes and mistype a digit, so matching reads
numbers by their digits and forgives one wrong keystroke; every number in the file is
kept more than one keystroke away from every other (checked as the file is written). The books close on AS_OF (the sample's last month end):
payments dated later are not in the file, so those invoices are still open. Two rules,
keyed on the invoice number so they never change between runs, make the history
less tidy than the sample:

- one disputed invoice in ten was never paid (it ages into 90+);
- one invoice in seven was paid in two instalments: half (to the cent) midway, the
  rest on the sample's settlement date.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from libs.sample_data import SampleInvoice, load_ibm_sample

from .ledger_file import COLUMNS

AS_OF = date(2013, 12, 31)
COPY_SHIFT = timedelta(days=91)
NUMBER_STEP = 1_234_567_891
CURRENCY = "USD"
TERMS = "net 30"


@dataclass(frozen=True)
class SamplePayment:
    document_number: str
    customer_id: str
    amount: Decimal
    paid_on: date
    reference: str


def _bucket(number: str, modulo: int) -> int:
    return int(hashlib.sha256(number.encode()).hexdigest(), 16) % modulo


def _copies(sample: list[SampleInvoice], count: int) -> Iterator[SampleInvoice]:
    copy = 0
    produced = 0
    while produced < count:
        shift = COPY_SHIFT * copy
        for invoice in sample:
            if produced == count:
                return
            yield SampleInvoice(
                country_code=invoice.country_code, customer_id=invoice.customer_id,
                invoice_number=_number_of_copy(invoice.invoice_number, copy),
                invoice_date=invoice.invoice_date - shift, due_date=invoice.due_date - shift,
                amount=invoice.amount.quantize(Decimal("0.01")), disputed=invoice.disputed,
                settled_date=invoice.settled_date - shift, paperless=invoice.paperless,
                days_to_settle=invoice.days_to_settle, days_late=invoice.days_late)
            produced += 1
        copy += 1
        if copy > 40:
            raise ValueError(f"at most {41 * len(sample)} invoices can be grown from the sample")


def _number_of_copy(number: str, copy: int) -> str:
    if copy == 0:
        return number
    return f"{(int(number) + copy * NUMBER_STEP) % 10**10:010d}"


def _check_apart(numbers: list[str]) -> None:
    """No two numbers one keystroke apart (a digit changed, added or dropped, two
    neighbours swapped), compared as matching compares them: digits, leading zeros
    dropped."""
    keys = {number.lstrip("0"): number for number in numbers}
    for key, number in keys.items():
        for variant in _one_keystroke_away(key):
            if variant in keys:
                raise ValueError(f"invoice numbers {number} and {keys[variant]} are one "
                                 "keystroke apart; choose another NUMBER_STEP")


def _one_keystroke_away(digits: str) -> set[str]:
    variants = set()
    for position in range(len(digits) + 1):
        head, tail = digits[:position], digits[position:]
        variants.update(head + digit + tail for digit in "0123456789")
        if tail:
            variants.update(head + digit + tail[1:] for digit in "0123456789")
            variants.add(head + tail[1:])
        if len(tail) > 1:
            variants.add(head + tail[1] + tail[0] + tail[2:])
    return {variant.lstrip("0") for variant in variants} - {digits, ""}


def _payments(invoice: SampleInvoice) -> list[SamplePayment]:
    number = invoice.invoice_number
    if invoice.disputed and _bucket(number, 10) == 0:
        return []
    if _bucket(number, 7) == 0 and invoice.days_to_settle >= 2:
        first = (invoice.amount / 2).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        midway = invoice.invoice_date + timedelta(days=invoice.days_to_settle // 2)
        instalments = [(first, midway), (invoice.amount - first, invoice.settled_date)]
    else:
        instalments = [(invoice.amount, invoice.settled_date)]
    return [SamplePayment(number, invoice.customer_id, amount, paid_on,
                          f"BANK-{number}-{index}")
            for index, (amount, paid_on) in enumerate(instalments, start=1)
            if paid_on <= AS_OF]


def write_ledger(path: Path, invoices: int,
                 sample: list[SampleInvoice] | None = None) -> dict[str, int]:
    """Write the ledger; return how many records of each kind it holds."""
    sample = sample if sample is not None else load_ibm_sample()
    grown = sorted(_copies(sample, invoices), key=lambda i: (i.invoice_date, i.invoice_number))
    _check_apart([invoice.invoice_number for invoice in grown])
    payments = sorted((payment for invoice in grown for payment in _payments(invoice)),
                      key=lambda p: (p.paid_on, p.reference))
    customers = sorted({invoice.customer_id for invoice in grown})
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for customer_id in customers:
            writer.writerow({"record": "customer", "customer_id": customer_id,
                             "name": f"Sample customer {customer_id}", "currency": CURRENCY,
                             "payment_terms": TERMS, "language": "en"})
        for invoice in grown:
            writer.writerow({"record": "invoice", "customer_id": invoice.customer_id,
                             "currency": CURRENCY, "document_number": invoice.invoice_number,
                             "issue_date": invoice.invoice_date.isoformat(),
                             "due_date": invoice.due_date.isoformat(),
                             "amount": str(invoice.amount)})
        for payment in payments:
            writer.writerow({"record": "payment", "customer_id": payment.customer_id,
                             "currency": CURRENCY, "document_number": payment.document_number,
                             "amount": str(payment.amount), "reference": payment.reference,
                             "paid_on": payment.paid_on.isoformat()})
    return {"customers": len(customers), "invoices": len(grown), "payments": len(payments)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.invoicing.ledger_sample",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    counts = write_ledger(args.out, args.invoices)
    print(f"wrote {args.out}: {counts['customers']} customers, {counts['invoices']} invoices, "
          f"{counts['payments']} payments; books closed on {AS_OF}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
