"""Running the due actions of a date: the durable timers fire, letters are stored, emails go out.

`run_due_actions(tenant, on)` is the one entry point the scheduler, the API (`POST /runs`)
and the CLI (`run-due --date`) share. It can run any number of times for the same date,
in any process, after any crash:

1. The read model catches up with the event log, so every timer stored so far is seen.
2. Under a per-tenant lock (PostgreSQL advisory lock: one run at a time across the
   service, its replicas and the CLI), each case whose timer is due on or before `on` is
   advanced: promises are checked, one letter per level reached is rendered and stored
   with the levels it raises and the fees it charges, in one transaction with the case.
   A second run for the same date finds the levels already raised and stores nothing;
   the letter id derives from (customer, level, date), so even a run that lost a race
   cannot store a second letter for the level.
3. Then the stored letters that are still pending are emailed, and each outcome stored.

Exactly once, or at least once, for the email? Storing the letter is exactly once (step
2). Handing it to the mail server cannot be: SMTP has no transaction we could commit
together with ours. If the process dies after the server accepted the message and before
we stored "delivered", the letter is still pending after the restart and is sent again.
We choose that (at least once) over marking it "sending" first and never retrying
(at most once), because a dunning letter that silently never went out breaks the legal
chain of notices that escalation relies on, while a repeated one is the very same
letter: same content, same Message-ID (which mail systems use to drop duplicates), never
a second letter for a level. The window is the few milliseconds between the server's
"250 OK" and our commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from libs.runtime.causation import Causation
from libs.runtime.clock import Clock, SystemClock
from libs.runtime.telemetry import current_traceparent

from .application import DunningApplication
from .mailer import Mailer, OutgoingEmail
from .projections import DunningViews

log = logging.getLogger(__name__)

MAX_DELIVERY_ATTEMPTS = 5


@dataclass
class RunReport:
    tenant: str
    date: date
    letters: list[dict[str, Any]] = field(default_factory=list)
    escalations: list[dict[str, Any]] = field(default_factory=list)
    promises_broken: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "date": self.date.isoformat(), "letters": self.letters,
                "escalations": self.escalations, "promises_broken": self.promises_broken,
                "deliveries": self.deliveries}


class DunningRunner:
    def __init__(self, dunning: DunningApplication, views: DunningViews,
                 mailer: Mailer | None, clock: Clock | None = None) -> None:
        self.dunning = dunning
        self.views = views
        self.mailer = mailer
        self.clock = clock or SystemClock()

    def run_due_actions(self, tenant: str, on: date, actor: str | None = None) -> RunReport:
        causation = Causation(tenant=tenant, actor=actor or "dunning-run",
                              traceparent=current_traceparent())
        report = RunReport(tenant, on)
        self.views.catch_up()
        with self.views.store.run_lock(tenant):
            for customer_id in self.views.store.due_cases(tenant, on):
                outcome = self.dunning.advance_case(tenant, customer_id, on, causation)
                report.letters += [{"customer_id": customer_id, "letter_id": letter_id}
                                   for letter_id in outcome.letters]
                if outcome.escalated:
                    report.escalations.append({"customer_id": customer_id,
                                               "invoice_numbers": outcome.escalated})
                report.promises_broken += [{"customer_id": customer_id, "promise_id": promise_id}
                                           for promise_id in outcome.promises_broken]
            self.views.catch_up()
            report.deliveries = self._deliver_pending(tenant, causation)
        if report.letters or report.escalations or report.deliveries:
            log.info("run %s for %s: %d letters, %d escalations, %d deliveries", on, tenant,
                     len(report.letters), len(report.escalations), len(report.deliveries))
        return report

    def deliver_pending(self, tenant: str) -> list[dict[str, Any]]:
        """Email what was stored but not yet handed over (after a restart, or when the
        mail server was down)."""
        causation = Causation(tenant=tenant, actor="dunning-delivery",
                              traceparent=current_traceparent())
        self.views.catch_up()
        with self.views.store.run_lock(tenant):
            return self._deliver_pending(tenant, causation)

    def _deliver_pending(self, tenant: str, causation: Causation) -> list[dict[str, Any]]:
        if self.mailer is None:
            return []  # no mail server configured: letters wait, visible as pending
        deliveries = []
        for letter in self.views.store.pending_letters(tenant):
            case = self.dunning.case(tenant, letter["customer_id"])
            state = case.letters[letter["letter_id"]]
            if state.status != "pending":
                continue  # delivered since the read model last looked
            outcome = self.mailer.send(OutgoingEmail(
                letter_id=letter["letter_id"], recipient=letter["recipient"],
                subject=letter["subject"], body=letter["body"], language=letter["language"]))
            if outcome.delivered:
                self.dunning.record_delivery(
                    tenant, letter["customer_id"], letter["letter_id"],
                    delivered_at=outcome.at, message_id=outcome.message_id,
                    server_reply=outcome.server_reply, causation=causation)
            else:
                permanent = outcome.permanent or state.attempts + 1 >= MAX_DELIVERY_ATTEMPTS
                self.dunning.record_delivery_failure(
                    tenant, letter["customer_id"], letter["letter_id"], failed_at=outcome.at,
                    permanent=permanent, reason=outcome.reason,
                    refused_recipients=list(outcome.refused_recipients), causation=causation)
            deliveries.append({"letter_id": letter["letter_id"], "recipient": letter["recipient"],
                               "delivered": outcome.delivered,
                               "reason": outcome.reason or outcome.server_reply})
        if deliveries:
            self.views.catch_up()
        return deliveries
