"""Credit's own read model: held orders, accounts on hold and the customers credit knows.

Built from the application's event log alone (the notification log), followed from
where it last read each time it is asked, so it is rebuilt by starting from zero.
"""

from __future__ import annotations

import threading
from typing import Any

from .application import CreditApplication
from .domain import CreditAccount

_FOLLOWED = [CreditAccount.Opened, CreditAccount.OrderDecided, CreditAccount.HoldPlaced,
             CreditAccount.HoldReleased]


class CreditViews:
    def __init__(self, credit: CreditApplication, batch: int = 1000) -> None:
        self.credit = credit
        self.batch = batch
        self.position = 0
        self._lock = threading.Lock()
        self.customers: dict[str, set[str]] = {}
        self.held_orders: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
        self.holds: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}

    def catch_up(self) -> None:
        topics = [event_class.TOPIC for event_class in _FOLLOWED]  # type: ignore[attr-defined]
        with self._lock:
            while True:
                notifications = self.credit.recorder.select_notifications(
                    self.position, self.batch, None, topics, inclusive_of_start=False)
                for notification in notifications:
                    self._apply(self.credit.mapper.to_domain_event(notification))
                    self.position = notification.id
                if len(notifications) < self.batch:
                    return

    def _apply(self, domain_event: Any) -> None:
        details = vars(domain_event)
        tenant = details["causation"]["tenant"]
        if isinstance(domain_event, CreditAccount.Opened):
            self.customers.setdefault(tenant, set()).add(details["customer_id"])
            return
        customer_id = details["customer_id"]
        if isinstance(domain_event, CreditAccount.OrderDecided):
            orders = self.held_orders.setdefault(tenant, {})
            key = (customer_id, details["order_id"])
            if details["approved"]:
                orders.pop(key, None)
            else:
                orders[key] = {
                    "customer_id": customer_id, "order_id": details["order_id"],
                    "order_amount": str(details["amount"]), "currency": details["currency"],
                    "held_by": [{"rule": rule, "explanation": why}
                                for rule, why in details["held_by"]],
                    "decided_on": details["decided_on"].isoformat()}
        elif isinstance(domain_event, CreditAccount.HoldPlaced):
            self.holds.setdefault(tenant, {})[(customer_id, details["rule"])] = {
                "customer_id": customer_id, "hold_id": details["hold_id"],
                "rule": details["rule"], "explanation": details["explanation"],
                "placed_on": details["placed_on"].isoformat()}
        elif isinstance(domain_event, CreditAccount.HoldReleased):
            self.holds.setdefault(tenant, {}).pop((customer_id, details["rule"]), None)

    def held_orders_of(self, tenant: str) -> list[dict[str, Any]]:
        self.catch_up()
        return sorted(self.held_orders.get(tenant, {}).values(),
                      key=lambda order: (order["decided_on"], order["order_id"]))

    def held_accounts_of(self, tenant: str) -> list[dict[str, Any]]:
        self.catch_up()
        accounts: dict[str, list[dict[str, Any]]] = {}
        for hold in self.holds.get(tenant, {}).values():
            accounts.setdefault(hold["customer_id"], []).append(hold)
        return [{"customer_id": customer_id, "holds": sorted(holds, key=lambda h: h["rule"])}
                for customer_id, holds in sorted(accounts.items())]

    def customers_of(self, tenant: str) -> list[str]:
        self.catch_up()
        return sorted(self.customers.get(tenant, set()))

    def tenants(self) -> list[str]:
        self.catch_up()
        return sorted(self.customers)
