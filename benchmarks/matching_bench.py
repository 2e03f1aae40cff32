"""Cash application on the generator's traffic: how much clears by itself, how much of it
wrongly, how fast the decision core decides against a million open items, and how much
memory the book of those items takes.

    python benchmarks/matching_bench.py                  # the default run (~2 minutes)
    python benchmarks/matching_bench.py --payments 5000 --invoices 20000 --open-items 100000

What is measured is the pure decision core (services/matching/engine.py) on an in-memory
book, the way the matching service uses it; the PostgreSQL event store and Kafka are not
on this path (the service stores each decision's events afterwards, in one transaction
per inbound record). The baseline, measured in the same run on the same payments, is the
first slice's rule reduced to its core: find `INV-nnnnnn` in the remittance text and look
it up in a dict. The decision rate is wall-clock time, so other processes on the machine
lower it; the rate per second of CPU time is printed beside it. The book's memory is the
growth of the resident set while it loads.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.table import Figure, print_table  # noqa: E402
from services.matching.engine import (  # noqa: E402
    DEFAULT_POLICY,
    Book,
    IncomingPayment,
    book_decision,
    decide,
)
from services.matching.generator import Payment, Scorecard, Traffic, generate  # noqa: E402

INVOICE_NUMBER = re.compile(r"INV-\d{6}")


def load_book(traffic: Traffic) -> Book:
    book = Book()
    for customer in traffic.customers:
        book.upsert_customer(customer.customer_id, customer.name)
    for invoice in traffic.invoices:
        book.open_item(invoice.invoice_id, invoice.number, invoice.customer_id,
                       invoice.currency, invoice.total, invoice.due_date)
    return book


def incoming(payment: Payment) -> IncomingPayment:
    return IncomingPayment(payment.payment_id, payment.amount, payment.currency,
                           payment.value_date, None, payment.payer_name, payment.payer_account,
                           payment.remittance_text)


def accuracy(traffic: Traffic) -> tuple[Scorecard, Scorecard, float]:
    """Every payment decided in order, each decision booked before the next (as the
    service does); the baseline on the same payments for comparison."""
    book = load_book(traffic)
    card = Scorecard()
    started = time.perf_counter()
    for payment in traffic.payments:
        decision = decide(book, incoming(payment), DEFAULT_POLICY)
        book_decision(book, decision, payment.payer_account)
        card.add(traffic.truths[payment.payment_id],
                 [allocation.number for allocation in decision.allocations])
    elapsed = time.perf_counter() - started
    baseline = Scorecard()
    by_number = {invoice.number: invoice for invoice in traffic.invoices}
    for payment in traffic.payments:
        numbers = [number for number in INVOICE_NUMBER.findall(payment.remittance_text or "")
                   if number in by_number]
        baseline.add(traffic.truths[payment.payment_id], numbers)
    return card, baseline, elapsed


def resident_bytes() -> int:
    """The process's resident memory now (Linux), after a full collection."""
    gc.collect()
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Rate:
    decisions: float            # per second, wall clock
    decisions_cpu: float        # per second of this process's CPU time (less sensitive to load)
    baseline: float
    open_items: int
    book_bytes: int
    baseline_bytes: int


def decision_rate(open_items: int, payments: int) -> Rate:
    """Decisions per second against a book of `open_items` open items and the memory the
    book takes (resident growth while it loads), beside the baseline's lookups per
    second and its dict's memory, on the same payments."""
    traffic = generate(invoices=open_items, payments=payments, seed=99)
    # The payments are decided against the full book: nothing of it is settled first.
    before = resident_bytes()
    book = load_book(traffic)
    book_bytes = resident_bytes() - before
    gc.freeze()
    batch = [incoming(payment) for payment in traffic.payments]
    started, started_cpu = time.perf_counter(), time.process_time()
    for payment in batch:
        decide(book, payment, DEFAULT_POLICY)
    core = len(batch) / (time.perf_counter() - started)
    core_cpu = len(batch) / (time.process_time() - started_cpu)
    gc.unfreeze()
    before = resident_bytes()
    by_number = {invoice.number: invoice for invoice in traffic.invoices}
    baseline_bytes = resident_bytes() - before
    started = time.perf_counter()
    for payment in batch:
        for number in INVOICE_NUMBER.findall(payment.remittance_text or ""):
            by_number.get(number)
    baseline = len(batch) / (time.perf_counter() - started)
    return Rate(core, core_cpu, baseline, sum(1 for item in book.items.values() if item.open != 0),
                book_bytes, baseline_bytes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=200_000)
    parser.add_argument("--payments", type=int, default=50_000)
    parser.add_argument("--open-items", type=int, default=1_000_000)
    parser.add_argument("--rate-payments", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()

    started = time.perf_counter()
    traffic = generate(args.invoices, args.payments, seed=args.seed)
    generated = time.perf_counter() - started
    card, baseline, decided_in = accuracy(traffic)
    rate = decision_rate(args.open_items, args.rate_payments)

    figures = [
        Figure("payments a person could match, matched automatically",
               100 * card.automatic_share, "%", "INV-nnnnnn dict lookup",
               100 * baseline.automatic_share, ">= 95 %", card.automatic_share >= 0.95),
        Figure("wrong applications per 1,000 applications", card.wrong_per_thousand, "",
               "INV-nnnnnn dict lookup", baseline.wrong_per_thousand, "< 1",
               card.wrong_per_thousand < 1),
        Figure(f"decisions/s against {rate.open_items:,} open items (pure core)",
               rate.decisions, "/s", "INV-nnnnnn dict lookup", rate.baseline, ">= 5,000",
               rate.decisions >= 5000),
        Figure(f"memory of the book of {rate.open_items:,} open items (resident growth)",
               rate.book_bytes / 2**20, "MiB", "dict of invoice numbers",
               rate.baseline_bytes / 2**20),
    ]
    print_table(
        f"matching benchmarks ({len(traffic.payments):,} payments against "
        f"{len(traffic.invoices):,} invoices of {len(traffic.customers):,} customers; "
        f"{card.matchable:,} a person could match; the decision core in memory, PostgreSQL "
        f"and Kafka off the measured path)", figures)
    print(f"applications made {card.applications:,} (baseline {baseline.applications:,}); "
          f"payments left for a person {card.left_for_a_person:,} "
          f"(baseline {baseline.left_for_a_person:,})")
    missed = ", ".join(f"{kind} {count}" for kind, count in card.missed_by_kind.most_common())
    wrong = ", ".join(f"{kind} {count}" for kind, count in card.wrong_by_kind.most_common())
    print(f"missed (matchable, not matched exactly) by kind: {missed or 'none'}")
    print(f"payments with a wrong application by kind: {wrong or 'none'}")
    print(f"decisions per second of CPU time (what the load of other processes costs the "
          f"wall-clock figure): {rate.decisions_cpu:,.0f}/s; book memory per open item "
          f"{rate.book_bytes / max(rate.open_items, 1):,.0f} bytes")
    print(f"generated in {generated:.1f}s; {len(traffic.payments):,} payments decided and booked "
          f"in {decided_in:.1f}s; total {time.perf_counter() - started:.0f}s; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
