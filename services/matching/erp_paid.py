"""Invoices the ERP says are paid that no payment of ours clears: the rule, pure.

The ERP marks an invoice paid (a clerk's click, a bank-import rule over there); our
bank statements lag it by a day or two. Once `grace` has passed since the ERP's paid
date, an invoice that is still open here (or that receivables never saw) is an
exception for a person: the cash the ERP counts never arrived, or was applied to
something else. The exception is resolved when the invoice is cleared after all; it is
raised again if a cleared invoice reopens (a returned payment, an unmatch).

"Today" comes from an injected clock: the check runs when the ERP's event arrives, and
again on a schedule (and `POST /exceptions/erp-paid-uncleared/checks`) for the checks
whose grace ends later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID

from .engine import OpenItem

DEFAULT_GRACE = timedelta(days=2)


@dataclass
class ErpPaidView:
    """What the state knows of one ERP-paid check (folded from its events)."""

    check_id: UUID
    tenant: str
    invoice_number: str
    customer_id: str
    paid_on: date
    reference: str | None
    check_on: date
    raised: bool = False
    invoice_id: str | None = None
    open_amount: Decimal | None = None
    currency: str | None = None
    detected_on: date | None = None
    reason: str | None = None

    def as_exception(self, item: OpenItem | None) -> dict[str, str | None]:
        """The open exception as the API lists it; `item` gives what is open now."""
        open_now = item.open if item is not None else self.open_amount
        return {
            "invoice_number": self.invoice_number, "invoice_id": self.invoice_id,
            "customer_id": self.customer_id, "erp_paid_on": self.paid_on.isoformat(),
            "erp_reference": self.reference,
            "open_amount": None if open_now is None else str(open_now),
            "currency": item.currency if item is not None else self.currency,
            "detected_on": self.detected_on.isoformat() if self.detected_on else None,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Uncleared:
    """An exception to raise: what is open (None: the invoice is unknown) and why."""

    invoice_id: str | None
    open_amount: Decimal | None
    currency: str | None
    reason: str


def uncleared(view: ErpPaidView, item: OpenItem | None, today: date,
              unknown_too: bool) -> Uncleared | None:
    """The exception this check raises today, or None: not due yet, already raised, or
    the invoice is cleared. An invoice receivables has not seen only counts when
    `unknown_too` (on the schedule: at the ERP's event it may simply be on its way)."""
    if view.raised or today < view.check_on:
        return None
    paid = f"The ERP marked {view.invoice_number} paid on {view.paid_on}"
    waited = f"after the {(view.check_on - view.paid_on).days}-day grace for bank statements"
    if item is None:
        if not unknown_too:
            return None
        return Uncleared(None, None, None,
                         f"{paid}, but receivables knows no invoice {view.invoice_number} "
                         f"{waited}")
    if item.open <= 0:
        return None
    if item.open == item.original:
        why = f"no payment has been applied to it: {item.open:,} {item.currency} is open"
    else:
        why = (f"{item.open:,} {item.currency} of its {item.original:,} {item.currency} is "
               f"still open")
    return Uncleared(item.item_id, item.open, item.currency, f"{paid}, but {waited} {why}")
