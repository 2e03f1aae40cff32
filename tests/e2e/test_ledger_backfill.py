"""Onboarding a company's ledger: the backfill loads its customers, historical invoices and
payments through the real services, and the aging API then shows, per customer, the
balance one computes from the file alone. A second run changes nothing; a file with one
bad line loads nothing."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from libs.events import InvoiceIssued, PaymentApplied
from libs.events.topics import AR_INVOICING, AR_MATCHING, ERP_CUSTOMERS, ERP_ORDERS
from services.invoicing.ledger_sample import AS_OF, write_ledger
from tests.conftest import eventually
from tests.support.infrastructure import ROOT, Infrastructure
from tests.support.kafka_reader import events_on, read_topic

LABELS = ("current", "1-30", "31-60", "61-90", "90+")


def run_backfill(infrastructure: Infrastructure, ledger: Path, tenant: str,
                 timeout: float = 1200) -> subprocess.CompletedProcess[str]:
    """The backfill gives up waiting for a service after half of `timeout`, saying which."""
    try:
        return subprocess.run(
            [sys.executable, "-u", "-m", "services.invoicing.backfill", str(ledger),
             "--tenant", tenant, "--timeout", str(int(timeout / 2))],
            cwd=ROOT, env={**os.environ, **infrastructure.service_environment()},
            capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as expired:  # say how far it got
        raise AssertionError(f"backfill still running after {timeout} s:\n"
                             f"{expired.stdout}\n{expired.stderr}") from None


def bucket(days_past_due: int) -> str:
    for label, high in zip(LABELS, (0, 30, 60, 90)):
        if days_past_due <= high:
            return label
    return "90+"


def balances_from_file(ledger: Path, as_of: date) -> dict[str, dict[str, Decimal]]:
    """Per customer: the open amount and its buckets, read from the file alone."""
    invoices: dict[str, dict[str, str]] = {}
    paid: dict[str, Decimal] = defaultdict(Decimal)
    with ledger.open(newline="") as file:
        for row in csv.DictReader(file):
            if row["record"] == "invoice":
                invoices[row["document_number"]] = row
            elif row["record"] == "payment" and date.fromisoformat(row["paid_on"]) <= as_of:
                paid[row["document_number"]] += Decimal(row["amount"])
    balances: dict[str, dict[str, Decimal]] = defaultdict(
        lambda: {name: Decimal(0) for name in ("open_amount", "open_items", *LABELS)})
    for number, row in invoices.items():
        open_amount = Decimal(row["amount"]) - paid[number]
        if open_amount == 0:
            continue
        days = (as_of - date.fromisoformat(row["due_date"])).days
        customer = balances[row["customer_id"]]
        customer["open_amount"] += open_amount
        customer["open_items"] += 1
        customer[bucket(days)] += open_amount
    return dict(balances)


def days_late_from_file(ledger: Path) -> dict[str, int]:
    """Settled invoices: days from due date to the payment that settled them."""
    due, amount, paid, last_paid = {}, {}, defaultdict(Decimal), {}
    with ledger.open(newline="") as file:
        for row in csv.DictReader(file):
            number = row["document_number"]
            if row["record"] == "invoice":
                due[number], amount[number] = date.fromisoformat(row["due_date"]), Decimal(
                    row["amount"])
            elif row["record"] == "payment":
                paid[number] += Decimal(row["amount"])
                last_paid[number] = max(last_paid.get(number, date.min),
                                        date.fromisoformat(row["paid_on"]))
    return {number: max((last_paid[number] - due[number]).days, 0)
            for number in due if number in last_paid and paid[number] == amount[number]}


async def aging_of(aging_url: str, tenant: str) -> dict[str, dict[str, Decimal]]:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(f"{aging_url}/aging", params={"as_of": AS_OF.isoformat()},
                                    headers={"X-Tenant": tenant})
        response.raise_for_status()
    return {row["customer_id"]: {"open_amount": Decimal(row["open_amount"]),
                                 "open_items": Decimal(row["open_items"]),
                                 **{label: Decimal(row["buckets"][label]) for label in LABELS}}
            for row in response.json()["customers"]}


async def backfill_and_compare(platform, infrastructure: Infrastructure, tmp_path: Path,
                               invoices: int, tenant: str, timeout: float = 1200) -> None:
    ledger = tmp_path / f"ledger-{invoices}.csv"
    counts = write_ledger(ledger, invoices)
    expected = balances_from_file(ledger, AS_OF)

    started = time.monotonic()
    loaded = run_backfill(infrastructure, ledger, tenant, timeout)
    assert loaded.returncode == 0, loaded.stderr + loaded.stdout
    shown = await eventually(lambda: aging_of(platform["aging"].url, tenant),
                             until=lambda balances: balances == expected, timeout=120)
    elapsed = time.monotonic() - started
    print(f"\nbackfill of {counts}: loaded and aged in {elapsed:.1f} s\n{loaded.stdout}")

    assert "done in" in loaded.stdout
    assert f"{counts['invoices']} invoices, {counts['payments']} payments" in loaded.stdout
    assert shown == expected
    assert sum(row["open_items"] for row in expected.values()) > 0  # some history is open

    # Days late stay computable per invoice from the real dates.
    days_late = days_late_from_file(ledger)
    async with httpx.AsyncClient() as client:
        for number in sorted(days_late)[:: max(len(days_late) // 25, 1)]:
            status = (await client.get(f"{platform['aging'].url}/invoices/{number}",
                                       headers={"X-Tenant": tenant})).json()
            assert status["status"] == "settled", status
            settled_late = (date.fromisoformat(status["settled_on"])
                            - date.fromisoformat(status["due_date"])).days
            assert max(settled_late, 0) == days_late[number], (number, status)

    # Running the same file again adds nothing.
    kafka = infrastructure.kafka_bootstrap_servers
    applied_before = await _count(kafka, AR_MATCHING, PaymentApplied, tenant)
    again = run_backfill(infrastructure, ledger, tenant, timeout)
    assert again.returncode == 0, again.stderr + again.stdout
    assert await aging_of(platform["aging"].url, tenant) == expected
    assert await _count(kafka, AR_INVOICING, InvoiceIssued, tenant) == counts["invoices"]
    assert await _count(kafka, AR_MATCHING, PaymentApplied, tenant) == applied_before


async def _count(kafka: str, topic: str, event_type: type, tenant: str) -> int:
    return len([record for record, _ in await events_on(kafka, topic, event_type)
                if dict(record.headers)["tenant"] == tenant.encode()])


async def test_a_ledger_of_1000_invoices_with_payments_ages_as_the_file_says(
        platform, infrastructure, tmp_path: Path) -> None:
    # within the suite's 300 s per test: a stuck wait fails with its reason, not a timeout
    await backfill_and_compare(platform, infrastructure, tmp_path, 1_000, "backfill-1k",
                               timeout=240)


@pytest.mark.slow
@pytest.mark.timeout(1800)
async def test_a_ledger_of_10000_invoices_with_payments_ages_as_the_file_says(
        platform, infrastructure, tmp_path: Path) -> None:
    await backfill_and_compare(platform, infrastructure, tmp_path, 10_000, "backfill-10k")


async def test_a_ledger_with_one_bad_line_is_rejected_whole_and_nothing_is_loaded(
        infrastructure, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.csv"
    write_ledger(ledger, 200)
    lines = ledger.read_text().splitlines()
    bad = next(number for number, text in enumerate(lines, start=1)
               if text.startswith("payment,")) + 40
    fields = lines[bad - 1].split(",")
    fields[12] = "2013-02-30"  # a payment on a day that does not exist
    lines[bad - 1] = ",".join(fields)
    ledger.write_text("\n".join(lines) + "\n")

    refused = run_backfill(infrastructure, ledger, "backfill-bad")

    assert refused.returncode == 2
    assert "rejected, nothing loaded: 1 bad line(s)" in refused.stderr
    assert f"line {bad}: paid_on '2013-02-30' is not a date (YYYY-MM-DD)" in refused.stderr
    kafka = infrastructure.kafka_bootstrap_servers
    for topic in (ERP_CUSTOMERS, ERP_ORDERS):
        assert [record for record in await read_topic(kafka, topic)
                if dict(record.headers).get("tenant") == b"backfill-bad"] == []
