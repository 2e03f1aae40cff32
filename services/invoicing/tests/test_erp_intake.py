"""The ERP's events in, given-when-then: terms (per customer, per order), partial
shipments, cancelled orders, invoices the ERP issued itself, and what each invoice is
worth in the tenant's functional currency."""

from __future__ import annotations

from datetime import date

import pytest

from libs.events import (
    ExchangeRatePublished,
    InvoiceIssued,
    Money,
    OrderCancelled,
    OrderPlaced,
)
from libs.runtime.causation import Causation
from services.invoicing.application import InvoicingApplication
from services.invoicing.documents import Invoice
from services.invoicing.domain import Customer, InvoiceNumberSeries
from services.invoicing.intake import ErpInputRefused

from .builders import (
    ACME,
    D,
    Offsets,
    customer,
    erp_invoice,
    eur,
    invoicing_app,
    line,
    published,
    shipment,
    stored,
)


def invoices(app: InvoicingApplication) -> list[InvoiceIssued]:
    return published(app, InvoiceIssued)


def rate(day: date, from_currency: str, to_currency: str, value: str) -> ExchangeRatePublished:
    return ExchangeRatePublished(rate_date=day, from_currency=from_currency,
                                 to_currency=to_currency, rate=value)


# --- payment terms -------------------------------------------------------------------


def test_a_customer_on_2_10_net_30_gets_the_discount_date_and_amount_on_the_invoice(
        invoicing: InvoicingApplication, at: Offsets) -> None:
    invoicing.upsert_customer(customer(terms="2/10 net 30", language="nl"), ACME,
                              at("erp.customers"))

    invoicing.invoice_shipment(shipment(shipped_on=date(2024, 1, 25), po_number="PO-77"), ACME,
                               at("erp.orders"))

    [invoice] = invoices(invoicing)
    assert (invoice.payment_terms, invoice.payment_terms_days) == ("2/10 net 30", 30)
    assert (invoice.issue_date, invoice.due_date) == (date(2024, 1, 25), date(2024, 2, 24))
    assert (invoice.discount_date, invoice.discount_amount) == (date(2024, 2, 4), eur("2.42"))
    assert (invoice.po_number, invoice.customer_language) == ("PO-77", "nl")


def test_end_of_month_terms_give_a_due_date_and_no_net_days(
        invoicing: InvoicingApplication, at: Offsets) -> None:
    invoicing.upsert_customer(customer(terms="EOM+15"), ACME, at("erp.customers"))

    invoicing.invoice_shipment(shipment(shipped_on=date(2024, 2, 10)), ACME, at("erp.orders"))

    [invoice] = invoices(invoicing)
    assert (invoice.payment_terms, invoice.payment_terms_days) == ("EOM+15", None)
    assert invoice.due_date == date(2024, 3, 15)  # Feb 29 (leap year) + 15
    assert invoice.discount_date is None


def test_terms_given_as_days_still_work_and_read_as_net_terms(
        invoicing: InvoicingApplication, at: Offsets) -> None:
    master = customer().model_copy(update={"payment_terms": None, "payment_terms_days": 14})
    invoicing.upsert_customer(master, ACME, at("erp.customers"))

    invoicing.invoice_shipment(shipment(), ACME, at("erp.orders"))

    assert invoicing.repository.get(Customer.create_id("acme", "C-1")).payment_terms == "net 14"
    assert invoices(invoicing)[0].due_date == date(2024, 3, 15)


def test_the_order_terms_override_the_customers_for_that_order_only(
        invoicing: InvoicingApplication, at: Offsets) -> None:
    invoicing.upsert_customer(customer(terms="net 30"), ACME, at("erp.customers"))

    invoicing.invoice_shipment(shipment(order_id="O-1", payment_terms="net 60"), ACME,
                               at("erp.orders"))
    invoicing.invoice_shipment(shipment(order_id="O-2"), ACME, at("erp.orders"))

    assert [(i.order_id, i.payment_terms, i.due_date) for i in invoices(invoicing)] == [
        ("O-1", "net 60", date(2024, 4, 30)), ("O-2", "net 30", date(2024, 3, 31))]


