"""Two replicas of a service on one database, one relay publishing: everything either
replica stores reaches Kafka once, in the order it was stored, whether the relay has it
in memory (stored by its own process) or must read it from the log (the other's)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

import pytest
from eventsourcing.persistence import Tracking

from libs.events import CustomerUpserted, OrderCreditApproved, OrderLine, OrderPlaced
from libs.events.topics import AR_CREDIT
from libs.runtime.causation import Causation
from libs.runtime.eventstore import open_application
from libs.runtime.relay import OutboxRelay
from libs.runtime.settings import ServiceSettings
from services.credit.application import CreditApplication, to_integration_events
from tests.support.kafka_reader import wait_for_events

pytestmark = pytest.mark.integration

ERP = Causation(tenant="relay", causation_id="evt-erp")


def order(order_id: str) -> OrderPlaced:
    return OrderPlaced(order_id=order_id, customer_id="C-RELAY", ordered_on=date.today(),
                       currency="EUR", lines=(OrderLine(line_no=1, sku="KEG", quantity="1",
                                                        unit_price="10.00"),))


async def test_what_either_replica_stores_is_published_once_in_store_order(
        infrastructure) -> None:
    settings = ServiceSettings(service_name=f"credit_relay_{uuid.uuid4().hex[:8]}",
                               database_url=infrastructure.database_url,
                               kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers)
    publishing = open_application(CreditApplication, settings)
    other = open_application(CreditApplication, settings)
    relay = OutboxRelay(settings, publishing, to_integration_events)
    stopping = asyncio.Event()
    running = asyncio.create_task(relay.run(stopping))
    try:
        publishing.upsert_customer(CustomerUpserted(
            customer_id="C-RELAY", name="Relay BV", currency="EUR", payment_terms_days=30),
            ERP, Tracking("erp.customers#0", 1))
        order_ids = [f"SO-R-{index}" for index in range(13)]  # the last by the other
        for index, order_id in enumerate(order_ids):
            # by turns, and now and then both at once: gaps in what the relay holds
            replica = publishing if index % 3 else other
            await asyncio.to_thread(replica.place_order, order(order_id), ERP,
                                    Tracking("erp.orders#0", index + 1))
            if index % 4 == 0:
                await asyncio.sleep(0.08)  # idle long enough for the relay's poll
        published = await wait_for_events(
            settings.kafka_bootstrap_servers, AR_CREDIT, OrderCreditApproved,
            lambda event: event.order_id in order_ids, count=len(order_ids))
        await asyncio.sleep(1)  # a duplicate would show by now
    finally:
        stopping.set()
        await running
        publishing.close()
        other.close()
    published = await wait_for_events(
        settings.kafka_bootstrap_servers, AR_CREDIT, OrderCreditApproved,
        lambda event: event.order_id in order_ids, count=len(order_ids))
    assert [event.order_id for _, event in published] == order_ids
