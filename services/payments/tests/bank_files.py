"""Small MT940 statements written for a business case, whose balances add up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

ACCOUNT = "NL02ABNA0123456789"
ACME_IBAN = "NL91ABNA0417164300"


@dataclass(frozen=True)
class Booking:
    """One :61: line and its :86: details. `mark` C = money in, D = money out."""

    day: date
    mark: str
    amount: str
    bank_reference: str
    details: str = ""

    @property
    def signed(self) -> Decimal:
        amount = Decimal(self.amount)
        return amount if self.mark in ("C", "RD") else -amount


def customer_payment(day: date, amount: str, bank_reference: str, end_to_end_id: str,
                     remittance: str = "Invoice INV-000001") -> Booking:
    return Booking(day, "C", amount, bank_reference,
                   f"/EREF/{end_to_end_id}/NAME/Acme Retail BV/IBAN/{ACME_IBAN}/REMI/{remittance}"
                   "/CDTRREF/RF18539007547034")


def returned_payment(day: date, amount: str, bank_reference: str, end_to_end_id: str,
                     reason: str) -> Booking:
    return Booking(day, "D", amount, bank_reference,
                   f"/RTRN/{reason}/EREF/{end_to_end_id}/NAME/Acme Retail BV/IBAN/{ACME_IBAN}"
                   "/REMI/Returned")


def supplier_payment(day: date, amount: str, bank_reference: str) -> Booking:
    return Booking(day, "D", amount, bank_reference, "/NAME/Office Supplies Ltd/REMI/Paper")


def mt940(reference: str, *bookings: Booking, opening: str = "1000.00", currency: str = "EUR") -> bytes:
    balance = Decimal(opening)
    first_day = bookings[0].day if bookings else date(2024, 3, 25)
    lines = ["{1:F01TESTBANKXXXX0000000000}", f":20:{reference}", f":25:{ACCOUNT}",
             ":28C:1/1", f":60F:{_balance(balance, first_day, currency)}"]
    for booking in bookings:
        day = booking.day.strftime("%y%m%d")
        amount = booking.amount.replace(".", ",")
        lines.append(f":61:{day}{day[2:]}{booking.mark}{amount}NTRFNONREF//{booking.bank_reference}")
        if booking.details:
            lines.append(f":86:{booking.details}")
        balance += booking.signed
    last_day = bookings[-1].day if bookings else first_day
    lines += [f":62F:{_balance(balance, last_day, currency)}", "-}"]
    return ("\n".join(lines) + "\n").encode()


def _balance(amount: Decimal, day: date, currency: str) -> str:
    mark = "C" if amount >= 0 else "D"
    return f"{mark}{day:%y%m%d}{currency}{abs(amount):.2f}".replace(".", ",")
