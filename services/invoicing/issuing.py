"""What every receivable document needs when it is issued, whoever asked for it: the
customer it bills, a number from a gapless series, a claim on that number, terms,
and its worth in the tenant's functional currency.

The ERP intake (intake.py) and the commands of people and dunning (corrections.py)
build on these steps; application.py puts them together.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from libs.runtime.clock import Clock, SystemClock
from libs.runtime.eventstore import AlreadyProcessed, ReceivablesApplication

from .currency import RATE_LOOKBACK_DAYS, Conversion, FunctionalCurrencies, PublishedRate, convert
from .documents import CreditNote, DebitNote, Invoice
from .domain import Customer, DocumentNumber, ExchangeRate, ExchangeRatePair, InvoiceNumberSeries
from .terms import PaymentTerms, TermsKind
from .totals import InvoiceTotals

log = logging.getLogger(__name__)

T = TypeVar("T")

INVOICE_SERIES, CREDIT_NOTE_SERIES, DEBIT_NOTE_SERIES = "INV", "CN", "DN"

# Two commands racing on one aggregate (the number series, an invoice): the loser's
# transaction is refused whole and simply runs again on the new state.
CONFLICT_RETRIES = 5


class NumberTaken(ValueError):
    """The document number is already claimed by another document of the tenant."""


class InvoicingLedger(ReceivablesApplication):
    """The invoicing application's shared steps; see application.InvoicingApplication."""

    functional_currencies = FunctionalCurrencies(default="EUR")
    clock: Clock = SystemClock()

    # --- finding things ----------------------------------------------------------------

    def _customer(self, tenant: str, customer_id: str, cause: dict[str, Any]) -> Customer:
        return self.get_or_none(Customer.create_id(tenant, customer_id)) or Customer(
            tenant=tenant, customer_id=customer_id, causation=cause)

    def _series(self, tenant: str, series: str, cause: dict[str, Any]) -> InvoiceNumberSeries:
        return self.get_or_none(InvoiceNumberSeries.create_id(tenant, series)) or (
            InvoiceNumberSeries(tenant=tenant, series=series, causation=cause))

    def document_by_number(self, tenant: str,
                           number: str) -> Invoice | CreditNote | DebitNote | None:
        claim = self.get_or_none(DocumentNumber.create_id(tenant, number))
        return None if claim is None else self.repository.get(claim.document_id)

    def invoice_by_number(self, tenant: str, number: str) -> Invoice | None:
        document = self.document_by_number(tenant, number)
        return document if isinstance(document, Invoice) else None

    # --- numbers -----------------------------------------------------------------------

    def _claim(self, tenant: str, number: str, kind: str, document_id: UUID,
               cause: dict[str, Any]) -> DocumentNumber:
        claim = self.get_or_none(DocumentNumber.create_id(tenant, number))
        if claim is not None:
            raise NumberTaken(f"number {number} is already used by {claim.kind} "
                              f"{claim.number} of tenant {tenant}")
        return DocumentNumber(tenant=tenant, number=number, kind=kind, document_id=document_id,
                              causation=cause)

    # --- the functional currency --------------------------------------------------------

    def _published_rate(self, tenant: str, currency: str, functional_currency: str,
                        issue_date: date) -> PublishedRate | None:
        pairs = [pair for pair in ((currency, functional_currency),
                                   (functional_currency, currency))
                 if self.exists(ExchangeRatePair.create_id(tenant, *pair))]
        for days_back in range(RATE_LOOKBACK_DAYS + 1 if pairs else 0):
            day = issue_date - timedelta(days=days_back)
            for pair in pairs:
                rate = self.get_or_none(ExchangeRate.create_id(tenant, *pair, day))
                if rate is not None:
                    return PublishedRate(rate.from_currency, rate.to_currency, rate.rate, day)
        return None

    def _conversion(self, tenant: str, currency: str, total: Decimal,
                    issue_date: date) -> Conversion:
        functional = self.functional_currencies.of(tenant)
        rate = None if currency == functional else self._published_rate(
            tenant, currency, functional, issue_date)
        return convert(total, currency, functional, rate)

    # --- building an invoice ------------------------------------------------------------

    @staticmethod
    def _new_invoice(*, invoice_id: UUID, tenant: str, invoice_number: str, customer_id: str,
                     issue_date: date, due_date: date, terms_text: str | None,
                     terms: PaymentTerms | None, currency: str, totals: InvoiceTotals,
                     source_lines: Iterable[Any], conversion: Conversion,
                     cause: dict[str, Any], **details: Any) -> Invoice:
        lines = [
            {"line_no": computed.line_no, "sku": line.sku, "description": line.description,
             "quantity": computed.quantity, "unit_price": computed.unit_price,
             "discount_percent": computed.discount_percent, "tax_rate": computed.tax_rate,
             "net_amount": computed.net_amount.amount, "tax_amount": computed.tax_amount.amount}
            for line, computed in zip(source_lines, totals.lines, strict=True)
        ]
        if "discount_date" not in details:
            offer = terms.discount(issue_date, totals.total) if terms else None
            details["discount_date"] = offer.pay_by if offer else None
            details["discount_amount"] = offer.discount.amount if offer else None
        return Invoice(
            id=invoice_id, tenant=tenant, invoice_number=invoice_number,
            customer_id=customer_id, issue_date=issue_date, due_date=due_date,
            payment_terms=terms_text,
            payment_terms_days=terms.days if terms and terms.kind is TermsKind.NET else None,
            currency=currency, lines=lines, net_amount=totals.net.amount,
            tax_amount=totals.tax.amount, total=totals.total.amount,
            functional_currency=conversion.functional_currency,
            functional_amount=conversion.functional_amount,
            exchange_rate=conversion.rate.as_dict() if conversion.rate else None,
            causation=cause, **details)

    # --- running a command --------------------------------------------------------------

    @staticmethod
    def _with_retries(command: Callable[[], T]) -> T:
        """Run a command again on fresh state when a concurrent one changed the same
        aggregate first; nothing of the losing attempt was stored."""
        for attempt in range(1, CONFLICT_RETRIES + 1):
            try:
                return command()
            except AlreadyProcessed:
                raise
            except IntegrityError:
                if attempt == CONFLICT_RETRIES:
                    raise
                log.info("concurrent change; running the command again (attempt %d)",
                         attempt + 1)
        raise AssertionError("unreachable")