def test_a_placed_order_lends_its_po_number_and_terms_to_its_shipments_unless_they_say_otherwise(
        invoicing: InvoicingApplication, at: Offsets) -> None:
    invoicing.upsert_customer(customer(terms="net 30"), ACME, at("erp.customers"))
    invoicing.place_order(OrderPlaced(order_id="O-1", customer_id="C-1",
                                      ordered_on=date(2024, 2, 20), currency="EUR",
                                      po_number="PO-9", payment_terms="1.5/15 EOM+30",
                                      lines=(line(quantity="10"),)), ACME, at("erp.orders"))

    invoicing.invoice_shipment(shipment(shipment_id="S-1", shipped_on=date(2024, 1, 15)),
                               ACME, at("erp.orders"))
    invoicing.invoice_shipment(shipment(shipment_id="S-2", payment_terms="net 10",
                                        po_number="PO-9-B"), ACME, at("erp.orders"))

    first, second = invoices(invoicing)
    assert (first.po_number, first.payment_terms, first.due_date) == (
        "PO-9", "1.5/15 EOM+30", date(2024, 3, 1))
    assert (first.discount_date, first.discount_amount) == (date(2024, 1, 30), eur("1.82"))
    assert (second.po_number, second.payment_terms) == ("PO-9-B", "net 10")


@pytest.mark.parametrize(("where", "send"), [
    ("customer C-1", lambda app, at: app.upsert_customer(customer(terms="net thirty"), ACME,
                                                          at("erp.customers"))),
    ("shipment S-1 of order O-1", lambda app, at: app.invoice_shipment(
        shipment(payment_terms="2/40 net 30"), ACME, at("erp.orders"))),
])
def test_terms_the_platform_cannot_read_are_refused_naming_whose_they_are(
        invoicing: InvoicingApplication, at: Offsets, where: str, send) -> None:
    with pytest.raises(ErpInputRefused, match=where):
        send(invoicing, at)

    assert invoices(invoicing) == []


# --- partial shipments ---------------------------------------------------------------


def test_each_shipment_of_an_order_invoices_what_it_shipped(
        invoicing: InvoicingApplication, at: Offsets) -> None:
    invoicing.upsert_customer(customer(), ACME, at("erp.customers"))
    invoicing.place_order(OrderPlaced(order_id="O-1", customer_id="C-1",
                                      ordered_on=date(2024, 2, 20), currency="EUR",
                                      lines=(line(quantity="10"),)), ACME, at("erp.orders"))

    invoicing.invoice_shipment(shipment(shipment_id="S-1", lines=(line(quantity="4"),)), ACME,
                               at("erp.orders"))
    invoicing.invoice_shipment(shipment(shipment_id="S-2", shipped_on=date(2024, 3, 8),
                                        lines=(line(quantity="6"),)), ACME, at("erp.orders"))

    assert [(i.invoice_number, i.shipment_id, i.lines[0].quantity, i.total, i.issue_date)
            for i in invoices(invoicing)] == [
        ("INV-000001", "S-1", D("4"), eur("242.00"), date(2024, 3, 1)),
        ("INV-000002", "S-2", D("6"), eur("363.00"), date(2024, 3, 8))]


# --- cancelled orders ----------------------------------------------------------------


def test_a_shipment_made_after_its_order_was_cancelled_is_refused_and_nothing_is_invoiced(
        invoicing: InvoicingApplication, at: Offsets) -> None:
    invoicing.upsert_customer(customer(), ACME, at("erp.customers"))
    invoicing.cancel_order(OrderCancelled(order_id="O-1", customer_id="C-1",
                                          cancelled_on=date(2024, 2, 28),
                                          reason="customer withdrew"), ACME, at("erp.orders"))

    with pytest.raises(ErpInputRefused, match=r"order O-1 was cancelled on 2024-02-28 "
                                              r"\(customer withdrew\), but shipment S-1 says "
                                              r"it shipped on 2024-03-01"):
        invoicing.invoice_shipment(shipment(shipped_on=date(2024, 3, 1)), ACME, at("erp.orders"))

    assert invoices(invoicing) == []


