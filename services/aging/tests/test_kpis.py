"""Receivables KPIs: hand-worked textbook examples, then the IBM sample's published facts.

Every example writes its arithmetic in the comment so a reviewer can redo it on paper.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest

from services.aging.buckets import AgingBuckets
from services.aging.kpis import (
    Period,
    PeriodSales,
    SettledInvoice,
    TrendPoint,
    UndefinedKPI,
    amount_weighted_days_late,
    amount_weighted_days_to_settle,
    ar_turnover,
    ar_turnover_days,
    average_days_delinquent,
    average_days_late,
    average_days_to_settle,
    bad_debt_ratio,
    best_possible_dso,
    collection_effectiveness_index,
    days_late,
    days_to_settle,
    dso_countback,
    dso_standard,
    is_paid_on_time,
    months,
    percent_amount_paid_on_time,
    percent_paid_on_time,
    quarters,
    trend,
)

D = Decimal


# --- DSO, best possible DSO, ADD --------------------------------------------------------------


def test_standard_dso_of_a_quarter():
    # AR 120,000 at quarter end, 360,000 credit sales over 90 days:
    # 120,000 / 360,000 = 1/3; 1/3 × 90 = 30.00 days.
    assert dso_standard(D(120_000), D(360_000), 90) == D("30.00")


def test_dso_is_rounded_half_up_to_a_hundredth_of_a_day_and_can_be_left_exact():
    # 1 / 8 × 1 = 0.125 day: half-up gives 0.13 (half-even would give 0.12).
    assert dso_standard(D(1), D(8), 1) == D("0.13")
    assert dso_standard(D(1), D(8), 1, quantum=None) == D("0.125")
    assert dso_standard(D(1), D(8), 1, quantum=D("0.1")) == D("0.1")
    # 100 / 300 × 31 = 10.3333… → 10.33
    assert dso_standard(D(100), D(300), 31) == D("10.33")


def test_countback_dso_walks_back_through_three_months():
    # Q1 2023: January 31 days, 50,000 sales; February 28 days, 35,000; March 31 days, 40,000.
    # AR at 31 March: 95,000.
    #   March:    95,000 ≥ 40,000 → 31 days,  55,000 left
    #   February: 55,000 ≥ 35,000 → +28 days, 20,000 left   (59 days)
    #   January:  20,000 < 50,000 → +20,000 / 50,000 × 31 = +12.4 days
    # Countback DSO = 71.40 days.
    sales = [
        PeriodSales(Period.month(2023, 1), D(50_000)),
        PeriodSales(Period.month(2023, 2), D(35_000)),
        PeriodSales(Period.month(2023, 3), D(40_000)),
    ]
    assert dso_countback(D(95_000), sales) == D("71.40")
    # The order the months come in does not matter; only the calendar does.
    assert dso_countback(D(95_000), list(reversed(sales))) == D("71.40")
    # For comparison, the standard method over the same quarter (90 days, 125,000 sales):
    # 95,000 / 125,000 × 90 = 68.40 days. Back-loaded March sales are what make them differ.
    assert dso_standard(D(95_000), D(125_000), Period.quarter(2023, 1).days) == D("68.40")


def test_countback_that_exhausts_the_ar_exactly_at_a_month_boundary():
    # AR 75,000 = March 40,000 + February 35,000 → 31 + 28 = 59.00 days, January untouched.
    sales = [PeriodSales(Period.month(2023, m), D(s))
             for m, s in ((1, 50_000), (2, 35_000), (3, 40_000))]
    assert dso_countback(D(75_000), sales) == D("59.00")
    assert dso_countback(D(0), sales) == D("0.00")


def test_countback_counts_the_leap_day_and_months_without_sales_in_full():
    # AR 30,000 at 31 March 2024. March 20,000 → 31 days, 10,000 left;
    # February 2024 (29 days) had no sales → +29 days; January 40,000:
    # 10,000 / 40,000 × 31 = 7.75 → 31 + 29 + 7.75 = 67.75 days.
    sales = [PeriodSales(Period.month(2024, 1), D(40_000)),
             PeriodSales(Period.month(2024, 2), D(0)),
             PeriodSales(Period.month(2024, 3), D(20_000))]
    assert dso_countback(D(30_000), sales) == D("67.75")


def test_countback_refuses_too_little_history_and_gaps():
    march = PeriodSales(Period.month(2023, 3), D(40_000))
    january = PeriodSales(Period.month(2023, 1), D(50_000))
    with pytest.raises(UndefinedKPI, match="more history"):
        dso_countback(D(95_000), [march])
    with pytest.raises(ValueError, match="contiguous"):
        dso_countback(D(10_000), [january, march])


def test_best_possible_dso_and_average_days_delinquent():
    # Same quarter as the standard example: AR 120,000 of which 80,000 is not yet due,
    # credit sales 360,000, 90 days.
    #   DSO       = 120,000 / 360,000 × 90 = 30.00
    #   Best DSO  =  80,000 / 360,000 × 90 = 20.00
    #   ADD       = 30.00 − 20.00          = 10.00  (= past-due 40,000 / 360,000 × 90)
    assert best_possible_dso(D(80_000), D(360_000), 90) == D("20.00")
    assert average_days_delinquent(D(120_000), D(80_000), D(360_000), 90) == D("10.00")


def test_add_is_computed_from_unrounded_parts():
    # AR 100, current 50, sales 300, 31 days:
    #   DSO 10.333…, best 5.1666…, ADD = 50 / 300 × 31 = 5.1666… → 5.17.
    # Subtracting the rounded parts (10.33 − 5.17) would give 5.16.
    assert average_days_delinquent(D(100), D(50), D(300), 31) == D("5.17")


# --- CEI, turnover, bad debt ------------------------------------------------------------------


def test_collection_effectiveness_index():
    # Beginning AR 100,000; credit sales 300,000; ending AR 120,000, of which 80,000 current.
    #   collected   = 100,000 + 300,000 − 120,000 = 280,000
    #   collectible = 100,000 + 300,000 −  80,000 = 320,000
    #   CEI = 280,000 / 320,000 × 100 = 87.50 %
    assert collection_effectiveness_index(D(100_000), D(300_000), D(120_000),
                                          D(80_000)) == D("87.50")
    # Everything collectible collected: the ending AR is all current → 100.00 %.
    assert collection_effectiveness_index(D(100_000), D(300_000), D(80_000),
                                          D(80_000)) == D("100.00")


def test_ar_turnover_and_its_days():
    # Credit sales 1,200,000 over 365 days; AR 100,000 at the start, 140,000 at the end.
    #   average AR = (100,000 + 140,000) / 2 = 120,000
    #   turnover   = 1,200,000 / 120,000     = 10.00 times
    #   days       = 365 / 10                = 36.50 days
    assert ar_turnover(D(1_200_000), D(100_000), D(140_000)) == D("10.00")
    assert ar_turnover_days(D(1_200_000), D(100_000), D(140_000), 365) == D("36.50")
    # Sales 1,000,000: turnover 8.333… → 8.33 times; days from the unrounded turnover:
    # 365 / 8.333… = 43.80 (365 / 8.33 would give 43.82).
    assert ar_turnover(D(1_000_000), D(100_000), D(140_000)) == D("8.33")
    assert ar_turnover_days(D(1_000_000), D(100_000), D(140_000), 365) == D("43.80")


def test_bad_debt_ratio():
    # 4,500 written off against 360,000 credit sales: 4,500 / 360,000 = 0.0125 (1.25 %).
    assert bad_debt_ratio(D(4_500), D(360_000)) == D("0.0125")


def test_undefined_kpis_say_so_and_floats_are_refused():
    with pytest.raises(UndefinedKPI, match="no credit sales"):
        dso_standard(D(1_000), D(0), 30)
    with pytest.raises(UndefinedKPI):
        collection_effectiveness_index(D(0), D(0), D(0), D(0))
    with pytest.raises(UndefinedKPI):
        ar_turnover(D(1_000), D(0), D(0))
    with pytest.raises(UndefinedKPI):
        average_days_late([])
    with pytest.raises(TypeError, match="not float"):
        dso_standard(120_000.0, D(360_000), 90)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="days in period"):
        dso_standard(D(1), D(1), 0)


# --- Settlement: days to settle, days late, paid on time ------------------------------------

# Four invoices issued 1 January 2024, due 31 January 2024 (net 30):
#   A 100 settled 20 Jan → 19 days to settle,  0 late, on time
#   B 300 settled 10 Feb → 40 days to settle, 10 late
#   C 200 settled 31 Jan → 30 days to settle,  0 late, on time (paid on the due date)
#   D 400 settled  1 Mar → 60 days to settle (31 + 29, leap February), 30 late
SETTLED = [
    SettledInvoice("A", date(2024, 1, 1), date(2024, 1, 31), date(2024, 1, 20), D(100)),
    SettledInvoice("B", date(2024, 1, 1), date(2024, 1, 31), date(2024, 2, 10), D(300)),
    SettledInvoice("C", date(2024, 1, 1), date(2024, 1, 31), date(2024, 1, 31), D(200)),
    SettledInvoice("D", date(2024, 1, 1), date(2024, 1, 31), date(2024, 3, 1), D(400)),
]


def test_days_to_settle_and_days_late_per_invoice():
    assert [days_to_settle(i) for i in SETTLED] == [19, 40, 30, 60]
    assert [days_late(i) for i in SETTLED] == [0, 10, 0, 30]
    assert [is_paid_on_time(i) for i in SETTLED] == [True, False, True, False]


def test_percent_paid_on_time_by_count_and_by_amount():
    # By count: A and C of 4 → 50.00 %. By amount: (100 + 200) / 1,000 → 30.00 %.
    assert percent_paid_on_time(SETTLED) == D("50.00")
    assert percent_amount_paid_on_time(SETTLED) == D("30.00")


def test_average_days_to_settle_and_days_late_simple_and_amount_weighted():
    # Days to settle: (19 + 40 + 30 + 60) / 4 = 149 / 4 = 37.25
    #   weighted: (100×19 + 300×40 + 200×30 + 400×60) / 1,000 = 43,900 / 1,000 = 43.90
    # Days late:  (0 + 10 + 0 + 30) / 4 = 10.00
    #   weighted: (300×10 + 400×30) / 1,000 = 15,000 / 1,000 = 15.00
    assert average_days_to_settle(SETTLED) == D("37.25")
    assert amount_weighted_days_to_settle(SETTLED) == D("43.90")
    assert average_days_late(SETTLED) == D("10.00")
    assert amount_weighted_days_late(SETTLED) == D("15.00")


# --- Periods and trends -----------------------------------------------------------------------


def test_periods_count_real_calendar_days():
    assert Period.month(2024, 2).days == 29
    assert Period.month(2023, 2).days == 28
    assert Period.quarter(2024, 1) == Period(date(2024, 1, 1), date(2024, 3, 31))
    assert Period.quarter(2024, 1).days == 91
    assert Period.quarter(2023, 4).days == 92
    assert Period.rolling(date(2024, 3, 31), 90) == Period(date(2024, 1, 2), date(2024, 3, 31))
    assert Period.rolling(date(2024, 3, 31), 90).days == 90
    assert [str(p) for p in months(date(2023, 11, 15), date(2024, 2, 3))] == [
        "2023-11-01..2023-11-30", "2023-12-01..2023-12-31",
        "2024-01-01..2024-01-31", "2024-02-01..2024-02-29"]
    assert quarters(date(2023, 12, 31), date(2024, 4, 1)) == (
        Period.quarter(2023, 4), Period.quarter(2024, 1), Period.quarter(2024, 2))
    with pytest.raises(ValueError):
        Period(date(2024, 2, 1), date(2024, 1, 31))


def test_a_monthly_dso_trend_leaves_a_month_without_sales_undefined():
    # January: AR 31,000, sales 62,000 over 31 days → 15.50
    # February: no sales → undefined (None), the trend goes on
    # March:   AR 40,000, sales 31,000 over 31 days → 40.00
    ending_ar = {1: D(31_000), 2: D(35_000), 3: D(40_000)}
    sales = {1: D(62_000), 2: D(0), 3: D(31_000)}
    points = trend(months(date(2024, 1, 1), date(2024, 3, 31)),
                   lambda p: dso_standard(ending_ar[p.start.month], sales[p.start.month], p.days))
    assert points == (TrendPoint(Period.month(2024, 1), D("15.50")),
                      TrendPoint(Period.month(2024, 2), None),
                      TrendPoint(Period.month(2024, 3), D("40.00")))


# --- The IBM "Accounts Receivable" sample (see shared/data/SOURCES.md) ------------------------


@pytest.fixture(scope="module")
def ibm_invoices(ibm_sample) -> list[SettledInvoice]:
    return [SettledInvoice(invoice_id=i.invoice_number, invoice_date=i.invoice_date,
                           due_date=i.due_date, settled_date=i.settled_date, amount=i.amount)
            for i in ibm_sample]


def test_ibm_days_to_settle_and_days_late_match_the_dataset_on_every_row(ibm_sample, ibm_invoices):
    mismatches = [
        row.invoice_number for row, inv in zip(ibm_sample, ibm_invoices, strict=True)
        if days_to_settle(inv) != row.days_to_settle or days_late(inv) != row.days_late
    ]
    assert mismatches == []
    # The leap-day and year-end rows SOURCES.md singles out.
    by_number = {i.invoice_id: i for i in ibm_invoices}
    assert by_number["0360452276"].due_date == date(2012, 2, 29)
    assert days_late(by_number["0055416013"]) == 17


def test_ibm_means_and_amount_weighted_days_late(ibm_invoices):
    # SOURCES.md gives these to 4 decimals; ask for that precision.
    four = D("0.0001")
    assert average_days_to_settle(ibm_invoices, quantum=four) == D("26.4448")
    assert average_days_late(ibm_invoices, quantum=four) == D("3.4424")
    assert amount_weighted_days_late(ibm_invoices, quantum=four) == D("3.5711")


def test_ibm_totals_late_invoices_and_days_late_distribution(ibm_invoices):
    assert sum((i.amount for i in ibm_invoices), D(0)) == D("147703.18")
    late = [i for i in ibm_invoices if days_late(i) > 0]
    assert len(late) == 877
    assert sum((i.amount for i in late), D(0)) == D("53960.78")
    # On time by count is then the other 1,589 of 2,466: 64.436… → 64.44 %.
    assert percent_paid_on_time(ibm_invoices) == D("64.44")
    # The distribution uses the aging buckets "30,60": 0 days late falls in "current".
    distribution = Counter(AgingBuckets.from_spec("30,60").label_for_days(days_late(i))
                           for i in ibm_invoices)
    assert distribution == {"current": 1589, "1-30": 869, "31-60": 8}


def test_ibm_quarterly_standard_dso_trend_against_a_direct_computation(ibm_invoices):
    # AR at quarter end = invoices issued on or before it and settled after it;
    # sales = invoices issued in the quarter. Checked against the formula written out.
    def ar_at(day: date) -> Decimal:
        return sum((i.amount for i in ibm_invoices
                    if i.invoice_date <= day < i.settled_date), D(0))

    def sales_in(period: Period) -> Decimal:
        return sum((i.amount for i in ibm_invoices if period.contains(i.invoice_date)), D(0))

    periods = quarters(date(2012, 1, 1), date(2013, 12, 31))
    points = trend(periods, lambda p: dso_standard(ar_at(p.end), sales_in(p), p.days))
    assert len(points) == 8
    for point in points:
        p = point.period
        expected = (ar_at(p.end) / sales_in(p) * p.days).quantize(D("0.01"),
                                                                   rounding=ROUND_HALF_UP)
        assert point.value == expected
    # 2013 Q2: AR 5,119.85 open at 30 June 2013 (the same figure the as-of aging reconstructs).
    assert ar_at(date(2013, 6, 30)) == D("5119.85")
