"""Invoice totals: line nets rounded per line, tax rounded once per rate (EN 16931)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from libs.events.money import MINOR_UNITS, Money
from services.invoicing.totals import (
    InvalidInvoiceLine,
    LineItem,
    TotalsDoNotAddUp,
    check_declared_totals,
    compute_totals,
)

D = Decimal
STANDARD, REDUCED, ZERO = D("0.21"), D("0.09"), D("0")


def line(quantity: str, unit_price: str, tax_rate: Decimal = STANDARD, discount: str = "0") -> LineItem:
    return LineItem(D(quantity), D(unit_price), tax_rate, D(discount))


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


# --- the rule, case by case --------------------------------------------------------


def test_a_single_line_invoice() -> None:
    totals = compute_totals([line("3", "19.99")], "EUR")

    assert (totals.net, totals.tax, totals.total) == (eur("59.97"), eur("12.59"), eur("72.56"))
    assert totals.tax_by_rate == {D("0.21"): eur("12.59")}
    assert [(one.net_amount, one.tax_amount) for one in totals.lines] == [(eur("59.97"), eur("12.59"))]


@pytest.mark.parametrize(
    ("story", "lines", "net", "tax", "tax_if_rounded_per_line"),
    [
        (
            "three lines of 0.07 at 21%: 0.21 x 0.21 = 0.0441 -> 0.04, per line 3 x 0.01",
            [line("1", "0.07")] * 3,
            "0.21", "0.04", "0.03",
        ),
        (
            "five lines of 0.10 at 21%: 0.50 x 0.21 = 0.105 -> 0.11, per line 5 x 0.02",
            [line("1", "0.10")] * 5,
            "0.50", "0.11", "0.10",
        ),
        (
            "three lines of 0.10 at 21%: 0.063 -> 0.06, here both ways agree",
            [line("1", "0.10")] * 3,
            "0.30", "0.06", "0.06",
        ),
    ],
)
def test_tax_is_rounded_once_per_rate_not_per_line(
    story: str, lines: list[LineItem], net: str, tax: str, tax_if_rounded_per_line: str
) -> None:
    totals = compute_totals(lines, "EUR")

    assert (totals.net, totals.tax) == (eur(net), eur(tax)), story
    per_line = sum(
        ((one.quantity * one.unit_price * one.tax_rate).quantize(D("0.01")) for one in lines), D(0)
    )
    assert per_line == D(tax_if_rounded_per_line), story
    assert sum((one.tax_amount for one in totals.lines), eur("0")) == totals.tax, story


def test_an_invoice_at_two_tax_rates_is_taxed_per_rate() -> None:
    # A Dutch grocery wholesale invoice: food at 9%, non-food at 21%.
    lines = [
        line("12", "1.15", REDUCED),   # 13.80
        line("7", "2.49", STANDARD),   # 17.43
        line("5", "0.99", REDUCED),    #  4.95
        line("3", "4.35", STANDARD),   # 13.05
    ]

    totals = compute_totals(lines, "EUR")

    # 9%:  (13.80 + 4.95) x 0.09 = 1.6875  -> 1.69
    # 21%: (17.43 + 13.05) x 0.21 = 6.4008 -> 6.40
    assert totals.net_by_rate == {D("0.09"): eur("18.75"), D("0.21"): eur("30.48")}
    assert totals.tax_by_rate == {D("0.09"): eur("1.69"), D("0.21"): eur("6.40")}
    assert list(totals.tax_by_rate) == [D("0.09"), D("0.21")]
    assert (totals.net, totals.tax, totals.total) == (eur("49.23"), eur("8.09"), eur("57.32"))
    # Each line's allocated share of its rate's tax; the shares add up to the rate's tax.
    assert [one.tax_amount for one in totals.lines] == [eur("1.24"), eur("3.66"), eur("0.45"), eur("2.74")]


@pytest.mark.parametrize(
    ("story", "item", "net"),
    [
        ("10% off 4 x 25.00", line("4", "25.00", discount="10"), "90.00"),
        ("12.5% off 3 x 9.99 = 26.22375 -> 26.22", line("3", "9.99", discount="12.5"), "26.22"),
        ("a free line (100% off) stays on the invoice at zero", line("2", "15.00", discount="100"), "0.00"),
        ("no discount", line("2", "15.00"), "30.00"),
    ],
)
def test_a_line_discount_reduces_the_line_net_before_rounding(story: str, item: LineItem, net: str) -> None:
    assert compute_totals([item], "EUR").lines[0].net_amount == eur(net), story


def test_yen_invoices_round_to_whole_yen() -> None:
    # 3 x 333.5 = 1000.5 -> 1001; tax 1001 x 0.10 = 100.1 -> 100
    totals = compute_totals([line("3", "333.5", D("0.10")), line("1", "1999", D("0.08"))], "JPY")

    assert totals.lines[0].net_amount == Money.of("1001", "JPY")
    assert totals.tax_by_rate == {D("0.08"): Money.of("160", "JPY"), D("0.1"): Money.of("100", "JPY")}
    assert (totals.net, totals.tax, totals.total) == (
        Money.of("3000", "JPY"), Money.of("260", "JPY"), Money.of("3260", "JPY"),
    )
    assert totals.total.amount.as_tuple().exponent == 0


@pytest.mark.parametrize(
    ("story", "currency", "item", "net", "tax"),
    [
        ("net exactly half a cent rounds up: 1 x 0.125 -> 0.13", "EUR",
         line("1", "0.125", ZERO), "0.13", "0.00"),
        ("half-even would give 0.12 here; half-up gives 0.13: 5 x 0.025", "EUR",
         line("5", "0.025", ZERO), "0.13", "0.00"),
        ("tax exactly half a cent rounds up: 0.50 x 0.21 = 0.105 -> 0.11", "EUR",
         line("1", "0.50"), "0.50", "0.11"),
        ("tax 2.50 x 0.21 = 0.525 -> 0.53 (half-even would say 0.52)", "EUR",
         line("1", "2.50"), "2.50", "0.53"),
        ("just below half stays down: 1 x 0.12499", "EUR", line("1", "0.12499", ZERO), "0.12", "0.00"),
        ("three decimals: 1 x 0.0125 KWD -> 0.013", "KWD", line("1", "0.0125", ZERO), "0.013", "0.000"),
    ],
)
def test_half_a_minor_unit_rounds_up(story: str, currency: str, item: LineItem, net: str, tax: str) -> None:
    totals = compute_totals([item], currency)

    assert (totals.net, totals.tax) == (Money.of(net, currency), Money.of(tax, currency)), story


def test_large_quantities_keep_every_cent() -> None:
    # 2.5 billion units at 0.0004999 = 1,249,750.00; more than 28 significant digits
    # of intermediate product would be silently rounded by Decimal's default context.
    totals = compute_totals(
        [
            line("2500000000", "0.0004999"),
            line("123456789012345678.9", "98765.4321", ZERO),
        ],
        "EUR",
    )

    assert totals.lines[0].net_amount == eur("1249750.00")
    # 123456789012345678.9 x 98765.4321 = 12193263112482853211126.35269: 28 digits before rounding
    assert totals.lines[1].net_amount == eur("12193263112482853211126.35")
    assert totals.tax == eur("262447.50")
    assert totals.total == totals.net + totals.tax


def test_line_taxes_add_up_to_the_rate_tax_by_largest_remainder() -> None:
    # Lines of 0.07, 0.07, 0.08 at 21%: exact shares 0.0147, 0.0147, 0.0168; the rate's tax
    # is 0.22 x 0.21 = 0.0462 -> 0.05. Rounded down the shares give 0.03, so the two missing
    # cents go to the largest remainders: the 0.08 line (0.0068), then the first 0.07 line
    # (a tie with the second: the earlier line wins).
    totals = compute_totals([line("1", "0.07"), line("1", "0.07"), line("1", "0.08")], "EUR")

    assert totals.tax == eur("0.05")
    assert [one.tax_amount for one in totals.lines] == [eur("0.02"), eur("0.01"), eur("0.02")]


def test_lines_are_numbered_by_position_unless_the_issuer_numbered_them() -> None:
    totals = compute_totals(
        [LineItem(D("1"), D("1.00"), STANDARD, line_no=10), line("1", "2.00")], "EUR"
    )

    assert [one.line_no for one in totals.lines] == [10, 2]


def test_any_object_with_quantity_price_and_rate_can_be_totalled() -> None:
    class OrderLine:  # like the ERP's OrderLine: no discount field
        def __init__(self, line_no: int, quantity: str, unit_price: str) -> None:
            self.line_no, self.quantity, self.unit_price = line_no, D(quantity), D(unit_price)
            self.tax_rate = STANDARD

    totals = compute_totals([OrderLine(1, "2", "10.00"), OrderLine(2, "1", "5.00")], "eur")

    assert totals.currency == "EUR"
    assert totals.total == eur("30.25")


def test_an_invoice_without_lines_totals_zero() -> None:
    totals = compute_totals([], "EUR")

    assert (totals.net, totals.tax, totals.total, totals.tax_by_rate) == (eur("0"), eur("0"), eur("0"), {})


# --- what is refused --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("story", "second_line", "message"),
    [
        ("a negative quantity (returns are credit notes)", line("-1", "10.00"),
         "line 2: quantity must not be negative, got -1"),
        ("a negative price", line("1", "-10.00"), "line 2: unit price must not be negative, got -10.00"),
        ("a tax rate given as a percentage", line("1", "10.00", D("21")),
         r"line 2: tax rate must be a fraction between 0 and 1 \(0.21 for 21%\), got 21"),
        ("a negative tax rate", line("1", "10.00", D("-0.01")), "line 2: tax rate must be a fraction"),
        ("a discount over 100%", line("1", "10.00", discount="101"),
         "line 2: discount must be between 0 and 100 percent, got 101"),
        ("a negative discount", line("1", "10.00", discount="-5"), "line 2: discount must be between 0 and 100"),
        ("a float price", LineItem(D("1"), 10.1, STANDARD),  # type: ignore[arg-type]
         "line 2: unit price must be a Decimal, int or decimal string, not float"),
        ("a NaN quantity", LineItem(D("NaN"), D("1"), STANDARD), "line 2: quantity .* is not a finite"),
        ("a price that is not a number", LineItem(D("1"), "ten", STANDARD),  # type: ignore[arg-type]
         "line 2: unit price 'ten' is not a finite decimal number"),
        ("an absurd quantity", LineItem(D("1E+250"), D("1"), STANDARD), "line 2: .* too large to price"),
    ],
)
def test_a_line_that_cannot_be_priced_is_refused_by_number(
    story: str, second_line: LineItem, message: str
) -> None:
    with pytest.raises(InvalidInvoiceLine, match=message) as refused:
        compute_totals([line("1", "10.00"), second_line], "EUR")

    assert refused.value.line_no == 2, story


def test_the_issuers_own_line_number_is_named() -> None:
    with pytest.raises(InvalidInvoiceLine, match="line 30: quantity") as refused:
        compute_totals([LineItem(D("-2"), D("1"), STANDARD, line_no=30)], "EUR")

    assert refused.value.line_no == 30


@pytest.mark.parametrize("currency", ["XYZ", "EURO", "", "BTC"])
def test_an_unknown_currency_is_refused(currency: str) -> None:
    with pytest.raises(InvalidInvoiceLine, match="not an active ISO 4217 currency code"):
        compute_totals([line("1", "1.00")], currency)


# --- totals declared by the ERP ------------------------------------------------------------


ERP_LINES = [line("1", "0.07")] * 3  # net 0.21, tax 0.04 per rate (0.03 if the ERP rounded per line)


def test_declared_totals_that_match_are_accepted_and_the_computed_totals_returned() -> None:
    totals = check_declared_totals(ERP_LINES, "EUR", eur("0.21"), eur("0.04"), eur("0.25"))

    assert totals.total == eur("0.25")


def test_plain_decimals_are_read_in_the_invoice_currency() -> None:
    assert check_declared_totals(ERP_LINES, "EUR", D("0.21"), D("0.04"), D("0.25")).tax == eur("0.04")


def test_an_erp_that_rounds_tax_per_line_is_caught() -> None:
    with pytest.raises(TotalsDoNotAddUp) as caught:
        check_declared_totals(ERP_LINES, "EUR", eur("0.21"), eur("0.03"), eur("0.24"))

    assert str(caught.value) == (
        "invoice totals do not add up: "
        "declared tax 0.03 EUR but the lines give 0.04 EUR (difference -0.01, tolerance 0); "
        "declared total 0.24 EUR but the lines give 0.25 EUR (difference -0.01, tolerance 0)"
    )


def test_a_tolerance_accepts_a_cent_of_difference_in_each_figure() -> None:
    totals = check_declared_totals(
        ERP_LINES, "EUR", eur("0.21"), eur("0.03"), eur("0.24"), tolerance=D("0.01")
    )

    assert totals.tax == eur("0.04")


def test_declared_figures_must_add_up_among_themselves_whatever_the_tolerance() -> None:
    with pytest.raises(TotalsDoNotAddUp, match=r"declared net 0.22 \+ declared tax 0.04 is 0.26 EUR, "
                                                r"not the declared total 0.25 EUR"):
        check_declared_totals(ERP_LINES, "EUR", eur("0.22"), eur("0.04"), eur("0.25"), tolerance=D("0.01"))


def test_declared_totals_in_another_currency_do_not_add_up() -> None:
    with pytest.raises(TotalsDoNotAddUp, match="declared net is in USD but the invoice is in EUR"):
        check_declared_totals(ERP_LINES, "EUR", Money.of("0.21", "USD"), eur("0.04"), eur("0.25"))


@pytest.mark.parametrize("tolerance", [D("-0.01"), 0.01])
def test_a_tolerance_must_be_a_non_negative_decimal(tolerance) -> None:
    with pytest.raises(ValueError, match="tolerance"):
        check_declared_totals(ERP_LINES, "EUR", eur("0.21"), eur("0.04"), eur("0.25"), tolerance=tolerance)


# --- properties over random invoices ------------------------------------------------------


def _amounts(max_value: str, places: int) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=D(0), max_value=D(max_value), places=places, allow_nan=False,
                       allow_infinity=False)


_LINES = st.lists(
    st.builds(
        LineItem,
        quantity=_amounts("100000", 3),
        unit_price=_amounts("1000000", 4),
        tax_rate=st.sampled_from([D("0"), D("0.05"), D("0.07"), D("0.09"), D("0.1"), D("0.19"),
                                  D("0.21"), D("0.255"), D("1")]),
        discount_percent=st.one_of(st.just(D(0)), _amounts("100", 2)),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(lines=_LINES, currency=st.sampled_from(["EUR", "JPY", "KWD", "CLF"]))
def test_totals_always_add_up(lines: list[LineItem], currency: str) -> None:
    totals = compute_totals(lines, currency)
    zero = Money.zero(currency)

    assert totals.total == totals.net + totals.tax
    assert sum((one.net_amount for one in totals.lines), zero) == totals.net
    assert sum((one.tax_amount for one in totals.lines), zero) == totals.tax
    assert sum(totals.tax_by_rate.values(), zero) == totals.tax
    for rate, rate_tax in totals.tax_by_rate.items():
        at_rate = [one for one in totals.lines if one.tax_rate == rate]
        assert sum((one.tax_amount for one in at_rate), zero) == rate_tax
        # Each line's share is within one minor unit of its exact share.
        unit = D(1).scaleb(-MINOR_UNITS[currency])
        for one in at_rate:
            assert abs(one.tax_amount.amount - one.net_amount.amount * rate) < unit
    for amount in (totals.net, totals.tax, totals.total, *(one.tax_amount for one in totals.lines)):
        assert amount.amount >= 0
        assert amount.amount == amount.amount.quantize(D(1).scaleb(-MINOR_UNITS[currency]))


# --- an order shipped in parts -----------------------------------------------------------
#
# Each shipment is its own invoice, totalled under the rule on what it shipped. The parts
# add up to what one invoice for the whole order would have said when every line net is a
# whole number of cents; otherwise each part rounds on its own, and a person comparing
# order and invoices sees why.


@pytest.mark.parametrize(
    ("story", "unit_price", "tax_rate", "parts", "part_totals", "whole_total"),
    [
        ("10 x 19.99 at 21% shipped 4 + 6: the parts add up to the whole",
         "19.99", STANDARD, ["4", "6"], ["96.75", "145.13"], "241.88"),
        ("tax per invoice: three shipments of one 0.07 at 21% owe 0.01 tax each, one invoice "
         "for the three would owe 0.04", "0.07", STANDARD, ["1", "1", "1"],
         ["0.08", "0.08", "0.08"], "0.25"),
        ("a half-cent price: 3 x 0.125 is 0.38 at once but 0.13 per part shipped singly",
         "0.125", ZERO, ["1", "1", "1"], ["0.13", "0.13", "0.13"], "0.38"),
        ("the same half-cent price shipped 1 + 2 adds up again", "0.125", ZERO, ["1", "2"],
         ["0.13", "0.25"], "0.38"),
    ],
)
def test_each_shipment_of_an_order_is_totalled_on_what_it_shipped(
    story: str, unit_price: str, tax_rate: Decimal, parts: list[str], part_totals: list[str],
    whole_total: str,
) -> None:
    shipped = [compute_totals([line(quantity, unit_price, tax_rate)], "EUR").total
               for quantity in parts]
    ordered = sum((D(quantity) for quantity in parts), D(0))

    assert shipped == [eur(total) for total in part_totals], story
    assert compute_totals([line(str(ordered), unit_price, tax_rate)], "EUR").total == eur(
        whole_total), story
