"""Aging buckets, the aging report, and aging as of a past date rebuilt from movements."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest

from services.aging.buckets import (
    UNAPPLIED,
    AgedItem,
    AgingBasis,
    AgingBuckets,
    ItemKind,
    Movement,
    MovementKind,
    age_items,
    bucket_for,
    open_amount_as_of,
    reconstruct_open_items,
)

D = Decimal
AS_OF = date(2024, 6, 30)


def invoice(item_id: str, customer: str, due: date, amount: str,
            kind: ItemKind = ItemKind.INVOICE) -> AgedItem:
    # Net-30 documents: issued 30 days before they fall due.
    return AgedItem(item_id, customer, due - timedelta(days=30), due, D(amount), kind)


# On 30 June 2024:
#   I1 due 30 Jun (today)      →  0 days past due → current   100
#   I2 due 15 Jul              → not yet due      → current    50
#   I3 due 31 May              → 30 days          → 1-30      200
#   I4 due 30 May              → 31 days          → 31-60     300
#   I5 due  1 Apr              → 90 days (29+31+30) → 61-90   400
#   I6 due 31 Mar              → 91 days          → 90+       500
#   C1 credit note −80, U1 unapplied cash −120    → unapplied −200
ITEMS = [
    invoice("I1", "ACME", date(2024, 6, 30), "100"),
    invoice("I2", "BOLT", date(2024, 7, 15), "50"),
    invoice("I3", "ACME", date(2024, 5, 31), "200"),
    invoice("I4", "BOLT", date(2024, 5, 30), "300"),
    invoice("I5", "ACME", date(2024, 4, 1), "400"),
    invoice("I6", "BOLT", date(2024, 3, 31), "500"),
    invoice("C1", "ACME", date(2024, 6, 10), "-80", ItemKind.CREDIT_NOTE),
    invoice("U1", "BOLT", date(2024, 6, 20), "-120", ItemKind.UNAPPLIED_CASH),
]


# --- Buckets ----------------------------------------------------------------------------------


def test_default_buckets_and_their_labels():
    buckets = AgingBuckets()
    assert buckets.limits == (30, 60, 90)
    assert buckets.labels() == ("current", "1-30", "31-60", "61-90", "90+")
    assert buckets.labels(AgingBasis.DOCUMENT_DATE) == ("0-30", "31-60", "61-90", "90+")


def test_buckets_parse_from_a_spec():
    assert AgingBuckets.from_spec("30,60,90") == AgingBuckets()
    assert AgingBuckets.from_spec(" 30, 60 ,90 ") == AgingBuckets()
    custom = AgingBuckets.from_spec("15,30,45,60,90")
    assert custom.labels() == ("current", "1-15", "16-30", "31-45", "46-60", "61-90", "90+")
    assert custom.spec == "15,30,45,60,90"


@pytest.mark.parametrize("spec", ["", "30,,60", "60,30", "30,30", "0,30", "-5,30", "a,b", "30.5"])
def test_a_bad_bucket_spec_is_refused_with_a_clear_message(spec):
    with pytest.raises(ValueError):
        AgingBuckets.from_spec(spec)


def test_the_limit_is_the_last_day_inside_a_bucket():
    buckets = AgingBuckets()
    assert [buckets.label_for_days(d) for d in (-10, 0, 1, 30, 31, 60, 61, 90, 91, 400)] == [
        "current", "current", "1-30", "1-30", "31-60", "31-60", "61-90", "61-90", "90+", "90+"]


# --- The aging report ------------------------------------------------------------------------


def test_aging_by_due_date_with_boundaries_and_unapplied_shown_apart():
    report = age_items(ITEMS, AS_OF)
    totals = report.totals
    assert report.labels == ("current", "1-30", "31-60", "61-90", "90+")
    assert dict(totals.buckets) == {"current": D(150), "1-30": D(200), "31-60": D(300),
                                    "61-90": D(400), "90+": D(500)}
    assert dict(totals.counts) == {"current": 2, "1-30": 1, "31-60": 1, "61-90": 1, "90+": 1}
    # Credits are not netted into any bucket: they stand in their own column.
    assert totals.unapplied == D(-200)
    assert totals.unapplied_count == 2
    assert totals.aged_total == D(1550)           # 150 + 200 + 300 + 400 + 500
    assert report.grand_total == D(1350)          # 1,550 − 200: the net balance
    assert totals.count == 8


def test_aging_report_has_a_row_per_customer_that_adds_up_to_the_totals():
    report = age_items(ITEMS, AS_OF)
    assert [row.customer_id for row in report.customers] == ["ACME", "BOLT"]
    acme, bolt = report.customer("ACME"), report.customer("BOLT")
    # ACME: I1 current 100, I3 1-30 200, I5 61-90 400, C1 −80 → net 620
    assert dict(acme.buckets) == {"current": D(100), "1-30": D(200), "31-60": D(0),
                                  "61-90": D(400), "90+": D(0)}
    assert acme.unapplied == D(-80) and acme.total == D(620)
    # BOLT: I2 current 50, I4 31-60 300, I6 90+ 500, U1 −120 → net 730
    assert dict(bolt.buckets) == {"current": D(50), "1-30": D(0), "31-60": D(300),
                                  "61-90": D(0), "90+": D(500)}
    assert bolt.unapplied == D(-120) and bolt.total == D(730)
    assert acme.total + bolt.total == report.grand_total
    with pytest.raises(KeyError):
        report.customer("NOBODY")


def test_custom_buckets():
    report = age_items(ITEMS, AS_OF, AgingBuckets.from_spec("15,30,45,60,90"))
    # I3 at 30 days is in 16-30, I4 at 31 in 31-45; I5 at 90 in 61-90; I6 at 91 in 90+.
    assert dict(report.totals.buckets) == {
        "current": D(150), "1-15": D(0), "16-30": D(200), "31-45": D(300),
        "46-60": D(0), "61-90": D(400), "90+": D(500)}
    assert report.grand_total == D(1350)


def test_aging_by_document_date_ignores_the_due_date():
    # Days since issue on 30 June 2024; due dates are deliberately all far in the future,
    # so on the due-date basis every one of these would be current.
    due = date(2024, 12, 31)
    items = [
        AgedItem("T0", "ACME", date(2024, 6, 30), due, D(10)),   #  0 days → 0-30
        AgedItem("T30", "ACME", date(2024, 5, 31), due, D(20)),  # 30 days → 0-30
        AgedItem("T31", "ACME", date(2024, 5, 30), due, D(40)),  # 31 days → 31-60
        AgedItem("T90", "ACME", date(2024, 4, 1), due, D(80)),   # 90 days → 61-90
        AgedItem("T91", "ACME", date(2024, 3, 31), due, D(160)),  # 91 days → 90+
        AgedItem("CN", "ACME", date(2024, 1, 5), due, D(-5), ItemKind.CREDIT_NOTE),
    ]
    report = age_items(items, AS_OF, basis=AgingBasis.DOCUMENT_DATE)
    assert report.labels == ("0-30", "31-60", "61-90", "90+")
    assert dict(report.totals.buckets) == {"0-30": D(30), "31-60": D(40), "61-90": D(80),
                                           "90+": D(160)}
    assert report.totals.unapplied == D(-5)
    assert dict(age_items(items, AS_OF).totals.buckets)["current"] == D(310)


def test_an_overpaid_invoice_is_a_credit_shown_as_unapplied():
    overpaid = invoice("I9", "ACME", date(2024, 1, 31), "-15")
    assert bucket_for(overpaid, AS_OF) == UNAPPLIED


def test_bad_items_are_refused():
    with pytest.raises(ValueError, match="positive open amount"):
        invoice("C2", "ACME", AS_OF, "80", ItemKind.CREDIT_NOTE)
    with pytest.raises(TypeError, match="not float"):
        AgedItem("I", "ACME", AS_OF, AS_OF, 100.0)  # type: ignore[arg-type]
    issued_later = AgedItem("I", "ACME", date(2024, 7, 1), date(2024, 7, 31), D(1))
    with pytest.raises(ValueError, match="after the as-of date"):
        age_items([issued_later], AS_OF)


# --- As-of aging: open items rebuilt from business-dated movements ---------------------------

OPENED, APPLIED, REVERSED = MovementKind.OPENED, MovementKind.APPLIED, MovementKind.REVERSED

# ACME: INV-1 1,000 issued 10 Jan, due 9 Feb; paid 400 on 20 Feb and 600 on 15 Mar.
#       INV-2   500 issued  1 Feb, due 2 Mar; credit note CN-1 (−100, issued 15 Feb)
#             applied to it on 1 Mar; the rest never paid.
# BOLT: INV-3   250 issued 20 Feb, due 21 Mar; cash of 250 received unapplied on 5 Mar
#             (CASH-1), applied to INV-3 on 20 Mar.
MOVEMENTS = [
    Movement("INV-1", date(2024, 1, 10), D(1000), OPENED, "ACME", date(2024, 2, 9)),
    Movement("INV-1", date(2024, 2, 20), D(-400), APPLIED),
    Movement("INV-1", date(2024, 3, 15), D(-600), APPLIED),
    Movement("INV-2", date(2024, 2, 1), D(500), OPENED, "ACME", date(2024, 3, 2)),
    Movement("CN-1", date(2024, 2, 15), D(-100), OPENED, "ACME",
             item_kind=ItemKind.CREDIT_NOTE),
    Movement("CN-1", date(2024, 3, 1), D(100), APPLIED),
    Movement("INV-2", date(2024, 3, 1), D(-100), APPLIED),
    Movement("INV-3", date(2024, 2, 20), D(250), OPENED, "BOLT", date(2024, 3, 21)),
    Movement("CASH-1", date(2024, 3, 5), D(-250), OPENED, "BOLT",
             item_kind=ItemKind.UNAPPLIED_CASH),
    Movement("CASH-1", date(2024, 3, 20), D(250), APPLIED),
    Movement("INV-3", date(2024, 3, 20), D(-250), APPLIED),
]


def open_on(as_of: date) -> dict[str, Decimal]:
    return {i.item_id: i.amount for i in reconstruct_open_items(MOVEMENTS, as_of)}


def test_open_amount_of_one_invoice_before_issue_between_and_after_payments():
    history = [m for m in MOVEMENTS if m.item_id == "INV-1"]
    assert open_amount_as_of(history, date(2024, 1, 9)) == D(0)      # not yet issued
    assert open_amount_as_of(history, date(2024, 1, 10)) == D(1000)  # issue day
    assert open_amount_as_of(history, date(2024, 2, 19)) == D(1000)  # overdue, unpaid
    assert open_amount_as_of(history, date(2024, 2, 20)) == D(600)   # partial payment
    assert open_amount_as_of(history, date(2024, 3, 14)) == D(600)
    assert open_amount_as_of(history, date(2024, 3, 15)) == D(0)     # settled
    assert open_amount_as_of(history, date(2025, 1, 1)) == D(0)


def test_open_items_as_of_past_dates():
    assert open_on(date(2024, 1, 9)) == {}
    assert open_on(date(2024, 1, 10)) == {"INV-1": D(1000)}
    assert open_on(date(2024, 2, 19)) == {"INV-1": D(1000), "INV-2": D(500), "CN-1": D(-100)}
    assert open_on(date(2024, 2, 20)) == {"INV-1": D(600), "INV-2": D(500), "CN-1": D(-100),
                                          "INV-3": D(250)}
    assert open_on(date(2024, 3, 5)) == {"INV-1": D(600), "INV-2": D(400), "INV-3": D(250),
                                         "CASH-1": D(-250)}
    assert open_on(date(2024, 3, 31)) == {"INV-2": D(400)}


def test_reconstructed_items_keep_their_header_and_age_as_of_that_date():
    items = reconstruct_open_items(MOVEMENTS, date(2024, 3, 5))
    # Sorted by customer, then document date: BOLT's invoice (20 Feb) before its cash (5 Mar).
    assert [i.item_id for i in items] == ["INV-1", "INV-2", "INV-3", "CASH-1"]
    cash = next(i for i in items if i.item_id == "CASH-1")
    assert (cash.kind, cash.document_date, cash.due_date) == (
        ItemKind.UNAPPLIED_CASH, date(2024, 3, 5), date(2024, 3, 5))
    report = age_items(items, date(2024, 3, 5))
    # INV-1 600 is 25 days past due, INV-2 400 is 3 days past due → 1-30 1,000;
    # INV-3 250 is due 21 Mar → current; CASH-1 −250 unapplied; net 1,000.
    assert dict(report.totals.buckets) == {"current": D(250), "1-30": D(1000), "31-60": D(0),
                                           "61-90": D(0), "90+": D(0)}
    assert report.totals.unapplied == D(-250)
    assert report.customer("BOLT").total == D(0)
    assert report.grand_total == D(1000)


def test_the_order_movements_arrive_in_does_not_matter_and_later_ones_are_ignored():
    shuffled = MOVEMENTS[:]
    random.Random(7).shuffle(shuffled)
    # A payment returned in April does not change what was open in February.
    returned = Movement("INV-1", date(2024, 4, 2), D(600), REVERSED)
    assert reconstruct_open_items(shuffled + [returned], date(2024, 2, 20)) == \
        reconstruct_open_items(MOVEMENTS, date(2024, 2, 20))
    assert {i.item_id: i.amount
            for i in reconstruct_open_items(shuffled + [returned], date(2024, 4, 2))} == {
        "INV-1": D(600), "INV-2": D(400)}


def test_movements_without_exactly_one_opening_are_refused():
    orphan = Movement("INV-9", date(2024, 2, 1), D(-10), APPLIED)
    with pytest.raises(ValueError, match="0 opening movements"):
        reconstruct_open_items(MOVEMENTS + [orphan], date(2024, 3, 1))
    twice = Movement("INV-1", date(2024, 1, 11), D(1000), OPENED, "ACME", date(2024, 2, 9))
    with pytest.raises(ValueError, match="2 opening movements"):
        reconstruct_open_items(MOVEMENTS + [twice], date(2024, 3, 1))
    with pytest.raises(ValueError, match="one item's history"):
        open_amount_as_of(MOVEMENTS, date(2024, 3, 1))
    with pytest.raises(ValueError, match="customer_id"):
        Movement("INV-8", date(2024, 1, 1), D(1), OPENED)


# --- The IBM sample: aging as of 2013-06-30 -------------------------------------------------


@pytest.fixture(scope="module")
def ibm_invoices(ibm_sample) -> list[dict]:
    return [{"id": i.invoice_number, "customer": i.customer_id, "issued": i.invoice_date,
             "due": i.due_date, "settled": i.settled_date, "amount": i.amount}
            for i in ibm_sample]


def test_ibm_aging_as_of_2013_06_30_rebuilt_from_issue_and_settle_dates(ibm_invoices):
    as_of = date(2013, 6, 30)
    movements = []
    for inv in ibm_invoices:
        movements.append(Movement(inv["id"], inv["issued"], inv["amount"], OPENED,
                                  inv["customer"], inv["due"]))
        movements.append(Movement(inv["id"], inv["settled"], -inv["amount"], APPLIED))
    report = age_items(reconstruct_open_items(movements, as_of), as_of)

    # Independent count: issued on or before 30 June 2013 and settled after it.
    direct = [inv for inv in ibm_invoices if inv["issued"] <= as_of < inv["settled"]]
    expected: dict[str, Decimal] = {label: D(0) for label in report.labels}
    for inv in direct:
        past_due = (as_of - inv["due"]).days
        label = ("current" if past_due <= 0 else "1-30" if past_due <= 30
                 else "31-60" if past_due <= 60 else "61-90" if past_due <= 90 else "90+")
        expected[label] += inv["amount"]

    assert report.totals.count == len(direct)
    assert report.grand_total == sum((inv["amount"] for inv in direct), D(0))
    assert dict(report.totals.buckets) == expected
    assert report.totals.unapplied == D(0)
    assert {row.customer_id for row in report.customers} == {inv["customer"] for inv in direct}
    # Pinned from our own count (not a SOURCES.md fact): 84 invoices, 5,119.85 open.
    assert (len(direct), report.grand_total) == (84, D("5119.85"))
