"""Changing what a customer owes after issue, given-when-then: credit notes, adjustments,
cancellations, write-offs, and debit notes for dunning's fees. Each says why and who
asked; a refused command changes nothing."""

from __future__ import annotations

from datetime import date

import pytest
from eventsourcing.persistence import Tracking
from pydantic import ValidationError

from libs.events import (
    CreditNoteIssued,
    DebitNoteIssued,
    FeeAssessed,
    InvoiceAdjusted,
    InvoiceCancelled,
    InvoiceWrittenOff,
    PaymentApplied,
)
from libs.events.matching import ApplicationReversed, CreditApplied, DifferenceWrittenOff
from libs.runtime.causation import Causation
from services.invoicing.application import InvoicingApplication
from services.invoicing.corrections import (
    AdjustInvoice,
    CancelInvoice,
    ConflictingRequest,
    CreditAccount,
    CreditLineRequest,
    InvoiceNotFound,
    IssueCreditNote,
    WriteOffInvoice,
)
from services.invoicing.documents import DocumentRefused
from services.invoicing.domain import InvoiceNumberSeries

from .builders import ACME, D, TODAY, Offsets, by, customer, eur, line, published, shipment, stored

ANNA = by("collector:anna")


@pytest.fixture
def invoiced(invoicing: InvoicingApplication, at: Offsets) -> InvoicingApplication:
    """INV-000001: 2 x 50.00 + 1 x 30.00 at 21% = 130.00 + 27.30 = 157.30 EUR."""
    invoicing.upsert_customer(customer(), ACME, at("erp.customers"))
    invoicing.invoice_shipment(shipment(lines=(line(1, "2", "50.00"), line(2, "1", "30.00"))),
                               ACME, at("erp.orders"))
    return invoicing


def pay(app: InvoicingApplication, amount: str, application_id: str = "app-1",
        offset: int = 0) -> None:
    invoice = app.invoice_by_number("acme", "INV-000001")
    app.record_payment_applied(PaymentApplied(
        application_id=application_id, payment_id="pay-1", invoice_id=str(invoice.id),
        invoice_number="INV-000001", customer_id="C-1", amount=eur(amount),
        applied_on=date(2024, 3, 20), rule="remittance-invoice-number", explanation="named"),
        ACME, Tracking("ar.matching#0", offset))


def open_amount(app: InvoicingApplication) -> object:
    return app.invoice_by_number("acme", "INV-000001").open_amount


# --- credit notes ------------------------------------------------------------------


def test_a_full_credit_note_credits_everything_left_and_is_numbered_in_its_own_series(
        invoiced: InvoicingApplication) -> None:
    note, created = invoiced.issue_credit_note(
        "INV-000001", IssueCreditNote(reason="order returned unopened"), ANNA)

    [event] = published(invoiced, CreditNoteIssued)
    assert created and note.credit_note_number == "CN-000001"
    assert (event.scope, event.invoice_number, event.issue_date) == ("full", "INV-000001", TODAY)
    assert (event.net_amount, event.tax_amount, event.total) == (
        eur("130.00"), eur("27.30"), eur("157.30"))
    assert (event.reason, event.actor) == ("order returned unopened", "collector:anna")
    assert [(l.line_no, l.quantity) for l in event.lines] == [(1, D("2")), (2, D("1"))]
    invoice = invoiced.invoice_by_number("acme", "INV-000001")
    assert (invoice.open_amount, invoice.status) == (D("0.00"), "credited")


def test_crediting_lines_part_by_part_credits_exactly_the_invoice_in_the_end(
        invoicing: InvoicingApplication, at: Offsets) -> None:
    # Three lines of 0.07 at 21%: tax per rate 0.04, allocated 0.02 / 0.01 / 0.01.
    invoicing.upsert_customer(customer(), ACME, at("erp.customers"))
    invoicing.invoice_shipment(shipment(lines=tuple(line(n, "1", "0.07") for n in (1, 2, 3))),
                               ACME, at("erp.orders"))
    credits = []
    for line_no in (1, 2, 3):
        note, _ = invoicing.issue_credit_note("INV-000001", IssueCreditNote(
            reason="returned", lines=(CreditLineRequest(line_no=line_no, quantity="1"),)),
            ANNA)
        credits.append((note.scope, note.net_amount, note.tax_amount))

    assert credits == [("partial", D("0.07"), D("0.02")), ("partial", D("0.07"), D("0.01")),
                       ("partial", D("0.07"), D("0.01"))]
    assert invoicing.invoice_by_number("acme", "INV-000001").open_amount == 0


