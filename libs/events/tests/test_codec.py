"""The Kafka codec: every event survives the trip, and a bad record is refused with a
reason a person can act on (it goes to the dead-letter topic with that reason)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any, Literal

import pytest

from libs.events import (
    ApplicationReversed,
    CreditApplied,
    DeductionRaised,
    DifferenceWrittenOff,
    ErpPaidInvoiceCleared,
    ErpPaidInvoiceUncleared,
    UnappliedCashChanged,
    EVENT_TYPES,
    AppliedExchangeRate,
    CreditNoteIssued,
    DebitNoteIssued,
    ErpInvoiceIssued,
    ErpInvoiceMarkedPaid,
    ExchangeRatePublished,
    FeeAssessed,
    InvoiceAdjusted,
    InvoiceCancelled,
    InvoiceWrittenOff,
    OrderCancelled,
    OrderPlaced,
    CustomerUpserted,
    IntegrationEvent,
    InvalidEvent,
    InvoiceIssued,
    InvoiceLine,
    KafkaRecord,
    Money,
    OrderLine,
    OrderShipped,
    PaymentApplied,
    PaymentReceived,
    PaymentReturned,
    PaymentUnapplied,
    RefundIssued,
    decode,
    encode,
    upcaster,
)
from libs.events.base import UPCASTERS, upcast
from libs.events.codec import _at_current_version
from libs.events.credit import (
    CreditHoldPlaced,
    CreditHoldReleased,
    CreditLimitSet,
    HeldBy,
    OrderCreditApproved,
    OrderCreditHeld,
    RiskReason,
    RiskScoreChanged,
    TemporaryCreditLimitGranted,
)
from libs.events.dunning import (
    CaseEscalated,
    DisputeOpened,
    DisputeResolved,
    DunnedInvoice,
    DunningLevelRaised,
    Instalment,
    LateFeeAssessed,
    PromiseToPayBroken,
    PromiseToPayRecorded,
    ReminderSent,
)

RECORDED_AT = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


# One valid example of every published event. A new event type without a sample here
# fails test_every_event_type_survives_encode_and_decode: add one.
SAMPLES: dict[str, IntegrationEvent] = {
    "CustomerUpserted": CustomerUpserted(
        customer_id="C-1", name="Acme Retail BV", currency="EUR", payment_terms_days=30,
        language="nl", country="NL", email="ap@acme.example", segment="retail",
        risk_class="B", collector="anna",
    ),
    "OrderShipped": OrderShipped(
        order_id="O-1", shipment_id="S-1", customer_id="C-1", shipped_on=date(2024, 3, 1),
        currency="EUR", po_number="PO-77",
        lines=(OrderLine(line_no=1, sku="WIDGET", description="Widget", quantity="2",
                         unit_price="50.00", tax_rate="0.21"),),
    ),
    "InvoiceIssued": InvoiceIssued(
        invoice_id="inv-1", invoice_number="INV-000001", customer_id="C-1", order_id="O-1",
        shipment_id="S-1", issue_date=date(2024, 3, 1), due_date=date(2024, 3, 31),
        payment_terms_days=30, net_amount=eur("100.00"), tax_amount=eur("21.00"),
        total=eur("121.00"),
        lines=(InvoiceLine(line_no=1, sku="WIDGET", description="Widget", quantity="2",
                           unit_price="50.00", tax_rate="0.21", net_amount="100.00",
                           tax_amount="21.00"),),
    ),
    "OrderPlaced": OrderPlaced(
        order_id="O-1", customer_id="C-1", ordered_on=date(2024, 2, 20), currency="EUR",
        po_number="PO-77", payment_terms="2/10 net 30",
        lines=(OrderLine(line_no=1, sku="WIDGET", quantity="10", unit_price="50.00",
                         discount_percent="5", tax_rate="0.21"),),
    ),
    "OrderCancelled": OrderCancelled(
        order_id="O-1", customer_id="C-1", cancelled_on=date(2024, 3, 5),
        reason="customer withdrew the rest of the order",
    ),
    "ErpInvoiceIssued": ErpInvoiceIssued(
        invoice_number="90001234", customer_id="C-1", order_id="O-9", po_number="PO-9",
        issue_date=date(2024, 3, 1), due_date=date(2024, 3, 31), payment_terms="2/10 net 30",
        currency="EUR",
        lines=(OrderLine(line_no=1, sku="WIDGET", quantity="2", unit_price="50.00",
                         tax_rate="0.21"),),
        net_amount=eur("100.00"), tax_amount=eur("21.00"), total=eur("121.00"),
        discount_date=date(2024, 3, 11), discount_amount=eur("2.42"),
    ),
    "ErpInvoiceMarkedPaid": ErpInvoiceMarkedPaid(
        invoice_number="90001234", customer_id="C-1", paid_on=date(2024, 3, 20),
        reference="clearing 1400000123",
    ),
    "ExchangeRatePublished": ExchangeRatePublished(
        rate_date=date(2024, 3, 1), from_currency="EUR", to_currency="USD", rate="1.0850",
        source="ECB reference rate",
    ),
    "InvoiceAdjusted": InvoiceAdjusted(
        adjustment_id="adj-1", invoice_id="inv-1", invoice_number="INV-000001",
        customer_id="C-1", adjusted_on=date(2024, 3, 4), net_amount=eur("-10.00"),
        tax_amount=eur("-2.10"), amount=eur("-12.10"), new_total=eur("108.90"),
        reason="agreed price was 45.00 per widget", actor="collector:anna",
    ),
    "InvoiceCancelled": InvoiceCancelled(
        invoice_id="inv-1", invoice_number="INV-000001", customer_id="C-1",
        cancelled_on=date(2024, 3, 4), amount=eur("121.00"),
        reason="invoiced to the wrong customer", actor="clerk:bob",
    ),
    "CreditNoteIssued": CreditNoteIssued(
        credit_note_id="cn-1", credit_note_number="CN-000001", customer_id="C-1",
        scope="partial", invoice_id="inv-1", invoice_number="INV-000001",
        issue_date=date(2024, 3, 6), net_amount=eur("50.00"), tax_amount=eur("10.50"),
        total=eur("60.50"),
        lines=(InvoiceLine(line_no=1, sku="WIDGET", description="Widget", quantity="1",
                           unit_price="50.00", tax_rate="0.21", net_amount="50.00",
                           tax_amount="10.50"),),
        reason="one widget returned damaged", actor="clerk:bob",
    ),
    "InvoiceWrittenOff": InvoiceWrittenOff(
        write_off_id="wo-1", invoice_id="inv-1", invoice_number="INV-000001",
        customer_id="C-1", written_off_on=date(2024, 9, 30), amount=eur("0.50"),
        reason="short payment below the tolerance", actor="controller:carla",
    ),
    "FeeAssessed": FeeAssessed(
        fee_id="fee-1", customer_id="C-1", kind="late_fee", invoice_id="inv-1",
        invoice_number="INV-000001", amount=eur("40.00"), assessed_on=date(2024, 4, 15),
        reason="EU late payment directive flat fee", actor="dunning",
    ),
    "DebitNoteIssued": DebitNoteIssued(
        debit_note_id="dn-1", debit_note_number="DN-000001", customer_id="C-1", fee_id="fee-1",
        kind="late_fee", invoice_id="inv-1", invoice_number="INV-000001",
        issue_date=date(2024, 4, 15), due_date=date(2024, 4, 15), total=eur("40.00"),
        reason="EU late payment directive flat fee", actor="dunning",
    ),
    "PaymentReceived": PaymentReceived(
        payment_id="pay-1", customer_id="C-1", amount=eur("121.00"), value_date=date(2024, 3, 20),
        booking_date=date(2024, 3, 20), payer_name="Acme Retail BV",
        payer_account="NL91ABNA0417164300", remittance_text="INV-000001",
        bank_reference="BANK-REF-1", end_to_end_id="E2E-20240320-1",
        creditor_references=("RF18539007547034", "INV-000001"),
    ),
    "PaymentReturned": PaymentReturned(
        return_id="ret-1", payment_id="pay-1", customer_id="C-1", amount=eur("121.00"),
        returned_on=date(2024, 3, 25), kind="nsf", reason_code="AM04",
        reason_text="insufficient funds", payer_account="NL91ABNA0417164300",
        bank_reference="BANK-REF-2", end_to_end_id="E2E-20240320-1",
    ),
    "RefundIssued": RefundIssued(
        refund_id="ref-1", payment_id="pay-1", customer_id="C-1", amount=eur("21.00"),
        issued_on=date(2024, 3, 26), reason="paid twice for the same delivery",
        requested_by="collector:anna", payer_account="NL91ABNA0417164300",
    ),
    "PaymentApplied": PaymentApplied(
        application_id="app-1", payment_id="pay-1", invoice_id="inv-1",
        invoice_number="INV-000001", customer_id="C-1", amount=eur("121.00"),
        applied_on=date(2024, 3, 20), rule="remittance-invoice-number",
        explanation="The remittance text names invoice INV-000001.",
        paid=Money.of("131.29", "USD"),
        exchange_rate=AppliedExchangeRate(from_currency="EUR", to_currency="USD",
                                          rate="1.0850", rate_date=date(2024, 3, 19)),
    ),
    "PaymentUnapplied": PaymentUnapplied(
        payment_id="pay-2", customer_id="C-1", amount=eur("5.00"), value_date=date(2024, 3, 20),
        reason="the remittance names no open invoice",
    ),
    "UnappliedCashChanged": UnappliedCashChanged(
        payment_id="pay-2", customer_id="C-1", unapplied=eur("0.00"),
        value_date=date(2024, 3, 22), reason="5.00 EUR applied to INV-000002",
    ),
    "ApplicationReversed": ApplicationReversed(
        application_id="app-1", reverses="payment-application", payment_id="pay-1",
        invoice_id="inv-1", invoice_number="INV-000001", customer_id="C-1",
        amount=eur("121.00"), reversed_on=date(2024, 3, 21), reason="paid for another customer",
        actor="collector-anna",
    ),
    "DifferenceWrittenOff": DifferenceWrittenOff(
        write_off_id="wo-1", payment_id="pay-3", invoice_id="inv-1", invoice_number="INV-000001",
        customer_id="C-1", amount=eur("2.50"), written_off_on=date(2024, 3, 20),
        reason_code="bank-charges", reason="within tolerance; bank charges",
        explanation="pay-3 paid INV-000001 2.50 EUR short: bank charges. Written off.",
    ),
    "DeductionRaised": DeductionRaised(
        deduction_id="ded-1", payment_id="pay-4", invoice_id="inv-1",
        invoice_number="INV-000001", customer_id="C-1", amount=eur("20.00"),
        raised_on=date(2024, 3, 20), reason_code="damaged-goods",
        reason="the payer wrote 'damaged'", explanation="Raised as a deduction for a collector.",
    ),
    "CreditApplied": CreditApplied(
        credit_use_id="cu-1", payment_id="pay-5", credit_note_id="cn-1",
        credit_note_number="CN-000001", invoice_id="inv-1", invoice_number="INV-000001",
        customer_id="C-1", amount=eur("21.00"), applied_on=date(2024, 3, 20),
        rule="customer-combination",
    ),
    "ErpPaidInvoiceUncleared": ErpPaidInvoiceUncleared(
        invoice_number="INV-000001", invoice_id="inv-1", customer_id="C-1",
        erp_paid_on=date(2024, 3, 20), erp_reference="ERP-CLR-1", open_amount=eur("121.00"),
        detected_on=date(2024, 3, 22),
        reason="The ERP marked INV-000001 paid on 2024-03-20, but after the 2-day grace for "
               "bank statements no payment has been applied to it: 121.00 EUR is open",
    ),
    "ErpPaidInvoiceCleared": ErpPaidInvoiceCleared(
        invoice_number="INV-000001", invoice_id="inv-1", customer_id="C-1",
        erp_paid_on=date(2024, 3, 20), cleared_on=date(2024, 3, 25),
        reason="nothing is open on INV-000001 any more (payment pay-7)",
    ),
    # dunning
    "ReminderSent": ReminderSent(
        letter_id="letter-1", customer_id="C-1", level=2, level_name="first_letter",
        channel="email", language="nl", sent_on=date(2024, 4, 7), pay_by=date(2024, 4, 14),
        invoices=(DunnedInvoice(invoice_id="inv-1", invoice_number="INV-000001",
                                due_date=date(2024, 3, 31), open_amount=eur("121.00")),),
        fees=(eur("40.14"),),
    ),
    "DunningLevelRaised": DunningLevelRaised(
        invoice_id="inv-1", invoice_number="INV-000001", customer_id="C-1", from_level=1,
        to_level=2, level_name="first_letter", raised_on=date(2024, 4, 7), letter_id="letter-1",
    ),
    "LateFeeAssessed": LateFeeAssessed(
        fee_id="fee-2", invoice_id="inv-1", invoice_number="INV-000001", customer_id="C-1",
        kind="statutory_interest", amount=eur("0.29"), assessed_on=date(2024, 4, 7),
        interest_from=date(2024, 4, 1), interest_to=date(2024, 4, 7), annual_rate="12.50",
        letter_id="letter-1",
        explanation="7 days on 121.00 EUR at 12.50% (ECB reference rate 4.50% + 8 points)",
    ),
    "DisputeOpened": DisputeOpened(
        dispute_id="DSP-0001", customer_id="C-1",
        invoices=(DunnedInvoice(invoice_id="inv-1", invoice_number="INV-000001",
                                due_date=date(2024, 3, 31), open_amount=eur("121.00")),),
        reason="damaged", owner="collector:anna", notes="two widgets dented",
        opened_on=date(2024, 4, 2),
    ),
    "DisputeResolved": DisputeResolved(
        dispute_id="DSP-0001", customer_id="C-1", invoice_ids=("inv-1",),
        resolution="credit_note_requested", credit_note_amount=eur("60.50"),
        notes="one widget credited", resolved_on=date(2024, 4, 9),
    ),
    "PromiseToPayRecorded": PromiseToPayRecorded(
        promise_id="PTP-0001", customer_id="C-1", invoice_ids=("inv-1",),
        instalments=(Instalment(due_on=date(2024, 4, 15), amount=eur("60.50")),
                     Instalment(due_on=date(2024, 5, 15), amount=eur("60.50"))),
        recorded_on=date(2024, 4, 8), recorded_by="collector:anna",
    ),
    "PromiseToPayBroken": PromiseToPayBroken(
        promise_id="PTP-0001", customer_id="C-1", invoice_ids=("inv-1",),
        instalment_due_on=date(2024, 4, 15), promised=eur("60.50"), received=eur("0.00"),
        broken_on=date(2024, 4, 17),
    ),
    "CaseEscalated": CaseEscalated(
        escalation_id="esc-1", customer_id="C-1",
        invoices=(DunnedInvoice(invoice_id="inv-1", invoice_number="INV-000001",
                                due_date=date(2024, 3, 31), open_amount=eur("121.00")),),
        partner_kind="collection_agency", partner_name="Incasso Partners BV",
        escalated_on=date(2024, 5, 19), total_open=(eur("121.00"),),
    ),
}
SAMPLES.update({  # credit
    "CreditLimitSet": CreditLimitSet(
        customer_id="C-1", change_id="chg-1", limit=eur("50000.00"), previous_limit=None,
        requested_by="sales:bob", approved_by="credit:carla", reason="annual review",
        effective_on=date(2024, 3, 1),
    ),
    "TemporaryCreditLimitGranted": TemporaryCreditLimitGranted(
        credit_group_id="G-1", change_id="chg-2", limit=eur("80000.00"),
        valid_from=date(2024, 3, 1), expires_on=date(2024, 3, 31), requested_by="sales:bob",
        approved_by="credit:carla", reason="seasonal peak",
    ),
    "RiskScoreChanged": RiskScoreChanged(
        customer_id="C-1", score="42", risk_class="C", previous_score="20",
        previous_class="B", internal_score="45", external_score="35",
        reasons=(RiskReason(factor="days_beyond_terms", points="30",
                            explanation="pays 40 days beyond terms on average"),),
        scored_on=date(2024, 3, 1),
    ),
    "CreditHoldPlaced": CreditHoldPlaced(
        hold_id="hold-1", customer_id="C-1", rule="overdue",
        explanation="INV-000001 is 61 days overdue", placed_on=date(2024, 3, 1),
    ),
    "CreditHoldReleased": CreditHoldReleased(
        hold_id="hold-1", customer_id="C-1", rule="overdue", automatic=False,
        released_by="credit:carla", reason="paid by wire today", released_on=date(2024, 3, 2),
    ),
    "OrderCreditApproved": OrderCreditApproved(
        order_id="O-1", customer_id="C-1", order_amount=eur("1000.00"),
        exposure=eur("41000.00"), limit=eur("50000.00"), percent_used="82.00",
        decided_on=date(2024, 3, 1),
    ),
    "OrderCreditHeld": OrderCreditHeld(
        order_id="O-2", customer_id="C-1", credit_group_id="G-1", order_amount=eur("20000.00"),
        exposure=eur("61000.00"), limit=eur("50000.00"), percent_used="122.00",
        decided_on=date(2024, 3, 1),
        held_by=(HeldBy(rule="over_limit", explanation="exposure 61000.00 EUR over limit "
                                                       "50000.00 EUR"),),
    ),
})


def record_of(event: IntegrationEvent, **overrides: Any) -> KafkaRecord:
    options: dict[str, Any] = {"event_id": "evt-1", "tenant": "acme", "source": "/erp/sap",
                               "time": RECORDED_AT, "traceparent": TRACEPARENT}
    options.update(overrides)
    return encode(event, **options)


def without(headers: list[tuple[str, bytes]], *names: str) -> list[tuple[str, bytes]]:
    return [(name, value) for name, value in headers if name not in names]


def replaced(headers: list[tuple[str, bytes]], name: str, value: str) -> list[tuple[str, bytes]]:
    return [*without(headers, name), (name, value.encode())]


def shipment_body(**changes: Any) -> dict[str, Any]:
    body = json.loads(record_of(SAMPLES["OrderShipped"]).value)
    body.update(changes)
    return body


def refusal(headers: list[tuple[str, bytes]], value: bytes | None) -> str:
    with pytest.raises(InvalidEvent) as refused:
        decode(headers, value)
    return refused.value.reason


# --- the round trip -------------------------------------------------------------------


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_event_type_survives_encode_and_decode(event_type: str) -> None:
    assert event_type in SAMPLES, f"add a valid sample of {event_type} to SAMPLES"
    event = SAMPLES[event_type]
    assert type(event) is EVENT_TYPES[event_type]

    record = record_of(event)
    envelope, decoded = decode(record.headers, record.value)

    assert decoded == event
    assert type(decoded) is type(event)
    assert envelope.type == event_type
    assert record.topic == event.topic
    assert record.key == event.partition_key.encode()


def test_a_record_carries_cloudevents_headers_keyed_by_the_customer_account() -> None:
    record = record_of(SAMPLES["InvoiceIssued"], event_id="evt-42", tenant="acme-nl")
    headers = dict(record.headers)

    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_id"] == b"evt-42"
    assert headers["ce_type"] == b"InvoiceIssued"
    assert headers["ce_source"] == b"/erp/sap"
    assert headers["ce_time"] == b"2024-03-01T09:30:00Z"
    assert headers["ce_subject"] == b"C-1" == record.key  # subject = partition key = customer
    assert headers["tenant"] == b"acme-nl"
    assert headers["traceparent"] == TRACEPARENT.encode()
    assert headers["content-type"] == b"application/json"


def test_a_record_without_a_trace_has_no_traceparent_header_and_still_decodes() -> None:
    record = record_of(SAMPLES["CustomerUpserted"], traceparent=None)

    envelope, _ = decode(record.headers, record.value)

    assert "traceparent" not in dict(record.headers)
    assert envelope.traceparent is None


def test_the_envelope_read_back_says_who_sent_what_for_whom_and_when() -> None:
    record = record_of(SAMPLES["PaymentReceived"])

    # aiokafka hands headers over as a tuple of tuples
    envelope, _ = decode(tuple(record.headers), record.value)

    assert (envelope.id, envelope.type, envelope.source, envelope.subject, envelope.tenant) == (
        "evt-1", "PaymentReceived", "/erp/sap", "C-1", "acme")
    assert envelope.time == RECORDED_AT
    assert envelope.traceparent == TRACEPARENT


def test_amounts_are_json_strings_on_the_wire() -> None:
    body = json.loads(record_of(SAMPLES["InvoiceIssued"]).value)

    assert body["total"] == {"amount": "121.00", "currency": "EUR"}
    assert body["lines"][0]["unit_price"] == "50.00"


# --- what is refused, and why -----------------------------------------------------------


def test_a_record_missing_cloudevents_headers_is_refused_naming_them() -> None:
    record = record_of(SAMPLES["OrderShipped"])

    reason = refusal(without(record.headers, "ce_type", "tenant"), record.value)

    assert reason == "not a CloudEvent: missing header(s): ce_type, tenant"


def test_a_record_with_no_headers_at_all_is_refused() -> None:
    record = record_of(SAMPLES["OrderShipped"])

    assert refusal([], record.value).startswith("not a CloudEvent: missing header(s): ce_id")


def test_an_event_type_nobody_published_is_refused_by_name() -> None:
    record = record_of(SAMPLES["OrderShipped"])

    reason = refusal(replaced(record.headers, "ce_type", "OrderTeleported"), record.value)

    assert reason == "unknown event type 'OrderTeleported'"


@pytest.mark.parametrize("value", [b"{not json", b"", None, b"\xff\xfe"])
def test_a_body_that_is_not_json_is_refused(value: bytes | None) -> None:
    record = record_of(SAMPLES["OrderShipped"])

    assert refusal(record.headers, value).startswith("OrderShipped: body is not JSON")


def test_a_body_that_is_a_json_list_is_refused() -> None:
    record = record_of(SAMPLES["OrderShipped"])

    reason = refusal(record.headers, json.dumps([shipment_body()]).encode())

    assert reason == "OrderShipped: body must be a JSON object"


def test_a_shipment_with_a_negative_quantity_is_refused_naming_the_line() -> None:
    record = record_of(SAMPLES["OrderShipped"])
    body = shipment_body()
    body["lines"][0]["quantity"] = "-2"

    reason = refusal(record.headers, json.dumps(body).encode())

    assert reason.startswith("OrderShipped: lines.0.quantity:")
    assert "greater than 0" in reason


def test_a_shipment_in_an_unknown_currency_is_refused_naming_the_code() -> None:
    record = record_of(SAMPLES["OrderShipped"])

    reason = refusal(record.headers, json.dumps(shipment_body(currency="XXY")).encode())

    assert reason.startswith("OrderShipped: currency:")
    assert "'XXY' is not an active ISO 4217 currency code" in reason


def test_a_shipment_without_a_customer_is_refused() -> None:
    record = record_of(SAMPLES["OrderShipped"])
    body = shipment_body()
    del body["customer_id"]

    reason = refusal(record.headers, json.dumps(body).encode())

    assert reason == "OrderShipped: customer_id: Field required"


def test_an_invoice_whose_net_and_tax_do_not_make_its_total_is_refused() -> None:
    record = record_of(SAMPLES["InvoiceIssued"])
    body = json.loads(record.value)
    body["total"]["amount"] = "120.00"

    reason = refusal(record.headers, json.dumps(body).encode())

    assert reason.startswith("InvoiceIssued: ")
    assert "net 100.00 EUR + tax 21.00 EUR does not equal total 120.00 EUR" in reason


def test_an_event_filed_under_another_customers_key_is_refused() -> None:
    record = record_of(SAMPLES["OrderShipped"])

    reason = refusal(replaced(record.headers, "ce_subject", "C-2"), record.value)

    assert reason == "OrderShipped: ce_subject 'C-2' is not the event's account 'C-1'"


def test_a_record_with_an_unreadable_time_is_refused_as_not_a_cloudevent() -> None:
    record = record_of(SAMPLES["OrderShipped"])

    reason = refusal(replaced(record.headers, "ce_time", "yesterday"), record.value)

    assert reason.startswith("not a CloudEvent: bad header:")


def test_a_body_from_a_newer_version_than_this_code_knows_is_refused() -> None:
    record = record_of(SAMPLES["OrderShipped"])

    reason = refusal(record.headers, json.dumps(shipment_body(version=2)).encode())

    assert reason.startswith("OrderShipped: version: Input should be 1")


@pytest.mark.parametrize("version", ["one", None, [1]])
def test_a_body_with_a_version_that_is_not_a_number_is_refused(version: object) -> None:
    record = record_of(SAMPLES["OrderShipped"])

    with pytest.raises(InvalidEvent, match="version"):
        decode(record.headers, json.dumps(shipment_body(version=version)).encode())


def test_a_record_with_a_header_without_value_is_still_read() -> None:
    record = record_of(SAMPLES["OrderShipped"])

    _, event = decode([*record.headers, ("x-retry", None)], record.value)  # type: ignore[list-item]

    assert event == SAMPLES["OrderShipped"]


# --- a current body is read in one pass ------------------------------------------------
#
# `decode` reads a body at the current version in one pass of pydantic's JSON mode
# (`_at_current_version`), and anything else by json.loads, upcasting and validation
# (`_validated`). The second is the reference: whatever the first accepts, the second must
# accept as the same event, whichever field holds an odd value.

ODD_VALUES: list[Any] = [
    None, True, 0, 1, -1, 1.0, 1.5, "1", "2", "", "x", [], {}, ["x"], "2024-03-01",
    "2024-03-01T09:30:00Z", 20240301, 123456789012345678901234567890, 1e300,
    {"amount": 1.5, "currency": "EUR"}, {"amount": "1", "currency": "eur"},
    {"amount": "1.00", "currency": "EUR", "extra": 1},
]


def bodies_with_one_odd_field(event: IntegrationEvent) -> Iterator[dict[str, Any]]:
    body = json.loads(event.model_dump_json())
    for name in body:
        yield {field: value for field, value in body.items() if field != name}
        for odd in ODD_VALUES:
            yield {**body, name: odd}


@pytest.mark.parametrize("event_type", sorted(SAMPLES))
def test_a_body_read_in_one_pass_is_the_event_full_validation_reads(event_type: str) -> None:
    event_class = EVENT_TYPES[event_type]
    assert _at_current_version(event_class, record_of(SAMPLES[event_type]).value) \
        == SAMPLES[event_type]

    for body in bodies_with_one_odd_field(SAMPLES[event_type]):
        value = json.dumps(body).encode()
        read_in_one_pass = _at_current_version(event_class, value)
        if read_in_one_pass is not None:
            validated = event_class.model_validate(upcast(event_type, json.loads(value)))
            assert repr(read_in_one_pass) == repr(validated), body


# --- upcasting old bodies -------------------------------------------------------------
#
# Registering an event class writes it into the global EVENT_TYPES (and the upcaster
# into UPCASTERS), which the schema tests read. The throwaway type below gets a
# unique name and is removed from both registries when the test ends, so nothing
# outlives it.


@pytest.fixture
def renamed_field_event() -> Iterator[type[IntegrationEvent]]:
    event_type = f"TestOnlyRenamedField{uuid.uuid4().hex}"

    class RenamedField(IntegrationEvent, event_type=event_type, topic="test.only"):
        """v2 renamed v1's `client` to `customer_id`."""

        version: Literal[2] = 2
        customer_id: str

    @upcaster(event_type, from_version=1)
    def client_became_customer_id(body: dict[str, Any]) -> dict[str, Any]:
        body = dict(body)
        body["customer_id"] = body.pop("client")
        body["version"] = 2
        return body

    try:
        yield RenamedField
    finally:
        EVENT_TYPES.pop(event_type, None)
        UPCASTERS.pop((event_type, 1), None)


