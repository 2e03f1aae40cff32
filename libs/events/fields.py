"""Field types and checks shared by the events of every bounded context."""

from __future__ import annotations

from pydantic import Field

from .money import Money

AccountId = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")
"""A customer account id: the partition key of every event about that customer."""


def check_positive(money: Money, what: str) -> None:
    if money.amount <= 0:
        raise ValueError(f"{what} must be positive, got {money}")
