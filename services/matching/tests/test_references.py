"""Reading references the way payers write them: RF creditor references with their check
digits, invoice numbers with noise, and the one mistyped character."""

from __future__ import annotations

import pytest

from services.matching.references import (
    creditor_references,
    digit_key,
    number_candidates,
    one_edit_variants,
    reference_key,
    rf_check_digits,
    rf_is_valid,
    rf_reference,
    series_prefix,
)


def test_the_iso_11649_example_reference_validates_and_a_changed_character_does_not() -> None:
    assert rf_is_valid("RF18 5390 0754 7034")
    assert rf_is_valid("rf18539007547034")
    assert not rf_is_valid("RF18 5390 0754 7035")
    assert not rf_is_valid("RF81 5390 0754 7034")  # swapped check digits


def test_an_invoice_number_becomes_an_rf_reference_in_groups_of_four() -> None:
    reference = rf_reference("INV-000123")

    assert reference.startswith("RF") and reference.replace(" ", "").endswith("INV000123")
    assert all(len(group) == 4 for group in reference.split()[:-1])
    assert rf_is_valid(reference)
    assert rf_check_digits("539007547034") == "18"


def test_an_rf_reference_is_found_in_prose_with_spaces_dashes_and_words_after_it() -> None:
    written = rf_reference("INV-000123")

    [found] = creditor_references(f"PAYMENT {written.replace(' ', '-')} THANK YOU".upper())

    assert found.valid and found.body == "INV000123"


def test_an_rf_reference_with_a_typo_is_kept_but_marked_invalid() -> None:
    [found] = creditor_references("RF18 5390 0754 7035")

    assert not found.valid and found.body == "539007547035"


@pytest.mark.parametrize("written", ["INV-000123", "inv 123", "INV000123", "Inv-0123",
                                     "INV 000 123"])
def test_prefix_spaces_dashes_and_leading_zeros_do_not_change_the_reference(written: str) -> None:
    candidates = number_candidates(written.upper())

    assert any(candidate.reference_key == "INV123" for candidate in candidates)
    assert reference_key("INV-000123") == "INV123"
    assert (digit_key("INV-000123"), series_prefix("INV-000123")) == ("123", "INV")


def test_amounts_dates_and_order_numbers_are_not_taken_for_invoice_numbers() -> None:
    candidates = number_candidates("ORDER 4711 PAID 1.234,56 ON 20.03.2024 FOR 2024-03-01")

    assert [candidate.qualifier for candidate in candidates] == ["other"]


def test_words_before_a_number_say_what_it_numbers() -> None:
    [invoice] = number_candidates("RECHNUNG NR. 88123")
    [customer] = number_candidates("KD-NR 10234")

    assert (invoice.qualifier, invoice.digits) == ("invoice", "88123")
    assert customer.qualifier == "other"


def test_one_keystroke_away_covers_replaced_swapped_dropped_and_added_digits() -> None:
    variants = set(one_edit_variants("1234"))

    assert {"1235", "1324", "124", "12345"} <= variants
    assert "1234" not in variants
    assert one_edit_variants("1234") == one_edit_variants("1234")  # same order every time