def test_a_v1_body_is_upcast_to_the_current_version_before_it_is_validated(
    renamed_field_event: type[IntegrationEvent],
) -> None:
    current = renamed_field_event(customer_id="C-1")  # type: ignore[call-arg]
    record = record_of(current)

    _, event = decode(record.headers, json.dumps({"version": 1, "client": "C-1"}).encode())

    assert event == current
    assert event.version == 2


def test_a_body_of_a_version_with_no_upcaster_is_refused_saying_so(
    renamed_field_event: type[IntegrationEvent],
) -> None:
    record = record_of(renamed_field_event(customer_id="C-1"))  # type: ignore[call-arg]

    reason = refusal(record.headers, json.dumps({"version": 0, "client": "C-1"}).encode())

    assert reason == f"{renamed_field_event.event_type}: no upcaster for {renamed_field_event.event_type} v0"


def test_registering_the_same_event_type_twice_is_refused() -> None:
    with pytest.raises(TypeError, match="'OrderShipped' is registered twice"):
        class AnotherOrderShipped(IntegrationEvent, event_type="OrderShipped", topic="erp.orders"):
            version: Literal[1] = 1
    assert EVENT_TYPES["OrderShipped"] is OrderShipped


# --- invoices in a foreign currency, with a discount, or without a rate ---------------

