"""Rebuilding the aging projection from the event log gives back exactly what the live
projection holds, and the service answers throughout the switch.

The test plays the ERP, invoicing, matching and credit (only the aging service runs): it
publishes a ledger's worth
of their events (sample_events.py), one event twice, a payment applied before its
invoice arrives, and a record no one can read; waits for the live projection; then runs
`python -m services.aging.rebuild` while a collector keeps asking for the aging.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from decimal import Decimal

import asyncpg
import httpx
import pytest

from libs.events import InvoiceIssued, Money, PaymentApplied
from libs.runtime.publisher import EventPublisher
from services.aging.projections import HANDLERS
from services.aging.sample_events import SampleLedger
from tests.conftest import eventually
from tests.support.infrastructure import ROOT
from tests.support.processes import ServiceProcess, free_port

TENANT = "rebuild-tenant"
HEADERS = {"X-Tenant": TENANT}
HANDLED = {event.event_type for handlers in HANDLERS.values() for event in handlers}
TABLES = {
    "open_items": "invoice_id",
    "applications": "application_id",
    "document_changes": "change_id",
    "unapplied_cash": "payment_id",
    "customers": "customer_id",
    "open_by_due_date": "customer_id, currency, due_date",
    "open_by_issue_date": "customer_id, currency, issue_date",
    "receivable_days": "currency, day",
    "customer_buckets": "customer_id, currency",
}


async def projection_state(database_url: str, event_ids: list[str]) -> dict[str, list]:
    """Every row of the tenant's projection, and which of our events it has applied, all
    from one snapshot: read statement by statement, a batch committed between the reads
    showed its events as applied but not its rows."""
    connection = await asyncpg.connect(database_url)
    try:
        snapshot = connection.transaction(isolation="repeatable_read", readonly=True)
        await snapshot.start()
        state = {table: [tuple(row) for row in await connection.fetch(
                    f"SELECT * FROM aging.{table} WHERE tenant = $1 ORDER BY {order}", TENANT)]
                 for table, order in TABLES.items()}
        state["applied_events"] = sorted(await connection.fetch(
            "SELECT event_id, event_type FROM aging.applied_events WHERE event_id = any($1)",
            event_ids))
        state["positions"] = dict(
            ((row["topic"], row["partition"]), row["next_offset"]) for row in
            await connection.fetch("SELECT * FROM aging.consumer_positions"))
        state["schemas"] = [row[0] for row in await connection.fetch(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'aging%' ORDER BY 1")]
        await snapshot.rollback()
    finally:
        await connection.close()
    return state


async def publish_ledger(infrastructure) -> tuple[list[tuple[str, str]], InvoiceIssued]:  # noqa: ANN001
    ledger = SampleLedger(customers=12, seed=5, prefix="rb-")
    event_ids = []
    async with EventPublisher(infrastructure.kafka_bootstrap_servers, source="test") as bus:
        # Cash applied to an invoice the projection has not seen yet.
        early = ledger.invoice(10_000)
        early_payment = PaymentApplied(
            application_id="rb-early", payment_id="rb-early-pay", invoice_id=early.invoice_id,
            invoice_number=early.invoice_number, customer_id=early.customer_id,
            amount=Money(amount=Decimal("100.00"), currency=early.total.currency),
            applied_on=early.issue_date, rule="reference", explanation="paid before issue")
        event_ids.append(record_id(await bus.publish(early_payment, TENANT)))
        deliveries = []
        for event in ledger.events(invoices=160):
            record = bus.record(event, TENANT)
            deliveries.append(await bus.producer.send(record.topic, record.value,
                                                      key=record.key, headers=record.headers))
            event_ids.append(record_id(record))
        await asyncio.gather(*deliveries)
        event_ids.append(record_id(await bus.publish(early, TENANT)))
        # The same event published twice (a relay retried after a crash): counted once.
        again = await bus.publish(ledger.invoice(10_001), TENANT)
        await bus.send(again)
        event_ids.append(record_id(again))
        # A record nobody can read: dead-lettered by the live consumer, skipped by the rebuild.
        await bus.send_raw(again.topic, again.key, b"{not json", again.headers[:1] + [
            ("ce_id", b"rb-broken")] + again.headers[2:])
        later = ledger.invoice(10_002)
    return event_ids, later


@pytest.fixture(scope="module")
def aging_service(infrastructure):  # noqa: ANN001, ANN201
    service = ServiceProcess("aging", free_port(), infrastructure).start(timeout=90)
    yield service
    service.stop()


def record_id(record) -> tuple[str, str]:  # noqa: ANN001
    headers = dict(record.headers)
    return headers["ce_id"].decode(), headers["ce_type"].decode()


async def test_the_rebuilt_projection_equals_the_live_one_and_the_service_keeps_serving(
        aging_service, infrastructure) -> None:
    aging = aging_service.url
    event_ids, later_invoice = await publish_ledger(infrastructure)
    handled = [event_id for event_id, event_type in event_ids if event_type in HANDLED]
    live = await eventually(lambda: projection_state(infrastructure.database_url, handled),
                            until=lambda state: len(state["applied_events"]) == len(handled),
                            timeout=120)
    assert len(live["applied_events"]) == len(handled)
    assert len(live["open_items"]) == 160 + 2 + 8  # the ledger's, the early and twice-sent
    # invoices, and debit notes
    assert live["unapplied_cash"] and live["document_changes"] and live["customers"]
    async with httpx.AsyncClient(timeout=10) as client:
        report_before = (await client.get(f"{aging}/aging", headers=HEADERS)).json()

    answers: list[tuple[int, dict]] = []
    rebuilding = True

    async def collector_keeps_asking() -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            while rebuilding:
                response = await client.get(f"{aging}/aging", headers=HEADERS)
                answers.append((response.status_code, response.json()))
                await asyncio.sleep(0.02)

    asking = asyncio.create_task(collector_keeps_asking())
    rebuild = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.aging.rebuild", cwd=ROOT,
        env=aging_service.environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output, _ = await rebuild.communicate()
    rebuilding = False
    await asking
    assert rebuild.returncode == 0, output.decode()
    assert b"rebuilt aging" in output

    rebuilt = await projection_state(infrastructure.database_url, handled)
    for table in (*TABLES, "applied_events"):
        assert rebuilt[table] == live[table], table
    for position, offset in live["positions"].items():
        assert rebuilt["positions"][position] >= offset
    assert rebuilt["schemas"] == ["aging"]  # nothing half-built or retired left behind

    assert len(answers) >= 3
    assert {status for status, _ in answers} == {200}
    assert all(body == report_before for _, body in answers)

    # Live business goes on, into the rebuilt tables.
    async with EventPublisher(infrastructure.kafka_bootstrap_servers, source="test") as bus:
        await bus.publish(later_invoice, TENANT)

    async def open_items() -> list:
        async with httpx.AsyncClient() as client:
            return (await client.get(f"{aging}/customers/{later_invoice.customer_id}/open-items",
                                     headers=HEADERS, params={"limit": 1000})).json()

    items = await eventually(open_items, until=lambda items: any(
        item["invoice_id"] == later_invoice.invoice_id for item in items))
    assert any(item["invoice_id"] == later_invoice.invoice_id for item in items)
