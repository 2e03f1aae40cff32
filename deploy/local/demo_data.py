"""Demo data: real invoices from the IBM accounts-receivable sample, moved to today.

Publishes the sample's customers and invoices for the ERP (CustomerUpserted,
OrderShipped), waits for the aging service to show them, then records, through
the payments API, each payment the sample says arrived by now, naming the
invoice in its remittance text. Re-running it adds nothing: shipments, payments
and customers are all recognised by their business keys.

    python deploy/local/demo_data.py [--customers 12] [--days 150] [--sample-today 2013-09-30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from libs.events import CustomerUpserted, OrderLine, OrderShipped  # noqa: E402
from libs.sample_data import SampleInvoice, load_ibm_sample  # noqa: E402
from libs.runtime.publisher import EventPublisher  # noqa: E402

TENANT = os.environ.get("DEFAULT_TENANT", "acme")


def pick(invoices: list[SampleInvoice], customers: int, days: int, sample_today: date,
         today: date) -> tuple[list[SampleInvoice], timedelta]:
    """`days` of the sample up to `sample_today` for its busiest customers, shifted so that
    `sample_today` is today: what was still open on that day in the sample is open now."""
    per_customer: dict[str, int] = defaultdict(int)
    for invoice in invoices:
        per_customer[invoice.customer_id] += 1
    chosen = set(sorted(per_customer, key=lambda c: (-per_customer[c], c))[:customers])
    window = [i for i in invoices if i.customer_id in chosen
              and sample_today - timedelta(days=days) < i.invoice_date <= sample_today]
    return window, today - sample_today


async def publish_erp_events(kafka: str, invoices: list[SampleInvoice], shift: timedelta) -> None:
    async with EventPublisher(kafka, source="demo-erp") as erp:
        for customer_id in sorted({invoice.customer_id for invoice in invoices}):
            await erp.publish(CustomerUpserted(customer_id=customer_id,
                                               name=f"Sample customer {customer_id}",
                                               currency="USD", payment_terms_days=30), TENANT)
        for invoice in invoices:
            await erp.publish(OrderShipped(
                order_id=invoice.invoice_number, shipment_id="1",
                customer_id=invoice.customer_id, shipped_on=invoice.invoice_date + shift,
                currency="USD",
                lines=(OrderLine(line_no=1, sku="SAMPLE", description="IBM sample invoice",
                                 quantity=Decimal(1), unit_price=invoice.amount),)), TENANT)


def invoice_numbers_by_order(aging_url: str, customers: set[str],
                             expected: int) -> dict[str, str]:
    """Wait until aging shows every invoice; return order id -> invoice number."""
    deadline = time.monotonic() + 120
    while True:
        numbers = {}
        for customer_id in customers:
            items = httpx.get(f"{aging_url}/customers/{customer_id}/open-items",
                              params={"limit": 10_000, "include_settled": "true"}, headers={"X-Tenant": TENANT}).json()
            numbers.update({item["order_id"]: item["invoice_number"] for item in items})
        if len(numbers) >= expected or time.monotonic() > deadline:
            return numbers
        time.sleep(0.5)


def record_payments(payments_url: str, invoices: list[SampleInvoice], shift: timedelta,
                    numbers: dict[str, str], today: date) -> int:
    paid = 0
    for invoice in invoices:
        value_date = invoice.settled_date + shift
        number = numbers.get(invoice.invoice_number)
        if value_date > today or number is None:
            continue  # not yet paid in the shifted timeline
        response = httpx.post(f"{payments_url}/payments", headers={"X-Tenant": TENANT}, json={
            "reference": f"DEMO-{invoice.invoice_number}", "amount": str(invoice.amount),
            "currency": "USD", "value_date": value_date.isoformat(),
            "customer_id": invoice.customer_id, "payer_name": f"Customer {invoice.customer_id}",
            "remittance_text": f"Payment of invoice {number}"})
        response.raise_for_status()
        paid += 1
    return paid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=12)
    parser.add_argument("--days", type=int, default=150)
    parser.add_argument("--sample-today", type=date.fromisoformat, default=date(2013, 9, 30),
                        help="the day of the sample that becomes today")
    parser.add_argument("--aging-url", default="http://127.0.0.1:8104")
    parser.add_argument("--payments-url", default="http://127.0.0.1:8102")
    args = parser.parse_args()
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    today = date.today()

    invoices, shift = pick(load_ibm_sample(), args.customers, args.days, args.sample_today,
                           today)
    asyncio.run(publish_erp_events(kafka, invoices, shift))
    customers = {invoice.customer_id for invoice in invoices}
    numbers = invoice_numbers_by_order(args.aging_url, customers, expected=len(invoices))
    paid = record_payments(args.payments_url, invoices, shift, numbers, today)
    print(f"demo: {len(customers)} customers, {len(invoices)} invoices published, "
          f"{paid} payments recorded (the sample's {args.sample_today} is today)")


if __name__ == "__main__":
    main()