INVOICE_VARIANTS = [
    InvoiceIssued(
        invoice_id="inv-2", invoice_number="INV-000002", customer_id="C-1", order_id="O-2",
        shipment_id="S-1", po_number="PO-78", customer_language="nl",
        issue_date=date(2024, 3, 1), due_date=date(2024, 3, 31), payment_terms="2/10 net 30",
        payment_terms_days=30, discount_date=date(2024, 3, 11),
        discount_amount=Money.of("2.42", "USD"), net_amount=Money.of("100.00", "USD"),
        tax_amount=Money.of("21.00", "USD"), total=Money.of("121.00", "USD"),
        functional_currency="EUR", functional_amount=eur("111.52"),
        exchange_rate=AppliedExchangeRate(from_currency="EUR", to_currency="USD",
                                          rate="1.0850", rate_date=date(2024, 3, 1)),
    ),
    InvoiceIssued(
        invoice_id="inv-3", invoice_number="0000611365", customer_id="C-1", issued_by="erp",
        issue_date=date(2024, 3, 1), due_date=date(2024, 3, 31), payment_terms="net 30",
        net_amount=Money.of("55.94", "USD"), tax_amount=Money.of("0.00", "USD"),
        total=Money.of("55.94", "USD"), functional_currency="EUR", rate_missing=True,
    ),
]


