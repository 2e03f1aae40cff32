"""Dunning's read model: the timers, the collector's worklist, the letters archive, disputes,
promises and delivery failures, kept from dunning's own event log.

The cases are the truth; these tables say where to look. Each catch-up reads the event
log from the stored position, rebuilds the rows of every case it touched from the case's
current state (its timer is the first day a run has something to do for it), appends
letters and delivery outcomes as they were recorded, and stores the new position, all
in one transaction. A run catches up first, so no timer is missed even if the process
died right after storing events; and since the rows derive from the log alone, the whole
read model can be rebuilt from position zero (`rebuild`).

PostgreSQL tables, in the service's schema (documented for analysts):

- `cases`: one row per customer: `next_run_on` (the timer) and `snapshot` (open invoices,
  levels, status, open disputes, promise checks, failed letters) as JSON;
- `letters`: every letter exactly as sent (`subject`, `body`), its invoices and fees as
  JSON, and its delivery `status` (pending, delivered, failed, bounced, to_print);
- `delivery_failures`: refused recipients, rejected messages, bounces reported later,
  and transient failures that were retried;
- `disputes` and `promises`: one row each, with their current status.
"""

from __future__ import annotations

import contextlib
import threading
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from datetime import date
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import Notification

from .application import DunningApplication
from .domain import CaseSnapshot, DunningCase, InvoiceSnapshot, TenantConfiguration, TenantSettings

BATCH = 500
Operation = tuple[str, dict[str, Any]]


# --- JSON for snapshots ----------------------------------------------------------------


def jsonable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    return value


def snapshot_to_json(snapshot: CaseSnapshot) -> dict[str, Any]:
    return jsonable(asdict(snapshot))


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def snapshot_from_json(values: dict[str, Any]) -> CaseSnapshot:
    invoices = tuple(InvoiceSnapshot(**{
        **invoice, "open_amount": Decimal(invoice["open_amount"]),
        "due_date": _day(invoice["due_date"]),
        "next_level_due_on": _day(invoice["next_level_due_on"]),
        "fees_charged": Decimal(invoice["fees_charged"])}) for invoice in values["invoices"])
    return CaseSnapshot(**{
        **values, "invoices": invoices,
        "promise_checks": tuple((promise_id, _day(due_on), _day(check_on), Decimal(amount), currency)
                                for promise_id, due_on, check_on, amount, currency
                                in values["promise_checks"]),
        "open_disputes": tuple((dispute_id, owner, _day(follow_up_on))
                               for dispute_id, owner, follow_up_on in values["open_disputes"]),
        "failed_letters": tuple((letter_id, level_name, _day(issued_on), status)
                                for letter_id, level_name, issued_on, status
                                in values["failed_letters"]),
    })


# --- stores --------------------------------------------------------------------------------


class ViewStore(Protocol):
    def position(self) -> int: ...

    def apply(self, operations: Sequence[Operation], from_position: int, to_position: int) -> bool:
        """All or nothing; False when another process moved the position meanwhile."""

    def case_ids(self, tenant: str) -> list[UUID]: ...

    def due_cases(self, tenant: str, on: date) -> list[str]: ...

    def tenants(self) -> list[str]: ...

    def cases(self, tenant: str) -> list[dict[str, Any]]: ...

    def letters(self, tenant: str, customer_id: str | None, status: str | None,
                limit: int) -> list[dict[str, Any]]: ...

    def letter(self, tenant: str, letter_id: str) -> dict[str, Any] | None: ...

    def pending_letters(self, tenant: str) -> list[dict[str, Any]]: ...

    def disputes(self, tenant: str, status: str | None) -> list[dict[str, Any]]: ...

    def promises(self, tenant: str, status: str | None) -> list[dict[str, Any]]: ...

    def delivery_failures(self, tenant: str, limit: int) -> list[dict[str, Any]]: ...

    def run_lock(self, tenant: str) -> contextlib.AbstractContextManager[None]: ...

    def reset(self) -> None: ...


