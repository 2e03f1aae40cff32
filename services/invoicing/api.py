"""HTTP: read an invoice; credit, adjust, cancel or write it off.

Every change names who asks (the X-Actor header) and why (`reason`). Bad input is a
4xx with a message and changes nothing: 400 no actor, 404 no such invoice, 409 the
invoice's state does not allow it, 422 a malformed request.
"""

# No `from __future__ import annotations`: FastAPI reads the parameter annotations.

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from fastapi import APIRouter, Header, HTTPException, Response

from libs.runtime.causation import Causation
from libs.runtime.telemetry import current_traceparent

from .application import InvoicingApplication
from .corrections import (
    AdjustInvoice,
    CancelInvoice,
    ConflictingRequest,
    CreditAccount,
    InvoiceNotFound,
    IssueCreditNote,
    WriteOffInvoice,
)
from .documents import CreditNote, DocumentRefused, Invoice

T = TypeVar("T")


def invoicing_router(invoicing: InvoicingApplication, default_tenant: str) -> APIRouter:
    router = APIRouter(tags=["invoicing"])

    def causation(x_tenant: str | None, x_actor: str | None) -> Causation:
        if not x_actor or not x_actor.strip():
            raise HTTPException(status_code=400, detail="say who asks: set the X-Actor header "
                                                        "to your user id")
        return Causation(tenant=x_tenant or default_tenant, actor=x_actor.strip(),
                         traceparent=current_traceparent())

    async def run(command: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(command)
        except InvoiceNotFound as error:
            raise HTTPException(status_code=404, detail=str(error)) from None
        except (DocumentRefused, ConflictingRequest) as error:
            raise HTTPException(status_code=409, detail=str(error)) from None

    @router.get("/invoices/{invoice_number}", summary="An invoice: amounts, terms, what "
                                                     "became of it")
    async def get_invoice(invoice_number: str,
                          x_tenant: str | None = Header(default=None)) -> dict[str, Any]:
        tenant = x_tenant or default_tenant
        invoice = await asyncio.to_thread(invoicing.invoice_by_number, tenant, invoice_number)
        if invoice is None:
            raise HTTPException(status_code=404,
                                detail=f"no invoice {invoice_number!r} in tenant {tenant!r}")
        return invoice_view(invoice)

    @router.post("/invoices/{invoice_number}/credit-notes", status_code=201,
                 summary="Credit an invoice: in full, some lines, or an amount")
    async def credit_invoice(invoice_number: str, command: IssueCreditNote, response: Response,
                             x_tenant: str | None = Header(default=None),
                             x_actor: str | None = Header(default=None)) -> dict[str, Any]:
        asked = causation(x_tenant, x_actor)
        note, created = await run(lambda: invoicing.issue_credit_note(invoice_number, command,
                                                                      asked))
        if not created:
            response.status_code = 200
        return credit_note_view(note)

    @router.post("/customers/{customer_id}/credit-notes", status_code=201,
                 summary="Credit a customer's account, against no invoice")
    async def credit_account(customer_id: str, command: CreditAccount, response: Response,
                             x_tenant: str | None = Header(default=None),
                             x_actor: str | None = Header(default=None)) -> dict[str, Any]:
        asked = causation(x_tenant, x_actor)
        note, created = await run(lambda: invoicing.credit_account(customer_id, command, asked))
        if not created:
            response.status_code = 200
        return credit_note_view(note)

    @router.post("/invoices/{invoice_number}/adjustments", status_code=201,
                 summary="Correct an invoice's amount")
    async def adjust(invoice_number: str, command: AdjustInvoice, response: Response,
                     x_tenant: str | None = Header(default=None),
                     x_actor: str | None = Header(default=None)) -> dict[str, Any]:
        asked = causation(x_tenant, x_actor)
        invoice, created = await run(lambda: invoicing.adjust_invoice(invoice_number, command,
                                                                      asked))
        if not created:
            response.status_code = 200
        return invoice_view(invoice)

    @router.post("/invoices/{invoice_number}/cancellation", summary="Cancel an unpaid invoice")
    async def cancel(invoice_number: str, command: CancelInvoice,
                     x_tenant: str | None = Header(default=None),
                     x_actor: str | None = Header(default=None)) -> dict[str, Any]:
        asked = causation(x_tenant, x_actor)
        return invoice_view(await run(lambda: invoicing.cancel_invoice(invoice_number, command,
                                                                       asked)))

    @router.post("/invoices/{invoice_number}/write-off",
                 summary="Write off what remains open on an invoice")
    async def write_off(invoice_number: str, command: WriteOffInvoice,
                        x_tenant: str | None = Header(default=None),
                        x_actor: str | None = Header(default=None)) -> dict[str, Any]:
        asked = causation(x_tenant, x_actor)
        return invoice_view(await run(lambda: invoicing.write_off_invoice(invoice_number,
                                                                          command, asked)))

    return router


def _amount(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)


def invoice_view(invoice: Invoice) -> dict[str, Any]:
    rate = invoice.exchange_rate
    return {
        "invoice_id": str(invoice.id),
        "invoice_number": invoice.invoice_number,
        "customer_id": invoice.customer_id,
        "issued_by": invoice.issued_by,
        "order_id": invoice.order_id,
        "shipment_id": invoice.shipment_id,
        "po_number": invoice.po_number,
        "customer_language": invoice.customer_language,
        "issue_date": invoice.issue_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "payment_terms": invoice.payment_terms,
        "discount": None if invoice.discount_date is None else {
            "pay_by": invoice.discount_date.isoformat(),
            "amount": _amount(invoice.discount_amount)},
        "currency": invoice.currency,
        "net_amount": str(invoice.net_amount),
        "tax_amount": str(invoice.tax_amount),
        "total": str(invoice.total),
        "current_total": str(invoice.current_total),
        "credited": str(invoice.credited),
        "paid": str(invoice.paid),
        "settled_without_cash": str(invoice.settled_without_cash),
        "written_off": str(invoice.written_off),
        "open_amount": str(invoice.open_amount),
        "status": invoice.status,
        "cancelled_on": invoice.cancelled_on.isoformat() if invoice.cancelled_on else None,
        "functional": {
            "currency": invoice.functional_currency,
            "amount": _amount(invoice.functional_amount),
            "rate_missing": invoice.functional_currency is not None
            and invoice.functional_amount is None,
            "rate": None if not rate else {
                "from_currency": rate["from_currency"], "to_currency": rate["to_currency"],
                "rate": str(rate["rate"]), "rate_date": rate["rate_date"].isoformat()},
        },
        "lines": [{name: str(value) if isinstance(value, Decimal) else value
                   for name, value in line.items()} for line in invoice.lines],
        "credit_notes": [{"credit_note_number": note["credit_note_number"],
                          "issue_date": note["issue_date"].isoformat(),
                          "total": str(note["total"])} for note in invoice.credit_notes],
    }


def credit_note_view(note: CreditNote) -> dict[str, Any]:
    return {
        "credit_note_id": str(note.id),
        "credit_note_number": note.credit_note_number,
        "customer_id": note.customer_id,
        "scope": note.scope,
        "invoice_number": note.invoice_number,
        "issue_date": note.issue_date.isoformat(),
        "currency": note.currency,
        "net_amount": str(note.net_amount),
        "tax_amount": str(note.tax_amount),
        "total": str(note.total),
        "reason": note.reason,
        "actor": note.actor,
    }
