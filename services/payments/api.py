"""HTTP: record a payment. Bad input is a 4xx with a message and changes nothing."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Header, HTTPException, Response

from libs.runtime.causation import Causation
from libs.runtime.telemetry import current_traceparent

from .application import ConflictingPayment, PaymentsApplication, RecordPayment, payment_view


def payments_router(payments: PaymentsApplication, default_tenant: str) -> APIRouter:
    router = APIRouter(tags=["payments"])

    @router.post("/payments", status_code=201, summary="Record a received payment")
    async def record_payment(command: RecordPayment, response: Response,
                             x_tenant: str | None = Header(default=None),
                             x_actor: str | None = Header(default=None)) -> dict[str, object]:
        causation = Causation(tenant=x_tenant or default_tenant, actor=x_actor,
                              traceparent=current_traceparent())
        try:
            payment, created = await asyncio.to_thread(payments.record_payment, command, causation)
        except ConflictingPayment as error:
            raise HTTPException(status_code=409, detail=str(error)) from None
        if not created:
            response.status_code = 200
        return payment_view(payment)

    return router