def test_a_cancellation_after_a_shipment_leaves_the_shipped_goods_invoiced(
        invoicing: InvoicingApplication, at: Offsets) -> None:
    invoicing.upsert_customer(customer(), ACME, at("erp.customers"))
    invoicing.invoice_shipment(shipment(shipment_id="S-1"), ACME, at("erp.orders"))

    cancellation = OrderCancelled(order_id="O-1", customer_id="C-1",
                                  cancelled_on=date(2024, 3, 5), reason="rest out of stock")
    invoicing.cancel_order(cancellation, ACME, at("erp.orders"))
    invoicing.cancel_order(cancellation, ACME, at("erp.orders"))  # re-sent
    # A shipment that left before the cancellation, reported late, is still invoiced.
    invoicing.invoice_shipment(shipment(shipment_id="S-2", shipped_on=date(2024, 3, 4)), ACME,
                               at("erp.orders"))

    assert [(i.shipment_id, i.invoice_number) for i in invoices(invoicing)] == [
        ("S-1", "INV-000001"), ("S-2", "INV-000002")]


# --- invoices the ERP issued ---------------------------------------------------------


def test_an_erp_invoice_is_recorded_as_issued_under_the_erps_number(
        invoicing: InvoicingApplication, at: Offsets) -> None:
    invoicing.upsert_customer(customer(language="de"), ACME, at("erp.customers"))

    invoicing.record_erp_invoice(
        erp_invoice("90001234", issue_date=date(2024, 3, 1), due_date=date(2024, 4, 15),
                    payment_terms="Zahlbar in 45 Tagen", order_id="O-9", po_number="PO-1",
                    discount_date=date(2024, 3, 11), discount_amount=eur("3.63")),
        ACME, at("erp.orders"))

    [invoice] = invoices(invoicing)
    assert (invoice.issued_by, invoice.invoice_number, invoice.order_id, invoice.po_number) == (
        "erp", "90001234", "O-9", "PO-1")
    assert (invoice.issue_date, invoice.due_date, invoice.payment_terms) == (
        date(2024, 3, 1), date(2024, 4, 15), "Zahlbar in 45 Tagen")
    assert (invoice.discount_date, invoice.discount_amount) == (date(2024, 3, 11), eur("3.63"))
    assert (invoice.total, invoice.customer_language) == (eur("121.00"), "de")
    # The platform's own numbering is untouched.
    assert not invoicing.exists(InvoiceNumberSeries.create_id("acme", "INV"))
    assert invoicing.invoice_by_number("acme", "90001234").issued_by == "erp"


def test_the_same_erp_invoice_sent_twice_is_recorded_once(
        invoicing: InvoicingApplication, at: Offsets) -> None:
    invoicing.upsert_customer(customer(), ACME, at("erp.customers"))

    invoicing.record_erp_invoice(erp_invoice("90001234"), ACME, at("erp.orders"))
    invoicing.record_erp_invoice(erp_invoice("90001234"), ACME, at("erp.orders"))

    assert [i.invoice_number for i in invoices(invoicing)] == ["90001234"]
    assert invoicing.position("erp.orders#0") == 1


def test_an_erp_invoice_resent_with_other_content_is_refused_with_both_versions(
        invoicing: InvoicingApplication, at: Offsets) -> None:
    invoicing.upsert_customer(customer(), ACME, at("erp.customers"))
    invoicing.record_erp_invoice(erp_invoice("90001234"), ACME, at("erp.orders"))

    changed = erp_invoice("90001234", net="200.00", tax="42.00", total="242.00",
                          lines=(line(quantity="4"),))
    with pytest.raises(ErpInputRefused) as refused:
        invoicing.record_erp_invoice(changed, ACME, at("erp.orders"))

    assert "was received before (total 121.00, issued 2024-03-01)" in str(refused.value)
    assert "now total 242.00 EUR" in str(refused.value)


