"""The collectors' HTTP API on the in-memory store: what a collector sees first, the letters
exactly as sent, and bad input refused with a clear message and no change."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from libs.runtime.clock import FixedClock
from services.dunning.api import dunning_router
from services.dunning.application import SetProfile

from .given import COLLECTOR, TENANT, Dunning

TODAY = date(2026, 3, 1)


@pytest.fixture
def dunning() -> Dunning:
    return Dunning()


@pytest.fixture
def api(dunning: Dunning) -> TestClient:
    app = FastAPI()
    app.include_router(dunning_router(dunning.app, dunning.views, dunning.runner,
                                      FixedClock(datetime(2026, 3, 1, 9, tzinfo=UTC)), TENANT))
    return TestClient(app, headers={"X-Tenant": TENANT, "X-Actor": "collector:anna"})


def test_the_worklist_puts_the_riskiest_case_first_with_its_next_action(
        dunning: Dunning, api: TestClient) -> None:
    dunning.customer("C-1")
    dunning.customer("C-2")
    dunning.customer("C-3")
    dunning.invoice("INV-000001", "500.00", due=date(2026, 2, 20), customer_id="C-1")
    dunning.invoice("INV-000002", "500.00", due=date(2026, 2, 20), customer_id="C-2")
    dunning.invoice("INV-000003", "90.00", due=date(2026, 4, 1), customer_id="C-3")  # not due
    dunning.app.set_profile("C-2", SetProfile(segment="standard", risk_class="high"), COLLECTOR)
    assert api.post("/runs", json={"date": "2026-02-20"}).status_code == 200

    worklist = api.get("/worklist").json()

    assert [entry["customer_id"] for entry in worklist] == ["C-2", "C-1"]
    high, standard = worklist
    # 10 x log10(1 + 500/100) = 7.78; 9 days / 3 = 3; high risk 20 (unrated 5)
    assert high["priority"] == {"score": "30.78", "amount": "7.78", "age": "3.00", "risk": "20",
                                "broken_promises": "0"}
    assert standard["priority"]["score"] == "15.78"
    assert high["overdue"] == [{"currency": "EUR", "amount": "500.00"}]
    assert high["next_action"] == {"code": "send_first_letter",
                                   "description": "send the first letter for INV-000002",
                                   "due_on": "2026-02-23"}  # high risk: 3 days after the reminder
    assert standard["next_action"]["due_on"] == "2026-02-27"


def test_the_archive_shows_each_letter_exactly_as_sent(dunning: Dunning, api: TestClient) -> None:
    dunning.customer(language="nl")
    dunning.invoice("INV-000001", "1210.00", due=date(2026, 2, 1))

    run = api.post("/runs", json={"date": "2026-02-01"}).json()

    [issued] = run["letters"]
    letter = api.get(f"/letters/{issued['letter_id']}").json()
    [sent] = dunning.post_office.sent
    assert (letter["subject"], letter["body"]) == (sent.subject, sent.body)
    assert letter["subject"] == "Betalingsherinnering: INV-000001"
    assert (letter["status"], letter["recipient"], letter["level_name"]) == (
        "delivered", "ap@customer.example", "reminder")
    assert letter["server_reply"] == "250 OK queued as 1"
    assert [line["invoice_number"] for line in letter["invoices"]] == ["INV-000001"]
    assert api.get("/letters", params={"customer_id": "C-1"}).json()[0]["letter_id"] == issued["letter_id"]


def test_a_bounce_reported_later_is_recorded_and_listed(dunning: Dunning, api: TestClient) -> None:
    dunning.customer()
    dunning.invoice(due=date(2026, 2, 1))
    [issued] = api.post("/runs", json={"date": "2026-02-01"}).json()["letters"]

    response = api.post(f"/letters/{issued['letter_id']}/bounces", json={
        "recipient": "ap@customer.example", "reason": "550 5.1.1 user unknown"})

    assert response.status_code == 201, response.text
    assert response.json()["status"] == "bounced"
    [failure] = api.get("/delivery-failures").json()
    assert (failure["kind"], failure["reason"], failure["customer_id"]) == (
        "bounced", "550 5.1.1 user unknown", "C-1")
    assert api.get("/worklist").json()[0]["next_action"]["code"] == "fix_contact"


def test_a_dispute_opened_and_resolved_through_the_api(dunning: Dunning, api: TestClient) -> None:
    dunning.customer()
    dunning.invoice("INV-000001", "100.00", due=date(2026, 2, 1))

    opened = api.post("/customers/C-1/disputes", json={
        "invoice_numbers": ["INV-000001"], "reason": "not_received", "owner": "anna",
        "notes": "customer says the pallet never arrived"})
    resolved = api.post("/customers/C-1/disputes/DSP-0001/resolution", json={
        "resolution": "credit_note_requested", "credit_note_amount": "100.00",
        "notes": "carrier confirms loss"})

    assert opened.status_code == 201, opened.text
    assert (opened.json()["opened_on"], opened.json()["status"]) == ("2026-03-01", "open")
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["credit_note_amount"] == "100.00"
    [listed] = api.get("/disputes").json()
    assert (listed["status"], listed["resolution"], listed["invoice_numbers"]) == (
        "resolved", "credit_note_requested", ["INV-000001"])
    case = api.get("/customers/C-1/case").json()
    assert (case["invoices"][0]["status"], case["invoices"][0]["expected_credit"]) == (
        "credited", "100.00")


def test_an_instalment_plan_through_the_api(dunning: Dunning, api: TestClient) -> None:
    dunning.customer()
    dunning.invoice("INV-000001", "300.00", due=date(2026, 2, 1))

    response = api.post("/customers/C-1/promises", json={
        "invoice_numbers": ["INV-000001"], "currency": "EUR",
        "instalments": [{"due_on": "2026-03-10", "amount": "150.00"},
                        {"due_on": "2026-04-10", "amount": "150.00"}]})

    assert response.status_code == 201, response.text
    assert response.json()["recorded_by"] == "collector:anna"
    [listed] = api.get("/promises", params={"status": "active"}).json()
    assert [instalment["amount"] for instalment in listed["instalments"]] == ["150.00", "150.00"]
    assert api.get("/worklist").json()[0]["next_action"]["code"] == "check_promise"


@pytest.mark.parametrize("path, body, status, message", [
    ("/customers/C-1/disputes", {"invoice_numbers": ["INV-000001"], "reason": "too expensive",
                                 "owner": "anna"}, 422, "reason"),
    ("/customers/C-1/disputes", {"invoice_numbers": [], "reason": "price", "owner": "anna"},
     422, "invoice_numbers"),
    ("/customers/C-1/disputes", {"invoice_numbers": ["INV-404"], "reason": "price",
                                 "owner": "anna"}, 422, "no invoice 'INV-404'"),
    ("/customers/C-9/disputes", {"invoice_numbers": ["INV-000001"], "reason": "price",
                                 "owner": "anna"}, 404, "no customer 'C-9'"),
    ("/customers/C-1/disputes", {"invoice_numbers": ["INV-000002"], "reason": "price",
                                 "owner": "anna"}, 409, "already paid"),
    ("/customers/C-1/promises", {"invoice_numbers": ["INV-000001"], "currency": "EUR",
                                 "instalments": [{"due_on": "2026-03-10", "amount": 150.5}]},
     422, "not floats"),
    ("/customers/C-1/promises", {"invoice_numbers": ["INV-000001"], "currency": "EUR",
                                 "instalments": [{"due_on": "2026-03-10", "amount": "10"},
                                                 {"due_on": "2026-03-01", "amount": "10"}]},
     422, "date order"),
    ("/runs", {"date": "yesterday"}, 422, "date"),
])
def test_bad_input_is_refused_with_a_reason_and_changes_nothing(
        dunning: Dunning, api: TestClient, path: str, body: dict, status: int, message: str) -> None:
    dunning.customer()
    dunning.invoice("INV-000001", "100.00", due=date(2026, 2, 1))
    dunning.invoice("INV-000002", "100.00", due=date(2026, 2, 1))
    dunning.payment("INV-000002", "100.00", on=date(2026, 2, 1))
    before = dunning.app.recorder.max_notification_id()

    response = api.post(path, json=body)

    assert response.status_code == status, response.text
    assert message in response.text
    assert dunning.app.recorder.max_notification_id() == before


def test_settings_naming_an_unknown_policy_are_refused(api: TestClient) -> None:
    response = api.put("/settings", json={"policy_by_segment": {"retail": "gentle"}})

    assert response.status_code == 422
    assert "unknown policy gentle" in response.text
    assert api.get("/settings").json()["policy_by_segment"] == {"key_account": "key_account"}


def test_a_collector_sees_the_customers_the_customer_master_gives_them(
        dunning: Dunning, api: TestClient) -> None:
    dunning.customer("C-1", collector="anna")
    dunning.customer("C-2", collector="bob")
    dunning.invoice("INV-000001", "500.00", due=date(2026, 2, 20), customer_id="C-1")
    dunning.invoice("INV-000002", "900.00", due=date(2026, 2, 20), customer_id="C-2")

    mine = api.get("/worklist", params={"collector": "anna"}).json()

    assert [(entry["customer_id"], entry["collector"]) for entry in mine] == [("C-1", "anna")]
    assert len(api.get("/worklist").json()) == 2


def test_a_collectors_profile_override_wins_until_withdrawn(dunning: Dunning, api: TestClient) -> None:
    dunning.customer(segment="key_account", risk_class="B")
    dunning.risk_score("D", "72", on=date(2026, 2, 25))
    assert api.get("/customers/C-1/case").json()["policy"] == "high_risk"

    overridden = api.put("/customers/C-1/profile", json={"risk_class": "A"})
    refused = api.put("/customers/C-1/profile", json={"risk_class": "F"})
    withdrawn = api.put("/customers/C-1/profile", json={})

    assert overridden.status_code == 200, overridden.text
    assert (overridden.json()["policy"], overridden.json()["risk_class"],
            overridden.json()["profile_sources"]) == (
        "key_account", "A", {"segment": "customer_master", "risk_class": "collector"})
    assert refused.status_code == 422 and "risk_class" in refused.text
    assert (withdrawn.json()["policy"], withdrawn.json()["profile_sources"]["risk_class"]) == (
        "high_risk", "credit")