def test_part_of_a_line_is_credited_at_its_share_and_the_rest_of_the_line_stays_creditable(
        invoiced: InvoicingApplication) -> None:
    first, _ = invoiced.issue_credit_note("INV-000001", IssueCreditNote(
        reason="one broken", lines=(CreditLineRequest(line_no=1, quantity="1"),)), ANNA)

    assert (first.net_amount, first.tax_amount) == (D("50.00"), D("10.50"))
    with pytest.raises(DocumentRefused, match="line 1 of invoice INV-000001 has 1 left to "
                                              "credit \\(of 2\\); cannot credit 2"):
        invoiced.issue_credit_note("INV-000001", IssueCreditNote(
            reason="both broken", lines=(CreditLineRequest(line_no=1, quantity="2"),)), ANNA)
    assert open_amount(invoiced) == D("96.80")


def test_an_allowance_credits_a_net_amount_at_a_tax_rate(invoiced: InvoicingApplication) -> None:
    note, _ = invoiced.issue_credit_note("INV-000001", IssueCreditNote(
        reason="late delivery allowance", net_amount="10.00", tax_rate="0.21"), ANNA)

    assert (note.scope, note.net_amount, note.tax_amount, note.total) == (
        "partial", D("10.00"), D("2.10"), D("12.10"))
    assert open_amount(invoiced) == D("145.20")


def test_a_credit_beyond_what_is_left_is_refused_and_uses_no_number(
        invoiced: InvoicingApplication) -> None:
    before = len(stored(invoiced))

    with pytest.raises(DocumentRefused, match="exceeds what invoice INV-000001 has left to "
                                              "credit: 130.00 net \\+ 27.30 tax EUR"):
        invoiced.issue_credit_note("INV-000001", IssueCreditNote(
            reason="too generous", net_amount="200.00", tax_rate="0"), ANNA)

    assert len(stored(invoiced)) == before
    assert not invoiced.exists(InvoiceNumberSeries.create_id("acme", "CN"))


def test_a_credit_note_on_account_names_no_invoice(invoiced: InvoicingApplication) -> None:
    note, _ = invoiced.credit_account("C-1", CreditAccount(
        currency="EUR", net_amount="25.00", reason="goodwill after the complaint"), ANNA)

    [event] = published(invoiced, CreditNoteIssued)
    assert (event.scope, event.invoice_id, event.total, event.customer_id) == (
        "on_account", None, eur("25.00"), "C-1")
    assert open_amount(invoiced) == D("157.30")


def test_a_credit_note_asked_twice_with_the_same_reference_is_issued_once(
        invoiced: InvoicingApplication) -> None:
    request = IssueCreditNote(reason="returned", net_amount="10.00", tax_rate="0",
                              reference="RMA-17")

    first, created = invoiced.issue_credit_note("INV-000001", request, ANNA)
    again, created_again = invoiced.issue_credit_note("INV-000001", request, ANNA)

    assert (created, created_again) == (True, False)
    assert first.id == again.id
    assert len(published(invoiced, CreditNoteIssued)) == 1
    with pytest.raises(ConflictingRequest):
        invoiced.credit_account("C-1", CreditAccount(currency="EUR", net_amount="1.00",
                                                     reason="x", reference="RMA-17"), ANNA)


@pytest.mark.parametrize("body", [
    {"reason": "x", "net_amount": "10.00"},
    {"reason": "x", "net_amount": "10.00", "tax_rate": "0", "lines": [{"line_no": 1,
                                                                       "quantity": "1"}]},
    {"reason": "", "net_amount": "10.00", "tax_rate": "0"},
    {"reason": "x", "net_amount": "-10.00", "tax_rate": "0"},
])
def test_a_credit_request_that_does_not_say_what_to_credit_is_refused(body: dict) -> None:
    with pytest.raises(ValidationError):
        IssueCreditNote.model_validate(body)


# --- adjustments ---------------------------------------------------------------------


def test_an_adjustment_changes_the_total_and_says_why_and_who(
        invoiced: InvoicingApplication) -> None:
    invoiced.adjust_invoice("INV-000001", AdjustInvoice(
        net_amount="-10.00", tax_amount="-2.10", reason="agreed price 45.00"), ANNA)

    [event] = published(invoiced, InvoiceAdjusted)
    assert (event.amount, event.new_total, event.adjusted_on) == (
        eur("-12.10"), eur("145.20"), TODAY)
    assert (event.reason, event.actor) == ("agreed price 45.00", "collector:anna")
    assert open_amount(invoiced) == D("145.20")


def test_an_adjustment_below_what_was_paid_is_refused(invoiced: InvoicingApplication) -> None:
    pay(invoiced, "150.00")

    with pytest.raises(DocumentRefused, match="issue a credit note"):
        invoiced.adjust_invoice("INV-000001", AdjustInvoice(net_amount="-10.00",
                                                            reason="discount"), ANNA)

    assert published(invoiced, InvoiceAdjusted) == []


