"""Dunning policies and late-payment fees, by worked example.

Statutory interest (Directive 2011/7/EU): simple interest at the ECB reference rate of the
half-year plus the tenant's margin (8 points by default), actual/365, from the day after
the due date, on each day's unpaid balance, summed exactly and rounded once, half up.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.dunning.domain import (
    HIGH_RISK,
    KEY_ACCOUNT,
    STANDARD,
    Action,
    FeeRule,
    InvoiceState,
    MissingReferenceRate,
    TenantSettings,
    assess_fees,
    choose_policy,
    collection_priority,
    interest_periods,
    reference_rate,
    statutory_interest,
)

D = Decimal
RATES = TenantSettings().reference_rates
EIGHT = D("8.00")


def interest(principal: str, due: date, through: date, payments=(), margin: Decimal = EIGHT,
             currency: str = "EUR") -> Decimal:
    return statutory_interest(D(principal), [(day, D(amount)) for day, amount in payments], due,
                              through, RATES, margin, currency)


def invoice(total: str = "1210.00", due: date = date(2026, 2, 1), currency: str = "EUR") -> InvoiceState:
    return InvoiceState("inv-1", "INV-000001", currency, D(total), date(2026, 1, 2), due, D(total))


# --- the reference rate -----------------------------------------------------------------


def test_the_reference_rate_is_the_one_in_force_on_the_first_day_of_the_half_year() -> None:
    assert reference_rate(date(2024, 3, 15), RATES) == (date(2024, 1, 1), D("4.50"))
    assert reference_rate(date(2024, 7, 1), RATES) == (date(2024, 7, 1), D("4.25"))
    assert reference_rate(date(2024, 12, 31), RATES) == (date(2024, 7, 1), D("4.25"))
    assert reference_rate(date(2025, 1, 1), RATES) == (date(2025, 1, 1), D("3.15"))


def test_a_half_year_the_tenant_has_not_entered_yet_uses_the_latest_earlier_rate() -> None:
    assert reference_rate(date(2026, 2, 10), RATES) == (date(2025, 7, 1), D("2.15"))


def test_a_date_before_the_whole_table_has_no_rate() -> None:
    with pytest.raises(MissingReferenceRate, match="half-year from 2019-01-01"):
        reference_rate(date(2019, 5, 1), RATES)


# --- statutory interest, worked examples --------------------------------------------------


def test_thirty_days_in_one_half_year() -> None:
    # 1,000.00 x (4.50 + 8)% x 30 / 365 = 10.2739... -> 10.27
    assert interest("1000.00", date(2024, 3, 31), date(2024, 4, 30)) == D("10.27")


def test_interest_starts_the_day_after_the_due_date_and_includes_the_last_day() -> None:
    [period] = interest_periods(D("1000.00"), [], date(2024, 3, 31), date(2024, 4, 30), RATES, EIGHT)

    assert (period.first_day, period.last_day, period.days) == (date(2024, 4, 1), date(2024, 4, 30), 30)
    assert period.annual_rate == D("12.50")
    assert interest("1000.00", date(2024, 3, 31), date(2024, 3, 31)) == D("0.00")


def test_a_period_across_two_half_years_uses_each_half_years_rate() -> None:
    # 15 days (16-30 June) at 12.50% + 15 days (1-15 July) at 12.25%:
    # 1,000 x (0.125 x 15 + 0.1225 x 15) / 365 = 10.1712... -> 10.17
    periods = interest_periods(D("1000.00"), [], date(2024, 6, 15), date(2024, 7, 15), RATES, EIGHT)

    assert [(p.first_day, p.last_day, p.annual_rate) for p in periods] == [
        (date(2024, 6, 16), date(2024, 6, 30), D("12.50")),
        (date(2024, 7, 1), date(2024, 7, 15), D("12.25"))]
    assert interest("1000.00", date(2024, 6, 15), date(2024, 7, 15)) == D("10.17")


def test_the_total_is_rounded_once_half_up_to_the_cent() -> None:
    # 365.00 x 12.5% x 1 / 365 = 0.125 exactly: half up gives 0.13 (banker's would give 0.12)
    assert interest("365.00", date(2024, 3, 31), date(2024, 4, 1)) == D("0.13")


def test_a_partial_payment_stops_interest_on_what_it_paid_from_its_value_date() -> None:
    # 1-10 April on 1,000.00, 11-30 April on 400.00, at 12.5%:
    # (1,000 x 10 + 400 x 20) x 0.125 / 365 = 6.1643... -> 6.16
    assert interest("1000.00", date(2024, 3, 31), date(2024, 4, 30),
                    payments=[(date(2024, 4, 11), "600.00")]) == D("6.16")


def test_no_interest_runs_once_the_invoice_is_paid_in_full() -> None:
    assert interest("1000.00", date(2024, 3, 31), date(2024, 4, 30),
                    payments=[(date(2024, 4, 11), "1000.00")]) == \
        interest("1000.00", date(2024, 3, 31), date(2024, 4, 10))


def test_the_margin_is_the_tenants_setting() -> None:
    # France adds 10 points: 1,000 x 14.5% x 30 / 365 = 11.9178... -> 11.92
    assert interest("1000.00", date(2024, 3, 31), date(2024, 4, 30), margin=D("10")) == D("11.92")


def test_actual_365_counts_the_29th_of_february_as_a_day_of_a_365th() -> None:
    # 29 February and 1 March: 1,000 x 12.5% x 2 / 365 = 0.6849... -> 0.68
    assert interest("1000.00", date(2024, 2, 28), date(2024, 3, 1)) == D("0.68")


def test_amounts_round_to_the_currencys_minor_unit() -> None:
    # 100,000 JPY x 10.15% x 10 / 365 = 278.08... -> 278
    assert interest("100000", date(2026, 1, 31), date(2026, 2, 10), currency="JPY") == D("278")


# --- fees a letter charges -----------------------------------------------------------------


def test_the_first_letter_charges_interest_to_date_and_the_eur_40_indemnity() -> None:
    first_letter = STANDARD.level(2)

    fees = assess_fees(invoice("1210.00"), first_letter, date(2026, 2, 8), TenantSettings())

    interest_fee, indemnity = fees
    # 1,210.00 x (2.15 + 8)% x 7 / 365 = 2.3553... -> 2.36
    assert (interest_fee.kind, interest_fee.amount, interest_fee.currency) == (
        FeeRule.STATUTORY_INTEREST, D("2.36"), "EUR")
    assert (interest_fee.interest_from, interest_fee.interest_to, interest_fee.annual_rate) == (
        date(2026, 2, 2), date(2026, 2, 8), D("10.15"))
    assert "ECB reference rate 2.15% of 2025-07-01 + 8.00 points" in interest_fee.explanation
    assert (indemnity.kind, indemnity.amount) == (FeeRule.RECOVERY_INDEMNITY, D("40.00"))
    assert "art. 6" in indemnity.explanation


def test_a_later_letter_charges_only_the_interest_not_charged_before() -> None:
    unpaid = invoice("1210.00")
    settings = TenantSettings()
    [first, _] = assess_fees(unpaid, STANDARD.level(2), date(2026, 2, 8), settings)
    unpaid.interest_charged, unpaid.interest_charged_through = first.amount, first.interest_to
    unpaid.indemnity_charged = True

    [second] = assess_fees(unpaid, STANDARD.level(3), date(2026, 2, 22), settings)

    # 21 days in all: 1,210.00 x 10.15% x 21 / 365 = 7.066... -> 7.07, of which 2.36 charged
    assert second.amount == D("4.71") == D("7.07") - first.amount
    assert (second.interest_from, second.interest_to) == (date(2026, 2, 9), date(2026, 2, 22))


def test_the_indemnity_is_charged_once_per_invoice_and_only_where_the_tenant_has_an_amount() -> None:
    charged = invoice()
    charged.indemnity_charged = True
    in_dollars = invoice(currency="USD")
    first_letter = STANDARD.level(2)

    assert [fee.kind for fee in assess_fees(charged, first_letter, date(2026, 2, 8), TenantSettings())] == [
        FeeRule.STATUTORY_INTEREST]
    assert [fee.kind for fee in assess_fees(in_dollars, first_letter, date(2026, 2, 8), TenantSettings())] == [
        FeeRule.STATUTORY_INTEREST]


def test_a_tenant_without_statutory_interest_charges_the_indemnity_alone() -> None:
    settings = TenantSettings(statutory_interest=False)

    fees = assess_fees(invoice(), STANDARD.level(2), date(2026, 2, 8), settings)

    assert [(fee.kind, fee.amount) for fee in fees] == [(FeeRule.RECOVERY_INDEMNITY, D("40.00"))]


def test_a_dunning_fee_is_charged_per_letter_where_the_tenant_sets_one() -> None:
    settings = TenantSettings(statutory_interest=False, recovery_indemnity=(),
                              dunning_fee=(("EUR", D("7.50")),))

    fees = assess_fees(invoice(), STANDARD.level(3), date(2026, 2, 22), settings)

    assert [(fee.kind, fee.amount) for fee in fees] == [(FeeRule.DUNNING_FEE, D("7.50"))]


def test_the_reminder_charges_nothing() -> None:
    assert assess_fees(invoice(), STANDARD.level(1), date(2026, 2, 1), TenantSettings()) == []


# --- policies -----------------------------------------------------------------------------


def test_the_standard_policy_reminds_on_the_due_date_then_writes_after_a_7_day_grace() -> None:
    assert [(level.name, level.action, level.delay_days) for level in STANDARD.levels] == [
        ("reminder", Action.REMINDER, 0), ("first_letter", Action.LETTER, 7),
        ("second_letter", Action.LETTER, 14), ("final_notice", Action.FINAL_NOTICE, 14),
        ("escalation", Action.ESCALATION, 14)]


def test_the_policy_follows_the_customers_segment_and_risk_class() -> None:
    settings = TenantSettings()

    assert choose_policy("standard", "unrated", settings) is STANDARD
    assert choose_policy("key_account", "low", settings) is KEY_ACCOUNT
    assert choose_policy("key_account", "high", settings) is HIGH_RISK  # risk comes first
    assert choose_policy("retail", "medium", TenantSettings(
        policy_by_segment=(("retail", "high_risk"),))) is HIGH_RISK


# --- the collector's priorities ------------------------------------------------------------


def test_priority_weighs_amount_age_risk_and_broken_promises() -> None:
    priority = collection_priority(D("10000.00"), 45, "high", 1)

    # 10 x log10(1 + 10,000 / 100) = 20.04; 45 / 3 = 15; high risk 20; one broken promise 15
    assert (priority.amount_points, priority.age_points, priority.risk_points,
            priority.broken_promise_points) == (D("20.04"), D("15.00"), D("20"), D("15"))
    assert priority.score == D("70.04")


def test_each_part_of_the_priority_is_capped() -> None:
    priority = collection_priority(D("1E+12"), 900, "low", 5)

    assert (priority.amount_points, priority.age_points, priority.broken_promise_points) == (
        D("40"), D("30"), D("30"))