class InMemoryViews:
    """The same read model in dictionaries: for unit tests and a one-process demo."""

    def __init__(self) -> None:
        self._position = 0
        self._cases: dict[tuple[str, str], dict[str, Any]] = {}
        self._letters: dict[tuple[str, str], dict[str, Any]] = {}
        self._failures: list[dict[str, Any]] = []
        self._disputes: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._promises: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def position(self) -> int:
        return self._position

    def apply(self, operations: Sequence[Operation], from_position: int, to_position: int) -> bool:
        with self._guard:
            if self._position != from_position:
                return False
            for kind, row in operations:
                _apply_in_memory(self, kind, row)
            self._position = to_position
            return True

    def case_ids(self, tenant: str) -> list[UUID]:
        return [UUID(row["case_id"]) for (row_tenant, _), row in self._cases.items()
                if row_tenant == tenant]

    def due_cases(self, tenant: str, on: date) -> list[str]:
        return sorted(customer_id for (row_tenant, customer_id), row in self._cases.items()
                      if row_tenant == tenant and row["next_run_on"] is not None
                      and row["next_run_on"] <= on)

    def tenants(self) -> list[str]:
        return sorted({tenant for tenant, _ in self._cases})

    def cases(self, tenant: str) -> list[dict[str, Any]]:
        return [row for (row_tenant, _), row in sorted(self._cases.items()) if row_tenant == tenant]

    def letters(self, tenant: str, customer_id: str | None, status: str | None,
                limit: int) -> list[dict[str, Any]]:
        rows = [row for (row_tenant, _), row in self._letters.items() if row_tenant == tenant
                and customer_id in (None, row["customer_id"]) and status in (None, row["status"])]
        rows.sort(key=lambda row: (row["issued_on"], row["customer_id"], row["level"]))
        return [dict(row) for row in rows[:limit]]

    def letter(self, tenant: str, letter_id: str) -> dict[str, Any] | None:
        row = self._letters.get((tenant, letter_id))
        return dict(row) if row else None

    def pending_letters(self, tenant: str) -> list[dict[str, Any]]:
        return self.letters(tenant, None, "pending", 10_000)

    def disputes(self, tenant: str, status: str | None) -> list[dict[str, Any]]:
        return [dict(row) for (row_tenant, _, _), row in sorted(self._disputes.items())
                if row_tenant == tenant and status in (None, row["status"])]

    def promises(self, tenant: str, status: str | None) -> list[dict[str, Any]]:
        return [dict(row) for (row_tenant, _, _), row in sorted(self._promises.items())
                if row_tenant == tenant and status in (None, row["status"])]

    def delivery_failures(self, tenant: str, limit: int) -> list[dict[str, Any]]:
        return [dict(row) for row in self._failures if row["tenant"] == tenant][-limit:][::-1]

    @contextlib.contextmanager
    def run_lock(self, tenant: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(tenant, threading.Lock())
        with lock:
            yield

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]


def _apply_in_memory(store: InMemoryViews, kind: str, row: dict[str, Any]) -> None:
    if kind == "case":
        store._cases[(row["tenant"], row["customer_id"])] = row  # noqa: SLF001
    elif kind == "dispute":
        store._disputes[(row["tenant"], row["customer_id"], row["dispute_id"])] = row  # noqa: SLF001
    elif kind == "promise":
        store._promises[(row["tenant"], row["customer_id"], row["promise_id"])] = row  # noqa: SLF001
    elif kind == "letter":
        store._letters.setdefault((row["tenant"], row["letter_id"]), row)  # noqa: SLF001
    elif kind == "delivery":
        letter = store._letters[(row["tenant"], row["letter_id"])]  # noqa: SLF001
        letter.update({key: row[key] for key in ("status", "delivered_at", "message_id",
                                                 "server_reply", "last_error") if key in row})
        letter["attempts"] += row.get("attempt", 0)
    elif kind == "failure":
        letter = store._letters[(row["tenant"], row["letter_id"])]  # noqa: SLF001
        store._failures.append({**row, "customer_id": letter["customer_id"]})  # noqa: SLF001


# --- from the event log to rows ------------------------------------------------------------