def test_an_adjustment_of_a_cent_fraction_is_refused(invoiced: InvoicingApplication) -> None:
    with pytest.raises(DocumentRefused, match="not a whole amount of EUR"):
        invoiced.adjust_invoice("INV-000001", AdjustInvoice(net_amount="0.005",
                                                            reason="rounding"), ANNA)


# --- cancellation --------------------------------------------------------------------


def test_an_unpaid_invoice_is_cancelled_and_owes_nothing(invoiced: InvoicingApplication) -> None:
    invoiced.cancel_invoice("INV-000001", CancelInvoice(reason="billed the wrong customer"),
                            by("clerk:bob"))

    [event] = published(invoiced, InvoiceCancelled)
    assert (event.amount, event.cancelled_on, event.actor) == (eur("157.30"), TODAY, "clerk:bob")
    invoice = invoiced.invoice_by_number("acme", "INV-000001")
    assert (invoice.open_amount, invoice.status) == (0, "cancelled")


def test_an_invoice_with_a_payment_applied_cannot_be_cancelled(
        invoiced: InvoicingApplication) -> None:
    pay(invoiced, "20.00")

    with pytest.raises(DocumentRefused, match="has 20.00 EUR of payments applied: only an "
                                              "unpaid invoice can be cancelled"):
        invoiced.cancel_invoice("INV-000001", CancelInvoice(reason="oops"), ANNA)


def test_a_cancelled_invoice_cannot_be_cancelled_credited_or_adjusted_again(
        invoiced: InvoicingApplication) -> None:
    invoiced.cancel_invoice("INV-000001", CancelInvoice(reason="duplicate"), ANNA)

    for command in (
        lambda: invoiced.cancel_invoice("INV-000001", CancelInvoice(reason="again"), ANNA),
        lambda: invoiced.issue_credit_note("INV-000001", IssueCreditNote(reason="x"), ANNA),
        lambda: invoiced.adjust_invoice("INV-000001", AdjustInvoice(net_amount="1.00",
                                                                    reason="x"), ANNA),
    ):
        with pytest.raises(DocumentRefused, match="was cancelled on"):
            command()
    assert len(published(invoiced, InvoiceCancelled)) == 1


# --- write-off -----------------------------------------------------------------------


def test_the_remainder_after_a_short_payment_is_written_off(
        invoiced: InvoicingApplication) -> None:
    pay(invoiced, "157.00")

    invoiced.write_off_invoice("INV-000001", WriteOffInvoice(
        reason="short payment below tolerance", amount="0.30"), by("controller:carla"))

    [event] = published(invoiced, InvoiceWrittenOff)
    assert (event.amount, event.written_off_on, event.actor) == (
        eur("0.30"), TODAY, "controller:carla")
    invoice = invoiced.invoice_by_number("acme", "INV-000001")
    assert (invoice.open_amount, invoice.status) == (0, "written_off")


def test_a_write_off_of_another_amount_than_what_is_open_is_refused(
        invoiced: InvoicingApplication) -> None:
    pay(invoiced, "157.00")

    with pytest.raises(DocumentRefused, match="has 0.30 EUR open, not 1.00"):
        invoiced.write_off_invoice("INV-000001", WriteOffInvoice(reason="x", amount="1.00"),
                                   ANNA)


def test_a_paid_invoice_has_nothing_to_write_off(invoiced: InvoicingApplication) -> None:
    pay(invoiced, "157.30")

    with pytest.raises(DocumentRefused, match="nothing open to write off"):
        invoiced.write_off_invoice("INV-000001", WriteOffInvoice(reason="x"), ANNA)


# --- payments as matching applied them ------------------------------------------------


def test_a_payment_application_delivered_twice_counts_once(
        invoiced: InvoicingApplication) -> None:
    pay(invoiced, "100.00", offset=0)
    pay(invoiced, "100.00", offset=1)

    assert open_amount(invoiced) == D("57.30")


# --- fees from dunning ---------------------------------------------------------------


