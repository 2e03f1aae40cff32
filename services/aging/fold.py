"""The aging projection folded in memory, for a rebuild: the rows the live handlers
(projections.py, matching_handlers.py) would have written, computed from the events of
one partition index (every topic's partition N holds the same customers).

Fast on purpose (a rebuild reads millions of events): a record's body is read as a JSON
dict, not validated into its pydantic model. The caller decides which records need the
full validation (`libs.events.decode`) and hands their bodies over as dicts too, so one
path folds both.

What cannot be folded here: unapplied cash, whose events for one payment may sit on
two partitions (a payment first keyed `unidentified:<id>`, then by its customer).
Those come out as `CashMove`s for the caller to apply in publication order
(`fold_unapplied_cash`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from .matching_handlers import CREDIT_BACK, CREDIT_USED_FIRST
from .open_items import ZERO, open_state

Body = dict[str, Any]

# COPY column lists, in the order the fold's rows carry them.
OPEN_ITEM_COLUMNS = ("tenant", "invoice_id", "invoice_number", "customer_id", "order_id",
                     "currency", "issue_date", "due_date", "original_amount", "open_amount",
                     "settled_on", "kind", "functional_currency", "functional_amount")
APPLICATION_COLUMNS = ("tenant", "application_id", "payment_id", "invoice_id", "customer_id",
                       "currency", "amount", "applied_on")
CHANGE_COLUMNS = ("tenant", "change_id", "invoice_id", "kind", "document_number", "amount",
                  "changed_on", "reason", "actor")
UNAPPLIED_COLUMNS = ("tenant", "payment_id", "customer_id", "currency", "amount",
                     "value_date", "reason")
CUSTOMER_COLUMNS = ("tenant", "customer_id", "name", "segment", "risk_class", "collector",
                    "credit_group_id")
APPLIED_EVENT_COLUMNS = ("event_id", "event_type")


def _money(value: Body) -> tuple[str, Decimal]:
    amount = value["amount"]
    if type(amount) is not str:  # noqa: E721 - a JSON number: only the full validation decides
        raise TypeError(f"amount {amount!r} is not a string")
    return value["currency"].upper(), Decimal(amount)


_ISO_DAYS: dict[str, str] = {}


def _day(text: str) -> str:
    """The business date `text` in ISO 8601 (YYYY-MM-DD), checked: the form COPY reads, and
    one that sorts as the dates do. Parsed once per distinct text (a ledger has few days)."""
    day = _ISO_DAYS.get(text)
    if day is None:
        day = _ISO_DAYS[text] = date.fromisoformat(text).isoformat()
    return day


class CashMove(NamedTuple):
    """One change to `unapplied_cash`, placed in publication order by `order`."""

    order: tuple[int, int, int, int]  # (record timestamp, topic rank, partition, offset)
    kind: str                         # "unapplied" | "changed" | "credit"
    tenant: str
    payment_id: str
    customer_id: str | None
    currency: str
    amount: Decimal
    on: str                           # ISO 8601
    reason: str
    describes: bool = False


@dataclass
class PartitionFold:
    """The projection's rows for one partition index, as the live handlers make them."""

    applied_events: dict[str, str] = field(default_factory=dict)  # event id: event type
    items: dict[tuple[str, str], list] = field(default_factory=dict)
    applications: dict[tuple[str, str], tuple] = field(default_factory=dict)
    changes: dict[tuple[str, str], tuple] = field(default_factory=dict)
    customers: dict[tuple[str, str], list] = field(default_factory=dict)
    cash_moves: list[CashMove] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.handlers: dict[str, Callable[[str, str, Body, tuple], None]] = {
            "CustomerUpserted": self._customer_upserted,
            "OrderCreditApproved": self._order_credit_decided,
            "OrderCreditHeld": self._order_credit_decided,
            "InvoiceIssued": self._invoice_issued,
            "DebitNoteIssued": self._debit_note_issued,
            "InvoiceAdjusted": self._invoice_adjusted,
            "InvoiceCancelled": self._invoice_cancelled,
            "InvoiceWrittenOff": self._invoice_written_off,
            "CreditNoteIssued": self._credit_note_issued,
            "PaymentApplied": self._payment_applied,
            "DifferenceWrittenOff": self._difference_written_off,
            "CreditApplied": self._credit_applied,
            "ApplicationReversed": self._application_reversed,
            "PaymentUnapplied": self._payment_unapplied,
            "UnappliedCashChanged": self._unapplied_cash_changed,
        }

    def handles(self, event_type: str) -> bool:
        return event_type in self.handlers

    def apply(self, event_type: str, event_id: str, tenant: str, body: Body,
              order: tuple[int, int, int, int]) -> bool:
        """Fold one event; False if its id was applied before (a re-publication)."""
        if event_id in self.applied_events:
            return False
        self.handlers[event_type](event_id, tenant, body, order)
        self.applied_events[event_id] = event_type
        return True

    # -- erp.customers, ar.credit -------------------------------------------------------

    def _customer(self, tenant: str, customer_id: str) -> list:
        key = (tenant, customer_id)
        customer = self.customers.get(key)
        if customer is None:
            customer = self.customers[key] = [tenant, customer_id, None, None, None, None, None]
        return customer

    def _customer_upserted(self, _id: str, tenant: str, body: Body, _order: tuple) -> None:
        attributes = (body["name"], body.get("segment"), body.get("risk_class"),
                      body.get("collector"))
        self._customer(tenant, body["customer_id"])[2:6] = attributes

    def _order_credit_decided(self, _id: str, tenant: str, body: Body, _order: tuple) -> None:
        group = body.get("credit_group_id")
        self._customer(tenant, body["customer_id"])[6] = group

    # -- ar.invoicing -------------------------------------------------------------------

    def _open(self, tenant: str, item_id: str, number: str, customer_id: str,
              order_id: str | None, total: Body, issued: str, due: str, kind: str,
              functional_currency: str | None = None,
              functional_amount: Decimal | None = None) -> None:
        key = (tenant, item_id)
        if key in self.items:
            return  # first issue wins, as ON CONFLICT DO NOTHING
        currency, amount = _money(total)
        self.items[key] = [tenant, item_id, number, customer_id, order_id, currency,
                           _day(issued), _day(due), amount, amount, None, kind,
                           functional_currency, functional_amount]

    def _invoice_issued(self, _id: str, tenant: str, body: Body, _order: tuple) -> None:
        functional = body.get("functional_amount")
        currency = body.get("functional_currency")
        self._open(tenant, body["invoice_id"], body["invoice_number"], body["customer_id"],
                   body.get("order_id"), body["total"], body["issue_date"], body["due_date"],
                   "invoice", currency.upper() if currency else None,
                   _money(functional)[1] if functional is not None else None)

    def _debit_note_issued(self, _id: str, tenant: str, body: Body, _order: tuple) -> None:
        self._open(tenant, body["debit_note_id"], body["debit_note_number"],
                   body["customer_id"], None, body["total"], body["issue_date"],
                   body["due_date"], "debit_note")

    def _change(self, change_id: str, tenant: str, invoice_id: str, kind: str,
                amount: Decimal, on: str, body: Body, number: str | None = None) -> None:
        key = (tenant, change_id)
        if key not in self.changes:
            self.changes[key] = (tenant, change_id, invoice_id, kind, number, amount, _day(on),
                                 body["reason"], body["actor"])

    def _invoice_adjusted(self, event_id: str, tenant: str, body: Body, _order: tuple) -> None:
        self._change(event_id, tenant, body["invoice_id"], "adjustment",
                     _money(body["amount"])[1], body["adjusted_on"], body)

    def _invoice_cancelled(self, event_id: str, tenant: str, body: Body, _order: tuple) -> None:
        self._change(event_id, tenant, body["invoice_id"], "cancellation",
                     -_money(body["amount"])[1], body["cancelled_on"], body)

    def _invoice_written_off(self, event_id: str, tenant: str, body: Body,
                             _order: tuple) -> None:
        self._change(event_id, tenant, body["invoice_id"], "write_off",
                     -_money(body["amount"])[1], body["written_off_on"], body)

    def _credit_note_issued(self, event_id: str, tenant: str, body: Body, order: tuple) -> None:
        currency, amount = _money(body["total"])
        if body.get("invoice_id") is not None:
            self._change(event_id, tenant, body["invoice_id"], "credit_note", -amount,
                         body["issue_date"], body, body["credit_note_number"])
            return
        self.cash_moves.append(CashMove(
            order, "credit", tenant, body["credit_note_id"], body["customer_id"], currency,
            amount, _day(body["issue_date"]),
            f"credit note {body['credit_note_number']} on account: {body['reason']}",
            describes=True))

    # -- ar.matching --------------------------------------------------------------------

    def _settle(self, tenant: str, settlement_id: str, body: Body, on: str) -> tuple:
        key = (tenant, settlement_id)
        row = self.applications.get(key)
        if row is None:
            currency, amount = _money(body["amount"])
            row = self.applications[key] = (tenant, settlement_id, body["payment_id"],
                                            body["invoice_id"], body["customer_id"], currency,
                                            amount, _day(on))
        return row

    def _payment_applied(self, _id: str, tenant: str, body: Body, _order: tuple) -> None:
        self._settle(tenant, body["application_id"], body, body["applied_on"])

    def _difference_written_off(self, _id: str, tenant: str, body: Body,
                                _order: tuple) -> None:
        self._settle(tenant, body["write_off_id"], body, body["written_off_on"])

    def _credit_applied(self, _id: str, tenant: str, body: Body, order: tuple) -> None:
        self._settle(tenant, body["credit_use_id"], body, body["applied_on"])
        currency, amount = _money(body["amount"])
        self.cash_moves.append(CashMove(order, "credit", tenant, body["credit_note_id"],
                                        body["customer_id"], currency, -amount,
                                        _day(body["applied_on"]), CREDIT_USED_FIRST))

    def _application_reversed(self, _id: str, tenant: str, body: Body, order: tuple) -> None:
        if body["reverses"] == "deduction":
            return
        removed = self.applications.pop((tenant, body["application_id"]), None)
        if removed is None:
            return
        if body["reverses"] == "credit-use" and body.get("credit_note_id"):
            self.cash_moves.append(CashMove(
                order, "credit", tenant, body["credit_note_id"], body["customer_id"],
                _money(body["amount"])[0], removed[6], _day(body["reversed_on"]),
                CREDIT_BACK.format(reason=body["reason"])))

    def _payment_unapplied(self, _id: str, tenant: str, body: Body, order: tuple) -> None:
        currency, amount = _money(body["amount"])
        self.cash_moves.append(CashMove(order, "unapplied", tenant, body["payment_id"],
                                        body.get("customer_id"), currency, amount,
                                        _day(body["value_date"]), body["reason"]))

    def _unapplied_cash_changed(self, _id: str, tenant: str, body: Body, order: tuple) -> None:
        currency, amount = _money(body["unapplied"])
        self.cash_moves.append(CashMove(order, "changed", tenant, body["payment_id"],
                                        body.get("customer_id"), currency, amount,
                                        _day(body["value_date"]), body["reason"]))

    # -- the rows -----------------------------------------------------------------------

    def open_item_rows(self) -> tuple[list[list], set[tuple[str, str]]]:
        """Every item with its open amount and settlement date (open_items.py's rule), and
        the items this partition has facts about but did not issue (for the caller to
        refresh once every partition is loaded)."""
        applied: dict[tuple[str, str], list] = {}
        for row in self.applications.values():
            key = (row[0], row[3])
            sums = applied.get(key)
            if sums is None:
                applied[key] = [row[6], row[7]]
            else:
                sums[0] += row[6]
                if row[7] > sums[1]:
                    sums[1] = row[7]
        changed: dict[tuple[str, str], Decimal] = {}
        for row in self.changes.values():
            key = (row[0], row[2])
            changed[key] = changed.get(key, ZERO) + row[5]
        for key, item in self.items.items():
            sums = applied.get(key)
            change = changed.get(key)
            if sums is None and change is None:
                continue  # open for its original amount, as issued
            item[9], item[10] = open_state(item[8], sums[0] if sums else ZERO,
                                           change if change is not None else ZERO,
                                           sums[1] if sums else None)
        strangers = {key for key in (*applied, *changed) if key not in self.items}
        return list(self.items.values()), strangers