def test_an_erp_invoice_whose_totals_do_not_add_up_is_refused_with_the_figures(
        invoicing: InvoicingApplication, at: Offsets) -> None:
    invoicing.upsert_customer(customer(), ACME, at("erp.customers"))
    # Three lines of 0.07 at 21%: the tax per rate is 0.04; an ERP rounding per line says 0.03.
    lines = tuple(line(n, quantity="1", unit_price="0.07") for n in (1, 2, 3))

    with pytest.raises(ErpInputRefused) as refused:
        invoicing.record_erp_invoice(erp_invoice("90005", net="0.21", tax="0.03", total="0.24",
                                                 lines=lines), ACME, at("erp.orders"))

    assert str(refused.value) == (
        "ERP invoice 90005: invoice totals do not add up: declared tax 0.03 EUR but the lines "
        "give 0.04 EUR (difference -0.01, tolerance 0); declared total 0.24 EUR but the lines "
        "give 0.25 EUR (difference -0.01, tolerance 0); correct the invoice in the ERP and "
        "send it again")
    assert invoices(invoicing) == []


def test_an_erp_number_in_the_platforms_own_series_is_refused(
        invoicing: InvoicingApplication, at: Offsets) -> None:
    invoicing.upsert_customer(customer(), ACME, at("erp.customers"))

    with pytest.raises(ErpInputRefused, match="platform's own series"):
        invoicing.record_erp_invoice(erp_invoice("INV-000001"), ACME, at("erp.orders"))


def test_an_erp_invoice_for_a_customer_not_yet_known_waits_for_the_customer(
        invoicing: InvoicingApplication, at: Offsets) -> None:
    invoicing.record_erp_invoice(erp_invoice("90001"), ACME, at("erp.orders"))
    invoicing.invoice_shipment(shipment(), ACME, at("erp.orders"))
    invoicing.record_erp_invoice(erp_invoice("90001"), ACME, at("erp.orders"))  # re-sent

    assert invoices(invoicing) == []
    assert len(invoicing.repository.get(Customer.create_id("acme", "C-1")).held) == 2

    invoicing.upsert_customer(customer(language="fr"), ACME, at("erp.customers"))

    assert [(i.invoice_number, i.customer_language) for i in invoices(invoicing)] == [
        ("90001", "fr"), ("INV-000001", "fr")]


# --- the functional currency ---------------------------------------------------------


def test_an_invoice_in_the_functional_currency_is_worth_its_total(
        invoicing: InvoicingApplication, at: Offsets) -> None:
    invoicing.upsert_customer(customer(), ACME, at("erp.customers"))

    invoicing.invoice_shipment(shipment(), ACME, at("erp.orders"))

    [invoice] = invoices(invoicing)
    assert (invoice.functional_currency, invoice.functional_amount) == ("EUR", eur("121.00"))
    assert (invoice.exchange_rate, invoice.rate_missing) == (None, False)


def test_a_dollar_invoice_is_converted_at_the_rate_of_its_issue_date_either_way_round(
        invoicing: InvoicingApplication, at: Offsets) -> None:
    invoicing.upsert_customer(customer(currency="USD"), ACME, at("erp.customers"))
    invoicing.record_exchange_rate(rate(date(2024, 2, 29), "EUR", "USD", "1.0800"), ACME,
                                   at("erp.customers"))
    invoicing.record_exchange_rate(rate(date(2024, 3, 1), "EUR", "USD", "1.0850"), ACME,
                                   at("erp.customers"))
    invoicing.record_exchange_rate(rate(date(2024, 3, 4), "USD", "EUR", "0.9200"), ACME,
                                   at("erp.customers"))

    invoicing.invoice_shipment(shipment(shipment_id="S-1", currency="USD",
                                        shipped_on=date(2024, 3, 1)), ACME, at("erp.orders"))
    invoicing.invoice_shipment(shipment(shipment_id="S-2", currency="USD",
                                        shipped_on=date(2024, 3, 4)), ACME, at("erp.orders"))

    first, second = invoices(invoicing)
    assert first.total == Money.of("121.00", "USD")
    assert first.functional_amount == eur("111.52")  # 121.00 / 1.0850 = 111.5207
    assert (first.exchange_rate.from_currency, first.exchange_rate.rate,
            first.exchange_rate.rate_date) == ("EUR", D("1.0850"), date(2024, 3, 1))
    assert second.functional_amount == eur("111.32")  # 121.00 x 0.92