class DunningViews:
    """Keeps a store up to date with the dunning application's event log."""

    def __init__(self, application: DunningApplication, store: ViewStore) -> None:
        self.application = application
        self.store = store
        self._catching_up = threading.Lock()

    def catch_up(self) -> int:
        with self._catching_up:
            while True:
                position = self.store.position()
                notifications = self.application.recorder.select_notifications(
                    position, BATCH, inclusive_of_start=False)
                if not notifications:
                    return position
                operations = self._operations(notifications)
                # False: another process got there first; read again from its position.
                self.store.apply(operations, position, notifications[-1].id)

    def rebuild(self) -> int:
        """Forget every row and read the whole log again (the rows equal the live ones)."""
        with self._catching_up:
            self.store.reset()
        return self.catch_up()

    def _operations(self, notifications: Sequence[Notification]) -> list[Operation]:
        operations: list[Operation] = []
        touched: dict[UUID, None] = {}
        reconfigured: set[str] = set()
        for notification in notifications:
            if not notification.topic.startswith("dunning."):
                continue
            event = self.application.mapper.to_domain_event(notification)
            tenant = event.causation["tenant"]  # type: ignore[attr-defined]
            if notification.topic.startswith(DunningCase.TOPIC + "."):
                touched[notification.originator_id] = None
                operations.extend(_event_rows(tenant, event))
            elif notification.topic.startswith(TenantConfiguration.TOPIC + "."):
                reconfigured.add(tenant)
        for tenant in reconfigured:  # a new policy or grace period moves every timer
            touched.update(dict.fromkeys(self.store.case_ids(tenant)))
        settings: dict[str, TenantSettings] = {}
        for case_id in touched:
            case: DunningCase = self.application.repository.get(case_id)
            if case.tenant not in settings:
                settings[case.tenant] = self.application.settings_of(case.tenant)
            operations.extend(_case_rows(case, settings[case.tenant]))
        return operations


def _event_rows(tenant: str, event: Any) -> list[Operation]:
    if isinstance(event, DunningCase.LetterIssued):
        return [("letter", {
            "tenant": tenant, "letter_id": event.letter_id, "customer_id": event.customer_id,
            "level": event.level, "level_name": event.level_name, "action": event.action,
            "channel": event.channel, "language": event.language, "recipient": event.recipient,
            "subject": event.subject, "body": event.body, "issued_on": event.issued_on,
            "pay_by": event.pay_by, "invoices": jsonable(event.invoices), "fees": jsonable(event.fees),
            "status": "pending" if event.channel == "email" else "to_print", "attempts": 0,
            "last_error": None, "delivered_at": None, "message_id": None, "server_reply": None})]
    if isinstance(event, DunningCase.LetterDelivered):
        return [("delivery", {"tenant": tenant, "letter_id": event.letter_id,
                              "status": "delivered", "delivered_at": event.delivered_at,
                              "message_id": event.message_id,
                              "server_reply": event.server_reply, "attempt": 1})]
    if isinstance(event, DunningCase.LetterDeliveryFailed):
        update = {"tenant": tenant, "letter_id": event.letter_id, "last_error": event.reason,
                  "attempt": 1}
        if event.permanent:
            update["status"] = "failed"
        return [("delivery", update), ("failure", {
            "tenant": tenant, "letter_id": event.letter_id,
            "recipients": list(event.refused_recipients),
            "kind": "refused" if event.refused_recipients else
            ("rejected" if event.permanent else "transient"),
            "permanent": event.permanent, "reason": event.reason, "failed_at": event.failed_at})]
    if isinstance(event, DunningCase.LetterBounced):
        return [("delivery", {"tenant": tenant, "letter_id": event.letter_id, "status": "bounced",
                              "last_error": event.reason}),
                ("failure", {"tenant": tenant, "letter_id": event.letter_id,
                             "recipients": [event.recipient],
                             "kind": "bounced", "permanent": True, "reason": event.reason,
                             "failed_at": event.reported_at})]
    return []


def _case_rows(case: DunningCase, settings: TenantSettings) -> list[Operation]:
    snapshot = case.snapshot(settings)
    rows: list[Operation] = [("case", {
        "tenant": case.tenant, "customer_id": case.customer_id, "case_id": str(case.id),
        "name": case.name, "snapshot": snapshot_to_json(snapshot),
        "next_run_on": snapshot.next_run_on})]
    for dispute in case.disputes.values():
        rows.append(("dispute", {
            "tenant": case.tenant, "customer_id": case.customer_id,
            "dispute_id": dispute.dispute_id,
            "invoice_numbers": [case.invoices[invoice_id].invoice_number
                                for invoice_id in dispute.invoice_ids],
            "reason": dispute.reason, "owner": dispute.owner, "notes": dispute.notes,
            "status": dispute.status, "opened_on": dispute.opened_on,
            "resolution": dispute.resolution,
            "credit_note_amount": dispute.credit_note_amount,
            "currency": case.invoices[dispute.invoice_ids[0]].currency,
            "resolution_notes": dispute.resolution_notes, "resolved_on": dispute.resolved_on}))
    for promise in case.promises.values():
        rows.append(("promise", {
            "tenant": case.tenant, "customer_id": case.customer_id,
            "promise_id": promise.promise_id,
            "invoice_numbers": [case.invoices[invoice_id].invoice_number
                                for invoice_id in promise.invoice_ids],
            "currency": promise.currency, "instalments": jsonable(promise.instalments),
            "status": promise.status, "recorded_on": promise.recorded_on,
            "recorded_by": promise.recorded_by, "received": promise.received,
            "closed_on": promise.closed_on}))
    return rows


