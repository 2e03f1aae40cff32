"""The ERP's events in: customers and their terms, orders, shipments to invoice, the
ERP's own invoices, exchange rates.

What the ERP sent that cannot be invoiced is refused with ErpInputRefused, whose
message says what is wrong and what to do (the handler dead-letters it with that
reason). Each command stores its effects with the consumed Kafka position.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from eventsourcing.persistence import Tracking

from libs.events import (
    CustomerUpserted,
    ErpInvoiceIssued,
    ExchangeRatePublished,
    OrderCancelled,
    OrderPlaced,
    OrderShipped,
)
from libs.events.base import upcast
from libs.runtime.causation import Causation

from .documents import Invoice
from .domain import (
    Customer,
    DocumentNumber,
    ExchangeRate,
    ExchangeRatePair,
    InvoiceNumberSeries,
    Order,
    erp_invoice_key,
    shipment_key,
)
from .issuing import INVOICE_SERIES, InvoicingLedger, NumberTaken
from .terms import InvalidPaymentTerms, PaymentTerms, TermsKind, terms_of_shipment
from .totals import (
    InvalidInvoiceLine,
    InvoiceTotals,
    TotalsDoNotAddUp,
    check_declared_totals,
    compute_totals,
)

# The platform's own series; an ERP number in this shape would collide with one of ours.
_PLATFORM_NUMBER = re.compile(r"^(INV|CN|DN)-\d{6,}$", re.IGNORECASE)


class ErpInputRefused(ValueError):
    """An ERP event the platform cannot invoice; the message is the dead-letter reason."""


class ErpIntake(InvoicingLedger):

    # --- customers ---------------------------------------------------------------------

    def upsert_customer(self, master: CustomerUpserted, causation: Causation,
                        tracking: Tracking | None = None) -> None:
        cause = causation.as_dict()
        terms = _readable(master.terms_text, f"customer {master.customer_id}")
        customer = self._customer(causation.tenant, master.customer_id, cause)
        if customer.master_data_differs(master.name, master.currency, str(terms),
                                        master.language):
            customer.change_master_data(name=master.name, currency=master.currency,
                                        payment_terms=str(terms), language=master.language,
                                        causation=cause)
        issued: list[Any] = []
        if customer.held:
            issued = self._issue_held(customer, causation)
            customer.release_held(causation=cause)
        self.record(tracking, customer, *issued)

    def _issue_held(self, customer: Customer, causation: Causation) -> list[Any]:
        """Invoice what waited for the customer, in the order it arrived."""
        cause, tenant = causation.as_dict(), causation.tenant
        series: InvoiceNumberSeries | None = None
        issued: list[Any] = []
        for held in customer.held:
            # Held before its cause was kept with it: then the customer's arrival stands in.
            held_cause = (Causation.from_dict(held["causation"]) if "causation" in held
                          else causation)
            if held["event_type"] == OrderShipped.event_type:
                shipment = OrderShipped.model_validate(upcast(held["event_type"], held["body"]))
                if self.exists(Invoice.create_id(tenant, shipment.order_id,
                                                 shipment.shipment_id)):
                    continue
                series = series or self._series(tenant, INVOICE_SERIES, cause)
                order = self.get_or_none(Order.create_id(tenant, shipment.order_id))
                issued += self._invoice_of_shipment(shipment, customer, order, series,
                                                    held_cause)
            else:
                erp = ErpInvoiceIssued.model_validate(upcast(held["event_type"], held["body"]))
                invoice_id = Invoice.create_id_for_erp(tenant, erp.invoice_number)
                if self.exists(invoice_id):
                    continue
                issued += [self._erp_invoice(erp, customer, _checked_totals(erp), held_cause),
                           self._claim_erp_number(erp, invoice_id, held_cause)]
        return ([series] if series else []) + issued

    # --- orders and shipments ------------------------------------------------------------

    def place_order(self, placed: OrderPlaced, causation: Causation,
                    tracking: Tracking | None = None) -> None:
        if placed.payment_terms is not None:
            _readable(placed.payment_terms, f"order {placed.order_id}")
        order = self._order(placed.order_id, placed.customer_id, causation)
        if order.placement_differs(placed.po_number, placed.payment_terms):
            order.place(ordered_on=placed.ordered_on, po_number=placed.po_number,
                        payment_terms=placed.payment_terms, causation=causation.as_dict())
        self.record(tracking, order)

    def cancel_order(self, cancelled: OrderCancelled, causation: Causation,
                     tracking: Tracking | None = None) -> None:
        order = self._order(cancelled.order_id, cancelled.customer_id, causation)
        if order.cancelled_on is None:  # a re-sent cancellation changes nothing
            order.cancel(cancelled_on=cancelled.cancelled_on, reason=cancelled.reason,
                         causation=causation.as_dict())
        self.record(tracking, order)

    def invoice_shipment(self, shipment: OrderShipped, causation: Causation,
                         tracking: Tracking | None = None) -> None:
        tenant, cause = causation.tenant, causation.as_dict()
        if self.exists(Invoice.create_id(tenant, shipment.order_id, shipment.shipment_id)):
            self.record(tracking)  # already invoiced: the same shipment delivered again
            return
        order = self.get_or_none(Order.create_id(tenant, shipment.order_id))
        refusal = order.refusal_of_shipment(shipment.shipment_id, shipment.shipped_on) \
            if order else None
        if refusal:
            raise ErpInputRefused(refusal)
        where = f"shipment {shipment.shipment_id} of order {shipment.order_id}"
        if shipment.payment_terms is not None:
            _readable(shipment.payment_terms, where)
        _priced(shipment.lines, shipment.currency, where)
        customer = self._customer(tenant, shipment.customer_id, cause)
        if not customer.has_master_data:
            key = shipment_key(shipment.order_id, shipment.shipment_id)
            if not customer.is_holding(key):
                customer.hold(event_type=shipment.event_type, key=key,
                              body=shipment.model_dump(mode="json"), causation=cause)
            self.record(tracking, customer)
            return
        series = self._series(tenant, INVOICE_SERIES, cause)
        self.record(tracking, series,
                    *self._invoice_of_shipment(shipment, customer, order, series, causation))

    def _order(self, order_id: str, customer_id: str, causation: Causation) -> Order:
        return self.get_or_none(Order.create_id(causation.tenant, order_id)) or Order(
            tenant=causation.tenant, order_id=order_id, customer_id=customer_id,
            causation=causation.as_dict())

    def _invoice_of_shipment(self, shipment: OrderShipped, customer: Customer,
                             order: Order | None, series: InvoiceNumberSeries,
                             causation: Causation) -> list[Any]:
        tenant, cause = causation.tenant, causation.as_dict()
        terms = terms_of_shipment(shipment.payment_terms, order.payment_terms if order else None,
                                  customer.payment_terms)
        totals = compute_totals(shipment.lines, shipment.currency)
        invoice_id = Invoice.create_id(tenant, shipment.order_id, shipment.shipment_id)
        number = series.allocate(cause)
        issue_date = shipment.shipped_on  # invoiced as of the shipment, whenever processed
        invoice = self._new_invoice(
            invoice_id=invoice_id, tenant=tenant, invoice_number=number,
            customer_id=shipment.customer_id, issue_date=issue_date,
            due_date=terms.due_date(issue_date), terms_text=str(terms), terms=terms,
            currency=shipment.currency, totals=totals, source_lines=shipment.lines,
            conversion=self._conversion(tenant, shipment.currency, totals.total.amount,
                                        issue_date),
            cause=cause, order_id=shipment.order_id, shipment_id=shipment.shipment_id,
            po_number=shipment.po_number or (order.po_number if order else None),
            customer_language=customer.language)
        return [invoice, self._claim(tenant, number, "invoice", invoice_id, cause)]

    # --- invoices the ERP issued itself ---------------------------------------------------

    def record_erp_invoice(self, erp: ErpInvoiceIssued, causation: Causation,
                           tracking: Tracking | None = None) -> None:
        tenant, cause = causation.tenant, causation.as_dict()
        invoice_id = Invoice.create_id_for_erp(tenant, erp.invoice_number)
        existing = self.get_or_none(invoice_id)
        if existing is not None:
            if existing.source_fingerprint != fingerprint(erp):
                raise ErpInputRefused(_reissued(erp, existing.total, existing.issue_date))
            self.record(tracking)  # the same ERP invoice again
            return
        totals = _checked_totals(erp)
        if _PLATFORM_NUMBER.match(erp.invoice_number):
            raise ErpInputRefused(f"ERP invoice {erp.invoice_number}: the number is in the "
                                  "platform's own series (INV-, CN-, DN-); the ERP must use "
                                  "its own number range")
        claim = self._claim_erp_number(erp, invoice_id, causation)
        customer = self._customer(tenant, erp.customer_id, cause)
        if not customer.has_master_data:
            key = erp_invoice_key(erp.invoice_number)
            held = next((held for held in customer.held if held["key"] == key), None)
            if held is None:
                customer.hold(event_type=erp.event_type, key=key,
                              body=erp.model_dump(mode="json"), causation=cause)
            elif fingerprint(ErpInvoiceIssued.model_validate(held["body"])) != fingerprint(erp):
                raise ErpInputRefused(_reissued(erp, None, None))
            self.record(tracking, customer)
            return
        self.record(tracking, self._erp_invoice(erp, customer, totals, causation), claim)

    def _claim_erp_number(self, erp: ErpInvoiceIssued, invoice_id: Any,
                          causation: Causation) -> DocumentNumber:
        try:
            return self._claim(causation.tenant, erp.invoice_number, "invoice", invoice_id,
                               causation.as_dict())
        except NumberTaken as error:
            raise ErpInputRefused(f"ERP invoice {erp.invoice_number}: {error}") from None

    def _erp_invoice(self, erp: ErpInvoiceIssued, customer: Customer, totals: InvoiceTotals,
                     causation: Causation) -> Invoice:
        """Recorded as the ERP issued it: its number, dates, terms and discount."""
        tenant = causation.tenant
        try:
            terms: PaymentTerms | None = PaymentTerms.parse(erp.payment_terms or "")
        except InvalidPaymentTerms:
            terms = None  # the ERP's wording is kept as it is; only net days are derived
        return self._new_invoice(
            invoice_id=Invoice.create_id_for_erp(tenant, erp.invoice_number), tenant=tenant,
            invoice_number=erp.invoice_number, customer_id=erp.customer_id,
            issue_date=erp.issue_date, due_date=erp.due_date, terms_text=erp.payment_terms,
            terms=terms if terms and terms.kind is TermsKind.NET else None,
            currency=erp.currency, totals=totals, source_lines=erp.lines,
            conversion=self._conversion(tenant, erp.currency, totals.total.amount,
                                        erp.issue_date),
            cause=causation.as_dict(), issued_by="erp", order_id=erp.order_id,
            shipment_id=None, po_number=erp.po_number, customer_language=customer.language,
            discount_date=erp.discount_date,
            discount_amount=erp.discount_amount.amount if erp.discount_amount else None,
            source_fingerprint=fingerprint(erp))

    # --- exchange rates ----------------------------------------------------------------

    def record_exchange_rate(self, published: ExchangeRatePublished, causation: Causation,
                             tracking: Tracking | None = None) -> None:
        cause = causation.as_dict()
        rate_id = ExchangeRate.create_id(causation.tenant, published.from_currency,
                                         published.to_currency, published.rate_date)
        rate = self.get_or_none(rate_id)
        if rate is None:
            rate = ExchangeRate(tenant=causation.tenant, from_currency=published.from_currency,
                                to_currency=published.to_currency,
                                rate_date=published.rate_date, rate=published.rate,
                                source=published.source, causation=cause)
        elif rate.rate != published.rate:
            rate.correct(rate=published.rate, source=published.source, causation=cause)
        pair_id = ExchangeRatePair.create_id(causation.tenant, published.from_currency,
                                             published.to_currency)
        pair = None if self.exists(pair_id) else ExchangeRatePair(
            tenant=causation.tenant, from_currency=published.from_currency,
            to_currency=published.to_currency, causation=cause)
        self.record(tracking, rate, pair)


def fingerprint(erp: ErpInvoiceIssued) -> str:
    """The same ERP invoice sent twice has the same fingerprint; a changed one does not."""
    return hashlib.sha256(erp.model_dump_json().encode()).hexdigest()


def _readable(text: str, whose: str) -> PaymentTerms:
    try:
        return PaymentTerms.parse(text)
    except InvalidPaymentTerms as error:
        raise ErpInputRefused(f"{whose}: {error}") from None


def _priced(lines: Any, currency: str, where: str) -> InvoiceTotals:
    try:
        return compute_totals(lines, currency)
    except InvalidInvoiceLine as error:
        raise ErpInputRefused(f"{where}: {error}") from None


def _checked_totals(erp: ErpInvoiceIssued) -> InvoiceTotals:
    where = f"ERP invoice {erp.invoice_number}"
    _priced(erp.lines, erp.currency, where)
    try:
        return check_declared_totals(erp.lines, erp.currency, erp.net_amount, erp.tax_amount,
                                     erp.total)
    except TotalsDoNotAddUp as error:
        raise ErpInputRefused(f"{where}: {error}; correct the invoice in the ERP and send "
                              "it again") from None


def _reissued(erp: ErpInvoiceIssued, total: Any, issue_date: Any) -> str:
    before = f" (total {total}, issued {issue_date})" if total is not None else ""
    return (f"ERP invoice {erp.invoice_number} was received before{before} with different "
            f"content; now total {erp.total}, issued {erp.issue_date}. An issued invoice is "
            "not re-issued: correct it with a credit note or adjustment")
