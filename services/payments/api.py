"""HTTP: record a payment, import a bank statement, refund, and take provider webhooks.

Bad input is a 4xx with a message and changes nothing.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, File, Form, Header, HTTPException, Request, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from libs.events import Money
from libs.events.money import Amount, Currency
from libs.runtime.causation import Causation
from libs.runtime.telemetry import current_traceparent

from .application import (
    ConflictingPayment,
    PaymentsApplication,
    RecordPayment,
    UnknownPayment,
    csv_mapping_named,
    payment_view,
)
from .domain import RefundRefused
from .statements import PRESETS, StatementRejected
from .webhook import ProviderPayment, signature_is_valid

# Bank statements of a busy account run to a few megabytes; far more is not a statement.
MAX_STATEMENT_BYTES = 20 * 1024 * 1024

StatementFormat = Literal["camt", "camt.053", "camt.054", "mt940", "bai2", "csv"]


class RefundRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: Amount = Field(gt=0)
    currency: Currency
    reason: str = Field(min_length=1, max_length=500)
    refund_id: str | None = Field(default=None, min_length=1, max_length=64,
                                  description="your idempotency key: a retry with the same "
                                              "id issues no second refund")


def rejection(error: StatementRejected) -> HTTPException:
    return HTTPException(status_code=422, detail={
        "format": error.format, "location": error.location, "message": error.message})


def payments_router(payments: PaymentsApplication, default_tenant: str,
                    webhook_secret: str | None = None) -> APIRouter:
    router = APIRouter(tags=["payments"])

    def causation_of(tenant: str | None, actor: str | None) -> Causation:
        return Causation(tenant=tenant or default_tenant, actor=actor,
                         traceparent=current_traceparent())

    async def record(command: RecordPayment, causation: Causation,
                     response: Response) -> dict[str, object]:
        try:
            payment, created = await asyncio.to_thread(payments.record_payment, command, causation)
        except ConflictingPayment as error:
            raise HTTPException(status_code=409, detail=str(error)) from None
        if not created:
            response.status_code = 200
        return payment_view(payment)

    @router.post("/payments", status_code=201, summary="Record a received payment")
    async def record_payment(command: RecordPayment, response: Response,
                             x_tenant: str | None = Header(default=None),
                             x_actor: str | None = Header(default=None)) -> dict[str, object]:
        return await record(command, causation_of(x_tenant, x_actor), response)

    @router.post("/statements", status_code=201, summary="Import a bank statement file",
                 description="camt.053/054, MT940, BAI2 (sniffed when no format is given) or "
                             f"CSV with one of the mappings {sorted(PRESETS)}. The file is "
                             "imported whole or rejected whole (422, naming the place).")
    async def import_statement(file: UploadFile = File(...),
                               format: StatementFormat | None = Form(default=None),
                               csv_mapping: str | None = Form(default=None),
                               x_tenant: str | None = Header(default=None),
                               x_actor: str | None = Header(default=None)) -> dict[str, object]:
        data = await file.read(MAX_STATEMENT_BYTES + 1)
        if len(data) > MAX_STATEMENT_BYTES:
            raise HTTPException(status_code=413, detail={
                "location": "file", "message": f"larger than {MAX_STATEMENT_BYTES} bytes"})
        try:
            mapping = csv_mapping_named(csv_mapping)
        except ValueError as error:
            raise HTTPException(status_code=422, detail={
                "location": "csv_mapping", "message": str(error)}) from None
        if format == "csv" and mapping is None:
            raise HTTPException(status_code=422, detail={
                "location": "csv_mapping", "message": "a CSV file needs a csv_mapping"})
        try:
            summary = await asyncio.to_thread(payments.import_statement, data, format, mapping,
                                              causation_of(x_tenant, x_actor))
        except StatementRejected as error:
            raise rejection(error) from None
        return summary.model_dump()

    @router.post("/payments/{payment_id}/refunds", status_code=201,
                 summary="Pay back part or all of a payment")
    async def issue_refund(payment_id: str, request: RefundRequest,
                           x_actor: str = Header(min_length=1, description="who asks"),
                           x_tenant: str | None = Header(default=None)) -> dict[str, object]:
        try:
            refund_id, payment = await asyncio.to_thread(
                payments.issue_refund, payment_id, Money.of(request.amount, request.currency),
                request.reason, x_actor, causation_of(x_tenant, x_actor), request.refund_id)
        except UnknownPayment as error:
            raise HTTPException(status_code=404, detail=str(error)) from None
        except RefundRefused as error:
            raise HTTPException(status_code=409, detail=str(error)) from None
        return {"refund_id": refund_id, **payment_view(payment)}

    @router.post("/webhooks/payments", status_code=201,
                 summary="A payment reported by a card or online payment provider",
                 description="The raw body must be signed: `X-Signature: sha256=<hex of "
                             "HMAC-SHA256(secret, body)>`.")
    async def provider_payment(request: Request, response: Response,
                               x_signature: str | None = Header(default=None),
                               x_tenant: str | None = Header(default=None)) -> dict[str, object]:
        if not webhook_secret:
            raise HTTPException(status_code=503, detail="no webhook secret is configured "
                                                        "(PAYMENTS_WEBHOOK_SECRET)")
        body = await request.body()
        if not signature_is_valid(webhook_secret, body, x_signature):
            raise HTTPException(status_code=401, detail="the X-Signature header is missing or "
                                                        "does not match the body")
        try:
            notice = ProviderPayment.model_validate_json(body)
        except ValidationError as error:
            problems = "; ".join(f"{'.'.join(map(str, problem['loc'])) or 'body'}: "
                                 f"{problem['msg']}" for problem in error.errors())
            raise HTTPException(status_code=422, detail=problems) from None
        return await record(notice.as_command(),
                            causation_of(x_tenant, f"provider:{notice.provider}"), response)

    return router
