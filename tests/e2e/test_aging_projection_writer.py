"""The aging projection's writer (libs/runtime/projection.py) on a real PostgreSQL: what its
consumers hand over at once is committed at once, a payment counts whichever comes first,
an event delivered twice counts once, a batch the database refuses fails alone, and two
replicas writing at once lose nothing.

Records are built as Kafka delivers them, without a broker: the writer is what runs after
a poll. A throw-away database per module.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import urlparse, urlunparse

import asyncpg
import pytest
from aiokafka.structs import ConsumerRecord

from libs.events import IntegrationEvent, InvoiceIssued, Money, PaymentApplied, decode, encode
from libs.events.topics import AR_INVOICING, AR_MATCHING
from libs.runtime.consumer import APPLIED, DUPLICATE, Decoded
from libs.runtime.projection import ProjectionWriter, changes_channel
from services.aging import projections
from tests.support.infrastructure import Infrastructure

TENANT = "writer-tenant"
DAY = date(2026, 3, 2)


@pytest.fixture(scope="module")
async def database_url(infrastructure: Infrastructure) -> AsyncIterator[str]:
    server_url = infrastructure.server_database_url
    database = f"aging_writer_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{database}"')
    try:
        yield urlunparse(urlparse(server_url)._replace(path=f"/{database}"))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def writer(database_url: str) -> AsyncIterator[ProjectionWriter]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    await projections.create_tables(pool)
    try:
        yield ProjectionWriter(pool, projections.SCHEMA)
    finally:
        await pool.close()


class Delivery:
    """Records as a poll returns them: numbered per partition, as the broker does."""

    def __init__(self) -> None:
        self.offsets: dict[tuple[str, int], int] = {}

    def records(self, partition: int, *events: IntegrationEvent,
                event_ids: list[str] | None = None) -> list[Decoded]:
        decoded = []
        for event, event_id in zip(events, event_ids or [None] * len(events), strict=True):
            record = encode(event, event_id=event_id or str(uuid.uuid4()), tenant=TENANT,
                            source="test", time=datetime.now(UTC))
            key = (record.topic, partition)
            self.offsets[key] = offset = self.offsets.get(key, -1) + 1
            consumed = ConsumerRecord(record.topic, partition, offset, 0, 0, record.key,
                                      record.value, None, 0, 0, record.headers)
            decoded.append((consumed, *decode(record.headers, record.value)))
        return decoded


def invoice(number: int, invoice_number: str | None = None) -> InvoiceIssued:
    total = Money.of("100.00", "EUR")
    return InvoiceIssued(invoice_id=f"w-{number}", invoice_number=invoice_number or f"W-{number}",
                         customer_id="CUST-W", issue_date=DAY, due_date=DAY, net_amount=total,
                         tax_amount=Money.of("0", "EUR"), total=total)


def payment(number: int, amount: str) -> PaymentApplied:
    return PaymentApplied(
        application_id=f"w-app-{number}", payment_id=f"w-pay-{number}", invoice_id=f"w-{number}",
        invoice_number=f"W-{number}", customer_id="CUST-W", amount=Money.of(amount, "EUR"),
        applied_on=DAY, rule="reference", explanation="test")


async def apply(writer: ProjectionWriter, topic: str, decoded: list) -> list[str]:
    return await writer.apply(decoded, projections.HANDLERS[topic], projections.BATCH_HANDLERS)


@asynccontextmanager
async def notices_of(database_url: str) -> AsyncIterator[list[list[dict]]]:
    """What the projection's commits announce meanwhile, one list of changes per notice."""
    notices: list[list[dict]] = []
    listener = await asyncpg.connect(database_url)
    await listener.add_listener(changes_channel(projections.SCHEMA),
                                lambda *args: notices.append(json.loads(args[-1])))
    try:
        yield notices
        await asyncio.sleep(0.2)  # notices arrive after the commit
    finally:
        await listener.close()


async def test_what_both_topics_have_ready_is_made_visible_in_one_commit(
        writer: ProjectionWriter, database_url: str) -> None:
    delivery = Delivery()
    async with notices_of(database_url) as notices:
        invoices = delivery.records(2, invoice(7), invoice(8))
        cash = delivery.records(2, payment(7, "10.00"))
        assert await asyncio.gather(apply(writer, AR_INVOICING, invoices),
                                    apply(writer, AR_MATCHING, cash)) == [[APPLIED] * 2,
                                                                          [APPLIED]]
    assert [[change["event_id"] for change in notice] for notice in notices] == [
        [envelope.id for _, envelope, _ in invoices + cash]]