def test_a_weekend_invoice_uses_fridays_rate_and_an_older_one_is_too_old(
        invoicing: InvoicingApplication, at: Offsets) -> None:
    invoicing.upsert_customer(customer(currency="USD"), ACME, at("erp.customers"))
    invoicing.record_exchange_rate(rate(date(2024, 3, 1), "EUR", "USD", "1.0850"), ACME,
                                   at("erp.customers"))  # a Friday

    invoicing.invoice_shipment(shipment(shipment_id="S-1", currency="USD",
                                        shipped_on=date(2024, 3, 3)), ACME, at("erp.orders"))
    invoicing.invoice_shipment(shipment(shipment_id="S-2", currency="USD",
                                        shipped_on=date(2024, 3, 6)), ACME, at("erp.orders"))

    sunday, wednesday = invoices(invoicing)
    assert (sunday.functional_amount, sunday.exchange_rate.rate_date) == (
        eur("111.52"), date(2024, 3, 1))
    assert (wednesday.functional_amount, wednesday.rate_missing) == (None, True)


def test_a_missing_rate_is_stated_on_the_invoice_never_a_silent_one_to_one(
        invoicing: InvoicingApplication, at: Offsets) -> None:
    invoicing.upsert_customer(customer(currency="USD"), ACME, at("erp.customers"))

    invoicing.invoice_shipment(shipment(currency="USD"), ACME, at("erp.orders"))

    [invoice] = invoices(invoicing)
    assert invoice.model_dump(mode="json", include={
        "functional_currency", "functional_amount", "exchange_rate", "rate_missing"}) == {
        "functional_currency": "EUR", "functional_amount": None, "exchange_rate": None,
        "rate_missing": True}


def test_a_corrected_rate_applies_to_invoices_issued_after_the_correction(
        invoicing: InvoicingApplication, at: Offsets) -> None:
    invoicing.upsert_customer(customer(currency="USD"), ACME, at("erp.customers"))
    invoicing.record_exchange_rate(rate(date(2024, 3, 1), "EUR", "USD", "1.5000"), ACME,
                                   at("erp.customers"))
    invoicing.invoice_shipment(shipment(shipment_id="S-1", currency="USD"), ACME,
                               at("erp.orders"))

    invoicing.record_exchange_rate(rate(date(2024, 3, 1), "EUR", "USD", "1.0850"), ACME,
                                   at("erp.customers"))
    invoicing.invoice_shipment(shipment(shipment_id="S-2", currency="USD"), ACME,
                               at("erp.orders"))

    assert [i.functional_amount for i in invoices(invoicing)] == [eur("80.67"), eur("111.52")]


def test_each_tenant_keeps_its_books_in_its_own_functional_currency(at: Offsets) -> None:
    invoicing = invoicing_app("EUR", globex="USD")
    globex = Causation(tenant="globex", causation_id="evt-9")
    for tenant in (ACME, globex):
        invoicing.upsert_customer(customer(currency="USD"), tenant, at("erp.customers"))
        invoicing.invoice_shipment(shipment(currency="USD"), tenant, at("erp.orders"))

    acme_invoice, globex_invoice = invoices(invoicing)
    assert (acme_invoice.functional_currency, acme_invoice.rate_missing) == ("EUR", True)
    assert (globex_invoice.functional_currency, globex_invoice.functional_amount) == (
        "USD", Money.of("121.00", "USD"))


# --- events stored before this version ------------------------------------------------


def test_customers_stored_with_net_days_and_held_shipments_still_read(
        invoicing: InvoicingApplication, at: Offsets) -> None:
    cause = ACME.as_dict()
    legacy = Customer(tenant="acme", customer_id="C-1", causation=cause)
    legacy._held_before_erp_invoices_could_wait(
        shipment=shipment().model_dump(mode="json"), causation=cause)
    legacy.change_master_data(name="Old BV", currency="EUR", language="en", causation=cause,
                              payment_terms_days=45)
    invoicing.save(legacy)

    invoicing.upsert_customer(customer(terms="net 45").model_copy(update={"name": "Old BV"}),
                              ACME, at("erp.customers"))

    [invoice] = invoices(invoicing)
    assert (invoice.payment_terms, invoice.due_date) == ("net 45", date(2024, 4, 15))
    assert invoicing.repository.get(Customer.create_id("acme", "C-1")).held == []
    assert any(isinstance(event, Invoice.Issued) for event in stored(invoicing))

