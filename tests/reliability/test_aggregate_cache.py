"""Two replicas of credit on one database: each keeps aggregates in memory, and neither
decides on a stale copy of what the other changed (the cache is kept fresh from the
notification log, once per load or once per batch)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from libs.events import CustomerUpserted, OrderLine, OrderPlaced
from libs.runtime.causation import Causation
from libs.runtime.eventstore import AlreadyProcessed, ChangeFedRepository, open_application
from libs.runtime.settings import ServiceSettings
from services.credit.application import CreditApplication, to_integration_events
from services.credit.domain import CreditAccount, CreditPolicy

pytestmark = pytest.mark.integration

ERP = Causation(tenant="cache", causation_id="evt-erp")
SALES = Causation(tenant="cache", actor="sales:bob")
CONTROLLER = Causation(tenant="cache", actor="credit:carla")


@pytest.fixture
def replicas(infrastructure):  # noqa: ANN001, ANN201
    settings = ServiceSettings(service_name=f"credit_cache_{uuid.uuid4().hex[:8]}",
                               database_url=infrastructure.database_url)
    first = open_application(CreditApplication, settings)
    second = open_application(CreditApplication, settings)
    yield first, second
    first.close()
    second.close()


def order(order_id: str, amount: str) -> OrderPlaced:
    return OrderPlaced(order_id=order_id, customer_id="C-1", ordered_on=date.today(),
                       currency="EUR", lines=(OrderLine(line_no=1, sku="KEG", quantity="1",
                                                        unit_price=amount),))


def known_customer(credit: CreditApplication, limit: str) -> None:
    """C-1 from the ERP's customer master, with a credit limit."""
    credit.upsert_customer(CustomerUpserted(customer_id="C-1", name="Kegs", currency="EUR",
                                            payment_terms_days=30), ERP,
                           Tracking("erp.customers#0", 1))
    set_limit(credit, limit)


def set_limit(credit: CreditApplication, amount: str) -> None:
    change = credit.request_limit_change(SALES, Decimal(amount), "review", customer_id="C-1")
    credit.approve_limit_change(CONTROLLER, change, customer_id="C-1")


def last_decision(credit: CreditApplication) -> str:
    decisions = [type(event).__name__
                 for notification in credit.recorder.select_notifications(0, 100000)
                 for event in to_integration_events(credit.mapper.to_domain_event(notification))
                 if type(event).__name__ in ("OrderCreditApproved", "OrderCreditHeld")]
    return decisions[-1]


def test_a_replica_decides_on_the_limit_another_replica_changed(replicas) -> None:
    deciding, api = replicas
    assert isinstance(deciding.repository, ChangeFedRepository)
    known_customer(deciding, limit="100.00")
    deciding.place_order(order("SO-1", "500.00"), ERP, Tracking("erp.orders#0", 1))
    assert last_decision(deciding) == "OrderCreditHeld"  # the account is now cached

    set_limit(api, "1000.00")  # through the other replica's API
    deciding.place_order(order("SO-1", "500.00"), ERP, Tracking("erp.orders#0", 2))
    assert last_decision(deciding) == "OrderCreditApproved"

    set_limit(api, "100.00")
    with deciding.batch():  # a batch looks once, when it begins
        deciding.place_order(order("SO-2", "500.00"), ERP, Tracking("erp.orders#0", 3))
    assert last_decision(deciding) == "OrderCreditHeld"


def test_a_failed_batch_leaves_no_trace_in_the_cache(replicas) -> None:
    deciding, api = replicas
    known_customer(deciding, limit="1000.00")
    deciding.place_order(order("SO-1", "600.00"), ERP, Tracking("erp.orders#0", 1))
    with pytest.raises(RuntimeError), deciding.batch():
        deciding.place_order(order("SO-2", "300.00"), ERP, Tracking("erp.orders#0", 2))
        assert api.get_or_none(deciding_account(deciding)).version < deciding.get_or_none(
            deciding_account(deciding)).version  # the other thread sees only what is stored
        raise RuntimeError("the broker went away before the batch was stored")
    # SO-2 never happened: 600 + 350 fits the limit of 1,000; with SO-2's 300 it would not
    deciding.place_order(order("SO-3", "350.00"), ERP, Tracking("erp.orders#0", 3))
    assert last_decision(deciding) == "OrderCreditApproved"


def deciding_account(credit: CreditApplication) -> uuid.UUID:
    return CreditAccount.create_id("cache", "C-1")


def test_one_batch_from_several_partitions_stores_every_position_in_postgres(replicas) -> None:
    credit, replica = replicas
    with credit.batch():
        for partition, offset in ((0, 4), (1, 11), (0, 5)):
            credit.upsert_customer(CustomerUpserted(
                customer_id=f"C-{partition}-{offset}", name="Kegs BV", currency="EUR",
                payment_terms_days=30), ERP, Tracking(f"erp.customers#{partition}", offset))
    # what a restarted consumer reads to know where to resume, per partition
    assert [replica.position(f"erp.customers#{partition}") for partition in (0, 1)] == [5, 11]
    assert {notification.originator_id
            for notification in replica.recorder.select_notifications(0, 100)} == {
        CreditAccount.create_id("cache", customer) for customer in ("C-0-4", "C-1-11", "C-0-5")}


def test_a_policy_the_other_replica_sets_first_is_seen_though_it_was_missing(replicas) -> None:
    deciding, api = replicas
    known_customer(deciding, limit="1000.00")
    with deciding.batch():  # the tenant has no policy yet: the default one, remembered missing
        deciding.place_order(order("SO-1", "500.00"), ERP, Tracking("erp.orders#0", 1))
    assert last_decision(deciding) == "OrderCreditApproved"

    api.set_policy(CreditPolicy(max_percent_used=Decimal("40")), CONTROLLER)
    with deciding.batch():  # 500 of 1,000 used is above the new 40 %
        deciding.place_order(order("SO-1", "500.00"), ERP, Tracking("erp.orders#0", 2))
    assert last_decision(deciding) == "OrderCreditHeld"


def test_a_redelivered_partition_refuses_its_whole_batch_in_postgres(replicas) -> None:
    credit, replica = replicas
    with credit.batch():
        credit.upsert_customer(CustomerUpserted(
            customer_id="C-1", name="Kegs BV", currency="EUR", payment_terms_days=30), ERP,
            Tracking("erp.customers#1", 11))
    stored_before = replica.recorder.max_notification_id()
    with pytest.raises(AlreadyProcessed):  # partition 1 comes again after a rebalance
        credit.upsert_customer(CustomerUpserted(
            customer_id="C-1", name="Kegs BV", currency="EUR", payment_terms_days=30), ERP,
            Tracking("erp.customers#1", 11))
    with pytest.raises(IntegrityError), credit.batch():  # new on 0, seen before on 1
        for partition, offset in ((0, 7), (1, 10)):
            credit.upsert_customer(CustomerUpserted(
                customer_id=f"C-{partition}-{offset}", name="Kegs BV", currency="EUR",
                payment_terms_days=30), ERP, Tracking(f"erp.customers#{partition}", offset))
    # nothing of either is stored, and partition 0 has not moved
    assert replica.recorder.max_notification_id() == stored_before
    assert [replica.position(f"erp.customers#{partition}") for partition in (0, 1)] == [None, 11]
