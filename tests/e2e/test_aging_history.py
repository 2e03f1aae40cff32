"""Aging on past dates and KPIs, on a worked example a credit controller can check by hand.

Customer CUST-HIST, net 30, in GBP:
  A  shipped 2026-01-10  1,000.00  due 2026-02-09  paid 2026-02-20 (11 days late)
  B  shipped 2026-02-15    500.00  due 2026-03-17  paid 2026-03-10 (on time)
  C  shipped 2026-03-20  2,000.00  due 2026-04-19  unpaid
"""

from __future__ import annotations

from datetime import date

import httpx

from libs.events import CustomerUpserted, OrderLine, OrderShipped
from libs.runtime.publisher import EventPublisher
from tests.conftest import eventually

TENANT = "history-tenant"
HEADERS = {"X-Tenant": TENANT}


def shipment(order_id: str, shipped_on: date, amount: str) -> OrderShipped:
    return OrderShipped(order_id=order_id, shipment_id="1", customer_id="CUST-HIST",
                        shipped_on=shipped_on, currency="GBP",
                        lines=(OrderLine(line_no=1, sku="SERVICE", quantity="1",
                                         unit_price=amount),))


async def get(url: str, **params: str) -> dict | list:
    async with httpx.AsyncClient() as client:
        response = await client.get(url, params=params, headers=HEADERS)
        response.raise_for_status()
        return response.json()


async def test_aging_on_past_dates_and_kpis_of_a_quarter(platform, infrastructure) -> None:
    aging = platform["aging"].url
    async with EventPublisher(infrastructure.kafka_bootstrap_servers) as erp:
        await erp.publish(CustomerUpserted(customer_id="CUST-HIST", name="History Ltd",
                                           currency="GBP", payment_terms_days=30), TENANT)
        await erp.publish(shipment("A", date(2026, 1, 10), "1000.00"), TENANT)
        await erp.publish(shipment("B", date(2026, 2, 15), "500.00"), TENANT)
        await erp.publish(shipment("C", date(2026, 3, 20), "2000.00"), TENANT)
    invoices = await eventually(
        lambda: get(f"{aging}/customers/CUST-HIST/open-items", include_settled="true"),
        until=lambda items: len(items) == 3)
    number = {item["order_id"]: item["invoice_number"] for item in invoices}
    async with httpx.AsyncClient() as client:
        for order_id, paid_on, amount in (("A", "2026-02-20", "1000.00"),
                                          ("B", "2026-03-10", "500.00")):
            response = await client.post(f"{platform['payments'].url}/payments", headers=HEADERS,
                                         json={"reference": f"HIST-{order_id}", "amount": amount,
                                               "currency": "GBP", "value_date": paid_on,
                                               "remittance_text": f"inv {number[order_id]}"})
            assert response.status_code == 201, response.text
    await eventually(lambda: get(f"{aging}/customers/CUST-HIST/balance"),
                     until=lambda body: body["balances"] and
                     body["balances"][0]["open_amount"] == "2000.00")

    def buckets_on(as_of: str):  # noqa: ANN202
        return get(f"{aging}/customers/CUST-HIST/balance", as_of=as_of)

    # 31 January: only A exists, not yet due.
    assert (await buckets_on("2026-01-31"))["balances"][0]["buckets"]["current"] == "1000.00"
    # 15 February: A is 6 days overdue, B issued that day.
    on_15_feb = (await buckets_on("2026-02-15"))["balances"][0]
    assert on_15_feb["open_amount"] == "1500.00"
    assert on_15_feb["buckets"] == {"current": "500.00", "1-30": "1000.00", "31-60": "0",
                                    "61-90": "0", "90+": "0"}
    # 28 February: A was paid on the 20th; B is current.
    on_28_feb = (await buckets_on("2026-02-28"))["balances"][0]
    assert (on_28_feb["open_amount"], on_28_feb["open_items"]) == ("500.00", 1)
    # 30 April: C is 11 days overdue; aged by document date it is 41 days old.
    assert (await buckets_on("2026-04-30"))["balances"][0]["buckets"]["1-30"] == "2000.00"
    by_document = await get(f"{aging}/customers/CUST-HIST/balance", as_of="2026-04-30",
                            basis="document_date", buckets="30,60")
    assert by_document["buckets"] == ["0-30", "31-60", "60+"]
    assert by_document["balances"][0]["buckets"] == {"0-30": "0", "31-60": "2000.00", "60+": "0"}

    report = await get(f"{aging}/kpis", currency="GBP", period_end="2026-03-31", days="90")
    assert report["period"] == {"start": "2026-01-01", "end": "2026-03-31", "days": 90}
    assert report["inputs"] == {"beginning_ar": "0", "ending_ar": "2000.00",
                                "ending_current_ar": "2000.00", "credit_sales": "3500.00",
                                "invoices_settled": 2}
    kpis = report["kpis"]
    assert kpis["dso_standard"] == "51.43"             # 2000 / 3500 x 90
    assert kpis["dso_countback"] == "31.00"            # March sales alone cover the AR
    assert kpis["best_possible_dso"] == "51.43"        # all of it not yet due
    assert kpis["average_days_delinquent"] == "0.00"
    assert kpis["collection_effectiveness_index"] == "100.00"  # 1500 / 1500
    assert kpis["ar_turnover"] == "3.50"               # 3500 / ((0 + 2000) / 2)
    assert kpis["percent_paid_on_time"] == "50.00"     # B on time, A late
    assert kpis["average_days_late"] == "5.50"         # (11 + 0) / 2
    assert kpis["average_days_to_settle"] == "32.00"   # (41 + 23) / 2


async def test_a_bad_bucket_spec_is_refused_with_a_message(platform) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{platform['aging'].url}/aging",
                                    params={"buckets": "30,abc"}, headers=HEADERS)
    assert response.status_code == 422
    assert "30,abc" in response.json()["detail"]
