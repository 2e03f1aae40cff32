"""The credit rules as a credit controller reads them: worked examples of the risk score,
the order check and the account holds. Pure: no store, no broker."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.credit.domain import (
    AccountFacts,
    CreditPolicy,
    Exposure,
    GroupFacts,
    Limits,
    MissingRate,
    PaymentBehaviour,
    account_hold_conditions,
    assess_risk,
    check_order,
    net_days,
    risk_class_of,
    to_functional,
)

D = Decimal
TODAY = date(2026, 11, 20)
SINCE = date(2020, 1, 1)


def facts(exposure: str = "0", limit: str | None = "10000", overdue=None, risk_class="A",
          escalated=(), holds=(), terms=30) -> AccountFacts:
    return AccountFacts(exposure=Exposure(open_receivables=D(exposure)),
                        limit=None if limit is None else D(limit),
                        overdue_by_days=overdue or {}, risk_class=risk_class,
                        escalated_open=tuple(escalated), active_holds=tuple(holds),
                        payment_terms_days=terms)


def test_a_customer_paying_40_days_late_scores_worse_than_one_paying_on_time_and_says_why():
    on_time = assess_risk(PaymentBehaviour(settled_days_late=(0, -2, 0, 1, 0),
                                           customer_since=SINCE), TODAY)
    late = assess_risk(PaymentBehaviour(settled_days_late=(38, 42, 40, 41, 39),
                                        customer_since=SINCE), TODAY)
    # on time: 10 base + 0.2 (0.2 days late on average x 0.75) + 0.2 (the one late day was
    # recent: trend) - 5 (a customer for 6 years)
    assert on_time.score == D("5.4") and on_time.risk_class == "A"
    # 40 days late on average: 10 base + 30 (40 x 0.75) - 5 = 35 -> class B
    assert late.score == D("35.0") and late.risk_class == "B"
    assert late.score > on_time.score
    [beyond_terms] = [reason for reason in late.reasons if reason.factor == "days_beyond_terms"]
    assert beyond_terms.points == D("30.0")
    assert beyond_terms.explanation == "pays 40.0 days beyond terms on average (5 invoices)"


def test_a_worsening_trend_incidents_and_a_new_relationship_add_points():
    assessment = assess_risk(PaymentBehaviour(
        settled_days_late=(0, 0, 0, 20, 20, 20), open_days_overdue=(10,), disputes=1,
        returned_payments=1, broken_promises=4, customer_since=date(2026, 9, 1)), TODAY)
    points = {reason.factor: reason.points for reason in assessment.reasons}
    assert points == {"base": D(10), "days_beyond_terms": D("7.5"), "trend": D("10.0"),
                      "disputes": D(5), "returned_payments": D(10), "broken_promises": D(24),
                      "relationship_age": D(10)}
    assert assessment.score == D("76.5") and assessment.risk_class == "D"


def test_an_external_score_is_blended_in_at_its_weight():
    assessment = assess_risk(PaymentBehaviour(customer_since=SINCE), TODAY,
                             external_score=D(80), external_weight=D("0.25"))
    # internal 5 (10 base - 5 long relationship); 5 x 0.75 + 80 x 0.25 = 23.75 -> 23.8
    assert assessment.internal_score == D(5)
    assert assessment.score == D("23.8") and assessment.risk_class == "B"
    assert assessment.reasons[-1].factor == "external_score"
    assert assessment.reasons[-1].points == D("18.8")


@pytest.mark.parametrize("score,risk_class", [("0", "A"), ("19.9", "A"), ("20", "B"),
                                              ("59.9", "C"), ("79", "D"), ("100", "E")])
def test_risk_classes(score, risk_class):
    assert risk_class_of(D(score)) == risk_class


def test_an_order_within_the_limit_is_approved_with_the_share_of_the_limit_used():
    decision = check_order(D("1000"), None, facts(exposure="8000"), None, CreditPolicy())
    assert decision.approved
    assert (decision.exposure, decision.limit, decision.percent_used) == (
        D("9000.00"), D("10000"), D("90.00"))


def test_an_order_that_would_exceed_the_limit_is_held_saying_by_how_much():
    decision = check_order(D("2500"), None, facts(exposure="8000"), None, CreditPolicy())
    assert not decision.approved
    assert decision.held_by == (("over_limit", "exposure 10500.00 EUR with this order is over "
                                               "the limit 10000 EUR by 500.00 EUR"),)


def test_every_configured_rule_that_fires_is_named():
    policy = CreditPolicy(max_percent_used=D(80), overdue_days=30, overdue_amount=D(100),
                          hold_risk_classes=("D", "E"), max_payment_terms_days=45)
    decision = check_order(
        D("500"), 60, facts(exposure="8000", overdue={"INV-7": (31, D("400.00"))},
                            risk_class="D", holds=("escalated",)), None, policy)
    assert [rule for rule, _ in decision.held_by] == [
        "percent_used", "overdue", "risk_class", "payment_terms", "on_hold"]
    assert dict(decision.held_by)["overdue"] == "400.00 EUR overdue more than 30 days (INV-7)"


def test_overdue_below_the_tolerated_amount_does_not_hold():
    policy = CreditPolicy(overdue_days=30, overdue_amount=D(500))
    decision = check_order(D("10"), None, facts(overdue={"INV-7": (90, D("400.00"))}), None,
                           policy)
    assert decision.approved


def test_a_group_limit_holds_an_order_even_when_the_customer_has_room():
    group = GroupFacts("G-1", Exposure(open_receivables=D("19000")), D("20000"))
    decision = check_order(D("1500"), None, facts(exposure="1000"), group, CreditPolicy())
    assert [rule for rule, _ in decision.held_by] == ["group_over_limit"]


def test_no_limit_means_unlimited_unless_the_tenant_holds_such_orders():
    assert check_order(D("1"), None, facts(limit=None), None, CreditPolicy()).approved
    held = check_order(D("1"), None, facts(limit=None), None,
                       CreditPolicy(hold_without_limit=True))
    assert held.held_by == (("no_limit", "the customer has no credit limit"),)


def test_account_holds_fire_on_long_overdue_invoices_escalation_and_risk_class():
    conditions = account_hold_conditions(
        facts(overdue={"INV-1": (61, D("700.00")), "INV-2": (10, D("5.00"))},
              escalated=("INV-1",), risk_class="E"), CreditPolicy())
    assert conditions == {
        "overdue": "INV-1 overdue more than 60 days (700.00 EUR)",
        "escalated": "INV-1 handed over for collection",
        "risk_class": "risk class E"}
    assert account_hold_conditions(facts(overdue={"INV-1": (60, D("700"))}),
                                   CreditPolicy()) == {}


def test_a_temporary_limit_applies_until_it_expires():
    limits = Limits(permanent=D(1000), temporary=D(5000), temporary_from=date(2026, 11, 1),
                    temporary_until=date(2026, 11, 30))
    assert limits.effective(date(2026, 10, 31)) == D(1000)
    assert limits.effective(date(2026, 11, 30)) == D(5000)
    assert limits.effective(date(2026, 12, 1)) == D(1000)


def test_amounts_convert_with_the_published_rate_either_way_round():
    rates = {"USD/EUR": D("0.9")}
    assert to_functional(D("100"), "USD", "EUR", rates) == D("90.00")
    assert to_functional(D("90"), "EUR", "USD", rates) == D("100.00")
    with pytest.raises(MissingRate):
        to_functional(D("1"), "GBP", "EUR", rates)


@pytest.mark.parametrize("terms,days", [("net 30", 30), ("2/10 net 45", 45),
                                        ("due on receipt", 0), ("EOM+15", None), (None, None)])
def test_net_days(terms, days):
    assert net_days(terms) == days