async def test_a_batch_the_database_refuses_fails_alone_and_facts_count_in_any_order(
        writer: ProjectionWriter, database_url: str) -> None:
    delivery = Delivery()
    async with notices_of(database_url) as notices:
        # Cash for invoice 2 comes before its invoice; invoice 3's number holds a byte
        # PostgreSQL cannot store, so its batch is refused.
        invoices = delivery.records(0, invoice(1), invoice(4))
        refused = delivery.records(1, invoice(3, invoice_number="W-\x00"))
        cash = delivery.records(0, payment(1, "100.00"), payment(2, "40.00"))
        outcomes = await asyncio.gather(apply(writer, AR_INVOICING, invoices),
                                        apply(writer, AR_INVOICING, refused),
                                        apply(writer, AR_MATCHING, cash),
                                        return_exceptions=True)

    assert outcomes[0] == [APPLIED, APPLIED]
    assert isinstance(outcomes[1], asyncpg.PostgresError)
    assert outcomes[2] == [APPLIED, APPLIED]
    assert await open_items(writer) == [("w-1", Decimal("0.00"), DAY),
                                        ("w-4", Decimal("100.00"), None)]
    positions = await writer.pool.fetch("SELECT topic, partition, next_offset "
                                        "FROM aging.consumer_positions "
                                        "WHERE partition < 2 ORDER BY 1, 2")
    assert [tuple(row) for row in positions] == [
        (invoices[0][0].topic, 0, 2), (cash[0][0].topic, 0, 2)]
    noticed = [change["event_id"] for notice in notices for change in notice]
    assert sorted(noticed) == sorted(envelope.id for _, envelope, _ in invoices + cash)

    # Invoice 2 arrives after its cash: it opens at what is left. Invoice 1 delivered
    # again, and an event twice in one batch, count once.
    again = [(delivery.records(0, invoice(2))[0][0], *invoices[0][1:])]
    assert await apply(writer, AR_INVOICING, again) == [DUPLICATE]
    late = delivery.records(0, invoice(2), invoice(5), invoice(5), event_ids=["w2", "w5", "w5"])
    assert await apply(writer, AR_INVOICING, late) == [APPLIED, APPLIED, DUPLICATE]
    paid = delivery.records(0, payment(5, "30.00"), event_ids=["w5-paid"])
    assert await apply(writer, AR_MATCHING, paid + paid) == [APPLIED, DUPLICATE]
    assert await open_items(writer) == [
        ("w-1", Decimal("0.00"), DAY), ("w-2", Decimal("60.00"), None),
        ("w-4", Decimal("100.00"), None), ("w-5", Decimal("70.00"), None)]


async def test_a_big_batch_is_announced_in_notices_notify_takes_each_fresh_event_once(
        writer: ProjectionWriter, database_url: str) -> None:
    schema = "aging_notices"  # apart from the other tests' items
    await projections.create_tables(writer.pool, schema)
    writer = ProjectionWriter(writer.pool, schema)
    delivery = Delivery()
    known = delivery.records(4, invoice(900))
    assert await apply(writer, AR_INVOICING, known) == [APPLIED]
    payloads: list[str] = []
    listener = await asyncpg.connect(database_url)
    await listener.add_listener(changes_channel(schema), lambda *args: payloads.append(args[-1]))
    try:
        # 150 new invoices (some 18 kB of changes), one of them twice, and one known
        fresh = delivery.records(4, *(invoice(number) for number in range(901, 1051)))
        batch = [*fresh[:10], known[0], fresh[10], *fresh[10:]]
        outcomes = await apply(writer, AR_INVOICING, batch)
        await asyncio.sleep(0.2)  # notices arrive after the commit
    finally:
        await listener.close()

    assert outcomes == [APPLIED] * 10 + [DUPLICATE, APPLIED, DUPLICATE] + [APPLIED] * 139
    assert len(payloads) >= 3
    assert all(len(payload.encode()) < 8000 for payload in payloads)
    announced = [change["event_id"] for payload in payloads for change in json.loads(payload)]
    assert announced == [envelope.id for _, envelope, _ in fresh]


async def open_items(writer: ProjectionWriter) -> list[tuple]:
    rows = await writer.pool.fetch("SELECT invoice_id, open_amount, settled_on "
                                   "FROM aging.open_items WHERE invoice_id < 'w-6' ORDER BY 1")
    return [tuple(row) for row in rows]


async def test_two_replicas_applying_invoices_and_their_cash_at_once_lose_no_fact(
        database_url: str) -> None:
    """Each replica applies its own topic: an item's invoice and its payment are in two
    transactions at once, and each must count what the other recorded."""
    pools = [await asyncpg.create_pool(database_url, min_size=1, max_size=2) for _ in range(2)]
    try:
        await projections.create_tables(pools[0])
        invoicing, matching = (ProjectionWriter(pool, projections.SCHEMA) for pool in pools)
        shuffled = random.Random(11)
        numbers = list(range(100, 400))
        invoices, cash = Delivery(), Delivery()

        async def feed(writer: ProjectionWriter, topic: str, delivery: Delivery,
                       make: Callable[[int], IntegrationEvent]) -> None:
            order = shuffled.sample(numbers, len(numbers))
            while order:
                size = shuffled.randint(1, 30)
                events, order = [make(number) for number in order[:size]], order[size:]
                assert set(await apply(writer, topic, delivery.records(3, *events))) == {APPLIED}

        await asyncio.gather(feed(invoicing, AR_INVOICING, invoices, invoice),
                             feed(matching, AR_MATCHING, cash,
                                  lambda number: payment(number, f"{number % 90 + 1}.00")))
        wrong = await pools[0].fetch(
            "SELECT invoice_id FROM aging.open_items WHERE invoice_id LIKE 'w-_%' "
            "AND substr(invoice_id, 3)::int >= 100 "
            "AND open_amount <> 100 - (substr(invoice_id, 3)::int % 90 + 1)")
        assert [row[0] for row in wrong] == []
        assert await pools[0].fetchval("SELECT count(*) FROM aging.open_items "
                                       "WHERE substr(invoice_id, 3)::int >= 100") == 300
    finally:
        for pool in pools:
            await pool.close()
