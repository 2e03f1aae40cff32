"""The credit controller's HTTP side on the in-memory store: why a customer scores what it
scores, limits that need a second person, blocking rules per tenant, and bad input that
changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.credit.api import credit_router

from .test_credit_application import TENANT, TODAY, Credit

CONTROLLER = {"X-Tenant": TENANT, "X-Actor": "credit:carla"}
SALES = {"X-Tenant": TENANT, "X-Actor": "sales:bob"}


@pytest.fixture
def credit() -> Credit:
    return Credit()


@pytest.fixture
def client(credit: Credit) -> TestClient:
    app = FastAPI()
    app.include_router(credit_router(credit.app, credit.views, TENANT))
    return TestClient(app)


def test_the_api_explains_why_a_late_payer_scores_worse(credit, client):
    for n in range(3):
        due = TODAY - timedelta(days=90 - n * 10)
        credit.pay(credit.invoice(f"INV-{n}", "100.00", due_date=due, customer_id="LATE"),
                   "100.00", on=due + timedelta(days=40))
    explained = client.get("/customers/LATE/risk", headers={"X-Tenant": TENANT}).json()
    assert explained["risk_class"] == "C"
    assert explained["reasons"][1] == {
        "factor": "days_beyond_terms", "points": "30.0",
        "explanation": "pays 40.0 days beyond terms on average (3 invoices)"}
    assert "pays 40.0 days beyond terms on average (3 invoices) (+30.0 points)" in (
        explained["explanation"])


def test_a_limit_is_requested_by_one_person_and_approved_by_another(client):
    requested = client.post("/customers/C-1/limit-requests", headers=SALES,
                            json={"amount": "5000.00", "currency": "EUR", "reason": "new"})
    assert requested.status_code == 201
    change = requested.json()["change_id"]
    own = client.post(f"/customers/C-1/limit-requests/{change}/approve", headers=SALES)
    assert own.status_code == 409 and "cannot also approve" in own.json()["detail"]
    approved = client.post(f"/customers/C-1/limit-requests/{change}/approve",
                           headers=CONTROLLER).json()
    assert (approved["limit"], approved["pending_changes"]) == ("5000.00", [])


def test_bad_input_is_refused_and_changes_nothing(client):
    no_actor = client.post("/customers/C-1/limit-requests", headers={"X-Tenant": TENANT},
                           json={"amount": "1", "currency": "EUR", "reason": "x"})
    assert no_actor.status_code == 400
    foreign = client.post("/customers/C-1/limit-requests", headers=SALES,
                          json={"amount": "1", "currency": "USD", "reason": "x"})
    assert foreign.status_code == 422 and "functional currency EUR" in foreign.json()["detail"]
    as_float = client.post("/customers/C-1/limit-requests", headers=SALES,
                           json={"amount": 1.5, "currency": "EUR", "reason": "x"})
    assert as_float.status_code == 422
    assert client.get("/customers/C-1/credit", headers={"X-Tenant": TENANT}).status_code == 404


def test_a_tenant_sets_its_blocking_rules(credit, client):
    policy = client.get("/policy", headers={"X-Tenant": TENANT}).json()
    policy.update(max_percent_used="80", hold_risk_classes=["D", "E"])
    assert client.put("/policy", headers=CONTROLLER, json=policy).status_code == 200
    assert client.get("/policy", headers={"X-Tenant": TENANT}).json()["max_percent_used"] == "80"
    credit.set_limit("1000.00")
    credit.order("SO-1", "850.00")
    held = client.get("/holds/orders", headers={"X-Tenant": TENANT}).json()
    assert [rule["rule"] for rule in held[0]["held_by"]] == ["percent_used"]
    bad = client.put("/policy", headers=CONTROLLER, json={**policy, "hold_risk_classes": ["Z"]})
    assert bad.status_code == 422


def test_a_controller_holds_an_account_by_hand_and_releases_it_with_a_reason(credit, client):
    credit.set_limit("1000.00")
    placed = client.post("/customers/C-1/holds", headers=CONTROLLER,
                         json={"reason": "bankruptcy rumours"})
    assert placed.status_code == 201
    assert [hold["rule"] for hold in placed.json()["holds"]] == ["manual"]
    credit.order("SO-1", "10.00")
    held = client.get("/holds/orders", headers={"X-Tenant": TENANT}).json()
    assert [rule["rule"] for rule in held[0]["held_by"]] == ["on_hold"]
    accounts = client.get("/holds/accounts", headers={"X-Tenant": TENANT}).json()
    assert accounts[0]["holds"][0]["explanation"] == "credit:carla: bankruptcy rumours"
    no_reason = client.post("/customers/C-1/holds/manual/release", headers=CONTROLLER, json={})
    assert no_reason.status_code == 422
    released = client.post("/customers/C-1/holds/manual/release", headers=CONTROLLER,
                           json={"reason": "rumours denied by the bank"})
    assert released.json()["holds"] == []
    assert client.get("/holds/accounts", headers={"X-Tenant": TENANT}).json() == []