# --- PostgreSQL ------------------------------------------------------------------------------


class PostgresViews:
    """The read model in the service's PostgreSQL schema (psycopg, called off the event loop)."""

    def __init__(self, database_url: str, schema: str) -> None:
        from psycopg_pool import ConnectionPool

        self.schema = schema
        self.pool = ConnectionPool(database_url, min_size=1, max_size=6,
                                   kwargs={"autocommit": True}, open=True)
        with self.pool.connection() as connection:
            connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            connection.execute(self._ddl())

    def close(self) -> None:
        self.pool.close()

    def _ddl(self) -> str:
        s = f'"{self.schema}"'
        return f"""
        CREATE TABLE IF NOT EXISTS {s}.view_position (
            name text PRIMARY KEY, position bigint NOT NULL);
        INSERT INTO {s}.view_position VALUES ('dunning', 0) ON CONFLICT DO NOTHING;
        CREATE TABLE IF NOT EXISTS {s}.cases (
            tenant text NOT NULL, customer_id text NOT NULL, case_id uuid NOT NULL,
            name text NOT NULL, snapshot jsonb NOT NULL, next_run_on date,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant, customer_id));
        CREATE INDEX IF NOT EXISTS cases_timer ON {s}.cases (tenant, next_run_on)
            WHERE next_run_on IS NOT NULL;
        CREATE TABLE IF NOT EXISTS {s}.letters (
            tenant text NOT NULL, letter_id text NOT NULL, customer_id text NOT NULL,
            level int NOT NULL, level_name text NOT NULL, action text NOT NULL,
            channel text NOT NULL, language text NOT NULL, recipient text,
            subject text NOT NULL, body text NOT NULL, issued_on date NOT NULL,
            pay_by date NOT NULL, invoices jsonb NOT NULL, fees jsonb NOT NULL,
            status text NOT NULL, attempts int NOT NULL DEFAULT 0, last_error text,
            delivered_at text, message_id text, server_reply text,
            PRIMARY KEY (tenant, letter_id));
        CREATE INDEX IF NOT EXISTS letters_by_customer ON {s}.letters (tenant, customer_id, issued_on);
        CREATE INDEX IF NOT EXISTS letters_pending ON {s}.letters (tenant) WHERE status = 'pending';
        CREATE TABLE IF NOT EXISTS {s}.delivery_failures (
            id bigserial PRIMARY KEY, tenant text NOT NULL, letter_id text NOT NULL,
            customer_id text NOT NULL, recipients jsonb NOT NULL, kind text NOT NULL,
            permanent boolean NOT NULL, reason text NOT NULL, failed_at text NOT NULL);
        CREATE TABLE IF NOT EXISTS {s}.disputes (
            tenant text NOT NULL, customer_id text NOT NULL, dispute_id text NOT NULL,
            invoice_numbers jsonb NOT NULL, reason text NOT NULL, owner text NOT NULL,
            notes text NOT NULL, status text NOT NULL, opened_on date NOT NULL,
            resolution text, credit_note_amount numeric, currency text NOT NULL,
            resolution_notes text NOT NULL, resolved_on date,
            PRIMARY KEY (tenant, customer_id, dispute_id));
        CREATE TABLE IF NOT EXISTS {s}.promises (
            tenant text NOT NULL, customer_id text NOT NULL, promise_id text NOT NULL,
            invoice_numbers jsonb NOT NULL, currency text NOT NULL, instalments jsonb NOT NULL,
            status text NOT NULL, recorded_on date NOT NULL, recorded_by text,
            received numeric NOT NULL, closed_on date,
            PRIMARY KEY (tenant, customer_id, promise_id));
        """

    def position(self) -> int:
        with self.pool.connection() as connection:
            row = connection.execute(
                f'SELECT position FROM "{self.schema}".view_position WHERE name = %s',
                ("dunning",)).fetchone()
            return int(row[0]) if row else 0

    def apply(self, operations: Sequence[Operation], from_position: int, to_position: int) -> bool:
        from psycopg.types.json import Jsonb

        s = f'"{self.schema}"'
        with self.pool.connection() as connection, connection.transaction():
            current = connection.execute(
                f"SELECT position FROM {s}.view_position WHERE name = 'dunning' FOR UPDATE"
            ).fetchone()[0]
            if current != from_position:
                return False
            for kind, row in operations:
                if kind == "case":
                    connection.execute(
                        f"INSERT INTO {s}.cases (tenant, customer_id, case_id, name, snapshot, "
                        "next_run_on) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (tenant, "
                        "customer_id) DO UPDATE SET name = EXCLUDED.name, snapshot = "
                        "EXCLUDED.snapshot, next_run_on = EXCLUDED.next_run_on, updated_at = now()",
                        (row["tenant"], row["customer_id"], row["case_id"], row["name"],
                         Jsonb(row["snapshot"]), row["next_run_on"]))
                elif kind == "letter":
                    connection.execute(
                        f"INSERT INTO {s}.letters (tenant, letter_id, customer_id, level, "
                        "level_name, action, channel, language, recipient, subject, body, "
                        "issued_on, pay_by, invoices, fees, status) VALUES (%s, %s, %s, %s, %s, "
                        "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                        (row["tenant"], row["letter_id"], row["customer_id"], row["level"],
                         row["level_name"], row["action"], row["channel"], row["language"],
                         row["recipient"], row["subject"], row["body"], row["issued_on"],
                         row["pay_by"], Jsonb(row["invoices"]), Jsonb(row["fees"]),
                         row["status"]))
                elif kind == "delivery":
                    columns = [key for key in ("status", "delivered_at", "message_id",
                                               "server_reply", "last_error") if key in row]
                    assignments = ", ".join([f"{column} = %s" for column in columns]
                                            + ["attempts = attempts + %s"])
                    connection.execute(
                        f"UPDATE {s}.letters SET {assignments} WHERE tenant = %s AND letter_id = %s",
                        (*[row[column] for column in columns], row.get("attempt", 0),
                         row["tenant"], row["letter_id"]))
                elif kind == "failure":
                    connection.execute(
                        f"INSERT INTO {s}.delivery_failures (tenant, letter_id, customer_id, "
                        "recipients, kind, permanent, reason, failed_at) SELECT %s, %s, "
                        f"customer_id, %s, %s, %s, %s, %s FROM {s}.letters WHERE tenant = %s "
                        "AND letter_id = %s",
                        (row["tenant"], row["letter_id"], Jsonb(row["recipients"]), row["kind"],
                         row["permanent"], row["reason"], row["failed_at"], row["tenant"],
                         row["letter_id"]))
                elif kind == "dispute":
                    connection.execute(
                        f"INSERT INTO {s}.disputes VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, "
                        "%s, %s, %s, %s, %s) ON CONFLICT (tenant, customer_id, dispute_id) DO "
                        "UPDATE SET status = EXCLUDED.status, resolution = EXCLUDED.resolution, "
                        "credit_note_amount = EXCLUDED.credit_note_amount, resolution_notes = "
                        "EXCLUDED.resolution_notes, resolved_on = EXCLUDED.resolved_on",
                        (row["tenant"], row["customer_id"], row["dispute_id"],
                         Jsonb(row["invoice_numbers"]), row["reason"], row["owner"], row["notes"],
                         row["status"], row["opened_on"], row["resolution"],
                         row["credit_note_amount"], row["currency"], row["resolution_notes"],
                         row["resolved_on"]))
                elif kind == "promise":
                    connection.execute(
                        f"INSERT INTO {s}.promises VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, "
                        "%s, %s) ON CONFLICT (tenant, customer_id, promise_id) DO UPDATE SET "
                        "instalments = EXCLUDED.instalments, status = EXCLUDED.status, "
                        "received = EXCLUDED.received, closed_on = EXCLUDED.closed_on",
                        (row["tenant"], row["customer_id"], row["promise_id"],
                         Jsonb(row["invoice_numbers"]), row["currency"],
                         Jsonb(row["instalments"]), row["status"], row["recorded_on"],
                         row["recorded_by"], row["received"], row["closed_on"]))
            connection.execute(f"UPDATE {s}.view_position SET position = %s WHERE name = 'dunning'",
                               (to_position,))
            return True

    def _rows(self, query: str, parameters: Sequence[Any]) -> list[dict[str, Any]]:
        from psycopg.rows import dict_row

        with self.pool.connection() as connection:
            return connection.cursor(row_factory=dict_row).execute(query, parameters).fetchall()

    def case_ids(self, tenant: str) -> list[UUID]:
        return [row["case_id"] for row in self._rows(
            f'SELECT case_id FROM "{self.schema}".cases WHERE tenant = %s', (tenant,))]

    def due_cases(self, tenant: str, on: date) -> list[str]:
        return [row["customer_id"] for row in self._rows(
            f'SELECT customer_id FROM "{self.schema}".cases WHERE tenant = %s '
            "AND next_run_on <= %s ORDER BY customer_id", (tenant, on))]

    def tenants(self) -> list[str]:
        return [row["tenant"] for row in self._rows(
            f'SELECT DISTINCT tenant FROM "{self.schema}".cases ORDER BY tenant', ())]

    def cases(self, tenant: str) -> list[dict[str, Any]]:
        return self._rows(f'SELECT * FROM "{self.schema}".cases WHERE tenant = %s '
                          "ORDER BY customer_id", (tenant,))

    def letters(self, tenant: str, customer_id: str | None, status: str | None,
                limit: int) -> list[dict[str, Any]]:
        return self._rows(
            f'SELECT * FROM "{self.schema}".letters WHERE tenant = %s '
            "AND (%s::text IS NULL OR customer_id = %s) AND (%s::text IS NULL OR status = %s) "
            "ORDER BY issued_on, customer_id, level LIMIT %s",
            (tenant, customer_id, customer_id, status, status, limit))

    def letter(self, tenant: str, letter_id: str) -> dict[str, Any] | None:
        rows = self._rows(f'SELECT * FROM "{self.schema}".letters WHERE tenant = %s '
                          "AND letter_id = %s", (tenant, letter_id))
        return rows[0] if rows else None

    def pending_letters(self, tenant: str) -> list[dict[str, Any]]:
        return self.letters(tenant, None, "pending", 10_000)

    def disputes(self, tenant: str, status: str | None) -> list[dict[str, Any]]:
        return self._rows(f'SELECT * FROM "{self.schema}".disputes WHERE tenant = %s AND '
                          "(%s::text IS NULL OR status = %s) ORDER BY opened_on, customer_id, "
                          "dispute_id", (tenant, status, status))

    def promises(self, tenant: str, status: str | None) -> list[dict[str, Any]]:
        return self._rows(f'SELECT * FROM "{self.schema}".promises WHERE tenant = %s AND '
                          "(%s::text IS NULL OR status = %s) ORDER BY recorded_on, customer_id, "
                          "promise_id", (tenant, status, status))

    def delivery_failures(self, tenant: str, limit: int) -> list[dict[str, Any]]:
        return self._rows(f'SELECT tenant, letter_id, customer_id, recipients, kind, permanent, '
                          f'reason, failed_at FROM "{self.schema}".delivery_failures '
                          "WHERE tenant = %s ORDER BY id DESC LIMIT %s", (tenant, limit))

    @contextlib.contextmanager
    def run_lock(self, tenant: str) -> Iterator[None]:
        """One run per tenant at a time, across processes (the service, the CLI, replicas)."""
        key = zlib.crc32(f"dunning-run/{self.schema}/{tenant}".encode())
        with self.pool.connection() as connection:
            connection.execute("SELECT pg_advisory_lock(%s)", (key,))
            try:
                yield
            finally:
                connection.execute("SELECT pg_advisory_unlock(%s)", (key,))

    def reset(self) -> None:
        s = f'"{self.schema}"'
        with self.pool.connection() as connection, connection.transaction():
            connection.execute(f"TRUNCATE {s}.cases, {s}.letters, {s}.delivery_failures, "
                               f"{s}.disputes, {s}.promises")
            connection.execute(f"UPDATE {s}.view_position SET position = 0")
