"""Several orders stored in one transaction (what credit's consumers do under load) decide
exactly as they would one at a time: each sees the orders before it, a refused command
leaves nothing of its batch behind, and a redelivered batch changes nothing."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import Tracking

from libs.events import CustomerUpserted, OrderCreditApproved, OrderCreditHeld
from libs.runtime.eventstore import AlreadyProcessed
from services.credit.domain import CreditError
from services.credit.tests.test_credit_application import ERP, Credit, decisions


def orders_in_one_batch(credit: Credit, *amounts: str) -> None:
    with credit.app.batch():
        for index, amount in enumerate(amounts, start=1):
            credit.order(f"SO-{index}", amount)


def test_each_order_of_a_batch_counts_against_the_limit_for_the_next():
    one_at_a_time, batched = Credit(), Credit()
    for credit in (one_at_a_time, batched):
        credit.set_limit("10000.00")
        credit.new_events()
    for index, amount in enumerate(("4000.00", "4000.00", "4000.00"), start=1):
        one_at_a_time.order(f"SO-{index}", amount)
    orders_in_one_batch(batched, "4000.00", "4000.00", "4000.00")

    expected = decisions(one_at_a_time.new_events())
    got = decisions(batched.new_events())
    assert [type(event) for event in got] == [OrderCreditApproved, OrderCreditApproved,
                                             OrderCreditHeld]
    assert [(e.order_id, e.exposure) for e in got] == [(e.order_id, e.exposure)
                                                      for e in expected]


def test_a_batch_is_stored_whole_or_not_at_all():
    credit = Credit()
    credit.set_limit("10000.00")
    stored_before = credit.app.recorder.max_notification_id()
    with pytest.raises(CreditError), credit.app.batch():
        credit.order("SO-1", "100.00")
        credit.app.request_limit_change(ERP, -1, "a negative limit is refused",
                                        customer_id="C-1")
    assert credit.app.recorder.max_notification_id() == stored_before
    # the account the first command changed in memory is not the one stored or cached
    credit.order("SO-2", "100.00")
    [approved] = decisions(credit.new_events())
    assert approved.order_id == "SO-2" and approved.exposure.amount == 100


def test_the_batch_position_is_its_last_record_and_a_redelivery_is_refused():
    credit = Credit()
    with credit.app.batch():
        for offset in (7, 8, 9):
            credit.app.upsert_customer(CustomerUpserted(
                customer_id=f"C-{offset}", name="Kegs BV", currency="EUR",
                payment_terms_days=30), ERP, Tracking("erp.customers#0", offset))
    assert credit.app.position("erp.customers#0") == 9
    with pytest.raises(AlreadyProcessed):
        credit.app.upsert_customer(CustomerUpserted(
            customer_id="C-8", name="Kegs BV", currency="EUR", payment_terms_days=30),
            ERP, Tracking("erp.customers#0", 8))


def test_a_batch_from_several_partitions_stores_each_ones_position():
    credit = Credit()
    with credit.app.batch():
        for partition, offset in ((0, 4), (1, 11), (0, 5), (2, 3)):
            credit.app.upsert_customer(CustomerUpserted(
                customer_id=f"C-{partition}-{offset}", name="Kegs BV", currency="EUR",
                payment_terms_days=30), ERP, Tracking(f"erp.customers#{partition}", offset))
    assert [credit.app.position(f"erp.customers#{partition}") for partition in (0, 1, 2)] \
        == [5, 11, 3]
    for partition, offset in ((1, 11), (2, 3)):  # every partition's redelivery is known
        with pytest.raises(AlreadyProcessed):
            credit.app.upsert_customer(CustomerUpserted(
                customer_id="C-x", name="Kegs BV", currency="EUR", payment_terms_days=30),
                ERP, Tracking(f"erp.customers#{partition}", offset))