@pytest.mark.parametrize("invoice", INVOICE_VARIANTS, ids=["converted", "rate-missing"])
def test_an_invoice_keeps_its_discount_and_functional_amount_or_its_missing_rate(
        invoice: InvoiceIssued) -> None:
    record = record_of(invoice)

    _, decoded = decode(record.headers, record.value)

    assert decoded == invoice
    body = json.loads(record.value)
    assert (body["functional_amount"] is None) == body["rate_missing"]


def test_a_missing_rate_is_never_a_silent_functional_amount() -> None:
    body = json.loads(record_of(INVOICE_VARIANTS[1]).value)
    body["functional_amount"] = {"amount": "55.94", "currency": "EUR"}

    reason = refusal(record_of(INVOICE_VARIANTS[1]).headers, json.dumps(body).encode())

    assert "a missing rate means a functional currency, no functional amount" in reason


def test_an_erp_invoice_with_amounts_in_another_currency_is_refused() -> None:
    body = json.loads(record_of(SAMPLES["ErpInvoiceIssued"]).value)
    body["tax_amount"]["currency"] = "USD"

    reason = refusal(record_of(SAMPLES["ErpInvoiceIssued"]).headers, json.dumps(body).encode())

    assert reason.startswith("ErpInvoiceIssued: ")
    assert "amounts in USD on an invoice in EUR" in reason


def test_a_customer_gives_its_terms_as_text_or_as_days_not_both() -> None:
    body = json.loads(record_of(SAMPLES["CustomerUpserted"]).value)
    body["payment_terms"] = "2/10 net 30"

    reason = refusal(record_of(SAMPLES["CustomerUpserted"]).headers, json.dumps(body).encode())

    assert "give the payment terms once" in reason
