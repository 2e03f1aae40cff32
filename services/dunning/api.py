"""HTTP for collectors: the worklist, cases, disputes, promises to pay, the letters archive,
delivery failures, the tenant's settings, and the run of a date's due actions.

Bad input is a 422 with a message and changes nothing; a command the case's state forbids
(an invoice already paid, a dispute already resolved) is a 409. The tenant comes from the
X-Tenant header, the person from X-Actor. "Today" is the injected clock's unless a date
is given, so a test or a catch-up can run any date.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Header, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from libs.runtime.causation import Causation
from libs.runtime.clock import Clock
from libs.runtime.telemetry import current_traceparent

from .application import (
    ConfigureDunning,
    DunningApplication,
    OpenDispute,
    RecordPromise,
    ResolveDispute,
    SetProfile,
    UnknownCase,
)
from .domain import DunningCase, DunningError, Refused, UnknownInvoice, collection_priority
from .projections import DunningViews, jsonable, snapshot_from_json
from .runs import DunningRunner

T = TypeVar("T")


class RunDueActions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    date: dt.date | None = Field(default=None, description="the business date to run; default today")


class BounceReport(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    recipient: str = Field(min_length=3)
    reason: str = Field(min_length=1, max_length=2000, description="e.g. 550 5.1.1 user unknown")


async def _call(function: Callable[..., T], *args: Any) -> T:
    """The event store is synchronous: keep it off the event loop, and turn the domain's
    refusals into HTTP answers."""
    try:
        return await asyncio.to_thread(function, *args)
    except UnknownCase as error:
        raise HTTPException(status_code=404, detail=str(error)) from None
    except UnknownInvoice as error:
        raise HTTPException(status_code=422, detail=str(error)) from None
    except Refused as error:
        raise HTTPException(status_code=409, detail=str(error)) from None
    except DunningError as error:
        raise HTTPException(status_code=422, detail=str(error)) from None


def case_view(case: DunningCase, dunning: DunningApplication) -> dict[str, Any]:
    snapshot = case.snapshot(dunning.settings_of(case.tenant))
    next_levels = {invoice.invoice_id: invoice for invoice in snapshot.invoices}
    return jsonable({
        "customer_id": case.customer_id, "name": case.name, "language": case.letter_language,
        "email": case.email, "segment": case.segment, "risk_class": case.risk_class,
        "profile_sources": case.profile_sources(), "collector": case.collector,
        "policy": snapshot.policy, "broken_promises": case.broken_promises,
        "next_run_on": snapshot.next_run_on,
        "invoices": [{
            "invoice_id": invoice.invoice_id, "invoice_number": invoice.invoice_number,
            "kind": invoice.kind, "currency": invoice.currency, "total": invoice.total,
            "open_amount": invoice.open_amount, "due_date": invoice.due_date,
            "level": invoice.level, "level_name": invoice.reached,
            "status": "settled" if invoice.is_settled else next_levels[invoice.invoice_id].status
            if invoice.invoice_id in next_levels else "credited",
            "settled_on": invoice.settled_on,
            "next_level": getattr(next_levels.get(invoice.invoice_id), "next_level", None),
            "next_level_due_on": getattr(next_levels.get(invoice.invoice_id),
                                         "next_level_due_on", None),
            "disputes": invoice.disputes, "promise_id": invoice.promise_id,
            "expected_credit": invoice.expected_credit, "fees_charged": invoice.fees_charged,
        } for invoice in sorted(case.invoices.values(),
                                key=lambda invoice: (invoice.due_date, invoice.invoice_number))],
        "letters": [{"letter_id": letter.letter_id, "level": letter.level,
                     "level_name": letter.level_name, "issued_on": letter.issued_on,
                     "channel": letter.channel, "status": letter.status}
                    for letter in case.letters.values()],
        "escalations": case.escalations,
    })


def worklist_entry(row: dict[str, Any], today: date) -> dict[str, Any] | None:
    snapshot = snapshot_from_json(row["snapshot"])
    if not snapshot.needs_a_collector(today):
        return None
    overdue = snapshot.overdue(today)
    priority = collection_priority(max(overdue.values(), default=Decimal(0)),
                                   snapshot.oldest_days_past_due(today), snapshot.risk_class,
                                   snapshot.broken_promises)
    action = snapshot.next_action()
    return jsonable({
        "customer_id": snapshot.customer_id, "name": snapshot.name, "policy": snapshot.policy,
        "segment": snapshot.segment, "risk_class": snapshot.risk_class,
        "collector": snapshot.collector,
        "priority": {"score": priority.score, "amount": priority.amount_points,
                     "age": priority.age_points, "risk": priority.risk_points,
                     "broken_promises": priority.broken_promise_points},
        "overdue": [{"currency": currency, "amount": amount}
                    for currency, amount in sorted(overdue.items())],
        "oldest_days_past_due": snapshot.oldest_days_past_due(today),
        "open_invoices": len(snapshot.invoices),
        "broken_promises": snapshot.broken_promises,
        "open_disputes": len(snapshot.open_disputes),
        "promises_pending": len(snapshot.promise_checks),
        "next_action": {"code": action.code, "description": action.description,
                        "due_on": action.due_on} if action else None,
    })


def dunning_router(dunning: DunningApplication, views: DunningViews, runner: DunningRunner,
                   clock: Clock, default_tenant: str) -> APIRouter:
    router = APIRouter(tags=["dunning"])

    def causation(tenant: str | None, actor: str | None) -> Causation:
        return Causation(tenant=tenant or default_tenant, actor=actor,
                         traceparent=current_traceparent())

    async def fresh(read: Callable[..., T], *args: Any) -> T:
        """Read-your-writes: the read model catches up with the log before answering."""
        def caught_up_read() -> T:
            views.catch_up()
            return read(*args)
        return await _call(caught_up_read)

    @router.post("/runs", summary="Run the due actions of a date: letters, escalations, emails")
    async def run_due_actions(command: RunDueActions | None = None,
                              x_tenant: str | None = Header(default=None),
                              x_actor: str | None = Header(default=None)) -> dict[str, Any]:
        on = (command.date if command else None) or clock.today()
        report = await _call(runner.run_due_actions, x_tenant or default_tenant, on, x_actor)
        return report.as_dict()

    @router.get("/worklist", summary="Open cases, highest priority first, with the next action")
    async def worklist(as_of: date | None = Query(default=None, description="default today"),
                       collector: str | None = Query(
                           default=None, description="only the customers this collector "
                                                     "chases (the customer master says who)"),
                       limit: int = Query(default=100, ge=1, le=10_000),
                       x_tenant: str | None = Header(default=None)) -> list[dict[str, Any]]:
        today = as_of or clock.today()
        rows = await fresh(views.store.cases, x_tenant or default_tenant)
        entries = [entry for row in rows if (entry := worklist_entry(row, today)) is not None
                   and collector in (None, entry["collector"])]
        entries.sort(key=lambda entry: (-Decimal(entry["priority"]["score"]),
                                        -max((Decimal(line["amount"]) for line in entry["overdue"]),
                                             default=Decimal(0)), entry["customer_id"]))
        return entries[:limit]

    @router.get("/customers/{customer_id}/case", summary="A customer's dunning case")
    async def customer_case(customer_id: str,
                            x_tenant: str | None = Header(default=None)) -> dict[str, Any]:
        tenant = x_tenant or default_tenant
        return await _call(lambda: case_view(dunning.case(tenant, customer_id), dunning))

    @router.put("/customers/{customer_id}/profile",
                summary="Override the segment and risk class that choose the dunning policy "
                        "(left out: the customer master's and credit's; {} clears it)")
    async def set_profile(customer_id: str, command: SetProfile,
                          x_tenant: str | None = Header(default=None),
                          x_actor: str | None = Header(default=None)) -> dict[str, Any]:
        case = await _call(dunning.set_profile, customer_id, command, causation(x_tenant, x_actor))
        return case_view(case, dunning)

    @router.post("/customers/{customer_id}/disputes", status_code=201,
                 summary="Open a dispute: dunning pauses for the disputed invoices")
    async def open_dispute(customer_id: str, command: OpenDispute,
                           x_tenant: str | None = Header(default=None),
                           x_actor: str | None = Header(default=None)) -> dict[str, Any]:
        case, dispute_id = await _call(dunning.open_dispute, customer_id, command, clock.today(),
                                       causation(x_tenant, x_actor))
        return _dispute_view(case, dispute_id)

    @router.post("/customers/{customer_id}/disputes/{dispute_id}/resolution",
                 summary="Resolve a dispute: rejected, or a credit note requested; dunning resumes")
    async def resolve_dispute(customer_id: str, dispute_id: str, command: ResolveDispute,
                              x_tenant: str | None = Header(default=None),
                              x_actor: str | None = Header(default=None)) -> dict[str, Any]:
        case = await _call(dunning.resolve_dispute, customer_id, dispute_id, command,
                           clock.today(), causation(x_tenant, x_actor))
        return _dispute_view(case, dispute_id)

    @router.get("/disputes", summary="Disputes of the tenant")
    async def disputes(status: Literal["open", "resolved"] | None = None,
                       x_tenant: str | None = Header(default=None)) -> list[dict[str, Any]]:
        return jsonable(await fresh(views.store.disputes, x_tenant or default_tenant, status))

    @router.post("/customers/{customer_id}/promises", status_code=201,
                 summary="Record a promise to pay (one date or an instalment plan)")
    async def record_promise(customer_id: str, command: RecordPromise,
                             x_tenant: str | None = Header(default=None),
                             x_actor: str | None = Header(default=None)) -> dict[str, Any]:
        case, promise_id = await _call(dunning.record_promise, customer_id, command,
                                       clock.today(), causation(x_tenant, x_actor))
        return _promise_view(case, promise_id)

    @router.get("/promises", summary="Promises to pay of the tenant")
    async def promises(status: Literal["active", "kept", "broken"] | None = None,
                       x_tenant: str | None = Header(default=None)) -> list[dict[str, Any]]:
        return jsonable(await fresh(views.store.promises, x_tenant or default_tenant, status))

    @router.get("/letters", summary="The letters archive, with the exact content sent")
    async def letters(customer_id: str | None = None,
                      status: Literal["pending", "delivered", "failed", "bounced",
                                      "to_print"] | None = None,
                      limit: int = Query(default=200, ge=1, le=10_000),
                      x_tenant: str | None = Header(default=None)) -> list[dict[str, Any]]:
        return jsonable(await fresh(views.store.letters, x_tenant or default_tenant, customer_id,
                                  status, limit))

    @router.get("/letters/{letter_id}", summary="One letter exactly as sent")
    async def letter(letter_id: str, x_tenant: str | None = Header(default=None)) -> dict[str, Any]:
        found = await fresh(views.store.letter, x_tenant or default_tenant, letter_id)
        if found is None:
            raise HTTPException(status_code=404, detail=f"no letter {letter_id!r}")
        return jsonable(found)

    @router.post("/letters/{letter_id}/bounces", status_code=201,
                 summary="Record a bounce the mail system reported after delivery")
    async def bounce(letter_id: str, report: BounceReport,
                     x_tenant: str | None = Header(default=None),
                     x_actor: str | None = Header(default=None)) -> dict[str, Any]:
        tenant = x_tenant or default_tenant
        found = await fresh(views.store.letter, tenant, letter_id)
        if found is None:
            raise HTTPException(status_code=404, detail=f"no letter {letter_id!r}")
        await _call(dunning.record_bounce, found["customer_id"], letter_id, report.recipient,
                    report.reason, datetime.now(UTC).isoformat(), causation(tenant, x_actor))
        return jsonable(await fresh(views.store.letter, tenant, letter_id))

    @router.get("/delivery-failures", summary="Refused recipients, rejected emails, bounces")
    async def delivery_failures(limit: int = Query(default=200, ge=1, le=10_000),
                                x_tenant: str | None = Header(default=None)) -> list[dict[str, Any]]:
        return jsonable(await fresh(views.store.delivery_failures, x_tenant or default_tenant, limit))

    @router.get("/settings", summary="The tenant's dunning settings")
    async def get_settings(x_tenant: str | None = Header(default=None)) -> dict[str, Any]:
        return jsonable((await _call(dunning.settings_of, x_tenant or default_tenant)).as_dict())

    @router.put("/settings", summary="Change the tenant's dunning settings")
    async def put_settings(command: ConfigureDunning, x_tenant: str | None = Header(default=None),
                           x_actor: str | None = Header(default=None)) -> dict[str, Any]:
        settings = await _call(dunning.configure, command, causation(x_tenant, x_actor))
        return jsonable(settings.as_dict())

    return router


def _dispute_view(case: DunningCase, dispute_id: str) -> dict[str, Any]:
    dispute = case.disputes[dispute_id]
    return jsonable({
        "dispute_id": dispute.dispute_id, "customer_id": case.customer_id,
        "invoice_numbers": [case.invoices[invoice_id].invoice_number
                            for invoice_id in dispute.invoice_ids],
        "reason": dispute.reason, "owner": dispute.owner, "notes": dispute.notes,
        "status": dispute.status, "opened_on": dispute.opened_on,
        "resolution": dispute.resolution, "credit_note_amount": dispute.credit_note_amount,
        "resolution_notes": dispute.resolution_notes, "resolved_on": dispute.resolved_on})


def _promise_view(case: DunningCase, promise_id: str) -> dict[str, Any]:
    promise = case.promises[promise_id]
    return jsonable({
        "promise_id": promise.promise_id, "customer_id": case.customer_id,
        "invoice_numbers": [case.invoices[invoice_id].invoice_number
                            for invoice_id in promise.invoice_ids],
        "currency": promise.currency, "instalments": promise.instalments,
        "status": promise.status, "recorded_on": promise.recorded_on,
        "recorded_by": promise.recorded_by, "received": promise.received})
