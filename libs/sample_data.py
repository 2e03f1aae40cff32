"""The IBM accounts-receivable sample (../shared/data/ar_ibm.csv), as the demo and the
tests read it. AR_SHARED_DATA points elsewhere when the shared folder is not beside
the repository."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    return Path(os.environ.get("AR_SHARED_DATA") or REPOSITORY.parent / "shared" / "data")


@dataclass(frozen=True)
class SampleInvoice:
    country_code: str
    customer_id: str
    invoice_number: str
    invoice_date: date
    due_date: date
    amount: Decimal
    disputed: bool
    settled_date: date
    paperless: bool
    days_to_settle: int
    days_late: int


def _us_date(text: str) -> date:
    return datetime.strptime(text, "%m/%d/%Y").date()


def load_ibm_sample(path: Path | None = None) -> list[SampleInvoice]:
    path = path or shared_data_dir() / "ar_ibm.csv"
    if not path.exists():
        raise FileNotFoundError(f"IBM sample not found at {path}; set AR_SHARED_DATA")
    with path.open(newline="") as sample:
        return [SampleInvoice(
            country_code=row["countryCode"], customer_id=row["customerID"],
            invoice_number=row["invoiceNumber"], invoice_date=_us_date(row["InvoiceDate"]),
            due_date=_us_date(row["DueDate"]), amount=Decimal(row["InvoiceAmount"]),
            disputed=row["Disputed"] == "Yes", settled_date=_us_date(row["SettledDate"]),
            paperless=row["PaperlessBill"] == "Electronic",
            days_to_settle=int(row["DaysToSettle"]), days_late=int(row["DaysLate"]))
            for row in csv.DictReader(sample)]
