"""What is owed changes after issue, and dunning follows: an invoice corrected up or down
(to nothing: no longer chased), a payment that came back (the invoice is owed again and
dunning resumes it where it stood), and fees billed as debit notes, which are owed and
chased like invoices.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from libs.events import LateFeeAssessed, Money, ReminderSent
from services.dunning.api import worklist_entry

from .given import TENANT, Dunning, case_invoice, day, levels


@pytest.fixture
def dunning() -> Dunning:
    return Dunning()


def worklist(dunning: Dunning, today: date) -> list[str]:
    dunning.views.catch_up()
    return [entry["customer_id"] for row in dunning.views.store.cases(TENANT)
            if (entry := worklist_entry(row, today)) is not None]


# --- adjustments -------------------------------------------------------------------------


def test_the_letter_after_an_adjustment_asks_for_the_new_amount(dunning: Dunning) -> None:
    dunning.customer()
    dunning.invoice("INV-000001", "1210.00")
    dunning.run(day(0))

    dunning.adjustment("INV-000001", "-210.00", on=day(3), new_total="1000.00")
    dunning.run(day(7))

    [_, first_letter] = dunning.published(ReminderSent)
    assert first_letter.invoices[0].open_amount == Money.of("1000.00", "EUR")
    [letter] = [letter for letter in dunning.letters() if letter["level_name"] == "first_letter"]
    assert "EUR 1,000.00" in letter["body"] and "1,210.00" not in letter["body"]
    interest = dunning.published(LateFeeAssessed)[0]
    # on the corrected principal: 1,000.00 x 10.15% x 7 / 365 = 1.9465... -> 1.95
    assert interest.amount == Money.of("1.95", "EUR")


def test_an_invoice_adjusted_to_nothing_is_no_longer_chased(dunning: Dunning) -> None:
    dunning.customer()
    dunning.invoice("INV-000001", "1210.00")
    dunning.run(day(0))

    dunning.adjustment("INV-000001", "-1210.00", on=day(2))
    for offset in (7, 21, 35, 49):
        dunning.run(day(offset))

    assert [name for _, name, _ in levels(dunning)] == ["reminder"]
    assert worklist(dunning, day(8)) == []


def test_an_adjustment_up_on_a_paid_invoice_makes_it_owed_again(dunning: Dunning) -> None:
    dunning.customer()
    dunning.invoice("INV-000001", "1210.00")
    dunning.payment("INV-000001", "1210.00", on=day(-3))

    dunning.adjustment("INV-000001", "121.00", on=day(5), new_total="1331.00")
    dunning.run(day(5))

    [reminder] = dunning.published(ReminderSent)
    assert (reminder.sent_on, reminder.invoices[0].open_amount) == (
        day(5), Money.of("121.00", "EUR"))


def test_an_adjustment_delivered_twice_counts_once(dunning: Dunning) -> None:
    dunning.customer()
    dunning.invoice("INV-000001", "1210.00")

    dunning.adjustment("INV-000001", "-210.00", on=day(3))
    dunning.adjustment("INV-000001", "-210.00", on=day(3))  # re-published, same id

    assert case_invoice(dunning, "INV-000001").open_amount == Decimal("1000.00")


# --- reversed applications -----------------------------------------------------------------


def test_a_returned_payment_reopens_the_invoice_at_its_level_with_the_next_step_from_now(
        dunning: Dunning) -> None:
    dunning.customer()
    dunning.invoice("INV-000001", "1210.00")
    dunning.run(day(0))
    dunning.run(day(7))                                       # first letter
    dunning.payment("INV-000001", "1210.00", on=day(10), application_id="app-1")
    assert worklist(dunning, day(20)) == []

    dunning.reversal("app-1", "INV-000001", "1210.00", on=day(30))   # the bank returned it
    for offset in range(21, 44):
        dunning.run(day(offset))
    assert [name for _, name, _ in levels(dunning)] == ["reminder", "first_letter"]
    dunning.run(day(44))

    # The second letter 14 days after the reversal, not 14 days after the first letter.
    assert levels(dunning)[-1] == ("2026-03-17", "second_letter", ["INV-000001"])
    assert worklist(dunning, day(31)) == ["C-1"]
    invoice = case_invoice(dunning, "INV-000001")
    assert (invoice.open_amount, invoice.settled_on) == (Decimal("1210.00"), None)
    second_letter = dunning.published(ReminderSent)[-1]
    assert second_letter.invoices[0].open_amount == Money.of("1210.00", "EUR")
    # Interest runs as if it had never been paid: 1,210.00 x 10.15% x 44 / 365 = 14.805...
    # -> 14.81, of which 2.36 was charged with the first letter.
    assert dunning.published(LateFeeAssessed)[-1].amount == Money.of("12.45", "EUR")


def test_a_payment_reversed_before_the_due_date_leaves_the_schedule_as_it_was(
        dunning: Dunning) -> None:
    dunning.customer()
    dunning.invoice("INV-000001", "1210.00")
    dunning.payment("INV-000001", "1210.00", on=day(-10), application_id="app-1")

    dunning.reversal("app-1", "INV-000001", "1210.00", on=day(-5))
    dunning.run(day(-1))
    dunning.run(day(0))

    assert levels(dunning) == [("2026-02-01", "reminder", ["INV-000001"])]


def test_a_reversal_delivered_twice_or_of_an_unknown_application_changes_nothing(
        dunning: Dunning) -> None:
    dunning.customer()
    dunning.invoice("INV-000001", "1210.00")
    dunning.payment("INV-000001", "1000.00", on=day(2), application_id="app-1")

    dunning.reversal("app-1", "INV-000001", "1000.00", on=day(4))
    dunning.reversal("app-1", "INV-000001", "1000.00", on=day(4))    # re-published
    dunning.reversal("app-unknown", "INV-000001", "500.00", on=day(4))

    assert case_invoice(dunning, "INV-000001").open_amount == Decimal("1210.00")


# --- debit notes ---------------------------------------------------------------------------


def test_a_fee_billed_as_a_debit_note_is_dunned_once_overdue_without_fees_of_its_own(
        dunning: Dunning) -> None:
    dunning.customer()
    dunning.invoice("INV-000001", "1210.00")
    dunning.run(day(0))
    dunning.run(day(7))                        # first letter: interest and the indemnity
    dunning.debit_note("DN-000001", "40.00", issued=day(7), due=day(14))

    for offset in (13, 14, 20, 21):
        dunning.run(day(offset))

    assert levels(dunning) == [
        ("2026-02-01", "reminder", ["INV-000001"]),
        ("2026-02-08", "first_letter", ["INV-000001"]),
        ("2026-02-15", "reminder", ["DN-000001"]),      # falls due unpaid: reminded
        ("2026-02-22", "first_letter", ["DN-000001"]),
        ("2026-02-22", "second_letter", ["INV-000001"]),
    ]
    fees_charged_on = {fee.invoice_number for fee in dunning.published(LateFeeAssessed)}
    assert fees_charged_on == {"INV-000001"}  # no interest on interest, no second indemnity
    note = dunning.app.case(TENANT, "C-1").invoice_by_number("DN-000001")
    assert (note.kind, note.open_amount) == ("debit_note", Decimal("40.00"))


def test_a_paid_debit_note_is_not_chased(dunning: Dunning) -> None:
    dunning.customer()
    dunning.debit_note("DN-000001", "40.00", issued=day(7), due=day(14))
    dunning.payment("DN-000001", "40.00", on=day(12))  # matched like an invoice

    dunning.run(day(14))

    assert dunning.letters() == []
