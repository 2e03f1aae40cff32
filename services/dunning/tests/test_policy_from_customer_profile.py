"""The dunning policy follows the customer's profile: the segment and risk class the ERP
keeps on the customer master, the risk class credit scores from payment behaviour, and a
collector's override. A change reaches the next step of open invoices, never the letters
already sent.

Precedence, most specific first: risk class = collector's override > credit's score >
customer master > unrated; segment = collector's override > customer master > standard.
"""

from __future__ import annotations

import pytest

from libs.events import LateFeeAssessed, ReminderSent
from services.dunning.application import ConfigureDunning, SetProfile
from services.dunning.domain import HIGH_RISK, KEY_ACCOUNT, STANDARD, standing_in

from .given import COLLECTOR, TENANT, Dunning, day, levels


@pytest.fixture
def dunning() -> Dunning:
    return Dunning()


def policy_of(dunning: Dunning, customer_id: str = "C-1") -> str:
    case = dunning.app.case(TENANT, customer_id)
    return case.snapshot(dunning.app.settings_of(TENANT)).policy


def test_a_customer_the_erp_calls_a_key_account_gets_the_key_account_levels(
        dunning: Dunning) -> None:
    dunning.customer(segment="Key-Account")  # the ERP's spelling of the tenant's key_account
    dunning.invoice()

    for offset in range(0, 18):
        dunning.run(day(offset))

    assert levels(dunning) == [("2026-02-04", "reminder", ["INV-000001"]),      # 3 days' grace
                               ("2026-02-18", "first_letter", ["INV-000001"])]  # 14 days later
    assert dunning.published(LateFeeAssessed) == []  # no fees for a key account
    assert dunning.app.case(TENANT, "C-1").profile_sources() == {
        "segment": "customer_master", "risk_class": "default"}


def test_a_segment_the_tenant_maps_to_a_policy_gets_that_policys_levels(dunning: Dunning) -> None:
    dunning.app.configure(ConfigureDunning(policy_by_segment={"retail": "high_risk"}), COLLECTOR)
    dunning.customer("C-1", segment="retail")
    dunning.customer("C-2", segment="wholesale")  # no policy of its own: standard
    dunning.invoice("INV-000001", customer_id="C-1")
    dunning.invoice("INV-000002", customer_id="C-2")

    for offset in (0, 3, 7):
        dunning.run(day(offset))

    assert levels(dunning, "C-1") == [("2026-02-01", "reminder", ["INV-000001"]),
                                      ("2026-02-04", "first_letter", ["INV-000001"])]
    assert levels(dunning, "C-2") == [("2026-02-01", "reminder", ["INV-000002"]),
                                      ("2026-02-08", "first_letter", ["INV-000002"])]


def test_the_erps_own_risk_class_e_chooses_the_high_risk_policy(dunning: Dunning) -> None:
    dunning.customer(risk_class="E", collector="anna")

    assert policy_of(dunning) == HIGH_RISK.name
    assert dunning.app.case(TENANT, "C-1").collector == "anna"


def test_a_risk_score_changed_to_class_d_makes_the_next_step_stricter(dunning: Dunning) -> None:
    dunning.customer(risk_class="B")
    dunning.invoice("INV-000001", "1210.00")
    dunning.run(day(0))                           # the standard reminder

    dunning.risk_score("D", "71", on=day(1))     # credit: pays far beyond terms lately
    for offset in range(1, 18):
        dunning.run(day(offset))

    assert levels(dunning) == [
        ("2026-02-01", "reminder", ["INV-000001"]),       # sent before: stays as it was
        ("2026-02-04", "first_letter", ["INV-000001"]),   # high risk: 3 days, not 7
        ("2026-02-11", "final_notice", ["INV-000001"]),   # no second letter at high risk
    ]
    assert [letter.pay_by for letter in dunning.published(ReminderSent)] == [
        day(7), day(3 + 5), day(10 + 7)]
    assert dunning.app.case(TENANT, "C-1").profile_sources()["risk_class"] == "credit"


def test_a_better_score_brings_back_the_gentler_policy_for_the_next_step(dunning: Dunning) -> None:
    dunning.customer()
    dunning.invoice("INV-000001", "1210.00")
    dunning.risk_score("E", "90", on=day(-5))
    dunning.run(day(0))
    dunning.run(day(3))                           # high-risk first letter

    dunning.risk_score("B", "20", on=day(4))
    for offset in range(4, 18):
        dunning.run(day(offset))

    # Standard again: its second letter 14 days after the first, not a final notice after 7.
    assert levels(dunning) == [("2026-02-01", "reminder", ["INV-000001"]),
                               ("2026-02-04", "first_letter", ["INV-000001"]),
                               ("2026-02-18", "second_letter", ["INV-000001"])]


def test_credit_overrides_the_erps_class_and_a_collector_overrides_both(dunning: Dunning) -> None:
    dunning.customer(segment="key_account", risk_class="A")
    assert policy_of(dunning) == KEY_ACCOUNT.name

    dunning.risk_score("D", "75", on=day(0))
    assert policy_of(dunning) == HIGH_RISK.name

    dunning.app.set_profile("C-1", SetProfile(risk_class="B"), COLLECTOR)
    assert policy_of(dunning) == KEY_ACCOUNT.name      # the collector knows the customer
    assert dunning.app.case(TENANT, "C-1").profile_sources() == {
        "segment": "customer_master", "risk_class": "collector"}

    dunning.app.set_profile("C-1", SetProfile(), COLLECTOR)  # the override withdrawn
    assert policy_of(dunning) == HIGH_RISK.name

    dunning.app.set_profile("C-1", SetProfile(segment="standard", risk_class="low"), COLLECTOR)
    assert policy_of(dunning) == STANDARD.name


def test_a_customer_master_upsert_without_a_profile_withdraws_the_erps_profile(
        dunning: Dunning) -> None:
    dunning.customer(segment="key_account", risk_class="E")
    dunning.customer()  # the ERP cleared both fields

    case = dunning.app.case(TENANT, "C-1")
    assert (case.segment, case.risk_class, policy_of(dunning)) == ("standard", "unrated",
                                                                   STANDARD.name)


@pytest.mark.parametrize("reached, action, old_policy_level, new_policy, standing", [
    # The same step by name: the invoice stands where it stood.
    ("first_letter", "letter", 2, HIGH_RISK, 2),
    ("first_letter", "letter", 2, STANDARD, 2),
    # A step the new policy lacks: its last step of no later stage.
    ("second_letter", "letter", 3, HIGH_RISK, 2),     # next: the final notice
    ("second_letter", "letter", 3, KEY_ACCOUNT, 2),
    # A final notice stays a final notice: the next step is the hand-over, in any policy.
    ("final_notice", "final_notice", 4, KEY_ACCOUNT, 3),
    ("final_notice", "final_notice", 3, STANDARD, 4),
    (None, None, 0, HIGH_RISK, 0),
])
def test_an_invoice_keeps_the_stage_it_reached_when_the_policy_changes(
        reached: str | None, action: str | None, old_policy_level: int, new_policy,
        standing: int) -> None:  # noqa: ANN001
    assert standing_in(new_policy, reached, action, old_policy_level) == standing
