"""The book the decision core reads: one tenant's open items, customer master, learned
payer accounts and exchange rates, indexed for the decisions. Pure and in memory.

A tenant may have millions of items, so the book is kept lean: an index entry holds the
item itself while its key is unique (nearly always) and a list only when it is not,
amounts are indexed per currency without a tuple per entry, and the strings and dates
that repeat across items (customer ids, currencies, due dates) are shared, not copied.
Iteration orders are those of insertion, as with the dicts they replace, so decisions
do not depend on how the book is stored.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import TypeAlias

from .fx import ExchangeRates
from .payers import NameIndex, normal_account
from .references import digit_key, reference_key, series_prefix


class OpenItem:
    """A receivable document as matching sees it: invoice (open > 0) or credit (open < 0)."""

    __slots__ = ("item_id", "number", "customer_id", "currency", "original", "open",
                 "due_date", "kind", "discount_amount", "discount_date", "sequence")

    def __init__(self, item_id: str, number: str, customer_id: str, currency: str,
                 amount: Decimal, due_date: date, kind: str = "invoice",
                 discount_amount: Decimal | None = None, discount_date: date | None = None,
                 sequence: int = 0) -> None:
        self.item_id = item_id
        self.number = number
        self.customer_id = customer_id
        self.currency = currency
        self.original = amount
        self.open = amount
        self.due_date = due_date
        self.kind = kind
        self.discount_amount = discount_amount
        self.discount_date = discount_date
        self.sequence = sequence

    def __repr__(self) -> str:
        return f"OpenItem({self.number}, {self.customer_id}, open {self.open} {self.currency})"


# An index entry: the one item under its key, or the items sharing it in insertion order.
Entry: TypeAlias = "OpenItem | list[OpenItem]"


def _add(index: dict, key: object, item: OpenItem) -> None:
    present = index.get(key)
    if present is None:
        index[key] = item
    elif type(present) is list:
        present.append(item)
    else:
        index[key] = [present, item]


def _remove(index: dict, key: object, item: OpenItem) -> None:
    present = index.get(key)
    if present is item:
        del index[key]
    elif type(present) is list and item in present:
        present.remove(item)
        if len(present) == 1:
            index[key] = present[0]


def _entries(entry: Entry | None) -> Sequence[OpenItem]:
    if entry is None:
        return ()
    return entry if type(entry) is list else (entry,)  # type: ignore[return-value]


class Book:
    """Changed only through its methods, by folding stored events."""

    def __init__(self) -> None:
        self.items: dict[str, OpenItem] = {}
        self._by_reference: dict[str, Entry] = {}
        self._by_digits: dict[str, Entry] = {}
        self._open_by_customer: dict[str, dict[str, OpenItem]] = {}
        self._by_amount: dict[str, dict[Decimal, Entry]] = {}  # currency -> open -> items
        self._dates: dict[date, date] = {}
        self.names = NameIndex()
        self._customers: dict[str, None] = {}
        self._shown_names: dict[str, str] = {}
        self._customer_keys: dict[str, str] = {}
        self._customer_digits: dict[str, list[str]] = {}
        self._accounts: dict[str, dict[str, int]] = {}
        self.prefixes: dict[str, int] = {}
        self.rates = ExchangeRates()
        self._sequence = 0

    # customers ------------------------------------------------------------------------

    def upsert_customer(self, customer_id: str, name: str | None = None) -> None:
        if customer_id not in self._customers:
            self._customers[sys.intern(customer_id)] = None
            key = reference_key(customer_id)
            if len(key) >= 4:
                self._customer_keys.setdefault(key, customer_id)
            digits = digit_key(customer_id)
            if len(digits) >= 3:
                self._customer_digits.setdefault(digits, []).append(customer_id)
        if name:
            self.names.upsert(customer_id, name)
            self._shown_names.pop(customer_id, None)

    def customer_name(self, customer_id: str | None) -> str:
        if customer_id is None:
            return "an unidentified payer"
        shown = self._shown_names.get(customer_id)
        if shown is None:
            name = self.names.name_of(customer_id)
            shown = self._shown_names[customer_id] = (f"{name} ({customer_id})" if name
                                                      else customer_id)
        return shown

    def customer_numbered(self, key: str) -> str | None:
        """The customer whose number, as a reference key, is `key`."""
        return self._customer_keys.get(key)

    def customers_numbered(self, digits: str) -> list[str]:
        """The customers whose number has these digits."""
        return self._customer_digits.get(digits, [])

    def learn_account(self, account: str | None, customer_id: str) -> None:
        """An account that paid this customer's items: the next payment from it is
        probably this customer's too (unless it pays for several: a third party)."""
        account = normal_account(account)
        if account:
            paid_for = self._accounts.setdefault(account, {})
            paid_for[customer_id] = paid_for.get(customer_id, 0) + 1

    def customers_of_account(self, account: str | None) -> list[str]:
        account = normal_account(account)
        return list(self._accounts.get(account, ())) if account else []

    # open items -----------------------------------------------------------------------

    def open_item(self, item_id: str, number: str, customer_id: str, currency: str,
                  amount: Decimal, due_date: date, kind: str = "invoice",
                  discount_amount: Decimal | None = None,
                  discount_date: date | None = None) -> OpenItem:
        if item_id in self.items:
            return self.items[item_id]
        self._sequence += 1
        self.upsert_customer(customer_id)
        item = OpenItem(item_id, number, sys.intern(customer_id), sys.intern(currency), amount,
                        self._dates.setdefault(due_date, due_date), sys.intern(kind),
                        discount_amount, discount_date, self._sequence)
        self.items[item_id] = item
        _add(self._by_reference, reference_key(number), item)
        digits = digit_key(number)
        if digits:
            _add(self._by_digits, digits, item)
        prefix = series_prefix(number)
        if prefix:
            self.prefixes[prefix] = self.prefixes.get(prefix, 0) + 1
        if amount != 0:
            self._open_by_customer.setdefault(item.customer_id, {})[item_id] = item
            _add(self._by_amount.setdefault(item.currency, {}), amount, item)
        return item

    def change_open_amount(self, item_id: str, change: Decimal) -> None:
        item = self.items[item_id]
        of_currency = self._by_amount.setdefault(item.currency, {})
        _remove(of_currency, item.open, item)
        item.open += change
        if item.open != 0:
            _add(of_currency, item.open, item)
        of_customer = self._open_by_customer.setdefault(item.customer_id, {})
        if item.open == 0:
            of_customer.pop(item_id, None)
        else:
            of_customer[item_id] = item

    def open_items_of(self, customer_id: str, currency: str | None = None) -> list[OpenItem]:
        """Oldest due first; the order in which they opened breaks ties."""
        items = [item for item in self._open_by_customer.get(customer_id, {}).values()
                 if currency is None or item.currency == currency]
        items.sort(key=lambda item: (item.due_date, item.sequence))
        return items

    def has_open_of_amount(self, customer_id: str, currency: str, amount: Decimal) -> bool:
        """Whether the customer has an open item of exactly this much."""
        return any(item.customer_id == customer_id
                   for item in self.open_of_amount(currency, amount))

    def by_reference(self, key: str) -> Sequence[OpenItem]:
        return _entries(self._by_reference.get(key))

    def open_of_amount(self, currency: str, amount: Decimal) -> Sequence[OpenItem]:
        """Open items with exactly this much open, in the order they opened."""
        of_currency = self._by_amount.get(currency)
        return _entries(of_currency.get(amount)) if of_currency else ()

    def by_digits(self, key: str) -> Sequence[OpenItem]:
        return _entries(self._by_digits.get(key))

    def by_any_digits(self, keys: Sequence[str]) -> list[OpenItem]:
        """The items of each of these digit keys, key by key (the typo rule asks for
        dozens of keys at a time, nearly all unknown)."""
        found: list[OpenItem] = []
        get = self._by_digits.get
        for key in keys:
            entry = get(key)
            if entry is not None:
                if type(entry) is list:
                    found.extend(entry)
                else:
                    found.append(entry)  # type: ignore[arg-type]
        return found

    def item_by_number(self, number: str) -> OpenItem | None:
        found = self._by_reference.get(reference_key(number))
        return found if isinstance(found, OpenItem) else None