def test_a_fee_dunning_assessed_is_billed_once_on_a_debit_note(
        invoiced: InvoicingApplication, at: Offsets) -> None:
    fee = FeeAssessed(fee_id="fee-1", customer_id="C-1", kind="late_fee",
                      invoice_id=str(invoiced.invoice_by_number("acme", "INV-000001").id),
                      invoice_number="INV-000001", amount=eur("40.00"),
                      assessed_on=date(2024, 4, 15), reason="EU flat late fee", actor="dunning")

    invoiced.bill_fee(fee, ACME, at("ar.dunning"))
    invoiced.bill_fee(fee, ACME, at("ar.dunning"))

    [event] = published(invoiced, DebitNoteIssued)
    assert (event.debit_note_number, event.total, event.kind) == ("DN-000001", eur("40.00"),
                                                                 "late_fee")
    assert (event.issue_date, event.due_date) == (date(2024, 4, 15), date(2024, 4, 15))
    assert (event.invoice_number, event.reason, event.actor) == (
        "INV-000001", "EU flat late fee", "dunning")
    assert invoiced.document_by_number("acme", "DN-000001").fee_id == "fee-1"


# --- who asks, and about what --------------------------------------------------------


def test_a_change_without_anyone_asking_is_refused(invoiced: InvoicingApplication) -> None:
    with pytest.raises(DocumentRefused, match="needs an actor"):
        invoiced.cancel_invoice("INV-000001", CancelInvoice(reason="x"),
                                Causation(tenant="acme"))


def test_an_unknown_invoice_number_is_not_found(invoiced: InvoicingApplication) -> None:
    with pytest.raises(InvoiceNotFound, match="no invoice 'INV-999999' in tenant 'acme'"):
        invoiced.cancel_invoice("INV-999999", CancelInvoice(reason="x"), ANNA)


def test_each_tenant_credits_only_its_own_invoices(invoiced: InvoicingApplication) -> None:
    with pytest.raises(InvoiceNotFound):
        invoiced.issue_credit_note("INV-000001", IssueCreditNote(reason="x"),
                                   by("someone", tenant="globex"))



# --- what matching settled otherwise --------------------------------------------------


def test_a_difference_matching_wrote_off_leaves_nothing_for_a_person_to_write_off(
        invoiced: InvoicingApplication) -> None:
    pay(invoiced, "157.00")
    invoice_id = str(invoiced.invoice_by_number("acme", "INV-000001").id)
    written_off = DifferenceWrittenOff(
        write_off_id="wo-m-1", payment_id="pay-1", invoice_id=invoice_id,
        invoice_number="INV-000001", customer_id="C-1", amount=eur("0.30"),
        written_off_on=date(2024, 3, 20), reason_code="bank-charges",
        reason="within tolerance", explanation="0.30 short")

    invoiced.record_difference_written_off(written_off, ACME, Tracking("ar.matching#0", 1))
    invoiced.record_difference_written_off(written_off, ACME, Tracking("ar.matching#0", 2))

    invoice = invoiced.invoice_by_number("acme", "INV-000001")
    assert (invoice.open_amount, invoice.settled_without_cash) == (D("0.00"), D("0.30"))
    with pytest.raises(DocumentRefused, match="nothing open to write off"):
        invoiced.write_off_invoice("INV-000001", WriteOffInvoice(reason="x"), ANNA)


def test_a_payment_matching_reversed_is_owed_again_and_the_invoice_can_be_cancelled(
        invoiced: InvoicingApplication) -> None:
    pay(invoiced, "157.30", application_id="app-1")
    invoice_id = str(invoiced.invoice_by_number("acme", "INV-000001").id)

    invoiced.record_application_reversed(ApplicationReversed(
        application_id="app-1", reverses="payment-application", payment_id="pay-1",
        invoice_id=invoice_id, invoice_number="INV-000001", customer_id="C-1",
        amount=eur("157.30"), reversed_on=date(2024, 3, 25), reason="returned: NSF",
        actor="matching"), ACME, Tracking("ar.matching#0", 1))

    assert open_amount(invoiced) == D("157.30")
    invoiced.cancel_invoice("INV-000001", CancelInvoice(reason="goods never delivered"), ANNA)
    assert published(invoiced, InvoiceCancelled)[0].amount == eur("157.30")


def test_a_credit_on_account_matching_used_on_the_invoice_lowers_what_it_owes(
        invoiced: InvoicingApplication) -> None:
    note, _ = invoiced.credit_account("C-1", CreditAccount(currency="EUR", net_amount="20.00",
                                                           reason="goodwill"), ANNA)
    invoice_id = str(invoiced.invoice_by_number("acme", "INV-000001").id)

    invoiced.record_credit_applied(CreditApplied(
        credit_use_id="use-1", payment_id="pay-9", credit_note_id=str(note.id),
        credit_note_number=note.credit_note_number, invoice_id=invoice_id,
        invoice_number="INV-000001", customer_id="C-1", amount=eur("20.00"),
        applied_on=date(2024, 3, 22), rule="customer-combination"), ACME,
        Tracking("ar.matching#0", 1))

    assert open_amount(invoiced) == D("137.30")