def fold_unapplied_cash(moves: Iterable[CashMove]) -> list[tuple]:
    """`unapplied_cash` rows from every partition's moves, applied in publication order
    with the live handlers' rules (projections.py, matching_handlers.py)."""
    cash: dict[tuple[str, str], list] = {}
    for move in sorted(moves, key=lambda m: m.order):
        key = (move.tenant, move.payment_id)
        row = cash.get(key)
        if move.kind == "unapplied":
            if row is None:
                cash[key] = [move.tenant, move.payment_id, move.customer_id, move.currency,
                             move.amount, move.on, move.reason]
        elif move.kind == "changed":
            if move.amount == 0:
                cash.pop(key, None)
            elif row is None:
                cash[key] = [move.tenant, move.payment_id, move.customer_id, move.currency,
                             move.amount, move.on, move.reason]
            else:
                row[4], row[6] = move.amount, move.reason
                row[2] = move.customer_id if move.customer_id is not None else row[2]
        else:  # a credit held under a credit note's id: amounts add up
            if row is None:
                row = cash[key] = [move.tenant, move.payment_id, move.customer_id,
                                   move.currency, move.amount, move.on, move.reason]
            else:
                row[4] += move.amount
                if move.describes:
                    row[5], row[6] = move.on, move.reason
            if row[4] == 0:
                del cash[key]
    return [tuple(row) for row in cash.values()]
